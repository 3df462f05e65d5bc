"""Re-running a failed flow run through AEP's re-trigger action, at most once per failure.

``retrigger_failed=N`` (run operator and sensor waiting for one run) re-triggers a failed run with
``POST /runs/{id}/action?op=RE_TRIGGER`` up to N times per task instance and waits for the new run.

Never two re-triggers of the same failure, across Airflow retries too:

* the failures already re-triggered (and their new run) are kept in ``task_state_store``
  (Airflow >= 3.3, key ``aep_retriggered``), and the new run becomes the run a retry re-attaches to;
* before sending, AEP is asked for a run of the same flow and window created after the failed run
  (an earlier try's re-trigger, even one whose answer was lost) and that run is adopted instead;
* a re-trigger whose answer is lost is looked up that way, never sent again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPConnectionError, AEPError, AEPInputError
from airflow_provider_aep.runs_status import RunStatus, WaitTarget, has_exact_window, raw_status, run_window
from airflow_provider_aep.task import AEPTaskMixin

if TYPE_CHECKING:
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
    from airflow_provider_aep.runs_status import RunState

#: task_state_store key: ``{failed run id: re-triggered run id}``.
STATE_KEY_RETRIGGERED = "aep_retriggered"
#: task_state_store key of the run a retry re-attaches to (shared with the run operator).
STATE_KEY_RUN = "aep_run_id"


def check_retrigger_failed(value: Any) -> int:
    """``retrigger_failed`` as a bounded whole number, or :class:`AEPInputError`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise AEPInputError(
            "retrigger_failed",
            f"must be a whole number from 0 to 10, got {value!r}.",
            "e.g. retrigger_failed=1 re-runs a failed run once (0 = never).",
        )
    return value


def window_runs(hook: AdobeExperiencePlatformHook, failed: dict[str, Any]) -> tuple[str | None, int]:
    """``(successor, earlier failures)`` among the runs of ``failed``'s flow with its exact window.

    The successor is the oldest such run created after ``failed`` (the run that re-ran it); earlier
    failures are the failed runs of that window created before it (re-triggers already spent, which
    bounds re-triggers even without ``task_state_store`` and across deferrals).
    """
    start, end, _source = run_window(failed)
    flow_id = failed.get("flowId")
    if start is None or end is None or not flow_id:
        return None, 0
    created = failed.get("createdAt") or 0
    same = [
        r
        for r in hook.list_runs(str(flow_id))
        if r.get("id") != failed.get("id") and has_exact_window(r, start, end)
    ]
    later = sorted(
        (r for r in same if (r.get("createdAt") or 0) >= created), key=lambda r: r.get("createdAt") or 0
    )
    earlier = [
        r
        for r in same
        if (r.get("createdAt") or 0) < created and RunStatus.from_api(raw_status(r)) is RunStatus.FAILED
    ]
    return (str(later[0]["id"]) if later else None), len(earlier)


def successor_run(hook: AdobeExperiencePlatformHook, failed: dict[str, Any]) -> str | None:
    """The run that re-ran ``failed``: same flow and window, created after it."""
    return window_runs(hook, failed)[0]


class AEPRetriggerMixin(AEPTaskMixin):
    """``maybe_retrigger`` for tasks that wait for one run (calls through the task's ``hook``)."""

    retrigger_failed: int = 0
    log: Any
    _retriggered: dict[str, str] | None = None

    def _store(self, context: Any) -> Any:
        return context.get("task_state_store") if hasattr(context, "get") else None

    def _load_retriggered(self, context: Any) -> dict[str, str]:
        if self._retriggered is None:
            self._retriggered = {}
            store = self._store(context)
            if store is not None:
                try:
                    stored = store.get(STATE_KEY_RETRIGGERED)
                except Exception as exc:  # best effort: AEP is asked before sending anyway
                    self.log.warning("Could not read task_state_store: %s", exc)
                    stored = None
                if isinstance(stored, dict):
                    self._retriggered = {str(k): str(v) for k, v in stored.items()}
        return self._retriggered

    def _save(self, context: Any, failed_id: str, new_id: str) -> None:
        done = self._load_retriggered(context)
        done[failed_id] = new_id
        store = self._store(context)
        if store is None:
            return
        try:
            store.set(STATE_KEY_RETRIGGERED, dict(done))
            store.set(STATE_KEY_RUN, new_id)
        except Exception as exc:
            self.log.warning("Could not write task_state_store: %s", exc)

    def maybe_retrigger(self, context: Any, target: WaitTarget, states: list[RunState]) -> WaitTarget | None:
        """The target to wait for next when the one awaited run failed and a re-trigger is left."""
        if self.retrigger_failed <= 0 or target.mode != "run_id" or len(states) != 1:
            return None
        state = states[0]
        if state.run_status is not RunStatus.FAILED:
            return None
        done = self._load_retriggered(context)
        new_id = done.get(state.run_id)
        if new_id is None:
            failed = self.hook.get_run(state.run_id)
            new_id, earlier = window_runs(self.hook, failed)
            used = max(len(done), earlier)
            if new_id is None and used >= self.retrigger_failed:
                self.log.warning(
                    "AEP run %s failed; its %d re-trigger(s) are used up (retrigger_failed=%d).",
                    state.run_id,
                    used,
                    self.retrigger_failed,
                )
                return None
            if new_id is not None:
                self.log.info(
                    "AEP run %s was already re-triggered as run %s; waiting for it.", state.run_id, new_id
                )
            else:
                new_id = self._send(failed)
                self.log.warning(
                    "AEP run %s failed; re-triggered it as run %s (%d of %d).",
                    state.run_id,
                    new_id,
                    used + 1,
                    self.retrigger_failed,
                )
            self._save(context, state.run_id, new_id)
        self.on_retriggered(context, new_id)
        return WaitTarget(flow_id=target.flow_id or state.flow_id, run_id=new_id)

    def _send(self, failed: dict[str, Any]) -> str:
        run_id = str(failed.get("id"))
        try:
            return self.hook.retrigger_run(run_id)
        except AEPConnectionError:
            self.log.warning(
                "The answer to the re-trigger of run %s was lost; looking the new run up.", run_id
            )
            found = successor_run(self.hook, failed)
            if found is None:
                raise AEPError(
                    f"The re-trigger of AEP run {run_id} got no answer and no new run shows up yet; not "
                    "sending it again (a late commit would run the window twice). A retry of this task "
                    "finds the new run if AEP created it."
                ) from None
            return found

    def on_retriggered(self, context: Any, run_id: str) -> None:
        """Hook: the task now waits for ``run_id`` (push its id and link); default: nothing."""
