"""Data Prep (conversion service): mapping sets, current and legacy request vocabularies."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request

from .errors import APIError, dataprep_error
from .routes_schemaregistry import schema_field_paths
from .state import SandboxState, hex_id
from .validation import ctx, emu, read_json

router = APIRouter()
SOURCE_TYPES = ("ATTRIBUTE", "EXPRESSION", "STATIC")
DEFAULT_CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"


def bad(detail: str, code: int = 1001) -> APIError:
    """A Data Prep 400."""
    return dataprep_error(400, code, detail)


def _normalise(sb: SandboxState, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]], bool]:
    """Return (schema id, mappings in the current vocabulary, legacy?)."""
    mappings = body.get("mappings")
    legacy = "xdmSchema" in body or any(
        isinstance(m, dict) and ("destinationXdmPath" in m or "sourceAttribute" in m) for m in mappings or []
    )
    if legacy:
        schema_id = body.get("xdmSchema")
        if body.get("id") not in (None, ""):
            raise bad("'id' must be null or absent when creating a mapping set.")
    else:
        schema_id = ((body.get("outputSchema") or {}).get("schemaRef") or {}).get("id")
    if not isinstance(schema_id, str) or not schema_id:
        raise bad("'outputSchema.schemaRef.id' (or legacy 'xdmSchema') is required: the target schema $id.")
    if schema_id not in sb.schemas:
        raise bad(f"The output schema [{schema_id}] does not exist.")
    if not isinstance(mappings, list) or not mappings:
        raise bad("'mappings' must be a non-empty list.")
    out: list[dict[str, Any]] = []
    for i, m in enumerate(mappings):
        if not isinstance(m, dict):
            raise bad(f"mappings[{i}] must be an object.")
        if legacy:
            source = m.get("sourceAttribute")
            destination = m.get("destinationXdmPath")
            source_type = str(m.get("sourceType", "ATTRIBUTE")).upper()
        else:
            source = m.get("source")
            destination = m.get("destination")
            source_type = str(m.get("sourceType", "")).upper()
        if source_type not in SOURCE_TYPES:
            raise bad(
                f"mappings[{i}].sourceType [{m.get('sourceType')}] is invalid; valid: {list(SOURCE_TYPES)}."
            )
        if not isinstance(source, str) or not source:
            raise bad(f"mappings[{i}] needs a source ('source' or legacy 'sourceAttribute').")
        if not isinstance(destination, str) or not destination:
            raise bad(f"mappings[{i}] needs a destination ('destination' or legacy 'destinationXdmPath').")
        out.append(
            {
                "sourceType": source_type,
                "source": source,
                "destination": destination,
                "name": m.get("name", source),
                "description": m.get("description"),
                "identity": bool(m.get("identity", False)),
                "identityGroup": m.get("identityGroup"),
                "namespaceCode": m.get("namespaceCode"),
            }
        )
    try:
        paths = schema_field_paths(sb, schema_id)
    except KeyError as exc:
        raise bad(f"The output schema [{schema_id}] references an unknown resource {exc}.") from exc
    wrong = [m["destination"] for m in out if m["destination"] not in paths]
    if wrong:
        raise bad(
            f"Destination path(s) {wrong} do not exist in schema [{schema_id}]. "
            f"Examples of valid paths: {sorted(paths)[:8]}.",
            1002,
        )
    return schema_id, out, legacy


def _document(
    mapping_id: str,
    version: int,
    body: dict[str, Any],
    schema_id: str,
    mappings: list[dict[str, Any]],
    created: int,
    now: int,
    user: str,
) -> dict[str, Any]:
    content_type = ((body.get("outputSchema") or {}).get("schemaRef") or {}).get(
        "contentType", DEFAULT_CONTENT_TYPE
    )
    full = []
    for m in mappings:
        full.append(
            {
                "id": hex_id(32),
                "version": version,
                "createdDate": now,
                "modifiedDate": now,
                "createdBy": user,
                "modifiedBy": user,
                **m,
                "sourceAttribute": m["source"],
                "destinationXdmPath": m["destination"],
            }
        )
    doc: dict[str, Any] = {
        "id": mapping_id,
        "version": version,
        "createdDate": created,
        "modifiedDate": now,
        "createdBy": user,
        "modifiedBy": user,
        "status": "ACTIVE",
        "outputSchema": {"schemaRef": {"id": schema_id, "contentType": content_type}},
        "schemaRef": {"id": schema_id, "contentType": content_type},
        "xdmSchema": schema_id,
        "xdmVersion": "1.0",
        "mappings": full,
    }
    if body.get("name"):
        doc["name"] = body["name"]
    if body.get("inputSchema"):
        doc["inputSchema"] = copy.deepcopy(body["inputSchema"])
    return doc


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy")}


@router.post("/mappingSets")
async def create_mapping_set(request: Request) -> dict[str, Any]:
    """Create a mapping set; 200 ``{id, version, createdDate, ...}``."""
    c, state = ctx(request), emu(request)
    body = await read_json(request, "conversion")
    schema_id, mappings, _ = _normalise(c.sandbox, body)
    mapping_id = hex_id(32)
    now = state.clock.now_ms()
    doc = _document(mapping_id, 0, body, schema_id, mappings, now, now, c.user)
    c.sandbox.mapping_sets[mapping_id] = [doc]
    return _summary(doc)


@router.put("/mappingSets/{mapping_id}")
async def update_mapping_set(request: Request, mapping_id: str) -> dict[str, Any]:
    """Replace a mapping set: creates the next version."""
    c, state = ctx(request), emu(request)
    versions = c.sandbox.mapping_sets.get(mapping_id)
    if not versions:
        raise dataprep_error(404, 1004, f"Mapping set [{mapping_id}] not found.")
    body = await read_json(request, "conversion")
    body = {**body, "id": None}
    schema_id, mappings, _ = _normalise(c.sandbox, body)
    doc = _document(
        mapping_id,
        len(versions),
        body,
        schema_id,
        mappings,
        versions[0]["createdDate"],
        state.clock.now_ms(),
        c.user,
    )
    versions.append(doc)
    return _summary(doc)


@router.get("/mappingSets")
async def list_mapping_sets(request: Request) -> dict[str, Any]:
    """List mapping sets (``limit`` default 10, ``start`` default 0, ``name=``)."""
    sb = ctx(request).sandbox
    try:
        limit = int(request.query_params.get("limit", "10"))
        start = int(request.query_params.get("start", "0"))
    except ValueError as exc:
        raise bad("'limit' and 'start' must be integers.") from exc
    if limit < 1 or start < 0:
        raise bad("'limit' must be >= 1 and 'start' >= 0.")
    docs = [copy.deepcopy(v[-1]) for v in sb.mapping_sets.values()]
    name = request.query_params.get("name")
    if name is not None:
        docs = [d for d in docs if d.get("name") == name]
    order = request.query_params.get("orderBy") or request.query_params.get("orderby")
    if order:
        key = order.lstrip("+-")
        docs.sort(key=lambda d: _sort_key(d.get(key)), reverse=order.startswith("-"))
    page = docs[start : start + limit]
    return {"data": page, "_page": {"count": len(page), "limit": limit}, "_links": {}}


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before text, so that any field orders without comparing unlike types."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, "" if value is None else str(value))


@router.get("/mappingSets/{mapping_id}")
async def get_mapping_set(request: Request, mapping_id: str) -> dict[str, Any]:
    """One mapping set (latest or ``?version=``)."""
    sb = ctx(request).sandbox
    versions = sb.mapping_sets.get(mapping_id)
    if not versions:
        raise dataprep_error(404, 1004, f"Mapping set [{mapping_id}] not found.")
    raw = request.query_params.get("version")
    if raw is None:
        return copy.deepcopy(versions[-1])
    try:
        v = int(raw)
    except ValueError as exc:
        raise bad(f"Invalid version [{raw}].") from exc
    if not 0 <= v < len(versions):
        raise dataprep_error(404, 1004, f"Version [{raw}] of mapping set [{mapping_id}] not found.")
    return copy.deepcopy(versions[v])


@router.get("/mappingSets/{mapping_id}/mappings")
async def get_mappings(request: Request, mapping_id: str) -> list[dict[str, Any]]:
    """The mappings of the latest version."""
    sb = ctx(request).sandbox
    versions = sb.mapping_sets.get(mapping_id)
    if not versions:
        raise dataprep_error(404, 1004, f"Mapping set [{mapping_id}] not found.")
    return copy.deepcopy(versions[-1]["mappings"])
