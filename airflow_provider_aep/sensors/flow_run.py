"""Sensor waiting for AEP flow runs, plus the wait logic it shares with ``AEPRunFlowOperator``.

Which runs are awaited (exactly one mode):

* ``run_id``: that run.
* ``started_after``: the first run of ``flow_id`` whose ``metrics.durationSummary.startedAtUTC`` is at
  or after that time.
* otherwise a window ``[window_start, window_end)`` (default: the DAG run's data interval): the runs
  of ``flow_id`` whose *data window end* lies in ``(window_start, window_end]``. The data window end
  is ``params.windowEndTime`` for on-demand runs, else the copy activity's
  ``durationSummary.extensions.windowEnd``, else (no window reported yet, e.g. a scheduled run in
  progress) the run's scheduled start ``startedAtUTC`` (a scheduled run at T reads data up to T).
  The sensor finishes when at least one run matches and all matching runs are terminal; the worst
  outcome wins.

Outcomes: success -> task succeeds (returns the run id, or the list of run ids in window mode);
partial success -> ``partial_success="warn"`` (default: succeed, WARNING with failed-record counts),
``"fail"`` (raise :class:`AEPFlowRunError`) or ``"succeed"``; failure/cancelled -> raise
:class:`AEPFlowRunError` with run id, status, error codes/messages and failed-record counts on one line.
``soft_fail=True`` turns a timeout or a failed run into a skip, identically in poke and deferrable mode.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, conf
from airflow.sdk.bases.sensor import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    TaskDeferralTimeout,
)

from airflow_provider_aep.exceptions import (
    AEPConnectionError,
    AEPError,
    AEPFlowRunError,
    AEPInputError,
    AEPRateLimitError,
    AEPServerError,
)
from airflow_provider_aep.flow_ref import check_flow_name, check_flow_ref
from airflow_provider_aep.lineage_mixin import AEPRunLineageMixin
from airflow_provider_aep.links import AEPFlowRunLink
from airflow_provider_aep.run_outcome import AEPRunOutcomeMixin
from airflow_provider_aep.runs_status import (
    RunState,
    RunStatus,
    WaitTarget,
    aggregate_status,
    fetch_run_states,
    timeout_message,
    to_epoch_seconds,
)
from airflow_provider_aep.validation import check_count, check_poll_interval, check_wait_timeout

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
    from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

PARTIAL_SUCCESS_MODES = ("warn", "fail", "succeed")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TRANSIENT = (AEPRateLimitError, AEPServerError, AEPConnectionError)
_EVENT_TERMINAL = {"success", "partial_success", "failed", "cancelled"}


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` (False when unset)."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def validate_uuid(field: str, value: Any) -> str:
    """Return ``value`` if it is a Flow Service UUID, else raise :class:`AEPInputError`."""
    if not isinstance(value, str) or not _UUID.match(value.strip()):
        raise AEPInputError(
            field,
            f"{value!r} is not a Flow Service id (a UUID such as 3fb0418e-1804-45d6-8d56-dd51f05c0baf).",
            "Pass the id returned by the create operator or shown in the AEP UI.",
        )
    return value.strip()


_YEAR_3000 = 32_503_680_000


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


def epoch_from(field: str, value: Any) -> float | None:
    """Epoch seconds from a tz-aware datetime, an ISO-8601 string with offset, or epoch s/ms.

    Naive datetimes and ISO strings without an offset are refused (AEP runs in UTC; guessing the
    zone silently shifts the window).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise AEPInputError(
                field, "naive datetime (no timezone).", "Use a timezone-aware datetime (UTC)."
            )
        return value.timestamp()
    if isinstance(value, str) and not _is_number(value):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise AEPInputError(
                field,
                f"{value!r} is not an ISO-8601 date-time.",
                "Pass a timezone-aware datetime, epoch seconds or a string such as 2026-01-01T00:00:00Z.",
            ) from None
        if parsed.tzinfo is None:
            raise AEPInputError(field, f"{value!r} has no UTC offset.", "Append 'Z' or '+00:00'.")
        return parsed.timestamp()
    try:
        result = to_epoch_seconds(value)
    except (ValueError, OverflowError):
        result = None
    if result is None:
        raise AEPInputError(
            field,
            f"{value!r} is not a date-time or epoch time.",
            "Pass a timezone-aware datetime, epoch seconds or an ISO-8601 string with an offset.",
        )
    if result > _YEAR_3000:
        raise AEPInputError(
            field,
            f"{value!r} is after the year 3000, so it is not epoch seconds or milliseconds.",
            "Pass epoch seconds (10 digits) or a datetime; divide microseconds by 1,000,000.",
        )
    return result


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


class FlowRunWaitMixin:
    """Waiting logic shared by :class:`AEPFlowRunSensor` and ``AEPRunFlowOperator``.

    The host class provides ``aep_conn_id``, ``sandbox_name``, ``partial_success``,
    ``max_transient_errors``, ``log``, ``defer`` and ``task_id``.
    """

    aep_conn_id: str
    sandbox_name: str | None
    partial_success: str
    max_transient_errors: int
    _transient_errors: int = 0
    _last_states: list[RunState] = []
    log: Any

    def _make_hook(self) -> AdobeExperiencePlatformHook:
        from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

        return AdobeExperiencePlatformHook(aep_conn_id=self.aep_conn_id, sandbox_name=self.sandbox_name)

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
        return check_poll_interval(interval_field, interval, loopback=loopback)

    def poll_runs(self, hook: AdobeExperiencePlatformHook, target: WaitTarget) -> list[RunState] | None:
        """One check: log progress; return the states once all awaited runs are terminal, else None.

        Transient API errors (after the hook's own retries) are tolerated up to
        ``max_transient_errors`` consecutive checks.
        """
        try:
            states = fetch_run_states(hook, target)
        except _TRANSIENT as exc:
            self._transient_errors += 1
            if self._transient_errors > self.max_transient_errors:
                raise
            self.log.warning(
                "Transient AEP error while checking %s (%d/%d), will retry: %s",
                target.describe(),
                self._transient_errors,
                self.max_transient_errors,
                exc,
            )
            return None
        self._transient_errors = 0
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
        if status not in _EVENT_TERMINAL | {"timeout", "error"}:
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
        if status in _EVENT_TERMINAL:
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


class AEPFlowRunSensor(AEPRunOutcomeMixin, AEPRunLineageMixin, FlowRunWaitMixin, BaseSensorOperator):
    """Wait for AEP flow runs: one run id, the runs covering a window, or the next run after a time.

    See the module docstring for the exact window-matching rule.

    :param flow_id: flow id (UUID). Required unless ``run_id`` or ``flow_name`` is given.
    :param flow_name: or the flow's exact name (templated), resolved at execute time to exactly one
        flow (zero or several matches fail with the matches named).
    :param run_id: wait for this run.
    :param window_start: window start (tz-aware datetime, ISO string with offset, or epoch s/ms);
        default: the DAG run's ``data_interval_start``.
    :param window_end: window end (exclusive); default ``data_interval_end``.
    :param started_after: wait for the first run started at or after this time instead.
    :param partial_success: ``"warn"`` (default), ``"fail"`` or ``"succeed"``.
    :param deferrable: wait in the triggerer; default ``[operators] default_deferrable``.
    :param poke_interval: seconds between checks (default 30; the API is rate-limited).
    :param max_transient_errors: consecutive 429/5xx/connection failures tolerated while waiting.
    :param aep_conn_id: Airflow connection id.
    :param sandbox_name: sandbox override.
    :param dataset_alias: asset alias name; each successful run adds an asset event for the flow's
        AEP dataset through it (see :mod:`airflow_provider_aep.assets`).
    :param max_failed_records: quality gate: at most this many failed records (summed over the runs).
    :param max_failed_ratio: quality gate: at most this fraction of the records read failed (0.01 = 1 %).
    :param min_records_written: quality gate: at least this many records written (0 written can be an error).
    :param quality_gate_action: ``"fail"`` (default: the task fails, without retries, naming the gate,
        the figures and the fix) or ``"warn"``. The run summary (XCom ``run_summary``) is pushed either way.
    """

    template_fields: Sequence[str] = (
        "aep_conn_id",
        "sandbox_name",
        "flow_id",
        "flow_name",
        "run_id",
        "window_start",
        "window_end",
        "started_after",
    )
    ui_color = "#eb1000"
    operator_extra_links = (AEPFlowRunLink(),)

    def __init__(
        self,
        *,
        flow_id: str | XComArg | None = None,
        flow_name: str | None = None,
        run_id: str | XComArg | None = None,
        window_start: datetime | str | float | None = None,
        window_end: datetime | str | float | None = None,
        started_after: datetime | str | float | None = None,
        partial_success: str = "warn",
        deferrable: bool | None = None,
        poke_interval: float | timedelta = 30,
        max_transient_errors: int = 10,
        aep_conn_id: str = "aep_default",
        sandbox_name: str | None = None,
        dataset_alias: str | None = None,
        max_failed_records: int | None = None,
        max_failed_ratio: float | None = None,
        min_records_written: int | None = None,
        quality_gate_action: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.declare_dataset_alias(dataset_alias)
        self.init_quality_gate(max_failed_records, max_failed_ratio, min_records_written, quality_gate_action)
        check_flow_ref(flow_id, flow_name, required=False)
        self.flow_id = flow_id
        self.flow_name = flow_name
        self.run_id = run_id
        self.window_start = window_start
        self.window_end = window_end
        self.started_after = started_after
        self.partial_success = partial_success
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.max_transient_errors = max_transient_errors
        self.aep_conn_id = aep_conn_id
        self.sandbox_name = sandbox_name
        self._target: WaitTarget | None = None
        self._hook: AdobeExperiencePlatformHook | None = None

    def build_target(self, context: Context) -> WaitTarget:
        """Validate parameters (no HTTP), resolve the window default from the data interval, then
        (for ``flow_name``) look the flow up by name."""
        self._check_partial_success_mode()
        self.poke_interval = self.check_wait_settings(self.hook, "poke_interval", self.poke_interval)
        if self.timeout is not None:
            self.timeout = check_wait_timeout("timeout", self.timeout)  # type: ignore[assignment]
        if self.flow_name is not None:
            check_flow_name(self.flow_name)
        if self.run_id:
            run_id = validate_uuid("run_id", self.run_id)
            flow_id = validate_uuid("flow_id", self.flow_id) if self.flow_id else None
            if self.flow_name is not None:
                flow_id = self._resolve_flow()
            return WaitTarget(flow_id=flow_id, run_id=run_id)
        if self.flow_name is None:
            validate_uuid("flow_id", self.flow_id)
        started_after = epoch_from("started_after", self.started_after)
        if started_after is not None:
            return WaitTarget(flow_id=self._resolve_flow(), started_after=started_after)
        start, end = resolve_window(
            context, self.window_start, self.window_end, "or pass run_id or started_after instead"
        )
        return WaitTarget(flow_id=self._resolve_flow(), window_start=start, window_end=end)

    def _resolve_flow(self) -> str:
        """``flow_id``, or the id of the one flow named ``flow_name`` (kept in ``flow_id`` for logs)."""
        from airflow_provider_aep.flow_ref import resolve_flow_id

        flow_id = resolve_flow_id(self.hook, self.flow_id, self.flow_name, self.log)
        assert flow_id is not None
        self.flow_id = flow_id
        return flow_id

    @property
    def hook(self) -> AdobeExperiencePlatformHook:
        """The hook (created lazily)."""
        if self._hook is None:
            self._hook = self._make_hook()
        return self._hook

    def execute(self, context: Context) -> Any:
        """Validate, check once, then poke (BaseSensorOperator loop) or defer."""
        from airflow_provider_aep.operators._converge import UNKNOWN, plan_requested

        if plan_requested(context, getattr(self, "plan_only", None)):
            self.log.info("PLAN WAIT      for a run of flow %s (plan_only: not waiting)", self.flow_id)
            return UNKNOWN
        self.remember_context(context)
        self._target = self.build_target(context)
        self.log.info("Waiting for %s", self._target.describe())
        if self._target.run_id and self._target.flow_id:  # the link while waiting (else at the end)
            url = self.run_link(self._target.flow_id, self._target.run_id)
            if url:
                context["ti"].xcom_push(key="run_url", value=url)
        if not self.deferrable:
            return self._poke_with_context(context)
        started = time.time()
        try:
            states = self.poll_runs(self.hook, self._target)
            if states is not None:
                return self.conclude(self._target, states)
        except AEPFlowRunError as exc:
            self._soft_fail_or_raise(exc)
        self.defer_wait(
            context,
            self._target,
            poll_interval=float(self.poke_interval),
            timeout=float(self.timeout),
            started=started,
        )

    def _poke_with_context(self, context: Context) -> Any:
        """Airflow's poke loop, with timeouts that say what deferrable mode says: which flow and
        runs were awaited, and that AEP keeps running them."""
        assert self._target is not None
        try:
            return super().execute(context)
        except (AirflowSensorTimeout, AirflowTaskTimeout) as exc:
            message = timeout_message(self._target, self._last_states)
            self.log.error("%s", message)
            raise type(exc)(message) from exc
        except AirflowSkipException as exc:
            timed_out = isinstance(exc.__cause__, (AirflowSensorTimeout, AirflowTaskTimeout)) or str(
                exc
            ).startswith("Sensor has timed out")
            if not timed_out:
                raise
            message = timeout_message(self._target, self._last_states)
            self.log.error("%s", message)
            raise AirflowSkipException(f"Skipping (soft_fail): {message}") from exc

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One check in poke/reschedule mode."""
        self.remember_context(context)
        if self._target is None:
            self._target = self.build_target(context)
        states = self.poll_runs(self.hook, self._target)
        if states is None:
            return False
        try:
            return PokeReturnValue(is_done=True, xcom_value=self.conclude(self._target, states))
        except AEPFlowRunError as exc:
            self._soft_fail_or_raise(exc)
            raise  # unreachable

    def _soft_fail_or_raise(self, exc: Exception) -> None:
        if self.soft_fail:
            raise AirflowSkipException(f"Skipping (soft_fail): {exc}") from exc
        raise exc

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Resume after the trigger fired: validate the event (fail closed) and conclude."""
        self.remember_context(context)
        status, target, states, message, reason = self.parse_event(event)
        if status == "timeout":
            self.log.error("%s", message)
            if reason == "execution_timeout":
                raise AirflowTaskTimeout(message)
            raise AirflowSensorTimeout(message)
        if status == "error":
            raise AEPError(f"Waiting for {target.describe()} failed: {message}")
        return self.conclude(target, states)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Same soft_fail/never_fail semantics as poke mode (timeouts and failed runs only)."""
        from airflow.sdk import BaseOperator

        try:
            try:
                return BaseOperator.resume_execution(self, next_method, next_kwargs, context)
            except TaskDeferralTimeout as exc:
                raise AirflowSensorTimeout(*exc.args) from exc
        except AirflowSkipException:
            raise
        except (AirflowSensorTimeout, AirflowTaskTimeout, AEPFlowRunError) as exc:
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping (soft_fail): {exc}") from exc
            raise
        except Exception as exc:
            if getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping (never_fail): {exc}") from exc
            raise


__all__ = [
    "PARTIAL_SUCCESS_MODES",
    "AEPFlowRunSensor",
    "FlowRunWaitMixin",
    "default_deferrable",
    "epoch_from",
    "validate_uuid",
]
