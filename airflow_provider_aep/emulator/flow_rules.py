"""AEP's rules for updating a dataflow in place (PATCH /flows/{id}), checked before any change.

Sources: Adobe's "update dataflows" tutorials and the sources error page (SE codes). Where Adobe
documents no code (flow spec, connections, Copy, one-time flows) the generic ``1365-400``
("path provided in ops is invalid") is used.
"""

from __future__ import annotations

from typing import Any

from .errors import APIError, flow_error
from .validation import coerce_schedule

_LOCKED = ("flowSpec", "sourceConnectionIds", "targetConnectionIds")


def _bad(code: int, detail: str) -> APIError:
    return flow_error(400, code, detail, "Invalid request")


def _tr(flow: dict[str, Any], name: str) -> Any:
    for tr in flow.get("transformations") or []:
        if isinstance(tr, dict) and str(tr.get("name", "")).lower() == name.lower():
            return tr.get("params")
    return None


def check_flow_update(old: dict[str, Any], new: dict[str, Any], now: float) -> None:
    """Raise the AEP error for the first change a PATCH may not make (nothing is changed then)."""
    for key in _LOCKED:
        if new.get(key) != old.get(key):
            raise _bad(
                1365, f"The path [/{key}] provided in ops is invalid: a flow's {key} cannot be changed."
            )
    if _tr(new, "Copy") != _tr(old, "Copy"):
        raise _bad(1365, "The path [/transformations] provided in ops is invalid: only Mapping can change.")
    before = coerce_schedule(old.get("scheduleParams") or {})
    after = coerce_schedule(new.get("scheduleParams") or {})
    start = before.get("startTime")
    started = isinstance(start, (int, float)) and start <= now
    if before.get("frequency") == "once":
        if after != before or _tr(new, "Mapping") != _tr(old, "Mapping"):
            raise _bad(1365, "A one-time (once) flow cannot be rescheduled and its mapping cannot be edited.")
        return
    if after.get("frequency") == "once" and started:
        raise _bad(1403, "The frequency of a flow cannot be changed to once after its start time.")
    if after.get("startTime") != start:
        if started:
            raise _bad(1366, "The start time of the flow has passed, so the update is no longer allowed.")
        new_start = after.get("startTime")
        if isinstance(new_start, (int, float)) and new_start < now:
            raise _bad(1360, "The start time cannot be set in the past.")
    if after.get("backfill") != before.get("backfill") and started:
        raise _bad(1404, "Backfill cannot be changed after the start time of the flow.")
