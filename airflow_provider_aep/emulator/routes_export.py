"""Data Access row-error diagnostics: ``GET /data/foundation/export/batches/{B}/meta?path=...``.

Served from the rows the emulator's mapping really rejected, for runs of flows with
``options.errorDiagnosticsEnabled``; other batches answer 404 (nothing kept).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .errors import APIError

router = APIRouter()
_FILE = "conversion_errors_0.json"
BASE = "/data/foundation/export"


def _not_found(detail: str) -> APIError:
    return APIError(404, {"type": "not_found", "title": "Not Found", "status": 404, "detail": detail})


@router.get("/batches/{batch_id}/meta", response_model=None)
async def batch_meta(request: Request, batch_id: str) -> dict[str, Any] | Response:
    """``path=row_errors`` lists the error files; ``path=row_errors/<file>`` returns JSON Lines."""
    sb = request.state.aep.sandbox
    lines = sb.row_errors.get(batch_id)
    if lines is None:
        raise _not_found(f"No diagnostics are kept for batch {batch_id}.")
    path = request.query_params.get("path") or ""
    if path == "row_errors":
        encoded = quote("row_errors/" + _FILE, safe="")
        body = json.dumps(lines[0]) if lines else ""
        return {
            "data": [
                {
                    "name": f"row_errors/{_FILE}",
                    "length": str(len(body) * len(lines)),
                    "_links": {"self": {"href": f"{BASE}/batches/{batch_id}/meta?path={encoded}"}},
                }
            ],
            "_page": {"limit": 100, "count": 1},
        }
    if path == f"row_errors/{_FILE}":
        text = "\n".join(json.dumps(line) for line in lines) + "\n"
        return Response(content=text, media_type="application/json")
    raise _not_found(f"No file {path!r} in the diagnostics of batch {batch_id}.")
