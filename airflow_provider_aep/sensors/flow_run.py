"""Sensor waiting for AEP flow runs (the wait logic itself lives in :mod:`airflow_provider_aep.wait`).

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

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.bases.sensor import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    TaskDeferralTimeout,
)

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPError, AEPFlowRunError
from airflow_provider_aep.flow_ref import check_flow_name, check_flow_ref
from airflow_provider_aep.lineage_mixin import AEPRunLineageMixin
from airflow_provider_aep.links import AEPFlowRunLink
from airflow_provider_aep.run_outcome import AEPRunOutcomeMixin
from airflow_provider_aep.runs_status import WaitTarget, timeout_message
from airflow_provider_aep.task import AEP_TEMPLATE_FIELDS, AEPTaskMixin
from airflow_provider_aep.validation import check_wait_timeout
from airflow_provider_aep.wait import (
    PARTIAL_SUCCESS_MODES,
    FlowRunWaitMixin,
    check_literals,
    default_deferrable,
    epoch_from,
    resolve_window,
    validate_uuid,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg


class AEPFlowRunSensor(
    AEPRunOutcomeMixin, AEPRunLineageMixin, FlowRunWaitMixin, AEPTaskMixin, BaseSensorOperator
):
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
        *AEP_TEMPLATE_FIELDS,
        "flow_id",
        "flow_name",
        "run_id",
        "window_start",
        "window_end",
        "started_after",
    )
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
        super().__init__(
            aep_conn_id=aep_conn_id, sandbox_name=sandbox_name, poke_interval=poke_interval, **kwargs
        )
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
        self._target: WaitTarget | None = None
        check_literals(
            flow_id=("uuid", flow_id),
            run_id=("uuid", run_id),
            window_start=("time", window_start),
            window_end=("time", window_end),
            started_after=("time", started_after),
        )

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
                self.xcom_push(context, xcom_keys.RUN_URL, url)
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

        self.forget_pushed_here()
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
