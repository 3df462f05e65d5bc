"""Flow Service: connection/flow specs, base/source/target connections, flows and runs."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .auth import RequestContext
from .errors import APIError, flow_error, not_found
from .listing import flow_list
from .scheduler import advance, copy_delta_column, create_run, new_runtime, target_schema_id
from .shapes import INT64_MAX
from .state import EmulatorState, SandboxState, new_etag, new_id
from .validation import (
    FREQUENCY_SECONDS,
    check_patched,
    coerce_schedule,
    ctx,
    emu,
    epoch_seconds,
    is_secret_key,
    jsonschema_errors,
    mask_params,
    read_json,
)

router = APIRouter()
BASE = "/data/foundation/flowservice"
DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
TABULAR_FORMATS = ("delimited", "json", "parquet", "tabular")
_READ_ONLY = {
    "id",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
    "etag",
    "state",
    "inheritedAttributes",
    "lastRunDetails",
    "lastOperation",
    "runs",
}


def bad(detail: str, code: int = 1100) -> APIError:
    """A Flow Service 400."""
    return flow_error(400, code, detail, "Invalid request")


# ------------------------------------------------------------------------------------ helpers
def _connection_specs() -> list[dict[str, Any]]:
    from .samples import CONNECTION_SPECS

    return CONNECTION_SPECS


def _flow_specs() -> list[dict[str, Any]]:
    from .samples import FLOW_SPECS

    return FLOW_SPECS


def connection_spec(spec_id: str) -> dict[str, Any] | None:
    """Connection spec document by id."""
    return next((s for s in _connection_specs() if s.get("id") == spec_id), None)


def flow_spec(spec_id: str) -> dict[str, Any] | None:
    """Flow spec document by id."""
    return next((s for s in _flow_specs() if s.get("id") == spec_id), None)


def _audit(c: RequestContext, state: EmulatorState) -> dict[str, Any]:
    now = state.clock.now_ms()
    return {
        "id": new_id(),
        "createdAt": now,
        "updatedAt": now,
        "createdBy": c.user,
        "updatedBy": c.user,
        "createdClient": c.client_id,
        "updatedClient": c.client_id,
        "sandboxId": c.sandbox.sandbox_id,
        "sandboxName": c.sandbox_name,
        "imsOrgId": c.org,
    }


def _touch(obj: dict[str, Any], c: RequestContext, state: EmulatorState) -> None:
    obj["updatedAt"] = state.clock.now_ms()
    obj["updatedBy"] = c.user
    obj["updatedClient"] = c.client_id
    obj["etag"] = new_etag()


def _created(kind_path: str, obj: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        {"id": obj["id"], "etag": obj["etag"]},
        status_code=201,
        headers={"Location": f"{BASE}/{kind_path}/{obj['id']}"},
    )


def _get(store: dict[str, dict[str, Any]], resource_id: str, kind: str) -> dict[str, Any]:
    obj = store.get(resource_id)
    if obj is None:
        raise not_found(kind, resource_id)
    return obj


def _items(obj: dict[str, Any]) -> dict[str, Any]:
    return {"items": [copy.deepcopy(obj)]}


def _query(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _norm_etag(value: str) -> str:
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    while len(v) >= 2 and v[0] == v[-1] == '"':
        v = v[1:-1]
    return v.replace('\\"', "")


def check_if_match(request: Request, obj: dict[str, Any], *, required: bool = True) -> None:
    """If-Match handling: missing → 1403-400, stale → 1404-412."""
    supplied = request.headers.get("if-match")
    if supplied is None or not supplied.strip():
        if required:
            raise flow_error(
                400,
                1403,
                "The header 'If-Match' is missing in the request. Please provide the header and try again.",
                "Header is missing",
            )
        return
    if _norm_etag(supplied) != _norm_etag(obj["etag"]):
        msg = f"Supplied version=[{supplied}] does not match the current version on entity=[{obj['etag']}]"
        err = flow_error(412, 1404, msg, "Version not matching")
        err.body["errorMessage"] = msg
        raise err


def _spec_ref(body: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    ref = body.get(key)
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref.get("id"):
        raise bad(f"'{key}.id' is required: the {what} id.")
    return ref


def _require_name(body: dict[str, Any]) -> None:
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        raise bad("'name' is required and must be a non-empty string.")


def _check_read_only(body: dict[str, Any]) -> None:
    if "state" in body:
        raise bad("The field 'state' cannot be set on create; use the enable/disable action.", 1410)


def _json_pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise bad(f"Invalid patch path [{path}]: must start with '/'.")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Apply a JSON Patch (add/replace/remove, case-insensitive ops) to a copy of ``doc``."""
    if not isinstance(ops, list) or not ops:
        raise bad("The request body must be a non-empty JSON Patch array of {op, path, value}.")
    out = copy.deepcopy(doc)
    for op in ops:
        if (
            not isinstance(op, dict)
            or not isinstance(op.get("op"), str)
            or not isinstance(op.get("path"), str)
        ):
            raise bad("Every patch operation needs 'op' and 'path'.")
        name = op["op"].lower()
        if name not in ("add", "replace", "remove"):
            raise bad(f"Unsupported patch op [{op['op']}]; use add, replace or remove.")
        parts = _json_pointer(op["path"])
        if parts[0] in _READ_ONLY:
            raise bad(f"The field [{parts[0]}] cannot be changed.")
        if name != "remove" and "value" not in op:
            raise bad(f"Patch op [{op['op']}] on [{op['path']}] needs a 'value'.")
        parent: Any = out
        for part in parts[:-1]:
            if isinstance(parent, list):
                try:
                    parent = parent[int(part)]
                except (ValueError, IndexError) as exc:
                    raise bad(f"Invalid patch path [{op['path']}].") from exc
            elif isinstance(parent, dict):
                if part not in parent:
                    if name == "add":
                        parent[part] = {}
                    else:
                        raise bad(f"Invalid patch path [{op['path']}]: [{part}] does not exist.")
                parent = parent[part]
            else:
                raise bad(f"Invalid patch path [{op['path']}].")
        last = parts[-1]
        if isinstance(parent, list):
            if last == "-" and name == "add":
                parent.append(op["value"])
                continue
            try:
                idx = int(last)
            except ValueError as exc:
                raise bad(f"Invalid patch path [{op['path']}].") from exc
            if name == "add" and 0 <= idx <= len(parent):
                parent.insert(idx, op["value"])
            elif 0 <= idx < len(parent):
                if name == "remove":
                    parent.pop(idx)
                else:
                    parent[idx] = op["value"]
            else:
                raise bad(f"Invalid patch path [{op['path']}]: index out of range.")
        elif isinstance(parent, dict):
            if name == "remove":
                if last not in parent:
                    raise bad(f"Invalid patch path [{op['path']}]: nothing to remove.")
                del parent[last]
            elif name == "replace" and last not in parent:
                raise bad(f"Invalid patch path [{op['path']}]: nothing to replace.")
            else:
                parent[last] = op["value"]
        else:
            raise bad(f"Invalid patch path [{op['path']}].")
    return out


# ------------------------------------------------------------------------ connection/flow specs
@router.get("/connectionSpecs")
async def list_connection_specs(request: Request) -> dict[str, Any]:
    """List connection specs (``property=`` filters, paging)."""
    return flow_list(_connection_specs(), _query(request), "/connectionSpecs")


@router.get("/connectionSpecs/{spec_id}")
async def get_connection_spec(spec_id: str) -> dict[str, Any]:
    """One connection spec (``{items:[spec]}``)."""
    spec = connection_spec(spec_id)
    if spec is None:
        raise not_found("connection spec", spec_id)
    return _items(spec)


@router.get("/flowSpecs")
async def list_flow_specs(request: Request) -> dict[str, Any]:
    """List flow specs (e.g. ``property=name=="CRMToAEP"``)."""
    return flow_list(_flow_specs(), _query(request), "/flowSpecs")


@router.get("/flowSpecs/{spec_id}")
async def get_flow_spec(spec_id: str) -> dict[str, Any]:
    """One flow spec."""
    spec = flow_spec(spec_id)
    if spec is None:
        raise not_found("flow spec", spec_id)
    return _items(spec)


# ------------------------------------------------------------------------------ base connections
def _auth_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    auth = spec.get("authSpec") or []
    return auth if isinstance(auth, list) else [auth]


def _validate_connection(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    _require_name(body)
    ref = _spec_ref(body, "connectionSpec", "connection spec")
    spec = connection_spec(ref["id"])
    if spec is None:
        raise bad(f"The connection spec [{ref['id']}] does not exist.")
    version = ref.get("version")
    if version is not None and str(version) != str(spec.get("version", "1.0")):
        raise bad(f"Version [{version}] of connection spec [{ref['id']}] does not exist.")
    auth_specs = _auth_specs(spec)
    auth = body.get("auth")
    if not auth_specs:
        if auth not in (None, {}):
            raise bad(f"The connection spec [{spec.get('name')}] takes no 'auth' block.")
        return spec, None
    if not isinstance(auth, dict):
        raise bad("'auth' is required: {specName, params}.")
    spec_name = auth.get("specName")
    names = [a.get("name") for a in auth_specs]
    match = next((a for a in auth_specs if a.get("name") == spec_name), None)
    if match is None:
        raise bad(
            f"Invalid auth.specName [{spec_name}] for connection spec [{spec.get('name')}]; valid: {names}."
        )
    params = auth.get("params")
    if not isinstance(params, dict):
        raise bad("'auth.params' is required and must be an object.")
    schema = match.get("spec") or {}
    errors = jsonschema_errors(schema, params, echo_values=False) if schema else []
    if errors:
        raise bad("Invalid auth.params: " + "; ".join(errors))
    return spec, {"specName": spec_name, "params": dict(params)}


def _public_connection(sb: SandboxState, obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    if "auth" in out and isinstance(out["auth"].get("params"), dict):
        out["auth"]["params"] = mask_params(out["auth"]["params"])
    return out


@router.post("/connections")
async def create_connection(request: Request) -> JSONResponse:
    """Create a base connection; auth validated against the spec's authSpec JSON Schema."""
    c, state = ctx(request), emu(request)
    body = await read_json(request, "flowservice")
    _check_read_only(body)
    spec, auth = _validate_connection(body)
    obj = {
        **_audit(c, state),
        "name": body["name"],
        "description": body.get("description", ""),
        "connectionSpec": {"id": spec["id"], "version": str(spec.get("version", "1.0"))},
        "state": "enabled",
        "etag": new_etag(),
    }
    obj["version"] = obj["etag"].strip('"')
    if auth is not None:
        c.sandbox.secrets[obj["id"]] = auth["params"]
        obj["auth"] = {"specName": auth["specName"], "params": mask_params(auth["params"])}
    c.sandbox.connections[obj["id"]] = obj
    return _created("connections", obj)


@router.get("/connections")
async def list_connections(request: Request) -> dict[str, Any]:
    """List base connections."""
    sb = ctx(request).sandbox
    return flow_list(
        list(sb.connections.values()),
        _query(request),
        "/connections",
        public=lambda o: _public_connection(sb, o),
    )


@router.get("/connections/{connection_id}")
@router.get("/connections/{connection_id}/")
async def get_connection(request: Request, connection_id: str) -> dict[str, Any]:
    """One base connection; secrets are masked."""
    sb = ctx(request).sandbox
    return {"items": [_public_connection(sb, _get(sb.connections, connection_id, "connection"))]}


@router.patch("/connections/{connection_id}")
@router.patch("/connections/{connection_id}/")
async def patch_connection(request: Request, connection_id: str) -> dict[str, Any]:
    """JSON Patch a base connection (name, description, auth params); If-Match required."""
    c, state = ctx(request), emu(request)
    obj = _get(c.sandbox.connections, connection_id, "connection")
    check_if_match(request, obj)
    ops = await read_json(request, "flowservice", expect=(list, dict))
    if isinstance(ops, dict):
        ops = [ops]
    doc = copy.deepcopy(obj)
    if "auth" in doc:
        doc["auth"]["params"] = dict(c.sandbox.secrets.get(connection_id, {}))
    patched = apply_patch(doc, ops)
    check_patched(request, "flowservice", patched)
    if patched.get("connectionSpec") != obj.get("connectionSpec"):
        raise bad("The connection spec of a connection cannot be changed.")
    if "auth" in patched:
        _, auth = _validate_connection({**patched, "auth": patched["auth"]})
        if auth is not None:
            c.sandbox.secrets[connection_id] = auth["params"]
            patched["auth"] = {"specName": auth["specName"], "params": mask_params(auth["params"])}
    obj.clear()
    obj.update(patched)
    _touch(obj, c, state)
    obj["version"] = obj["etag"].strip('"')
    return {"id": connection_id, "etag": obj["etag"]}


def _flows_using(
    sb: SandboxState, *, connection: str | None = None, source: str | None = None, target: str | None = None
) -> list[str]:
    used = []
    for flow in sb.flows.values():
        if source and source in (flow.get("sourceConnectionIds") or []):
            used.append(flow["id"])
        if target and target in (flow.get("targetConnectionIds") or []):
            used.append(flow["id"])
        if connection:
            for sid in flow.get("sourceConnectionIds") or []:
                s = sb.source_connections.get(sid)
                if s and s.get("baseConnectionId") == connection:
                    used.append(flow["id"])
            for tid in flow.get("targetConnectionIds") or []:
                t = sb.target_connections.get(tid)
                if t and t.get("baseConnectionId") == connection:
                    used.append(flow["id"])
    return sorted(set(used))


@router.delete("/connections/{connection_id}")
@router.delete("/connections/{connection_id}/")
async def delete_connection(request: Request, connection_id: str) -> Response:
    """Delete a base connection (1418-400 while a flow uses it)."""
    sb = ctx(request).sandbox
    _get(sb.connections, connection_id, "connection")
    used = _flows_using(sb, connection=connection_id)
    if used:
        raise bad(f"The connection [{connection_id}] is used by flow(s) {used}; delete them first.", 1418)
    del sb.connections[connection_id]
    sb.secrets.pop(connection_id, None)
    return Response(status_code=204)


_FAILURES = {
    "cb66ab34-8619-49cb-96d1-39b37ede86ea": "INVALID_LOGIN: Invalid username, password, security token; "
    "or user locked out.",
    "eb13cb25-47ab-407f-ba89-c0125281c563": "User Not Authenticated: Required to provide Auth information.",
    "8e6b41a8-d998-4545-ad7d-c6a9fff406c3": "The remote server returned an error: (401) Unauthorized.",
}


@router.get("/connections/{connection_id}/test")
async def test_connection(request: Request, connection_id: str) -> dict[str, Any]:
    """Test a base connection: sample credentials pass unless a secret value starts with ``invalid``."""
    sb = ctx(request).sandbox
    obj = _get(sb.connections, connection_id, "connection")
    params = sb.secrets.get(connection_id, {})
    for key, value in params.items():
        if is_secret_key(key) and isinstance(value, str) and value.lower().startswith("invalid"):
            spec_id = obj["connectionSpec"]["id"]
            detail = (
                f"Connection test failed. Error from flow provider: {_FAILURES.get(spec_id, 'Unauthorized.')}"
            )
            raise bad(detail)
    from .credentials import base_connection_valid

    if not base_connection_valid(emu(request), sb, connection_id):
        spec_id = obj["connectionSpec"]["id"]
        raise bad(
            f"Connection test failed. Error from flow provider: {_FAILURES.get(spec_id, 'Unauthorized.')}"
        )
    return {"result": True}


@router.get("/connections/{connection_id}/explore")
async def explore(request: Request, connection_id: str) -> Any:
    """Explore the source behind a base connection: ``objectType=root`` or ``table&object=``.

    Root lists ``{type: table, name, path, canPreview, canFetchSchema}``: for Salesforce and the
    other customer-success sources ``name`` is the label ("Invoice") and ``path`` the API name
    (``Invoice__c``); for OData both are the entity set. Errors are the sources error catalogue's
    (how AEP prefixes those codes is not documented; the emulator answers ``FLOW-<code>-400``):
    1330 no columns found for the table (an unknown table is a 404), 1336 explore not supported by
    the connection spec, 1337 required query parameter empty, 1358 invalid ``objectType``.
    """
    sb = ctx(request).sandbox
    state = emu(request)
    obj = _get(sb.connections, connection_id, "connection")
    spec_id = obj["connectionSpec"]["id"]
    raw_type = request.query_params.get("objectType")
    object_type = (raw_type or "root").lower()
    if object_type not in ("root", "table", "file", "folder", "rest"):
        raise bad(f"Invalid objectType [{raw_type}]; valid: root, table.", 1358)
    spec = connection_spec(spec_id) or {}
    if "exploreSpec" not in spec or object_type in ("file", "folder", "rest"):
        raise bad(
            f"Explore with objectType [{raw_type or 'root'}] is not supported for the connection spec "
            f"[{spec_id}].",
            1336,
        )
    tables = state.source_catalog.get(spec_id, {})
    if object_type == "root":
        return [
            {
                "type": "table",
                "name": table.label or name,
                "path": name,
                "canPreview": True,
                "canFetchSchema": True,
            }
            for name, table in tables.items()
        ]
    path = (request.query_params.get("object") or "").strip()
    if not path:
        raise bad("The query parameter 'object' is required for objectType=table and is empty.", 1337)
    table = tables.get(path.strip("/"))
    if table is None:
        # Emulator choice: what AEP answers for an object the source does not have is not documented;
        # a 404 as for any unknown resource (clients resolve a label through objectType=root on it).
        raise flow_error(404, 1101, f"The object [{path}] was not found in the source.", "Not Found")
    if not table.columns:
        raise bad(f"No columns found for table [{path}].", 1330)
    return {"format": "flat", "schema": {"columns": copy.deepcopy(table.columns)}}


# ---------------------------------------------------------------------------- source connections
def _validate_source(state: EmulatorState, sb: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    _require_name(body)
    ref = _spec_ref(body, "connectionSpec", "connection spec")
    spec = connection_spec(ref["id"])
    if spec is None:
        raise bad(f"The connection spec [{ref['id']}] does not exist.")
    if ref["id"] == DATA_LAKE_SPEC_ID:
        raise bad("The Data Lake connection spec is a target spec; it cannot back a source connection.")
    base_id = body.get("baseConnectionId")
    if not isinstance(base_id, str) or not base_id:
        raise bad("'baseConnectionId' is required for this connection spec.")
    base = sb.connections.get(base_id)
    if base is None:
        raise bad(f"The base connection [{base_id}] does not exist.")
    if base["connectionSpec"]["id"] != ref["id"]:
        raise bad(
            f"connectionSpec [{ref['id']}] does not match the base connection's spec "
            f"[{base['connectionSpec']['id']}]."
        )
    data = body.get("data")
    if not isinstance(data, dict):
        raise bad("'data' is required: {format: tabular}.")
    fmt = data.get("format")
    if fmt not in TABULAR_FORMATS:
        raise bad(f"Invalid data.format [{fmt}]; valid: {list(TABULAR_FORMATS)}.")
    params = body.get("params")
    if not isinstance(params, dict):
        raise bad("'params' is required: {tableName, columns} or {path}.")
    table_name = params.get("tableName") or params.get("path")
    if not isinstance(table_name, str) or not table_name:
        raise bad("'params.tableName' (or legacy 'params.path') is required.")
    tables = state.source_catalog.get(ref["id"], {})
    table = tables.get(table_name.strip("/"))
    if table is None:
        raise bad(f"The table [{table_name}] does not exist in the source; valid: {sorted(tables)}.")
    columns = params.get("columns")
    if "tableName" in params:
        if columns is not None:
            if not isinstance(columns, list) or not all(
                isinstance(col, dict) and col.get("name") for col in columns
            ):
                raise bad("'params.columns' must be a list of {name, type, xdm} objects.")
            known = {col["name"] for col in table.columns}
            unknown = [col["name"] for col in columns if col["name"] not in known]
            if unknown:
                raise bad(f"Column(s) {unknown} do not exist in table [{table_name}].")
    schema = data.get("schema")
    if schema is not None:
        if not isinstance(schema, dict) or not schema.get("id"):
            raise bad("'data.schema.id' must be the $id of an XDM schema or class.")
        if schema["id"] not in sb.schemas and schema["id"] not in sb.classes:
            raise bad(f"The schema [{schema['id']}] does not exist.")
    return spec


@router.post("/sourceConnections")
async def create_source_connection(request: Request) -> JSONResponse:
    """Create a source connection (tabular ``tableName``+``columns`` or legacy ``path``+``data.schema``)."""
    c, state = ctx(request), emu(request)
    body = await read_json(request, "flowservice")
    _check_read_only(body)
    spec = _validate_source(state, c.sandbox, body)
    obj = {
        **_audit(c, state),
        "name": body["name"],
        "description": body.get("description", ""),
        "baseConnectionId": body["baseConnectionId"],
        "connectionSpec": {"id": spec["id"], "version": str(spec.get("version", "1.0"))},
        "data": copy.deepcopy(body["data"]),
        "params": copy.deepcopy(body["params"]),
        "providerRefId": new_id(),
        "state": "enabled",
        "etag": new_etag(),
    }
    obj["version"] = obj["etag"].strip('"')
    c.sandbox.source_connections[obj["id"]] = obj
    return _created("sourceConnections", obj)


def _inherited_source(sb: SandboxState, obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    base = sb.connections.get(out.get("baseConnectionId", ""))
    if base is not None:
        out["inheritedAttributes"] = {
            "baseConnection": {"id": base["id"], "connectionSpec": copy.deepcopy(base["connectionSpec"])}
        }
    return out


@router.get("/sourceConnections")
async def list_source_connections(request: Request) -> dict[str, Any]:
    """List source connections."""
    sb = ctx(request).sandbox
    return flow_list(
        list(sb.source_connections.values()),
        _query(request),
        "/sourceConnections",
        public=lambda o: _inherited_source(sb, o),
    )


@router.get("/sourceConnections/{connection_id}")
async def get_source_connection(request: Request, connection_id: str) -> dict[str, Any]:
    """One source connection."""
    sb = ctx(request).sandbox
    return {"items": [_inherited_source(sb, _get(sb.source_connections, connection_id, "source connection"))]}


async def _patch_connection_like(
    request: Request, store: dict[str, dict[str, Any]], resource_id: str, kind: str, validate: Any
) -> dict[str, Any]:
    c, state = ctx(request), emu(request)
    obj = _get(store, resource_id, kind)
    check_if_match(request, obj)
    ops = await read_json(request, "flowservice", expect=list)
    patched = apply_patch(obj, ops)
    check_patched(request, "flowservice", patched)
    validate(state, c.sandbox, patched)
    obj.clear()
    obj.update(patched)
    _touch(obj, c, state)
    obj["version"] = obj["etag"].strip('"')
    return {"id": resource_id, "etag": obj["etag"]}


@router.patch("/sourceConnections/{connection_id}")
async def patch_source_connection(request: Request, connection_id: str) -> dict[str, Any]:
    """JSON Patch a source connection; If-Match required."""
    return await _patch_connection_like(
        request, ctx(request).sandbox.source_connections, connection_id, "source connection", _validate_source
    )


@router.delete("/sourceConnections/{connection_id}")
async def delete_source_connection(request: Request, connection_id: str) -> Response:
    """Delete a source connection (1418-400 while a flow uses it)."""
    sb = ctx(request).sandbox
    _get(sb.source_connections, connection_id, "source connection")
    used = _flows_using(sb, source=connection_id)
    if used:
        raise bad(f"The source connection [{connection_id}] is used by flow(s) {used}.", 1418)
    del sb.source_connections[connection_id]
    return Response(status_code=204)


# ---------------------------------------------------------------------------- target connections
def _validate_target(state: EmulatorState, sb: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    ref = _spec_ref(body, "connectionSpec", "connection spec")
    if ref["id"] != DATA_LAKE_SPEC_ID:
        spec = connection_spec(ref["id"])
        what = f"the source spec [{spec.get('name')}]" if spec else "unknown"
        raise bad(
            f"Invalid connectionSpec.id [{ref['id']}] ({what}) for a target connection; "
            f"use the Data Lake spec {DATA_LAKE_SPEC_ID}."
        )
    spec = connection_spec(DATA_LAKE_SPEC_ID) or {"id": DATA_LAKE_SPEC_ID, "version": "1.0"}
    base_id = body.get("baseConnectionId")
    if base_id is not None:
        base = sb.connections.get(str(base_id))
        if base is None:
            raise bad(f"The base connection [{base_id}] does not exist.")
        if base["connectionSpec"]["id"] != DATA_LAKE_SPEC_ID:
            raise bad(f"The base connection [{base_id}] is not a Data Lake (dataset) base connection.")
    data = body.get("data")
    if not isinstance(data, dict):
        raise bad("'data' is required: {format, schema: {id, version}} (schema optional).")
    # FS's TargetConnectionDataDTO types format as a string without an enum (its own example is
    # "delimited") and the Data Lake spec's targetSpec sets no rule on it: any non-empty string.
    fmt = data.get("format")
    if fmt is not None and (not isinstance(fmt, str) or not fmt.strip()):
        raise bad("'data.format' must be a non-empty string, e.g. parquet_xdm.")
    params = body.get("params")
    if not isinstance(params, dict) or not params.get("dataSetId"):
        raise bad("'params.dataSetId' is required by the Data Lake target spec.")
    dataset = sb.datasets.get(str(params["dataSetId"]))
    if dataset is None:
        raise bad(f"The dataset [{params['dataSetId']}] does not exist.")
    # data.schema is optional (FS marks only connectionSpec and data as required; the Data Lake
    # targetSpec requires only dataSetId): without it the target uses the dataset's schema.
    schema = data.get("schema")
    if schema is not None:
        if not isinstance(schema, dict) or not isinstance(schema.get("id"), str) or not schema["id"]:
            raise bad(
                "'data.schema.id' must be the $id of the dataset's XDM schema; or leave 'data.schema' "
                "out and the dataset's schema is used."
            )
        if schema["id"] not in sb.schemas:
            raise bad(f"The schema [{schema['id']}] does not exist.")
        if (dataset.get("schemaRef") or {}).get("id") != schema["id"]:
            raise bad(f"The dataset [{params['dataSetId']}] does not use the schema [{schema['id']}].")
    return spec


@router.post("/targetConnections")
async def create_target_connection(request: Request) -> JSONResponse:
    """Create a Data Lake target connection."""
    c, state = ctx(request), emu(request)
    body = await read_json(request, "flowservice")
    _check_read_only(body)
    spec = _validate_target(state, c.sandbox, body)
    data = copy.deepcopy(body["data"])
    data.setdefault("format", "parquet_xdm")
    obj = {
        **_audit(c, state),
        "name": body.get("name", ""),
        "description": body.get("description", ""),
        "connectionSpec": {"id": spec["id"], "version": str(spec.get("version", "1.0"))},
        "data": data,
        "params": copy.deepcopy(body["params"]),
        "state": "enabled",
        "etag": new_etag(),
    }
    if body.get("baseConnectionId"):
        obj["baseConnectionId"] = body["baseConnectionId"]
    obj["version"] = obj["etag"].strip('"')
    c.sandbox.target_connections[obj["id"]] = obj
    return _created("targetConnections", obj)


@router.get("/targetConnections")
async def list_target_connections(request: Request) -> dict[str, Any]:
    """List target connections."""
    sb = ctx(request).sandbox
    return flow_list(list(sb.target_connections.values()), _query(request), "/targetConnections")


@router.get("/targetConnections/{connection_id}")
async def get_target_connection(request: Request, connection_id: str) -> dict[str, Any]:
    """One target connection."""
    sb = ctx(request).sandbox
    return _items(_get(sb.target_connections, connection_id, "target connection"))


@router.patch("/targetConnections/{connection_id}")
async def patch_target_connection(request: Request, connection_id: str) -> dict[str, Any]:
    """JSON Patch a target connection; If-Match required."""
    return await _patch_connection_like(
        request, ctx(request).sandbox.target_connections, connection_id, "target connection", _validate_target
    )


@router.delete("/targetConnections/{connection_id}")
async def delete_target_connection(request: Request, connection_id: str) -> Response:
    """Delete a target connection (1418-400 while a flow uses it)."""
    sb = ctx(request).sandbox
    _get(sb.target_connections, connection_id, "target connection")
    used = _flows_using(sb, target=connection_id)
    if used:
        raise bad(f"The target connection [{connection_id}] is used by flow(s) {used}.", 1418)
    del sb.target_connections[connection_id]
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ flows
def _transformation(flow: dict[str, Any], name: str) -> dict[str, Any] | None:
    for tr in flow.get("transformations") or []:
        if isinstance(tr, dict) and str(tr.get("name", "")).lower() == name.lower():
            return tr
    return None


def _schedule_schema(spec: dict[str, Any]) -> dict[str, Any] | None:
    sched = spec.get("scheduleSpec")
    if isinstance(sched, dict):
        inner = sched.get("spec") or sched.get("specs")
        if isinstance(inner, dict):
            return inner
    return None


def _check_schedule_range(sched: dict[str, Any]) -> None:
    """``startTime`` and ``interval`` are int64 in AEP (epoch seconds >= 0, interval >= 1)."""
    start = sched.get("startTime")
    if isinstance(start, int) and not 0 <= start <= INT64_MAX:
        raise bad("'scheduleParams.startTime' must be an epoch time in seconds between 0 and 2^63-1.")
    interval = sched.get("interval")
    if isinstance(interval, int) and not isinstance(interval, bool) and interval > INT64_MAX:
        raise bad("'scheduleParams.interval' must be at most 2^63-1 (a 64-bit integer).")


def validate_flow(state: EmulatorState, sb: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """All flow-create validations; returns the normalised flow body fields."""
    _require_name(body)
    ref = _spec_ref(body, "flowSpec", "flow spec")
    spec = flow_spec(ref["id"])
    if spec is None:
        raise bad(f"The flow spec [{ref['id']}] does not exist.")
    src_ids = body.get("sourceConnectionIds")
    tgt_ids = body.get("targetConnectionIds")
    if not isinstance(src_ids, list) or len(src_ids) != 1:
        raise bad("'sourceConnectionIds' must be a list with exactly one source connection id.")
    if not isinstance(tgt_ids, list) or len(tgt_ids) != 1:
        raise bad("'targetConnectionIds' must be a list with exactly one target connection id.")
    src = sb.source_connections.get(str(src_ids[0]))
    if src is None:
        raise bad(f"The source connection [{src_ids[0]}] does not exist.")
    tgt = sb.target_connections.get(str(tgt_ids[0]))
    if tgt is None:
        raise bad(f"The target connection [{tgt_ids[0]}] does not exist.")
    src_spec = src["connectionSpec"]["id"]
    if src_spec not in (spec.get("sourceConnectionSpecIds") or []):
        raise bad(
            f"The source connection spec [{src_spec}] is not supported by flow spec [{spec.get('name')}]."
        )
    tgt_spec = tgt["connectionSpec"]["id"]
    if tgt_spec not in (spec.get("targetConnectionSpecIds") or []):
        raise bad(
            f"The target connection spec [{tgt_spec}] is not supported by flow spec [{spec.get('name')}]."
        )
    transformations = body.get("transformations")
    if not isinstance(transformations, list) or not all(isinstance(t, dict) for t in transformations):
        raise bad("'transformations' must be a list of {name, params}.")
    known = {
        str(t.get("name", "")).lower()
        for t in spec.get("transformationSpecs") or spec.get("transformationSpec") or []
    }
    for tr in transformations:
        if known and str(tr.get("name", "")).lower() not in known:
            raise bad(f"Unknown transformation [{tr.get('name')}]; the flow spec defines {sorted(known)}.")
    mapping_tr = _transformation(body, "Mapping")
    if mapping_tr is None:
        raise bad("A 'Mapping' transformation {mappingId, mappingVersion} is required.")
    mparams = mapping_tr.get("params") or {}
    mapping_id = mparams.get("mappingId")
    versions = sb.mapping_sets.get(str(mapping_id))
    if not versions:
        raise bad(f"The mapping [{mapping_id}] does not exist.")
    mversion = mparams.get("mappingVersion", "0")
    try:
        mv = int(str(mversion))
    except ValueError:
        mv = -1
    if not 0 <= mv < len(versions):
        raise bad(f"Invalid mappingVersion [{mversion}] for mapping [{mapping_id}].", 1412)
    mapping = versions[mv]
    tgt_schema = target_schema_id(sb, tgt)
    map_schema = mapping["outputSchema"]["schemaRef"]["id"]
    if map_schema != tgt_schema:
        raise bad(
            f"The mapping's output schema [{map_schema}] differs from the target connection's schema "
            f"[{tgt_schema}].",
            1425,
        )
    copy_tr = _transformation(body, "Copy")
    if copy_tr is None:
        raise bad("A 'Copy' transformation with params.deltaColumn {name, dateFormat, timezone} is required.")
    delta = (copy_tr.get("params") or {}).get("deltaColumn")
    if not isinstance(delta, dict) or not isinstance(delta.get("name"), str) or not delta["name"]:
        raise bad("'transformations[Copy].params.deltaColumn.name' is required: a column name (string).")
    table_name = (src.get("params") or {}).get("tableName") or (src.get("params") or {}).get("path")
    table = state.source_catalog.get(src_spec, {}).get(str(table_name))
    if table is not None:
        cols = [col["name"] for col in table.columns]
        if delta["name"] not in cols:
            raise bad(
                f"deltaColumn [{delta['name']}] is not a column of source table [{table_name}]; "
                f"columns: {cols}."
            )
    tz = delta.get("timezone")
    if tz is not None and str(tz).upper() != "UTC":
        raise bad(f"deltaColumn.timezone [{tz}] is not supported; table-based sources run in UTC.")
    sched_raw = body.get("scheduleParams")
    if not isinstance(sched_raw, dict):
        raise bad("'scheduleParams' {startTime, frequency, interval?, backfill?} is required.")
    sched = coerce_schedule(sched_raw)
    schema = _schedule_schema(spec)
    errors = jsonschema_errors(schema, sched) if schema else []
    if errors:
        raise bad("Invalid scheduleParams: " + "; ".join(errors))
    _check_schedule_range(sched)
    options = body.get("options")
    if options is not None:
        if not isinstance(options, dict):
            raise bad("'options' must be an object.")
        option_schema = (spec.get("optionSpec") or {}).get("spec")
        errs = jsonschema_errors(option_schema, options) if option_schema else []
        if errs:
            raise bad("Invalid options: " + "; ".join(errs))
    return {"spec": spec, "schedule": sched, "source": src, "target": tgt}


def _public_flow(sb: SandboxState, flow: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(flow)
    src_items = []
    for sid in flow.get("sourceConnectionIds") or []:
        s = sb.source_connections.get(sid)
        if s:
            item: dict[str, Any] = {"id": sid, "connectionSpec": copy.deepcopy(s["connectionSpec"])}
            base = sb.connections.get(s.get("baseConnectionId", ""))
            if base:
                item["baseConnection"] = {
                    "id": base["id"],
                    "connectionSpec": copy.deepcopy(base["connectionSpec"]),
                }
            src_items.append(item)
    tgt_items = [
        {"id": tid, "connectionSpec": copy.deepcopy(sb.target_connections[tid]["connectionSpec"])}
        for tid in flow.get("targetConnectionIds") or []
        if tid in sb.target_connections
    ]
    out["inheritedAttributes"] = {"sourceConnections": src_items, "targetConnections": tgt_items}
    return out


@router.post("/flows")
async def create_flow(request: Request) -> JSONResponse:
    """Create a dataflow (validated like AEP); it starts enabled."""
    c, state = ctx(request), emu(request)
    body = await read_json(request, "flowservice")
    _check_read_only(body)
    v = validate_flow(state, c.sandbox, body)
    flow = {
        **_audit(c, state),
        "name": body["name"],
        "description": body.get("description", ""),
        "flowSpec": {"id": v["spec"]["id"], "version": str(v["spec"].get("version", "1.0"))},
        "state": "enabled",
        "etag": new_etag(),
        "sourceConnectionIds": list(body["sourceConnectionIds"]),
        "targetConnectionIds": list(body["targetConnectionIds"]),
        "transformations": copy.deepcopy(body["transformations"]),
        "scheduleParams": v["schedule"],
        "options": copy.deepcopy(body.get("options") or {}),
    }
    flow["version"] = flow["etag"].strip('"')
    flow["runs"] = f"/runs?property=flowId=={flow['id']}"
    flow["lastOperation"] = {
        "started": flow["createdAt"],
        "updated": flow["createdAt"],
        "operation": "create",
        "percentCompleted": 100,
        "status": {"value": "completed", "errors": []},
        "ops": [],
    }
    c.sandbox.flows[flow["id"]] = flow
    c.sandbox.flow_runtime[flow["id"]] = new_runtime(flow, state.clock.now())
    return _created("flows", flow)


@router.get("/flows")
async def list_flows(request: Request) -> dict[str, Any]:
    """List flows."""
    sb = ctx(request).sandbox
    advance(emu(request), sb)
    return flow_list(list(sb.flows.values()), _query(request), "/flows", public=lambda f: _public_flow(sb, f))


@router.get("/flows/{flow_id}")
async def get_flow(request: Request, flow_id: str) -> dict[str, Any]:
    """One flow (with inheritedAttributes, lastRunDetails, runs link)."""
    sb = ctx(request).sandbox
    advance(emu(request), sb)
    return {"items": [_public_flow(sb, _get(sb.flows, flow_id, "flow"))]}


@router.patch("/flows/{flow_id}")
async def patch_flow(request: Request, flow_id: str) -> dict[str, Any]:
    """JSON Patch a flow; If-Match required (1403-400), stale → 1404-412."""
    c, state = ctx(request), emu(request)
    sb = c.sandbox
    advance(state, sb)
    flow = _get(sb.flows, flow_id, "flow")
    check_if_match(request, flow)
    ops = await read_json(request, "flowservice", expect=list)
    patched = apply_patch(flow, ops)
    check_patched(request, "flowservice", patched)
    from .flow_rules import check_flow_update

    check_flow_update(flow, patched, state.clock.now())
    v = validate_flow(state, sb, patched)
    old_sched = coerce_schedule(flow.get("scheduleParams") or {})
    patched["scheduleParams"] = v["schedule"]
    flow.clear()
    flow.update(patched)
    _touch(flow, c, state)
    flow["version"] = flow["etag"].strip('"')
    flow["lastOperation"] = {
        "started": flow["updatedAt"],
        "updated": flow["updatedAt"],
        "operation": "update",
        "percentCompleted": 100,
        "status": {"value": "completed", "errors": []},
        "ops": [str(op.get("op", "")).lower() + " " + str(op.get("path", "")) for op in ops],
    }
    rt = sb.flow_runtime[flow_id]
    if v["schedule"].get("frequency") == "once":
        rt.next_run_at = None
    elif v["schedule"] != old_sched:
        fresh = new_runtime(flow, state.clock.now())
        rt.next_run_at = fresh.next_run_at
    return {"id": flow_id, "etag": flow["etag"]}


@router.post("/flows/{flow_id}/action")
async def flow_action(request: Request, flow_id: str) -> dict[str, Any]:
    """``?op=enable|disable`` (case-insensitive, subOp optional); invalid transition → 1422-400."""
    c, state = ctx(request), emu(request)
    sb = c.sandbox
    advance(state, sb)
    flow = _get(sb.flows, flow_id, "flow")
    check_if_match(request, flow, required=False)
    op = (request.query_params.get("op") or "").lower()
    if op not in ("enable", "disable"):
        raise bad(f"Unsupported action op [{request.query_params.get('op')}]; use enable or disable.")
    target = "enabled" if op == "enable" else "disabled"
    if flow.get("state") == target:
        raise bad(f"Invalid state transition: the flow is already {target}.", 1422)
    flow["state"] = target
    _touch(flow, c, state)
    flow["version"] = flow["etag"].strip('"')
    rt = sb.flow_runtime[flow_id]
    sched = coerce_schedule(flow.get("scheduleParams") or {})
    if target == "enabled" and sched.get("frequency") in FREQUENCY_SECONDS:
        from .scheduler import _next_slot

        now = state.clock.now()
        start = float(sched.get("startTime", now))
        rt.next_run_at = start if start > now else _next_slot(sched, now)
        if not rt.run_ids and start <= now:
            rt.next_run_at = now
    return {"id": flow_id, "etag": flow["etag"]}


@router.delete("/flows/{flow_id}")
async def delete_flow(request: Request, flow_id: str) -> Response:
    """Delete a flow (204)."""
    sb = ctx(request).sandbox
    _get(sb.flows, flow_id, "flow")
    del sb.flows[flow_id]
    sb.flow_runtime.pop(flow_id, None)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------- runs
@router.get("/runs")
async def list_runs(request: Request) -> dict[str, Any]:
    """List runs (``property=flowId==<id>`` and other filters, orderby, limit)."""
    sb = ctx(request).sandbox
    advance(emu(request), sb)
    return flow_list(list(sb.runs.values()), _query(request), "/runs")


@router.get("/runs/{run_id}")
async def get_run(request: Request, run_id: str) -> dict[str, Any]:
    """One run."""
    sb = ctx(request).sandbox
    advance(emu(request), sb)
    return _items(_get(sb.runs, run_id, "run"))


@router.post("/runs/{run_id}/action")
async def run_action(request: Request, run_id: str) -> dict[str, Any]:
    """``?op=RE_TRIGGER`` (or the docs' ``re-trigger``): re-run a failed run's window as a new run.

    AEP's rules: only a finished failed run, or a successful one that ingested zero records (1387);
    the flow must be enabled (1388). The new run covers the original window (on-demand runs echo the
    original ``params``); the answer is 200 ``{id, etag}`` of the new run. A run may be re-triggered
    again (AEP documents no limit).
    """
    c, state = ctx(request), emu(request)
    sb = c.sandbox
    advance(state, sb)
    run = _get(sb.runs, run_id, "run")
    check_if_match(request, run, required=False)
    op = (request.query_params.get("op") or "").lower().replace("_", "-")
    if op != "re-trigger":
        raise bad(f"Unsupported flow run action op [{request.query_params.get('op')}]; use RE_TRIGGER.", 1401)
    rrt = sb.run_runtime.get(run_id)
    metrics = run.get("metrics") or {}
    status = (metrics.get("statusSummary") or {}).get("status")
    written = (metrics.get("recordSummary") or {}).get("outputRecordCount") or 0
    if rrt is None or not rrt.finished or not (status == "failed" or (status == "success" and written == 0)):
        raise bad(
            f"The run [{run_id}] is in an invalid state [{status}] for re-trigger: only failed runs and "
            "successful runs that ingested no records can be re-triggered.",
            1387,
        )
    flow = sb.flows.get(rrt.flow_id)
    if flow is None or flow.get("state") != "enabled":
        raise bad(f"The flow [{rrt.flow_id}] must be enabled to re-trigger its runs.", 1388)
    new = create_run(
        state,
        sb,
        flow,
        started_at=state.clock.now(),
        window_start=rrt.window_start,
        window_end=rrt.window_end,
        delta_column=rrt.delta_column,
        scheduled=rrt.scheduled,
        client_id=c.client_id,
        params=dict(run["params"]) if isinstance(run.get("params"), dict) else None,
    )
    return {"id": new["id"], "etag": new["etag"]}


@router.post("/runs")
async def create_flow_run(request: Request) -> JSONResponse:
    """On-demand run of a ``once`` flow: ``{flowId, params{startTime, windowStartTime, windowEndTime,
    deltaColumn{name}}}`` → 201 ``{id, etag}``."""
    c, state = ctx(request), emu(request)
    sb = c.sandbox
    advance(state, sb)
    body = await read_json(request, "flowservice")
    flow_id = body.get("flowId")
    if not isinstance(flow_id, str) or not flow_id:
        raise bad("'flowId' is required.")
    flow = sb.flows.get(flow_id)
    if flow is None:
        raise bad(f"The flow [{flow_id}] does not exist.")
    sched = coerce_schedule(flow.get("scheduleParams") or {})
    if sched.get("frequency") != "once":
        raise bad(
            f"On-demand runs are only supported for flows scheduled with frequency 'once'; flow [{flow_id}] "
            f"runs every {sched.get('interval')} {sched.get('frequency')}(s)."
        )
    if flow.get("state") != "enabled":
        raise bad(f"The flow [{flow_id}] is disabled; enable it before creating a run.")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise bad("'params' must be an object.")
    ws = epoch_seconds(params.get("windowStartTime"))
    we = epoch_seconds(params.get("windowEndTime"))
    for key in ("windowStartTime", "windowEndTime", "startTime"):
        if params.get(key) not in (None, "") and epoch_seconds(params.get(key)) is None:
            raise bad(f"'params.{key}' must be an epoch time.")
    if ws is not None and we is not None and ws >= we:
        raise bad("'params.windowStartTime' must be before 'params.windowEndTime'.")
    flow_delta = copy_delta_column(flow)
    dc = params.get("deltaColumn")
    delta_name = dc.get("name") if isinstance(dc, dict) else None
    rt = sb.flow_runtime[flow_id]
    if delta_name and flow_delta and delta_name != flow_delta and rt.run_ids:
        raise bad(
            f"deltaColumn [{delta_name}] differs from the flow's deltaColumn [{flow_delta}]; it can only be "
            "set on the first run."
        )
    start = epoch_seconds(params.get("startTime")) or state.clock.now()
    run = create_run(
        state,
        sb,
        flow,
        started_at=start,
        window_start=ws,
        window_end=we,
        delta_column=delta_name or flow_delta,
        scheduled=False,
        client_id=c.client_id,
        params=params,
    )
    return JSONResponse(
        {"id": run["id"], "etag": run["etag"]},
        status_code=201,
        headers={"Location": f"{BASE}/runs/{run['id']}"},
    )
