"""Admin endpoints under ``/_emulator/`` (no auth): reset, request log, faults, config, records,
source rows and tables, state counts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .errors import APIError
from .validation import emu

router = APIRouter()


def _bad(detail: str) -> APIError:
    return APIError(400, {"title": "Bad Request", "status": 400, "detail": detail})


async def _json(request: Request) -> Any:
    import json

    from .shapes import structure_problem

    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise _bad("invalid JSON: nested too deeply") from exc
    except ValueError as exc:
        raise _bad(f"invalid JSON: {exc}") from exc
    problem = structure_problem(body)
    if problem:
        raise _bad(f"invalid body: {problem}")
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Forget all resources, tokens, records and the request log.

    Body (optional): ``{"faults": true, "config": true}`` also resets faults/config to defaults.
    """
    state = emu(request)
    body = await _json(request)
    state.reset()
    if isinstance(body, dict) and body.get("faults"):
        state.set_faults({})
    if isinstance(body, dict) and body.get("config"):
        from .state import EmulatorConfig

        base = EmulatorConfig()
        state.update_config(base.to_dict())
    return {"reset": True}


@router.get("/requests")
async def requests_log(request: Request) -> list[dict[str, Any]]:
    """The request log (secrets are never stored)."""
    return list(emu(request).request_log)


@router.delete("/requests")
async def clear_requests(request: Request) -> Response:
    """Clear the request log."""
    emu(request).request_log.clear()
    return Response(status_code=204)


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    """Current fault configuration."""
    return dict(emu(request).faults_dict)


@router.put("/faults")
async def put_faults(request: Request) -> dict[str, Any]:
    """Replace the fault configuration (``{}`` clears it)."""
    body = await _json(request)
    if not isinstance(body, dict):
        raise _bad("faults must be a JSON object")
    state = emu(request)
    try:
        state.set_faults(body)
    except (TypeError, ValueError, KeyError) as exc:
        raise _bad(f"invalid faults: {exc}") from exc
    return dict(state.faults_dict)


@router.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    """Current runtime configuration."""
    return emu(request).config.to_dict()


@router.put("/config")
async def put_config(request: Request) -> dict[str, Any]:
    """Update (merge) the runtime configuration."""
    body = await _json(request)
    if not isinstance(body, dict):
        raise _bad("config must be a JSON object")
    state = emu(request)
    try:
        state.update_config(body)
    except (TypeError, ValueError, KeyError) as exc:
        raise _bad(f"invalid config key(s): {exc}") from exc
    return state.config.to_dict()


@router.get("/datasets/{dataset_id}/records")
async def records(request: Request, dataset_id: str) -> JSONResponse:
    """Records that flow runs wrote into a dataset (after their runs finished)."""
    state = emu(request)
    from .scheduler import advance_all

    advance_all(state)
    known = any(dataset_id in sb.datasets for sb in state.sandboxes.values())
    if not known and dataset_id not in state.records:
        raise APIError(404, {"title": "Not Found", "status": 404, "detail": f"dataset {dataset_id} unknown"})
    return JSONResponse(state.records.get(dataset_id, []))


@router.post("/sources/{connection_spec_id}/tables/{table}/rows")
async def add_rows(request: Request, connection_spec_id: str, table: str) -> dict[str, Any]:
    """Append rows to a sample source table."""
    body = await _json(request)
    if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
        raise _bad("body must be a JSON list of objects")
    state = emu(request)
    tables = state.source_catalog.get(connection_spec_id)
    if tables is None or table not in tables:
        raise APIError(
            404, {"title": "Not Found", "status": 404, "detail": f"no table {table} for {connection_spec_id}"}
        )
    tables[table].rows.extend(body)
    return {"table": table, "rows": len(tables[table].rows)}


@router.post("/sources/{connection_spec_id}/tables")
async def add_table(request: Request, connection_spec_id: str) -> JSONResponse:
    """Add a source table (e.g. the 100 tables of a benchmark): ``{name, label?, copy_of?}`` copies
    the columns, rows and delta column of table ``copy_of``; without it ``{columns, delta_column,
    rows?, timestamp_format?}`` define a new one (columns in /explore format). 201; 409 if the name
    is taken."""
    import copy

    from .samples import SampleTable

    body = await _json(request)
    tables = emu(request).source_catalog.get(connection_spec_id)
    if tables is None:
        detail = f"no source {connection_spec_id}"
        raise APIError(404, {"title": "Not Found", "status": 404, "detail": detail})
    if not isinstance(body, dict):
        raise _bad("body must be an object: {name, label?, copy_of?} or {name, columns, delta_column, rows?}")
    name, label, base = body.get("name"), body.get("label"), body.get("copy_of")
    if not isinstance(name, str) or not name.strip() or name != name.strip("/ "):
        raise _bad("'name' (the table's API name) must be a non-empty string")
    if label is not None and not isinstance(label, str):
        raise _bad("'label' must be a string")
    if name in tables:
        raise APIError(409, {"title": "Conflict", "status": 409, "detail": f"table {name} already exists"})
    if base is not None:
        if base not in tables:
            raise _bad(f"'copy_of': no table {base}; valid: {sorted(tables)}")
        table = copy.deepcopy(tables[base])
        table.name, table.label = name, label or name
    else:
        columns, delta, rows = body.get("columns"), body.get("delta_column"), body.get("rows", [])
        if not isinstance(columns, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("xdm"), dict)
            for c in columns
        ):
            raise _bad("'columns' must be a list of /explore columns {name, type, xdm: {type, ...}}")
        if delta not in [c["name"] for c in columns]:
            raise _bad("'delta_column' must name one of the columns")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise _bad("'rows' must be a list of objects")
        fmt = body.get("timestamp_format", "yyyy-MM-dd HH:mm:ss")
        table = SampleTable(name, copy.deepcopy(columns), copy.deepcopy(rows), str(delta), fmt, label or name)
    tables[name] = table
    return JSONResponse({"table": name, "rows": len(table.rows)}, status_code=201)


@router.get("/sources")
async def sources(request: Request) -> dict[str, Any]:
    """Sample source tables and their row counts."""
    return {
        spec: {name: len(t.rows) for name, t in tables.items()}
        for spec, tables in emu(request).source_catalog.items()
    }


@router.get("/state")
async def state_counts(request: Request) -> dict[str, Any]:
    """Resource counts per org/sandbox and kind, and how many late commits are still to land."""
    state = emu(request)
    return {"sandboxes": state.counts(), "pending_commits": len(state.pending_commits)}


@router.put("/sources/{connection_spec_id}/credentials")
async def put_credentials(request: Request, connection_spec_id: str) -> dict[str, Any]:
    """Set the credentials the source accepts now (list of auth-param subsets; ``null`` = any)."""
    from . import credentials

    body = await _json(request)
    if body == {}:  # no body: no restriction
        body = None
    if body is not None and (not isinstance(body, list) or not all(isinstance(r, dict) and r for r in body)):
        raise _bad("body must be null or a JSON list of non-empty objects (auth params that must match)")
    state = emu(request)
    if body is None:
        credentials.rules(state).pop(connection_spec_id, None)
    else:
        credentials.rules(state)[connection_spec_id] = [dict(r) for r in body]
    return credentials.report(state, connection_spec_id)


@router.get("/sources/{connection_spec_id}/credentials")
async def get_credentials(request: Request, connection_spec_id: str) -> dict[str, Any]:
    """Which base connections of this spec hold credentials the source accepts now."""
    from . import credentials

    return credentials.report(emu(request), connection_spec_id)
