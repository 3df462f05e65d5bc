"""Why rows failed: a bounded sample of a run's row errors from AEP's error diagnostics.

When a run has failed records, its promotion activity (and run-level status) carries manifest
URLs such as ``/data/foundation/export/batches/{B}/meta?path=row_errors``. With error diagnostics
enabled on the flow, Data Access lists the error files there and ``?path=row_errors/<file>``
returns JSON Lines ``{"_corrupt_record", "_errors": [{"code", "message"}], "_filename"}``. Only
``code``, ``message`` (one line, shortened, URL credentials redacted) and ``column`` (when given)
are kept: the rejected row itself (``_corrupt_record``) is never logged.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPError, AEPNotFoundError, redact_userinfo

if TYPE_CHECKING:
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
    from airflow_provider_aep.runs_status import RunState

MAX_SAMPLE = 10
MAX_RUNS = 3
MAX_FILES = 3
_BATCH_RE = re.compile(r"/batches/([A-Za-z0-9_-]{1,64})/meta")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def diagnostic_batches(run: dict[str, Any]) -> list[str]:
    """Batch ids named by the run's ``failedRecords`` manifest URLs (run level and activities)."""
    holders = [_dict(run.get("metrics"))] + [_dict(a) for a in run.get("activities") or []]
    found: list[str] = []
    for holder in holders:
        manifest = _dict(_dict(_dict(holder.get("statusSummary")).get("extensions")).get("manifest"))
        match = _BATCH_RE.search(str(manifest.get("failedRecords") or ""))
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def _short(text: Any, limit: int = 200) -> str:
    flat = " ".join(redact_userinfo(str(text or "")).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def fetch_row_errors(hook: AdobeExperiencePlatformHook, batch_id: str, limit: int = MAX_SAMPLE) -> list[dict]:
    """Up to ``limit`` row errors ``{code, message, column}`` of ``batch_id`` (404: none kept)."""
    path = f"/batches/{batch_id}/meta"
    listing = hook.request("GET", "export", path, params={"path": "row_errors"}).json()
    names = [str(_dict(d).get("name") or "") for d in _dict(listing).get("data") or []]
    sample: list[dict] = []
    for name in [n for n in names if n][:MAX_FILES]:
        file_path = name if name.startswith("row_errors/") else f"row_errors/{name}"
        text = hook.request("GET", "export", path, params={"path": file_path}).text
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            for error in _dict(row).get("_errors") or []:
                error = _dict(error)
                sample.append(
                    {
                        "code": _short(error.get("code"), 40),
                        "message": _short(error.get("message")),
                        "column": _short(error.get("column"), 80) if error.get("column") else None,
                    }
                )
                if len(sample) >= limit:
                    return sample
    return sample


def log_error_sample(hook: AdobeExperiencePlatformHook, log: Any, states: list[RunState]) -> int:
    """Log a bounded sample of the failed rows' errors of ``states``; returns the lines logged.

    Best effort: an unreadable sample is one warning, never a task failure of its own.
    """
    logged = 0
    for state in [s for s in states if (s.records_failed or 0) > 0][:MAX_RUNS]:
        try:
            batches = diagnostic_batches(hook.get_run(state.run_id))
            if not batches:
                log.info(
                    "AEP run %s has %s failed records and no error diagnostics.",
                    state.run_id,
                    state.records_failed,
                )
                continue
            sample = fetch_row_errors(hook, batches[0])
        except AEPNotFoundError:
            log.info(
                "AEP run %s: %s failed records, no row-error sample kept (enable errorDiagnosticsEnabled "
                "in the flow's options to see why rows fail).",
                state.run_id,
                state.records_failed,
            )
            continue
        except (AEPError, ValueError) as exc:
            log.warning("Could not read the row-error sample of AEP run %s: %s", state.run_id, exc)
            continue
        log.warning(
            "AEP run %s: %s failed records; sample of %d row errors (batch %s):",
            state.run_id,
            state.records_failed,
            len(sample),
            batches[0],
        )
        for item in sample:
            column = f" column={item['column']}" if item["column"] else ""
            log.warning("  row error code=%s%s: %s", item["code"], column, item["message"])
            logged += 1
    return logged
