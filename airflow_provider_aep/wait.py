"""One home for the flow-run wait logic: sensor, run operator and trigger all import it.

* which runs to wait for: :func:`resolve_window` (explicit window or the DAG run's data interval),
  :func:`epoch_from` (the one time parser, :func:`~airflow_provider_aep.validation.parse_time`) and
  :func:`validate_uuid` (the one UUID check, :func:`~airflow_provider_aep.validation.check_uuid`);
* reading them: :func:`fetch_run_states` (sync hook) and :func:`afetch_run_states` (the trigger's
  async client, whose run listing :func:`alist_runs` the event trigger reuses), both from the
  same :func:`runs_request` description;
* tolerating AEP's hiccups: :data:`TRANSIENT_ERRORS` and :class:`TransientBudget` (consecutive
  transient failures, after the transport's own retries);
* concluding: terminal-status sets (:data:`EVENT_TERMINAL`, :data:`EVENT_STATUSES`) and
  :class:`FlowRunWaitMixin` (poll, conclude with the partial-success policy, defer with an absolute
  deadline, validate trigger events fail-closed).

See :mod:`airflow_provider_aep.runs_status` for the pure run-state rules (status vocabulary, window
matching) these build on.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import (
    AEPConnectionError,
    AEPError,
    AEPFlowRunError,
    AEPInputError,
    AEPRateLimitError,
    AEPServerError,
)
from airflow_provider_aep.runs_status import (
    RunState,
    RunStatus,
    WaitTarget,
    aggregate_status,
    select_runs,
)
from airflow_provider_aep.validation import check_count, check_poll_interval, check_uuid, parse_time

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.hooks._async import AsyncAEPClient
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
    from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

PARTIAL_SUCCESS_MODES = ("warn", "fail", "succeed")
#: Errors tolerated while waiting (after the transport's own retries), up to a budget.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (AEPRateLimitError, AEPServerError, AEPConnectionError)
#: Event statuses that are run outcomes (the runs in the event must agree).
EVENT_TERMINAL = frozenset({"success", "partial_success", "failed", "cancelled"})
#: Every status a trigger event can carry.
EVENT_STATUSES = EVENT_TERMINAL | {"timeout", "error"}
#: Emulator-only speed-up: against a loopback AEP (the local emulator), this environment variable,
#: when set, caps every wait's poll interval (e.g. ``1``: no wait polls less often than every
#: second), read when the task runs. The example DAGs keep AEP's realistic 30 s; the demo and the
#: tests set it. It never applies to a real AEP host.
EMULATOR_POLL_ENV = "AEP_EMULATOR_POLL_SECONDS"

#: Retry policy of the triggers' async client (flow-run and flow-run event triggers): a retry
#: holds no thread, so it can ride out a throttled minute; the flow-run trigger also tolerates
#: ``max_transient_errors`` failed polls, the event trigger backs off and never stops.
ASYNC_TRIGGER_RETRY: dict[str, Any] = {
    "max_attempts": 3,
    "max_wait_seconds": 30.0,
    "max_total_seconds": 60.0,
}


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` (False when unset)."""
    from airflow.sdk import conf

    return conf.getboolean("operators", "default_deferrable", fallback=False)


def validate_uuid(field: str, value: Any) -> str:
    """The one UUID check (:func:`~airflow_provider_aep.validation.check_uuid`)."""
    return check_uuid(field, value)


def epoch_from(field: str, value: Any) -> float | None:
    """The one time parser (:func:`~airflow_provider_aep.validation.parse_time`)."""
    return parse_time(field, value)


def check_literals(**values: tuple[str, Any]) -> None:
    """Check the non-templated ids and times of an operator in ``__init__`` (when the DAG is parsed).

    ``values`` maps each parameter name to ``("uuid" | "time", value)``. Templated values (Jinja
    strings, XComArgs) are checked again after rendering, in the same checks, before any request.
    """
    from airflow_provider_aep.validation import is_templated

    for field, (kind, value) in values.items():
        if value is None or is_templated(value):
            continue
        if kind == "uuid":
            validate_uuid(field, value)
        else:
            epoch_from(field, value)


def resolve_window(context: Any, window_start: Any, window_end: Any, alternative: str) -> tuple[float, float]:
    """``[start, end)`` in epoch seconds from explicit values, else the DAG run's data interval.

    :param alternative: how else the caller can be told what to wait for (ends the fix text).
    """
    start = epoch_from("window_start", window_start)
    end = epoch_from("window_end", window_end)
    if start is None:
        start = epoch_from("data_interval_start", context.get("data_interval_start"))
    if end is None:
        end = epoch_from("data_interval_end", context.get("data_interval_end"))
    if start is None or end is None:
        raise AEPInputError(
            "window_start/window_end",
            "no window given and the DAG run has no data interval.",
            f"Pass window_start and window_end, {alternative}.",
        )
    if not start < end:
        raise AEPInputError(
            "window_start",
            f"must be earlier than window_end ({start} >= {end}).",
            f"Swap the two values, {alternative}.",
        )
    return start, end


class FlowRunWaitMixin:
    """Waiting logic shared by :class:`AEPFlowRunSensor` and ``AEPRunFlowOperator``.

    The host class (an :class:`~airflow_provider_aep.task.AEPTaskMixin`) provides the hook, handed to
    these methods, ``aep_conn_id`` and ``sandbox_name`` (for the trigger), and ``partial_success``,
    ``max_transient_errors``, ``log``, ``defer`` and ``task_id``.
    """

    aep_conn_id: str
    sandbox_name: str | None
    partial_success: str
    max_transient_errors: int
    log: Any
    _wait_budget: TransientBudget | None = None
    _last_states: list[RunState] = []

    def _check_partial_success_mode(self) -> None:
        if self.partial_success not in PARTIAL_SUCCESS_MODES:
            raise AEPInputError(
                "partial_success",
                f"{self.partial_success!r} is not one of {PARTIAL_SUCCESS_MODES}.",
                "Use 'warn' (succeed with a warning), 'succeed' or 'fail'.",
            )

    def check_wait_settings(
        self, hook: AdobeExperiencePlatformHook, interval_field: str, interval: Any
    ) -> float:
        """Validate the poll interval (1 s floor against AEP, 0.01 s against a loopback emulator)
        and ``max_transient_errors``; return the interval in seconds. No HTTP."""
        from urllib.parse import urlsplit

        from airflow_provider_aep.hooks._connection import is_loopback

        self.max_transient_errors = check_count("max_transient_errors", self.max_transient_errors, 1000)
        loopback = is_loopback(urlsplit(hook.conn_settings.gateway_url).hostname or "")
        seconds = check_poll_interval(interval_field, interval, loopback=loopback)
        cap = os.environ.get(EMULATOR_POLL_ENV, "").strip() if loopback else ""
        fast = check_poll_interval(EMULATOR_POLL_ENV, cap, loopback=True) if cap else seconds
        if fast < seconds:
            self.log.info("Polling every %gs (%s, loopback emulator only)", fast, EMULATOR_POLL_ENV)
        return min(seconds, fast)

    def poll_runs(self, hook: AdobeExperiencePlatformHook, target: WaitTarget) -> list[RunState] | None:
        """One check: log progress; return the states once all awaited runs are terminal, else None.

        Transient API errors (after the hook's own retries) are tolerated up to
        ``max_transient_errors`` consecutive checks.
        """
        budget = self._wait_budget
        if budget is None:
            budget = self._wait_budget = TransientBudget(self.max_transient_errors)
        try:
            states = fetch_run_states(hook, target)
        except TRANSIENT_ERRORS as exc:
            if not budget.spend():
                raise
            self.log.warning(
                "Transient AEP error while checking %s (%d/%d), will retry: %s",
                target.describe(),
                budget.count,
                budget.limit,
                exc,
            )
            return None
        budget.reset()
        self._last_states = states
        now = time.time()
        if not states:
            self.log.info("No matching run yet for %s", target.describe())
        for state in states:
            self.log.info("AEP %s", state.progress_line(now))
        return states if aggregate_status(states) is not None else None

    def conclude(self, target: WaitTarget, states: list[RunState]) -> str | list[str]:
        """Apply the outcome policy to terminal states; return run id(s) or raise."""
        outcome = aggregate_status(states)
        if outcome is None:  # never expected here: fail closed
            raise AEPError(f"Cannot conclude on {target.describe()}: runs are not terminal.")
        partial = [s for s in states if s.run_status is RunStatus.PARTIAL_SUCCESS]
        bad = [s for s in states if s.run_status.is_failure]
        if not bad and partial and self.partial_success == "fail":
            bad = partial
        if bad:
            raise _run_error(bad, target)
        if partial:
            message = _partial_line(partial)
            if self.partial_success == "warn":
                self.log.warning("%s", message)
            else:
                self.log.info("%s (partial_success=%r)", message, self.partial_success)
        ids = [s.run_id for s in states]
        self.log.info("%s finished successfully: %s", target.describe(), ", ".join(ids))
        if target.mode == "window":
            return ids
        return ids[0]

    def deferral_deadline(
        self, context: Context, timeout: float | None, started: float
    ) -> tuple[float | None, str]:
        """Absolute deadline (epoch s) for the trigger: min(sensor timeout, execution_timeout)."""
        candidates: list[tuple[float, str]] = []
        if timeout is not None:
            candidates.append((started + timeout, "timeout"))
        execution_timeout = getattr(self, "execution_timeout", None)
        if execution_timeout:
            ti_start = getattr(context.get("ti"), "start_date", None)
            base = ti_start.timestamp() if isinstance(ti_start, datetime) else started
            candidates.append((base + execution_timeout.total_seconds(), "execution_timeout"))
        if not candidates:
            return None, "timeout"
        return min(candidates)

    def make_trigger(
        self, target: WaitTarget, poll_interval: float, end_time: float | None, reason: str
    ) -> AEPFlowRunTrigger:
        """The trigger for ``target`` (imported lazily)."""
        from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

        return AEPFlowRunTrigger(
            flow_id=target.flow_id,
            run_id=target.run_id,
            window_start=target.window_start,
            window_end=target.window_end,
            started_after=target.started_after,
            aep_conn_id=self.aep_conn_id,
            sandbox_name=self.sandbox_name,
            poll_interval=poll_interval,
            end_time=end_time,
            timeout_reason=reason,
            max_transient_errors=self.max_transient_errors,
            next_poll_at=time.time() + poll_interval,  # the task has just polled
        )

    def defer_wait(
        self,
        context: Context,
        target: WaitTarget,
        *,
        poll_interval: float,
        timeout: float | None,
        started: float,
        method_name: str = "execute_complete",
    ) -> None:
        """Hand the wait to the triggerer with an absolute deadline (never returns)."""
        end_time, reason = self.deferral_deadline(context, timeout, started)
        trigger = self.make_trigger(target, poll_interval, end_time, reason)
        defer_timeout = None if end_time is None else timedelta(seconds=max(end_time - time.time(), 0) + 5)
        self.log.info("Deferring: waiting for %s in the triggerer", target.describe())
        self.defer(trigger=trigger, method_name=method_name, timeout=defer_timeout)  # type: ignore[attr-defined]

    def parse_event(self, event: Any) -> tuple[str, WaitTarget, list[RunState], str, str | None]:
        """Validate a trigger event, fail-closed: anything malformed raises :class:`AEPError`."""
        if not isinstance(event, dict):
            raise AEPError(f"Flow run trigger returned no usable event ({type(event).__name__}); failing.")
        status = event.get("status")
        if status not in EVENT_STATUSES:
            raise AEPError(f"Flow run trigger returned an unknown status {status!r}; failing.")
        raw_target = event.get("target")
        if not isinstance(raw_target, dict):
            raise AEPError("Flow run trigger event has no target; failing.")
        try:
            target = WaitTarget(**raw_target)
            runs = event.get("runs") or []
            if not isinstance(runs, list):
                raise ValueError("runs is not a list")
            states = [RunState.from_dict(r) for r in runs]
        except (TypeError, ValueError) as exc:
            raise AEPError(f"Flow run trigger event is malformed ({exc}); failing.") from None
        message = str(event.get("message") or "")
        if status in EVENT_TERMINAL:
            outcome = aggregate_status(states)
            if outcome is None or outcome.value != status:
                raise AEPError(
                    f"Flow run trigger event says {status!r} but its runs say "
                    f"{outcome.value if outcome else 'not finished'}; failing."
                )
        reason = event.get("reason")
        return status, target, states, message, reason if isinstance(reason, str) else None


def _partial_line(partial: Sequence[RunState]) -> str:
    parts = []
    for s in partial:
        errors = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in s.errors[:3])
        parts.append(
            f"run {s.run_id} partially succeeded: {s.records_failed if s.records_failed is not None else '?'}"
            f" failed records of {s.records_read if s.records_read is not None else '?'} read"
            + (f" ({errors})" if errors else "")
        )
    return "AEP " + " | ".join(parts)


def _run_error(bad: Sequence[RunState], target: WaitTarget) -> AEPFlowRunError:
    errors: list[dict[str, Any]] = []
    for s in bad:
        errors.extend(s.errors)
    failed = [s.records_failed for s in bad if s.records_failed is not None]
    return AEPFlowRunError(
        run_id=", ".join(s.run_id for s in bad),
        status=", ".join(sorted({s.raw_status or s.status for s in bad})),
        errors=errors,
        failed_records=sum(failed) if failed else None,
        flow_id=target.flow_id or bad[0].flow_id,
    )


def runs_request(target: WaitTarget) -> tuple[str, list[str] | None]:
    """What to read for ``target``: ``("run", None)`` (``GET /runs/{id}``) or ``("list", properties)``.

    In the list modes the server-side bound is a documented filter on the start time;
    :func:`~airflow_provider_aep.runs_status.select_runs` then applies the exact rule.
    """
    if target.mode == "run_id":
        return "run", None
    if not target.flow_id:
        raise ValueError("flow_id is required unless run_id is given")
    lower = target.started_after if target.mode == "started_after" else target.window_start
    if lower is None:
        return "list", None
    return "list", [f"metrics.durationSummary.startedAtUTC>={math.floor(lower * 1000)}"]


def fetch_run_states(hook: AdobeExperiencePlatformHook, target: WaitTarget) -> list[RunState]:
    """Read the runs ``target`` waits for with the sync hook (operators, poke mode)."""
    kind, properties = runs_request(target)
    if kind == "run":
        return [RunState.from_run(hook.get_run(str(target.run_id)))]
    runs = list(hook.list_runs(str(target.flow_id), properties=properties))
    return [RunState.from_run(r) for r in select_runs(runs, target)]


async def afetch_run_states(client: AsyncAEPClient, target: WaitTarget) -> list[RunState]:
    """Read the runs ``target`` waits for with the trigger's async client (same requests)."""
    from airflow_provider_aep.hooks._flow_service import run_path

    kind, properties = runs_request(target)
    if kind == "run":
        return [RunState.from_run(await client.get_one("flowservice", run_path(str(target.run_id))))]
    runs = await alist_runs(client, str(target.flow_id), properties)
    return [RunState.from_run(r) for r in select_runs(runs, target)]


async def alist_runs(client: AsyncAEPClient, flow_id: str, properties: list[str] | None) -> list[dict]:
    """The runs of ``flow_id`` matching ``properties`` (every page), read with the async client:
    the request the sync hook's ``list_runs`` sends (same query helpers)."""
    from airflow_provider_aep.hooks._flow_service import list_params, runs_query

    params = list_params(**runs_query(flow_id, properties))
    return [r async for r in client.iter_flow_service("/runs", params)]


class TransientBudget:
    """Consecutive transient failures tolerated while waiting (a success resets the count)."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.count = 0

    @staticmethod
    def is_transient(exc: BaseException) -> bool:
        """Whether ``exc`` is a 429, a 5xx or a lost connection (after the transport's retries)."""
        return isinstance(exc, TRANSIENT_ERRORS)

    def spend(self) -> bool:
        """Count one more failure; True while it is still within the budget."""
        self.count += 1
        return self.count <= self.limit

    def reset(self) -> None:
        """A successful read: the next failure starts a new streak."""
        self.count = 0
