"""On-demand flow runs for Airflow data intervals."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import TaskDeferralTimeout

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import (
    AEPError,
    AEPFlowRunTimeoutError,
    AEPInputError,
    AEPNotFoundError,
    AEPResponseLostError,
)
from airflow_provider_aep.flow_ref import check_flow_name, check_flow_ref, resolve_flow_id
from airflow_provider_aep.lineage_mixin import AEPRunLineageMixin
from airflow_provider_aep.links import AEPFlowRunLink, run_page_url
from airflow_provider_aep.operators._twins import poll_for_commit
from airflow_provider_aep.retrigger import AEPRetriggerMixin, check_retrigger_failed
from airflow_provider_aep.run_outcome import AEPRunOutcomeMixin
from airflow_provider_aep.runs_status import RunStatus, WaitTarget, has_exact_window, raw_status, run_window
from airflow_provider_aep.task import AEP_TEMPLATE_FIELDS, AEPTaskMixin
from airflow_provider_aep.validation import check_wait_timeout
from airflow_provider_aep.wait import (
    FlowRunWaitMixin,
    check_literals,
    default_deferrable,
    resolve_window,
    validate_uuid,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg


#: task_state_store key holding the run id across retries.
STATE_KEY = "aep_run_id"


def run_ui_url(flow_id: str, org: str | None, sandbox: str | None, run_id: str | None = None) -> str | None:
    """The run's page in the AEP UI (the dataflow's activity without ``run_id``); None without an org."""
    return run_page_url(org, sandbox or "prod", flow_id, run_id)


class AEPRunFlowOperator(
    AEPRetriggerMixin, AEPRunOutcomeMixin, AEPRunLineageMixin, FlowRunWaitMixin, AEPTaskMixin, BaseOperator
):
    """Start an on-demand run of a ``once``-scheduled flow for a time window and (by default) wait.

    The window defaults to the DAG run's data interval; ``POST /runs`` gets ``params.startTime`` (now),
    ``windowStartTime`` and ``windowEndTime`` in epoch seconds, plus ``deltaColumn`` only when given.

    Idempotent: the run id is kept in ``task_state_store`` (Airflow >= 3.3) and re-attached on a retry;
    otherwise the flow's runs are listed and a run with exactly the same window is reused (a retry or
    a cleared task never starts a duplicate). Failed/cancelled runs are not reused: retrying the task
    re-ingests the window. When the POST's answer is lost (timeout, reset, a gateway 504 whose backend
    may still commit) the runs are listed again, with back-off, for the connection's
    ``late_commit_wait_seconds`` (default 30): the run with our window, or the single new run, is
    adopted; only if none appeared in that window is the POST sent once more. The run id is pushed
    to XCom (key ``run_id``) and the AEP UI link (key ``run_url``) *before* waiting; the return
    value is the run id.

    AEP cannot cancel a run: on kill or timeout the run keeps going, and the log says which one.

    :param flow_id: the flow (UUID); its schedule must be ``frequency: once``.
    :param flow_name: or the flow's exact name (templated), resolved at execute time to exactly one
        flow (zero or several matches fail with the matches named); pass one of the two.
    :param window_start: tz-aware datetime / ISO string with offset / epoch; default data_interval_start.
    :param window_end: default data_interval_end.
    :param delta_column: ``deltaColumn.name`` for the first run of a table-based flow (optional).
    :param wait_for_completion: wait for the run (default True).
    :param deferrable: wait in the triggerer; default ``[operators] default_deferrable``.
    :param poll_interval: seconds between checks (default 30).
    :param timeout: give up waiting after this long (seconds or timedelta); None = only
        ``execution_timeout`` bounds the wait.
    :param partial_success: ``"warn"`` (default), ``"fail"`` or ``"succeed"``.
    :param max_transient_errors: consecutive 429/5xx/connection failures tolerated while waiting.
    :param dataset_alias: asset alias name; a successful run adds an asset event for the flow's AEP
        dataset through it (see :mod:`airflow_provider_aep.assets`).
    :param max_failed_records: quality gate: at most this many failed records (summed over the runs).
    :param max_failed_ratio: quality gate: at most this fraction of the records read failed (0.01 = 1 %).
    :param min_records_written: quality gate: at least this many records written (0 written can be an error).
    :param quality_gate_action: ``"fail"`` (default: the task fails, without retries, naming the gate,
        the figures and the fix) or ``"warn"``. The run summary (XCom ``run_summary``) is pushed either way.
    :param retrigger_failed: re-trigger a failed run up to this many times (AEP's re-trigger action)
        and wait for the new run; never twice for the same failure, Airflow retries included.
    """

    template_fields: Sequence[str] = (
        *AEP_TEMPLATE_FIELDS,
        "flow_id",
        "flow_name",
        "window_start",
        "window_end",
        "delta_column",
    )
    operator_extra_links = (AEPFlowRunLink(),)

    def __init__(
        self,
        *,
        flow_id: str | XComArg | None = None,
        flow_name: str | None = None,
        window_start: datetime | str | float | None = None,
        window_end: datetime | str | float | None = None,
        delta_column: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 30,
        timeout: float | timedelta | None = None,
        partial_success: str = "warn",
        max_transient_errors: int = 10,
        aep_conn_id: str = "aep_default",
        sandbox_name: str | None = None,
        dataset_alias: str | None = None,
        max_failed_records: int | None = None,
        max_failed_ratio: float | None = None,
        min_records_written: int | None = None,
        quality_gate_action: str = "fail",
        retrigger_failed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(aep_conn_id=aep_conn_id, sandbox_name=sandbox_name, **kwargs)
        self.declare_dataset_alias(dataset_alias)
        self.retrigger_failed = check_retrigger_failed(retrigger_failed)
        self.init_quality_gate(max_failed_records, max_failed_ratio, min_records_written, quality_gate_action)
        check_flow_ref(flow_id, flow_name)
        self.flow_id = flow_id
        self.flow_name = flow_name
        self.window_start = window_start
        self.window_end = window_end
        self.delta_column = delta_column
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.partial_success = partial_success
        self.max_transient_errors = max_transient_errors
        self.run_id: str | None = None
        check_literals(
            flow_id=("uuid", flow_id), window_start=("time", window_start), window_end=("time", window_end)
        )

    def _window(self, context: Context) -> tuple[float, float]:
        start, end = resolve_window(
            context, self.window_start, self.window_end, "or run a DAG that has a data interval"
        )
        return float(int(start)), float(int(end))

    def validate(self, context: Context) -> tuple[str, float, float]:
        """All local checks, then (for ``flow_name``) the name lookup; nothing is started."""
        if self.flow_name is None:
            validate_uuid("flow_id", self.flow_id)
        else:
            check_flow_name(self.flow_name)
        self._check_partial_success_mode()
        if self.delta_column is not None and not (isinstance(self.delta_column, str) and self.delta_column):
            raise AEPInputError(
                "delta_column",
                "must be a non-empty column name or None.",
                "Pass the source column name, or leave it unset to use the flow's Copy deltaColumn.",
            )
        self.poll_interval = self.check_wait_settings(self.hook, "poll_interval", self.poll_interval)
        self.timeout = check_wait_timeout("timeout", self.timeout)
        start, end = self._window(context)
        flow_id = resolve_flow_id(self.hook, self.flow_id, self.flow_name, self.log)
        assert flow_id is not None
        self.flow_id = flow_id
        return flow_id, start, end

    def find_existing_run(
        self, flow_id: str, start: float, end: float, seen: set[str] | None = None
    ) -> dict[str, Any] | None:
        """A run of ``flow_id`` whose window is exactly ``[start, end)``, newest first.

        ``seen`` (filled with every run id listed) lets a caller spot runs that appear later.
        """
        runs = list(self.hook.list_runs(flow_id))
        if seen is not None:
            seen.update(str(r.get("id")) for r in runs)
        matches = [
            r
            for r in runs
            if has_exact_window(r, start, end) and not RunStatus.from_api(raw_status(r)).is_failure
        ]
        if not matches:
            return None
        matches.sort(key=lambda r: r.get("createdAt") or 0, reverse=True)
        return matches[0]

    def _lost_post_lookup(self, flow_id: str, start: float, end: float, seen: set[str]) -> str | None:
        """After a lost POST answer: the run with our window, or the single run that appeared."""
        before = set(seen)
        existing = self.find_existing_run(flow_id, start, end, seen)
        if existing is not None:
            return str(existing["id"])
        new = [
            r
            for r in self.hook.list_runs(flow_id)
            if str(r.get("id")) not in before and run_window(r)[2] == "scheduled"  # window not reported yet
        ]
        if len(new) == 1:
            return str(new[0]["id"])
        return None

    def _stored_run(self, context: Context, flow_id: str) -> str | None:
        """The run id an earlier try of this task instance stored, if that run is still usable."""
        store = context.get("task_state_store")  # Airflow >= 3.3; survives retries
        if store is None:
            return None
        try:
            stored = store.get(STATE_KEY)
        except Exception as exc:  # the store is best effort; the window lookup still applies
            self.log.warning("Could not read task_state_store: %s", exc)
            return None
        if not isinstance(stored, str) or not stored:
            return None
        try:
            run = self.hook.get_run(stored)
        except AEPNotFoundError:
            return None
        status = RunStatus.from_api(raw_status(run))
        if run.get("flowId") not in (None, flow_id) or status.is_failure:
            return None
        self.log.info("Re-attaching to run %s started by an earlier try (status %s).", stored, status.value)
        return stored

    def _store_run(self, context: Context, run_id: str) -> None:
        store = context.get("task_state_store")
        if store is None:
            return
        try:
            store.set(STATE_KEY, run_id)
        except Exception as exc:
            self.log.warning("Could not write task_state_store: %s", exc)

    def start_run(self, flow_id: str, start: float, end: float, context: Context | None = None) -> str:
        """Reuse the run for this window or create it (surviving a lost POST answer).

        Reused: the run an earlier try stored in ``task_state_store`` (Airflow >= 3.3), else a run of
        the flow whose window is exactly ``[start, end)``; a failed or cancelled run is not reused
        (retrying the task re-ingests the window).
        """
        stored = self._stored_run(context, flow_id) if context is not None else None
        if stored is not None:
            return stored
        seen: set[str] = set()
        existing = self.find_existing_run(flow_id, start, end, seen)
        if existing is not None:
            status = ((existing.get("metrics") or {}).get("statusSummary") or {}).get("status")
            self.log.info(
                "Reusing run %s of flow %s for this window (status %s); not starting a duplicate.",
                existing.get("id"),
                flow_id,
                status,
            )
            return str(existing["id"])
        params: dict[str, Any] = {
            "startTime": int(time.time()),
            "windowStartTime": int(start),
            "windowEndTime": int(end),
        }
        if self.delta_column:
            params["deltaColumn"] = {"name": self.delta_column}
        window = float(self.hook.retry_policy.late_commit_wait_seconds)
        for attempt in (1, 2):
            try:
                created = self.hook.create_run(flow_id, params)
                return str(created["id"])
            except AEPResponseLostError:
                self.log.warning(
                    "The answer to POST /runs was lost; looking for the run for up to %.0f s (a gateway "
                    "timeout can still commit) before deciding anything.",
                    window,
                )
                found, lookups, waited = poll_for_commit(
                    lambda: self._lost_post_lookup(flow_id, start, end, seen), window
                )
                if found is not None:
                    self.log.info(
                        "The lost POST did create run %s (seen after %.1f s); using it.", found, waited
                    )
                    return str(found)
                if attempt == 2:
                    raise
                self.log.warning(
                    "No run appeared in %.1f s (%d lookups): the lost POST was not committed; sending it "
                    "once more.",
                    waited,
                    lookups,
                )
        raise AEPError("unreachable")  # pragma: no cover

    def execute(self, context: Context) -> Any:
        """Validate, reuse or start the run, push its id and link, then wait (poke or deferred)."""
        from airflow_provider_aep.operators._converge import UNKNOWN, plan_requested

        if plan_requested(context, getattr(self, "plan_only", None)):
            self.log.info(
                "PLAN RUN       on-demand run of flow %s (plan_only: nothing is started)", self.flow_id
            )
            return UNKNOWN
        self.remember_context(context)
        started = time.time()
        flow_id, start, end = self.validate(context)
        run_id = self.start_run(flow_id, start, end, context)
        self.run_id = run_id
        self._store_run(context, run_id)
        org, sandbox = self.push_ui_context(context)
        url = run_ui_url(flow_id, org, sandbox, run_id)
        self.xcom_push(context, xcom_keys.RUN_ID, run_id)
        self.xcom_push(context, xcom_keys.RUN_URL, url)
        self.log.info("AEP run %s of flow %s for window [%d, %d): %s", run_id, flow_id, start, end, url)
        if not self.wait_for_completion:
            return run_id
        target = WaitTarget(flow_id=flow_id, run_id=run_id)
        states = self.poll_runs(self.hook, target)
        if states is not None:
            retried = self._finish(context, target, states)
            if retried is None:
                return target.run_id
            target = retried
        if self.deferrable:
            self.defer_wait(
                context, target, poll_interval=self.poll_interval, timeout=self.timeout, started=started
            )
        while True:
            if self.timeout is not None and time.time() - started >= self.timeout:
                raise self._timeout_error(target.run_id)
            delay = self.poll_interval
            if self.timeout is not None:
                delay = max(min(delay, started + self.timeout - time.time()), 0.0)
            time.sleep(delay)
            states = self.poll_runs(self.hook, target)
            if states is not None:
                retried = self._finish(context, target, states)
                if retried is None:
                    return target.run_id
                target = retried

    def _finish(self, context: Context, target: WaitTarget, states: list[Any]) -> WaitTarget | None:
        """The run finished: the re-triggered run to wait for next, or conclude (``None``)."""
        retried = self.maybe_retrigger(context, target, states)
        if retried is None:
            self.conclude(target, states)
        return retried

    def on_retriggered(self, context: Any, run_id: str) -> None:
        """The task now waits for the re-triggered run: its id and link go to XCom."""
        self.run_id = run_id
        self.xcom_push(context, xcom_keys.RUN_ID, run_id)
        org, sandbox = self.ui_org_and_sandbox()
        self.xcom_push(context, xcom_keys.RUN_URL, run_ui_url(str(self.flow_id), org, sandbox, run_id))

    def _timeout_error(self, run_id: str | None) -> AEPFlowRunTimeoutError:
        message = (
            f"Timed out waiting for AEP run {run_id} of flow {self.flow_id}. AEP cannot cancel a run: "
            f"run {run_id} keeps going; a retry of this task will reuse it."
        )
        self.log.error("%s", message)
        return AEPFlowRunTimeoutError(message)

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Resume after the trigger: validate the event (fail closed) and conclude."""
        self.remember_context(context)
        status, target, states, message, _reason = self.parse_event(event)
        if status == "timeout":
            raise self._timeout_error(target.run_id)
        if status == "error":
            raise AEPError(f"Waiting for {target.describe()} failed: {message}")
        retried = self._finish(context, target, states)
        if retried is None:
            return target.run_id
        # A resumed task is a fresh operator: validate() did not run, so the interval is the DAG's
        # (apply the same floor and emulator cap as the first deferral).
        poll_interval = self.check_wait_settings(self.hook, "poll_interval", self.poll_interval)
        self.defer_wait(
            context, retried, poll_interval=poll_interval, timeout=self.timeout, started=time.time()
        )
        return None  # pragma: no cover (defer_wait raises TaskDeferred)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Turn Airflow's trigger timeout into the same clear timeout error."""
        self.forget_pushed_here()
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except TaskDeferralTimeout as exc:
            raise self._timeout_error(self._run_id_from(context)) from exc

    def _run_id_from(self, context: Context) -> str | None:
        try:
            return context["ti"].xcom_pull(task_ids=self.task_id, key=xcom_keys.RUN_ID)
        except Exception:
            return self.run_id

    def on_kill(self) -> None:
        """AEP has no cancel API for flow runs: say so and name the run that keeps going."""
        self.log.warning(
            "Task killed. AEP cannot cancel a flow run: run %s of flow %s keeps going in AEP.",
            self.run_id or "(not started)",
            self.flow_id,
        )
