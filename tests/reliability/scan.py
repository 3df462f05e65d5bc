"""Secret scanning shared by the reliability tests; counts every place scanned in the session."""

from __future__ import annotations

import json
from typing import Any

#: place -> number of texts scanned there (reported in the terminal summary by conftest.py).
SCANNED: dict[str, int] = {}


def scan(place: str, text: Any, secrets: tuple[str, ...] | list[str]) -> None:
    """Assert that no secret occurs in ``text`` (a string or any JSON-able value); count the place."""
    blob = text if isinstance(text, str) else json.dumps(text, default=str)
    leaked = sorted({s for s in secrets if s and s in blob})
    assert not leaked, f"secret(s) {leaked} found in {place}"
    SCANNED[place] = SCANNED.get(place, 0) + 1


def summary_lines() -> list[str]:
    """Terminal-summary lines: distinct places and texts scanned."""
    if not SCANNED:
        return []
    total = sum(SCANNED.values())
    lines = [f"secret scan: {len(SCANNED)} distinct places, {total} texts scanned, no secret found"]
    lines.extend(f"  {place}: {n}" for place, n in sorted(SCANNED.items()))
    return lines
