"""Flow-run status logic shared by the sensor, the trigger and the on-demand run operator.

Everything here is pure (no Airflow, no HTTP); reading runs is :mod:`airflow_provider_aep.wait`'s job.

* :class:`RunStatus` normalises AEP's mixed vocabularies (``inProgress``, ``success``,
  ``partialSuccess``, ``failed``, ``IN_PROGRESS``, ``PARTIAL_SUCCESS``, ``Failed``...).
* :class:`RunState` is the JSON-safe digest of one run (status, counts, errors, data window) that
  travels in trigger events.
* :class:`WaitTarget` says *which* runs to wait for: one run id, the runs covering a data window, or
  the next run starting after a time.

Window matching (documented in the sensor too): a run's *data window end* is, in this order,
``params.windowEndTime`` (on-demand runs), the copy activity's
``durationSummary.extensions.windowEnd`` (or the run-level one), or, when AEP reports no window yet
(a scheduled run still in progress), its scheduled start ``metrics.durationSummary.startedAtUTC``
(a scheduled run at T reads the data up to T). A run *covers* the interval ``[ws, we)`` when that
end lies in ``(ws, we]``. So an on-demand run for exactly ``[ws, we)`` matches, and an hourly flow
under a daily DAG interval matches the 24 runs that ingested that day.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

#: Values above this are epoch milliseconds, below it epoch seconds (1e11 s is year 5138).
_MS_THRESHOLD = 1e11


class RunStatus(str, enum.Enum):
    """Normalised status of an AEP flow run."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    PARTIAL_SUCCESS = "partial_success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @classmethod
    def from_api(cls, value: Any) -> RunStatus:
        """Map any AEP spelling (case, ``_``, ``-`` and spaces ignored) to a status.

        ``COMPLETED`` is success; ``PARTIAL_FAILURE`` is a partial success (the run finished and
        some records failed). Anything unrecognised is :attr:`UNKNOWN`, which is *not* terminal and
        *not* success, so a new AEP vocabulary never passes as success.
        """
        if value is None:
            return cls.UNKNOWN
        key = "".join(ch for ch in str(value).lower() if ch.isalnum())
        return _ALIASES.get(key, cls.UNKNOWN)

    @property
    def is_terminal(self) -> bool:
        """True when the run will not change any more."""
        return self in (RunStatus.SUCCESS, RunStatus.PARTIAL_SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED)

    @property
    def is_failure(self) -> bool:
        """True for the terminal states that are never a success."""
        return self in (RunStatus.FAILED, RunStatus.CANCELLED)


_ALIASES: dict[str, RunStatus] = {
    "queued": RunStatus.QUEUED,
    "pending": RunStatus.QUEUED,
    "scheduled": RunStatus.SCHEDULED,
    "inprogress": RunStatus.IN_PROGRESS,
    "running": RunStatus.IN_PROGRESS,
    "started": RunStatus.IN_PROGRESS,
    "success": RunStatus.SUCCESS,
    "succeeded": RunStatus.SUCCESS,
    "successful": RunStatus.SUCCESS,
    "completed": RunStatus.SUCCESS,
    "complete": RunStatus.SUCCESS,
    "partialsuccess": RunStatus.PARTIAL_SUCCESS,
    "partialfailure": RunStatus.PARTIAL_SUCCESS,
    "partiallysucceeded": RunStatus.PARTIAL_SUCCESS,
    "failed": RunStatus.FAILED,
    "failure": RunStatus.FAILED,
    "error": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "canceled": RunStatus.CANCELLED,
    "aborted": RunStatus.CANCELLED,
}


def to_epoch_seconds(value: Any) -> float | None:
    """Epoch seconds from epoch seconds, epoch milliseconds, numeric strings or ISO-8601 strings."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        num = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            num = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.timestamp()
    else:
        return None
    if not math.isfinite(num):
        return None
    return num / 1000.0 if abs(num) >= _MS_THRESHOLD else num


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def raw_status(run: dict[str, Any]) -> str | None:
    """The run's status string: ``metrics.statusSummary.status``, else ``state``."""
    status = _dict(_dict(run.get("metrics")).get("statusSummary")).get("status")
    if status in (None, ""):
        status = run.get("state")
    if isinstance(status, dict):  # StatusDTO {value: ...}
        status = status.get("value")
    return None if status in (None, "") else str(status)


def extract_errors(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Error codes and messages of a run, de-duplicated, in a stable order.

    Read from ``metrics.statusSummary.errors``, ``metrics.statusSummary.extensions.errors``,
    and for every activity ``statusSummary.errors`` and ``statusSummary.extensions.errors``.
    Each item is ``{"code", "message"}`` plus ``recordCount`` and ``activity`` when known.
    """
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(items: Any, activity: str | None) -> None:
        for err in _list(items):
            if not isinstance(err, dict):
                continue
            code = str(err.get("code") or "?")
            message = str(err.get("message") or err.get("errorMessage") or err.get("detail") or "")
            key = (code, message)
            if key in seen:
                continue
            seen.add(key)
            item: dict[str, Any] = {"code": code, "message": message}
            count = _int(err.get("recordCount"))
            if count is not None:
                item["recordCount"] = count
            if activity:
                item["activity"] = activity
            found.append(item)

    summary = _dict(_dict(run.get("metrics")).get("statusSummary"))
    add(summary.get("errors"), None)
    add(_dict(summary.get("extensions")).get("errors"), None)
    for act in _list(run.get("activities") or run.get("activites")):
        act = _dict(act)
        act_summary = _dict(act.get("statusSummary"))
        name = str(act.get("id") or act.get("name") or "") or None
        add(act_summary.get("errors"), name)
        add(_dict(act_summary.get("extensions")).get("errors"), name)
    return found


def run_window(run: dict[str, Any]) -> tuple[float | None, float | None, str]:
    """``(start, end, source)`` of the run's data window in epoch seconds (see module docstring)."""
    params = _dict(run.get("params"))
    if params.get("windowEndTime") is not None:
        return (
            to_epoch_seconds(params.get("windowStartTime")),
            to_epoch_seconds(params.get("windowEndTime")),
            "params",
        )
    activities = [_dict(a) for a in _list(run.get("activities") or run.get("activites"))]
    copy = [a for a in activities if "copy" in str(a.get("id") or a.get("name") or "").lower()]
    candidates = [*copy, _dict(run.get("metrics"))]
    for holder in candidates:
        ext = _dict(_dict(holder.get("durationSummary")).get("extensions"))
        if ext.get("windowEnd") is not None:
            return (to_epoch_seconds(ext.get("windowStart")), to_epoch_seconds(ext.get("windowEnd")), "copy")
    return (None, started_at(run), "scheduled")


def started_at(run: dict[str, Any]) -> float | None:
    """Epoch seconds the run started (``metrics.durationSummary.startedAtUTC``, else ``createdAt``)."""
    value = _dict(_dict(run.get("metrics")).get("durationSummary")).get("startedAtUTC")
    if value is None:
        value = run.get("createdAt")
    return to_epoch_seconds(value)


def covers_window(run: dict[str, Any], window_start: float, window_end: float) -> bool:
    """True when the run's data window end lies in ``(window_start, window_end]``."""
    _, end, _ = run_window(run)
    return end is not None and window_start < end <= window_end


def has_exact_window(run: dict[str, Any], window_start: float, window_end: float) -> bool:
    """True when an on-demand run's params (or its copy window) are exactly ``[start, end)``.

    Used by :class:`~airflow_provider_aep.operators.runs.AEPRunFlowOperator` to reuse a run
    after a retry instead of starting a duplicate. Compared to the second.
    """
    start, end, source = run_window(run)
    if source == "scheduled" or start is None or end is None:
        return False
    return round(start) == round(window_start) and round(end) == round(window_end)


@dataclass
class RunState:
    """JSON-safe digest of one flow run, as logged by the sensor and carried in trigger events."""

    run_id: str
    status: str
    raw_status: str | None = None
    flow_id: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    records_read: int | None = None
    records_written: int | None = None
    records_failed: int | None = None
    bytes_read: int | None = None
    bytes_written: int | None = None
    window_start: float | None = None
    window_end: float | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_run(cls, run: dict[str, Any]) -> RunState:
        """Digest a Flow Service run object."""
        metrics = _dict(run.get("metrics"))
        records = _dict(metrics.get("recordSummary"))
        sizes = _dict(metrics.get("sizeSummary"))
        duration = _dict(metrics.get("durationSummary"))
        raw = raw_status(run)
        ws, we, _ = run_window(run)
        return cls(
            run_id=str(run.get("id") or ""),
            status=RunStatus.from_api(raw).value,
            raw_status=raw,
            flow_id=str(run["flowId"]) if run.get("flowId") else None,
            started_at=to_epoch_seconds(duration.get("startedAtUTC")),
            completed_at=to_epoch_seconds(duration.get("completedAtUTC")),
            records_read=_int(records.get("inputRecordCount")),
            records_written=_int(records.get("outputRecordCount")),
            records_failed=_int(records.get("failedRecordCount")),
            bytes_read=_int(sizes.get("inputBytes")),
            bytes_written=_int(sizes.get("outputBytes")),
            window_start=ws,
            window_end=we,
            errors=extract_errors(run),
        )

    @property
    def run_status(self) -> RunStatus:
        """:attr:`status` as a :class:`RunStatus`."""
        return RunStatus.from_api(self.status)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (str/int/float/None/lists/dicts only)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> RunState:
        """Rebuild from :meth:`to_dict`; raises ``ValueError`` on a malformed payload."""
        if not isinstance(data, dict):
            raise ValueError(f"run state must be a dict, got {type(data).__name__}")
        run_id, status = data.get("run_id"), data.get("status")
        if not isinstance(run_id, str) or not run_id:
            raise ValueError("run state has no run_id")
        if not isinstance(status, str) or status not in {s.value for s in RunStatus}:
            raise ValueError(f"run state {run_id} has an unknown status {status!r}")
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        errors = kwargs.get("errors") or []
        if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
            raise ValueError(f"run state {run_id} has malformed errors")
        kwargs["errors"] = errors
        return cls(**kwargs)

    def progress_line(self, now: float | None = None) -> str:
        """One log line: status, records read/written/failed, bytes, elapsed time."""
        elapsed = ""
        if self.started_at is not None:
            end = self.completed_at if self.completed_at is not None else now
            if end is not None:
                elapsed = f", elapsed {max(end - self.started_at, 0.0):.1f}s"
        return (
            f"run {self.run_id}: status={self.raw_status or self.status}"
            f", records read={_n(self.records_read)} written={_n(self.records_written)}"
            f" failed={_n(self.records_failed)}"
            f", bytes read={_n(self.bytes_read)} written={_n(self.bytes_written)}{elapsed}"
        )


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def aggregate_status(states: Iterable[RunState]) -> RunStatus | None:
    """Overall outcome of a set of runs; ``None`` while any is still going (or none exists).

    Worst wins: cancelled/failed > partial success > success.
    """
    states = list(states)
    if not states:
        return None
    statuses = [s.run_status for s in states]
    if not all(s.is_terminal for s in statuses):
        return None
    for candidate in (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.PARTIAL_SUCCESS):
        if candidate in statuses:
            return candidate
    return RunStatus.SUCCESS


@dataclass
class WaitTarget:
    """Which runs of ``flow_id`` to wait for (exactly one mode).

    * ``run_id``: that run;
    * ``window_start``/``window_end`` (epoch seconds): the runs covering ``[start, end)``;
    * ``started_after`` (epoch seconds): the first run that started at or after that time.
    """

    flow_id: str | None = None
    run_id: str | None = None
    window_start: float | None = None
    window_end: float | None = None
    started_after: float | None = None

    @property
    def mode(self) -> str:
        """``run_id`` | ``window`` | ``started_after``."""
        if self.run_id:
            return "run_id"
        if self.started_after is not None:
            return "started_after"
        return "window"

    def describe(self) -> str:
        """Human-readable target, for logs."""
        if self.mode == "run_id":
            return f"run {self.run_id}"
        if self.mode == "started_after":
            return f"the first run of flow {self.flow_id} started at/after {_iso(self.started_after)}"
        return (
            f"the runs of flow {self.flow_id} covering [{_iso(self.window_start)}, {_iso(self.window_end)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return asdict(self)


def _iso(value: float | None) -> str:
    if value is None:
        return "?"
    return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()


def select_runs(runs: Iterable[dict[str, Any]], target: WaitTarget) -> list[dict[str, Any]]:
    """Pick the runs the target waits for out of a flow's runs (pure; used by tests too)."""
    runs = [r for r in runs if isinstance(r, dict)]
    if target.mode == "started_after":
        assert target.started_after is not None
        after = [
            (started_at(r), r)
            for r in runs
            if started_at(r) is not None and started_at(r) >= target.started_after  # type: ignore[operator]
        ]
        after.sort(key=lambda pair: pair[0])  # type: ignore[arg-type,return-value]
        return [after[0][1]] if after else []
    assert target.window_start is not None and target.window_end is not None
    chosen = [r for r in runs if covers_window(r, target.window_start, target.window_end)]
    chosen.sort(key=lambda r: started_at(r) or 0.0)
    return chosen


def timeout_message(target: WaitTarget, states: list[RunState]) -> str:
    """The one-line timeout message of poke and deferrable waits: what was awaited, the runs seen,
    and that AEP keeps running them (it has no cancel API)."""
    ids = ", ".join(s.run_id for s in states) or "none yet"
    what = target.describe()
    flow_id = target.flow_id or next((s.flow_id for s in states if s.flow_id), None)
    if flow_id and flow_id not in what:
        what += f" of flow {flow_id}"
    return (
        f"Timed out waiting for {what} (runs seen: {ids}); AEP cannot cancel a run, "
        "any run in progress keeps going."
    )
