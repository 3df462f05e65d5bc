"""Run results as data: the run summary pushed to XCom, and the quality gate applied to it.

:class:`RunSummary` is the one JSON digest of the runs a task waited for (XCom key ``run_summary``;
the asset events' extra reuses :func:`run_entry`). :class:`QualityGate` checks it:
``max_failed_records``, ``max_failed_ratio`` (failed / read) and ``min_records_written``, failing
the task without retries (:class:`~airflow_provider_aep.exceptions.AEPQualityGateError`) or only
warning (``quality_gate_action="warn"``). :class:`AEPRunOutcomeMixin` wires both into the run
operator and the sensor (before ``AEPRunLineageMixin`` in the bases; it wraps ``conclude``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPInputError, AEPQualityGateError
from airflow_provider_aep.runs_status import RunStatus, aggregate_status
from airflow_provider_aep.task import AEPTaskMixin

if TYPE_CHECKING:
    from airflow_provider_aep.runs_status import RunState, WaitTarget

#: XCom key of the run summary.
XCOM_RUN_SUMMARY = xcom_keys.RUN_SUMMARY  # the old name of the key, kept for DAGs that import it
QUALITY_GATE_ACTIONS = ("fail", "warn")


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if len(known) == len(values) and values else None


def run_entry(state: RunState) -> dict[str, Any]:
    """One run's id, outcome and counts (JSON values only)."""
    return {
        "run_id": state.run_id,
        "flow_id": state.flow_id,
        "status": state.status,
        "records_read": state.records_read,
        "records_written": state.records_written,
        "records_failed": state.records_failed,
        "bytes_read": state.bytes_read,
        "bytes_written": state.bytes_written,
        "started_at": state.started_at,
        "completed_at": state.completed_at,
        "window_start": state.window_start,
        "window_end": state.window_end,
    }


@dataclass(frozen=True)
class RunSummary:
    """What the awaited runs did, summed over the runs (``None`` where AEP reported no figure)."""

    flow_id: str | None
    run_ids: tuple[str, ...]
    status: str
    records_read: int | None
    records_written: int | None
    records_failed: int | None
    bytes_read: int | None
    bytes_written: int | None
    duration_seconds: float | None
    window_start: float | None
    window_end: float | None
    error_codes: tuple[str, ...]
    runs: tuple[dict[str, Any], ...]

    @classmethod
    def from_states(cls, target: WaitTarget, states: list[RunState]) -> RunSummary:
        """Summarise terminal run states (the worst status wins, as in the task's outcome)."""
        outcome = aggregate_status(states)
        starts = [s.started_at for s in states if s.started_at is not None]
        ends = [s.completed_at for s in states if s.completed_at is not None]
        duration = max(ends) - min(starts) if starts and ends and len(ends) == len(states) else None
        w_starts = [s.window_start for s in states if s.window_start is not None]
        w_ends = [s.window_end for s in states if s.window_end is not None]
        codes = sorted({str(e.get("code")) for s in states for e in s.errors if e.get("code") is not None})
        return cls(
            flow_id=target.flow_id or next((s.flow_id for s in states if s.flow_id), None),
            run_ids=tuple(s.run_id for s in states),
            status=outcome.value if outcome else "unknown",
            records_read=_sum([s.records_read for s in states]),
            records_written=_sum([s.records_written for s in states]),
            records_failed=_sum([s.records_failed for s in states]),
            bytes_read=_sum([s.bytes_read for s in states]),
            bytes_written=_sum([s.bytes_written for s in states]),
            duration_seconds=None if duration is None else round(max(duration, 0.0), 3),
            window_start=target.window_start
            if target.window_start is not None
            else min(w_starts, default=None),
            window_end=target.window_end if target.window_end is not None else max(w_ends, default=None),
            error_codes=tuple(codes),
            runs=tuple(run_entry(s) for s in states),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the XCom value)."""
        data = asdict(self)
        data["run_ids"] = list(self.run_ids)
        data["error_codes"] = list(self.error_codes)
        data["runs"] = [dict(r) for r in self.runs]
        return data

    def to_json(self) -> str:
        """The summary as a JSON string."""
        return json.dumps(self.as_dict(), sort_keys=True)

    @property
    def failed_ratio(self) -> float | None:
        """Failed records / records read (read unknown or 0: failed / (written + failed))."""
        if self.records_failed is None:
            return None
        base = self.records_read
        if not base and self.records_written is not None:
            base = self.records_written + self.records_failed
        if not base:
            return 0.0 if self.records_failed == 0 else None
        return self.records_failed / base


def _int_or_none(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AEPInputError(
            field, f"must be a whole number >= 0 or None, got {value!r}.", f"e.g. {field}=100."
        )
    return value


@dataclass(frozen=True)
class QualityGate:
    """Thresholds on a finished run's figures; all ``None`` = no gate."""

    max_failed_records: int | None = None
    max_failed_ratio: float | None = None
    min_records_written: int | None = None
    action: str = "fail"

    @classmethod
    def checked(
        cls,
        max_failed_records: Any = None,
        max_failed_ratio: Any = None,
        min_records_written: Any = None,
        action: Any = "fail",
    ) -> QualityGate:
        """Validate the parameters (no request is sent): :class:`AEPInputError` naming the field."""
        ratio = max_failed_ratio
        if ratio is not None:
            if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
                raise AEPInputError(
                    "max_failed_ratio",
                    f"must be a fraction between 0 and 1, got {ratio!r}.",
                    "e.g. max_failed_ratio=0.01 for at most 1 % failed records.",
                )
            ratio = float(ratio)
        if action not in QUALITY_GATE_ACTIONS:
            raise AEPInputError(
                "quality_gate_action",
                f"{action!r} is not one of {QUALITY_GATE_ACTIONS}.",
                "Use 'fail' (the task fails, no retries) or 'warn' (log a warning).",
            )
        return cls(
            max_failed_records=_int_or_none("max_failed_records", max_failed_records),
            max_failed_ratio=ratio,
            min_records_written=_int_or_none("min_records_written", min_records_written),
            action=action,
        )

    @property
    def active(self) -> bool:
        """True when at least one threshold is set."""
        return any(
            v is not None for v in (self.max_failed_records, self.max_failed_ratio, self.min_records_written)
        )

    def violations(self, summary: RunSummary) -> list[str]:
        """One sentence per broken gate, with the figures (unknown figures break the gate: fail closed)."""
        found: list[str] = []
        runs = ", ".join(summary.run_ids)
        failed, read, written = summary.records_failed, summary.records_read, summary.records_written
        if self.max_failed_records is not None:
            if failed is None:
                found.append(
                    f"max_failed_records={self.max_failed_records}: AEP reported no failed-record count"
                )
            elif failed > self.max_failed_records:
                found.append(f"max_failed_records={self.max_failed_records}: {failed} records failed")
        if self.max_failed_ratio is not None:
            ratio = summary.failed_ratio
            if ratio is None:
                found.append(f"max_failed_ratio={self.max_failed_ratio:g}: AEP reported no record counts")
            elif ratio > self.max_failed_ratio:
                found.append(
                    f"max_failed_ratio={self.max_failed_ratio:g} ({self.max_failed_ratio:.2%}): {failed} of "
                    f"{read if read else '?'} records read failed ({ratio:.2%})"
                )
        if self.min_records_written is not None:
            if written is None:
                found.append(f"min_records_written={self.min_records_written}: AEP reported no written count")
            elif written < self.min_records_written:
                found.append(
                    f"min_records_written={self.min_records_written}: only {written} records written"
                )
        return [f"{v} (runs {runs})" for v in found]

    def error(self, violations: list[str]) -> AEPQualityGateError:
        """The one-line failure: the gates, the figures and the fix."""
        return AEPQualityGateError(
            "AEP quality gate failed: "
            + "; ".join(violations)
            + ". Fix: correct the rejected rows at the source or the mapping (see the error sample in the "
            "log) and re-run, or relax the threshold / set quality_gate_action='warn'."
        )


class AEPRunOutcomeMixin(AEPTaskMixin):
    """Summary to XCom and quality gate for tasks that wait for flow runs (wraps ``conclude``).

    The host sets ``quality_gate`` (via :meth:`init_quality_gate`) and calls :meth:`remember_context`
    at the start of ``execute``/``poke``/``execute_complete``.
    """

    log: Any
    quality_gate: QualityGate = QualityGate()
    aep_run_summary: RunSummary | None = None
    _aep_context: Any = None

    def init_quality_gate(
        self,
        max_failed_records: Any = None,
        max_failed_ratio: Any = None,
        min_records_written: Any = None,
        quality_gate_action: Any = "fail",
    ) -> None:
        """Validate and keep the gate (at DAG-parse time: the values are not templated)."""
        self.quality_gate = QualityGate.checked(
            max_failed_records, max_failed_ratio, min_records_written, quality_gate_action
        )

    def remember_context(self, context: Any) -> None:
        """Keep the task context: ``conclude`` pushes the summary through its ``ti``."""
        self._aep_context = context

    def _push_summary(self, summary: RunSummary) -> None:
        context = self._aep_context
        if context is None:
            try:
                from airflow.sdk import get_current_context

                context = get_current_context()
            except Exception:  # no running task (plain unit use): nothing to push to
                return
        if (context.get("ti") if hasattr(context, "get") else None) is not None:
            self.xcom_push(context, xcom_keys.RUN_SUMMARY, summary.as_dict())
            url = self.run_link(summary.flow_id, summary.run_ids[-1] if summary.run_ids else None)
            if url:
                self.xcom_push(context, xcom_keys.RUN_URL, url)

    def run_link(self, flow_id: str | None, run_id: str | None) -> str | None:
        """The AEP UI page of ``run_id`` (org and sandbox from the hook's settings), or None."""
        from airflow_provider_aep.links import run_page_url

        org, sandbox = self.ui_org_and_sandbox()
        return run_page_url(org, sandbox, flow_id, run_id)

    def conclude(self, target: WaitTarget, states: list[RunState]) -> Any:
        """Push the run summary, apply the quality gate to finished (partially) successful runs,
        then conclude as before."""
        summary = RunSummary.from_states(target, states)
        self.aep_run_summary = summary
        self._push_summary(summary)
        self.log.info("AEP run summary: %s", summary.to_json())
        outcome = aggregate_status(states)
        if outcome is not None:
            self.after_runs(target, states, summary)
        if outcome in (RunStatus.SUCCESS, RunStatus.PARTIAL_SUCCESS) and self.quality_gate.active:
            violations = self.quality_gate.violations(summary)
            if violations and self.quality_gate.action == "fail":
                raise self.quality_gate.error(violations)
            if violations:
                self.log.warning("AEP quality gate (warn only): %s", "; ".join(violations))
            else:
                self.log.info("AEP quality gate passed")
        return super().conclude(target, states)  # type: ignore[misc]

    def after_runs(self, target: WaitTarget, states: list[RunState], summary: RunSummary) -> None:
        """Once the runs finished: log a bounded sample of the failed rows' errors (when any)."""
        if not summary.records_failed:
            return
        from airflow_provider_aep.error_sample import log_error_sample

        log_error_sample(self.hook, self.log, states)
