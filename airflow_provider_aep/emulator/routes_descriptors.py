"""Schema Registry: schema descriptors (``/tenant/descriptors``), chiefly identity descriptors.

An identity descriptor marks a field of a schema as an identity of an Identity Service namespace;
a schema can have at most one primary identity, which it needs before it can be enabled for
Profile (``XDM-1528-400``). Listing uses ``xdm`` (not ``xed``) Accept values and groups the
descriptors by ``@type``; a single GET needs no Accept header.

The 400s for an invalid descriptor use Schema Registry's error body with code 1001 ("Invalid
request"): AEP documents no code for them (emulator choice).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .errors import xdm_error
from .listing import matches, parse_condition
from .routes_schemaregistry import BASE, _registry_metadata, bad, schema_field_paths, sr_not_found
from .state import SandboxState, hex_id
from .validation import ctx, emu, read_json

router = APIRouter()

IDENTITY = "xdm:descriptorIdentity"
DESCRIPTOR_TYPES = (
    IDENTITY,
    "xdm:alternateDisplayInfo",
    "xdm:descriptorReferenceIdentity",
    "xdm:descriptorOneToOne",
    "xdm:descriptorRelationship",
)
_ACCEPT_RE = re.compile(r"^application/vnd\.adobe\.xdm(-v2)?(-id|-link)?\+json$")
_MANAGED = {"@id", "meta:containerId", "imsOrg", "version", "meta:sandboxId", "meta:sandboxType"}


def _descriptor_accept(request: Request) -> tuple[bool, str]:
    """(paged v2?, ``""``/``-id``/``-link``) from an ``xdm`` Accept header; XDM-1008-400 otherwise."""
    accept = request.headers.get("accept", "").split(";", 1)[0].strip().lower()
    m = _ACCEPT_RE.match(accept)
    if not m:
        detail = (
            f"The supplied Accept header is not valid: {accept or '(none)'} - A valid Accept value should "
            "look like application/vnd.adobe.xdm-id+json"
        )
        raise xdm_error(400, 1008, detail, "Accept header invalid")
    return bool(m.group(1)), m.group(2) or ""


def source_property_path(value: Any) -> str:
    """Dotted field path of an ``xdm:sourceProperty`` such as ``/_{TENANT}/field``; 400 when the form
    is wrong (no leading ``/``, a trailing ``/``, empty segments or a ``properties`` segment)."""
    form = "it starts with '/', has no trailing '/' and omits 'properties', e.g. '/_{TENANT_ID}/field'"
    if not isinstance(value, str) or not value.startswith("/") or value == "/":
        raise bad(f"'xdm:sourceProperty' [{value}] is invalid: {form}.")
    if value.endswith("/") or "//" in value:
        raise bad(f"'xdm:sourceProperty' [{value}] is invalid: {form}.")
    parts = value[1:].split("/")
    if "properties" in parts:
        raise bad(f"'xdm:sourceProperty' [{value}] is invalid: {form}.")
    return ".".join(parts)


def _namespace_ok(sb: SandboxState, code_or_id: Any, prop: str) -> bool:
    from .routes_identity import find_namespace

    return find_namespace(code_or_id, by_id=prop == "xdm:id", sb=sb) is not None


def validate_descriptor(request: Request, body: Any, own_id: str | None) -> dict[str, Any]:
    """Check a descriptor body (create or replace); returns the fields to store."""
    sb = ctx(request).sandbox
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.")
    dtype = body.get("@type")
    if dtype not in DESCRIPTOR_TYPES:
        raise bad(f"'@type' [{dtype}] is not a supported descriptor type; valid: {list(DESCRIPTOR_TYPES)}.")
    schema_id = body.get("xdm:sourceSchema")
    if not isinstance(schema_id, str) or not schema_id:
        raise bad("'xdm:sourceSchema' is required: the $id of the schema the descriptor applies to.")
    if schema_id not in sb.schemas:
        raise bad(f"The schema [{schema_id}] in 'xdm:sourceSchema' does not exist.", 1012)
    version = body.get("xdm:sourceVersion")
    if str(version) != "1":
        raise bad(f"'xdm:sourceVersion' [{version}] is invalid: use the schema's major version, 1.")
    prop = body.get("xdm:sourceProperty")
    path = source_property_path(prop)
    paths = schema_field_paths(sb, schema_id)
    if path not in paths:
        raise bad(f"'xdm:sourceProperty' [{prop}] does not exist in the schema [{schema_id}].")
    if dtype == IDENTITY:
        info = paths[path]
        if info.get("type") != "string" or info.get("format") in ("date", "date-time"):
            kind_name = info.get("format") or info.get("type")
            raise bad(f"The identity field [{prop}] must be of type string, not {kind_name}.")
        kind = body.get("xdm:property")
        if kind not in ("xdm:code", "xdm:id"):
            raise bad("'xdm:property' must be 'xdm:code' (namespace code) or 'xdm:id' (numeric id).")
        namespace = body.get("xdm:namespace")
        if not _namespace_ok(sb, namespace, kind):
            raise bad(
                f"The identity namespace [{namespace}] ({kind}) does not exist; list them with "
                "GET /data/core/idnamespace/identities.",
            )
        primary = body.get("xdm:isPrimary", False)
        if not isinstance(primary, bool):
            raise bad("'xdm:isPrimary' must be a boolean.")
        if primary:
            other = next(
                (
                    d["@id"]
                    for d in sb.descriptors.values()
                    if d["@id"] != own_id
                    and d.get("@type") == IDENTITY
                    and d.get("xdm:sourceSchema") == schema_id
                    and d.get("xdm:isPrimary") is True
                ),
                None,
            )
            if other is not None:
                raise bad(
                    f"The schema [{schema_id}] already has a primary identity (descriptor [{other}]); a "
                    "schema can have at most one. Delete or update that descriptor first.",
                )
    return {k: v for k, v in body.items() if k not in _MANAGED}


@router.post("/tenant/descriptors")
async def create_descriptor(request: Request) -> JSONResponse:
    """Create a descriptor: 201 with the body plus ``@id`` (40 hex) and ``meta:containerId``."""
    c, state = ctx(request), emu(request)
    fields = validate_descriptor(request, await read_json(request, "schemaregistry"), None)
    doc = {
        "@id": hex_id(40),
        **fields,
        "imsOrg": c.org,
        "version": "1",
        "meta:containerId": "tenant",
        "meta:sandboxId": c.sandbox.sandbox_id,
        "meta:sandboxType": "production" if c.sandbox_name == "prod" else "development",
        "meta:registryMetadata": _registry_metadata(c, state.clock.now_ms()),
    }
    c.sandbox.descriptors[doc["@id"]] = doc
    return JSONResponse(doc, status_code=201)


@router.get("/tenant/descriptors")
async def list_descriptors(request: Request) -> Any:
    """Descriptors grouped by ``@type``: ids (``xdm-id``), API paths (``xdm-link``) or objects
    (``xdm``); ``xdm-v2...`` answers ``{results, _page}``. ``property=<field>==<value>`` filters."""
    paged, variant = _descriptor_accept(request)
    rows = list(ctx(request).sandbox.descriptors.values())
    for expr in request.query_params.getlist("property"):
        cond = parse_condition(expr)
        if cond is None:
            raise bad(f"Invalid property filter [{expr}].", 1002)
        rows = [r for r in rows if matches(r, cond)]

    def render(d: dict[str, Any]) -> Any:
        if variant == "-id":
            return d["@id"]
        if variant == "-link":
            return f"{BASE}/tenant/descriptors/{d['@id']}"
        return dict(d)

    if paged:
        results = [render(d) for d in rows]
        return {"results": results, "_page": {"count": len(results), "next": None}, "_links": {}}
    grouped: dict[str, list[Any]] = {}
    for d in rows:
        grouped.setdefault(str(d.get("@type")), []).append(render(d))
    return grouped


def _get(request: Request, descriptor_id: str) -> dict[str, Any]:
    doc = ctx(request).sandbox.descriptors.get(descriptor_id)
    if doc is None:
        raise sr_not_found("descriptor", descriptor_id)
    return doc


@router.get("/tenant/descriptors/{descriptor_id}")
async def get_descriptor(request: Request, descriptor_id: str) -> dict[str, Any]:
    """One descriptor (descriptors are not versioned: no Accept header needed)."""
    return dict(_get(request, descriptor_id))


@router.put("/tenant/descriptors/{descriptor_id}")
async def replace_descriptor(request: Request, descriptor_id: str) -> JSONResponse:
    """Replace a descriptor (the body needs every field a create needs): 201 ``{"@id"}``."""
    current = _get(request, descriptor_id)
    fields = validate_descriptor(request, await read_json(request, "schemaregistry"), descriptor_id)
    kept = {k: v for k, v in current.items() if k in _MANAGED or k == "meta:registryMetadata"}
    current.clear()
    current.update({**kept, **fields})
    current["meta:registryMetadata"]["repo:lastModifiedDate"] = emu(request).clock.now_ms()
    return JSONResponse({"@id": descriptor_id}, status_code=201)


@router.delete("/tenant/descriptors/{descriptor_id}")
async def delete_descriptor(request: Request, descriptor_id: str) -> Response:
    """Delete a descriptor: 204."""
    _get(request, descriptor_id)
    del ctx(request).sandbox.descriptors[descriptor_id]
    return Response(status_code=204)
