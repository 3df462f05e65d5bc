"""Schema Registry: tenant classes (ad-hoc) and tenant schemas; global lookups of standard resources."""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .errors import APIError, xdm_error
from .listing import sr_list
from .state import SandboxState, hex_id, public_copy
from .validation import ctx, emu, read_json

router = APIRouter()
BASE = "/data/foundation/schemaregistry"
ADHOC_CLASS = "https://ns.adobe.com/xdm/data/adhoc"
_ACCEPT_RE = re.compile(r"^application/vnd\.adobe\.(xed|xdm)(-[a-z-]+)?\+json$")
_LOOKUP_VARIANTS = {"", "-full", "-notext", "-full-notext", "-desc", "-full-desc", "-full-notext-desc"}
_LIST_VARIANTS = {"-id", ""}


def bad(detail: str, code: int = 1001) -> APIError:
    """A Schema Registry 400."""
    return xdm_error(400, code, detail, "Invalid request")


def sr_not_found(kind: str, resource_id: str) -> APIError:
    """XDM-1012-404."""
    return xdm_error(404, 1012, f"The requested {kind} [{resource_id}] was not found.", "Resource not found")


def parse_accept(request: Request, *, lookup: bool) -> str:
    """Validate the Accept header; returns the variant suffix ("", "-id", "-full", ...)."""
    accept = request.headers.get("accept", "")
    if not accept.strip() or accept.strip() == "*/*":
        raise xdm_error(
            400,
            1006,
            "An Accept header is required, e.g. application/vnd.adobe.xed-id+json.",
            "Invalid Accept header",
        )
    media, _, params = accept.partition(";")
    m = _ACCEPT_RE.match(media.strip().lower())
    if not m:
        raise xdm_error(
            400,
            1006,
            f"The Accept header [{accept}] is not valid for the Schema Registry.",
            "Invalid Accept header",
        )
    variant = m.group(2) or ""
    allowed = _LOOKUP_VARIANTS if lookup else _LIST_VARIANTS
    if variant not in allowed:
        raise xdm_error(
            406, 1007, f"The format [{media.strip()}] is not available for this resource.", "Not acceptable"
        )
    version = None
    for p in params.split(";"):
        k, _, v = p.strip().partition("=")
        if k.strip().lower() == "version":
            version = v.strip()
    if lookup and not version:
        raise xdm_error(
            400,
            1006,
            "The Accept header must carry a major version, e.g. '; version=1'.",
            "Invalid Accept header",
        )
    if version is not None and version.split(".")[0] != "1":
        raise xdm_error(406, 1007, f"Version [{version}] of the resource is not available.", "Not acceptable")
    return variant


def _standard() -> dict[str, dict[str, Any]]:
    from .xdm import STANDARD_RESOURCES

    return STANDARD_RESOURCES


def resource_kind(sb: SandboxState, ref: str) -> str | None:
    """``class`` / ``fieldgroup`` / ``None`` (unknown) for a ``$ref``."""
    if ref in sb.classes:
        return "class"
    if ref in sb.fieldgroups:
        return "fieldgroup"
    doc = _standard().get(ref)
    if doc is None:
        return None
    rtype = str(doc.get("meta:resourceType", ""))
    if rtype == "classes":
        return "class"
    if rtype in ("mixins", "fieldgroups") or "meta:intendedToExtend" in doc:
        return "fieldgroup"
    return (
        "class"
        if "/classes/" in ref or ref.endswith(("/profile", "/adhoc", "/experienceevent"))
        else "fieldgroup"
    )


def schema_field_paths(sb: SandboxState, schema_id: str) -> dict[str, dict[str, Any]]:
    """Dotted XDM paths of a tenant schema (KeyError if unknown)."""
    schema = sb.schemas[schema_id]
    return _paths_for(sb, schema["meta:class"], list(schema.get("meta:fieldGroups", [])))


def title_owner(sb: SandboxState, title: str, *, excluding: tuple[str, ...] = ()) -> str | None:
    """``$id`` of the tenant class, schema or field group titled ``title`` (titles are unique
    across resource types: ``XDM-1521-400``), or ``None``; resources in ``excluding`` are
    passed over, so a tolerated owner never hides another one."""
    for store in (sb.classes, sb.schemas, sb.fieldgroups):
        for doc in store.values():
            if doc.get("title") == title and doc["$id"] not in excluding:
                return str(doc["$id"])
    return None


def _nest(paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {"type": "object", "properties": {}})
            child.setdefault("properties", {})
            node = child["properties"]
        leaf = {k: v for k, v in paths[path].items() if k in ("type", "format", "items", "meta:xdmType")}
        existing = node.get(parts[-1])
        if existing and existing.get("type") == "object" and "properties" in existing:
            continue
        node[parts[-1]] = leaf
    return root


def _registry_metadata(c: Any, now: int) -> dict[str, Any]:
    return {
        "repo:createdDate": now,
        "repo:lastModifiedDate": now,
        "xdm:createdClientId": c.client_id,
        "xdm:lastModifiedClientId": c.client_id,
        "xdm:createdUserId": c.user,
        "xdm:lastModifiedUserId": c.user,
        "eTag": hex_id(64),
        "meta:globalLibVersion": "1.50.3",
    }


def _find(store: dict[str, dict[str, Any]], key: str) -> dict[str, Any] | None:
    key = unquote(key)
    if key in store:
        return store[key]
    return next((o for o in store.values() if o.get("meta:altId") == key), None)


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in public_copy(obj).items() if not k.startswith("_tenant")}


# ------------------------------------------------------------------------------------- classes
_FIELD_TYPES = {"string", "number", "integer", "boolean", "object", "array"}


@router.post("/tenant/classes")
async def create_class(request: Request) -> JSONResponse:
    """Create an ad-hoc class; ``_adhoc`` becomes ``_<hex>``."""
    c, state = ctx(request), emu(request)
    body = await read_json(request, "schemaregistry")
    for key in ("type", "title", "description", "allOf"):
        if key not in body:
            raise bad(f"'{key}' is required.")
    if body["type"] != "object":
        raise bad("'type' must be 'object'.")
    all_of = body["allOf"]
    if not isinstance(all_of, list):
        raise bad("'allOf' must be a list.")
    refs = [e["$ref"] for e in all_of if isinstance(e, dict) and "$ref" in e]
    if ADHOC_CLASS not in refs:
        raise bad(f"Only ad-hoc tenant classes are supported: allOf must reference {ADHOC_CLASS}.")
    props_blocks = [e for e in all_of if isinstance(e, dict) and "properties" in e]
    adhoc = None
    for block in props_blocks:
        if not isinstance(block["properties"], dict):
            raise bad("'allOf[].properties' must be an object of field definitions.")
        adhoc = block["properties"].get("_adhoc") or adhoc
    if (
        not isinstance(adhoc, dict)
        or not isinstance(adhoc.get("properties"), dict)
        or not adhoc["properties"]
    ):
        raise bad("An ad-hoc class needs allOf[].properties._adhoc.properties with at least one field.")
    for fname, fdef in adhoc["properties"].items():
        if (
            not isinstance(fdef, dict)
            or not isinstance(fdef.get("type"), str)
            or fdef["type"] not in _FIELD_TYPES
        ):
            raise bad(f"Field [_adhoc.{fname}] needs a valid 'type' (one of {sorted(_FIELD_TYPES)}).")
    if title_owner(c.sandbox, body["title"]) is not None:
        raise bad(f"Title [{body['title']}] is not unique: a class, schema or field group uses it.", 1521)
    hx = hex_id(32)
    ns = f"_{hx}"
    tenant = state.config.tenant_id
    now = state.clock.now_ms()
    new_props = {ns: {"type": "object", "properties": copy.deepcopy(adhoc["properties"])}}
    cls = {
        "$id": f"https://ns.adobe.com/{tenant}/classes/{hx}",
        "meta:altId": f"_{tenant}.classes.{hx}",
        "meta:resourceType": "classes",
        "version": "1.0",
        "title": body["title"],
        "type": "object",
        "description": body["description"],
        "allOf": [
            {"$ref": ADHOC_CLASS, "type": "object", "meta:xdmType": "object"},
            {"properties": new_props},
        ],
        "refs": [ADHOC_CLASS],
        "imsOrg": c.org,
        "meta:extensible": True,
        "meta:abstract": True,
        "meta:extends": [ADHOC_CLASS],
        "meta:xdmType": "object",
        "meta:datasetNamespace": ns,
        "meta:registryMetadata": _registry_metadata(c, now),
        "meta:containerId": "tenant",
        "meta:tenantNamespace": f"_{tenant}",
        "meta:sandboxId": c.sandbox.sandbox_id,
        "meta:sandboxType": "production" if c.sandbox_name == "prod" else "development",
        "_tenantProperties": new_props,
    }
    c.sandbox.classes[cls["$id"]] = cls
    return JSONResponse(_public(cls), status_code=201)


@router.get("/tenant/classes")
async def list_classes(request: Request) -> dict[str, Any]:
    """List tenant classes."""
    variant = parse_accept(request, lookup=False)
    items = [_public(o) for o in ctx(request).sandbox.classes.values()]
    return _links(
        sr_list(items, list(request.query_params.multi_items()), "/tenant/classes", short=variant == "-id")
    )


def _links(body: dict[str, Any]) -> dict[str, Any]:
    body["_links"]["global_schemas"] = {"href": f"{BASE}/global/schemas"}
    return body


@router.get("/tenant/classes/{class_id:path}")
async def get_class(request: Request, class_id: str) -> dict[str, Any]:
    """One tenant class by altId or URL-encoded $id."""
    variant = parse_accept(request, lookup=True)
    cls = _find(ctx(request).sandbox.classes, class_id)
    if cls is None:
        raise sr_not_found("class", unquote(class_id))
    out = _public(cls)
    if variant.startswith("-full"):
        from .xdm import field_paths

        out["properties"] = _nest(field_paths(ADHOC_CLASS, [], cls["_tenantProperties"]))
    return out


@router.delete("/tenant/classes/{class_id:path}")
async def delete_class(request: Request, class_id: str) -> Response:
    """Delete a tenant class (400 while a schema uses it)."""
    sb = ctx(request).sandbox
    cls = _find(sb.classes, class_id)
    if cls is None:
        raise sr_not_found("class", unquote(class_id))
    users = [s["$id"] for s in sb.schemas.values() if s.get("meta:class") == cls["$id"]]
    if users:
        raise bad(f"The class [{cls['$id']}] is used by schema(s) {users}; delete them first.", 1013)
    del sb.classes[cls["$id"]]
    return Response(status_code=204)


# ------------------------------------------------------------------------------------- schemas
@router.post("/tenant/schemas")
async def create_schema(request: Request) -> JSONResponse:
    """Create a tenant schema: allOf = one class + field groups (all must exist)."""
    c, state = ctx(request), emu(request)
    sb = c.sandbox
    body = await read_json(request, "schemaregistry")
    if not isinstance(body.get("title"), str) or not body["title"].strip():
        raise bad("'title' is required.")
    if body.get("type", "object") != "object":
        raise bad("'type' must be 'object'.")
    all_of = body.get("allOf")
    if not isinstance(all_of, list) or not all_of:
        raise bad("'allOf' is required: a list of {$ref} naming one class and optional field groups.")
    refs: list[str] = []
    for entry in all_of:
        if not isinstance(entry, dict) or not isinstance(entry.get("$ref"), str):
            raise bad("Every allOf entry must be an object with a '$ref'.")
        if entry["$ref"] not in refs:
            refs.append(entry["$ref"])
    classes: list[str] = []
    groups: list[str] = []
    for ref in refs:
        kind = resource_kind(sb, ref)
        if kind is None:
            raise bad(f"The referenced resource [{ref}] does not exist.", 1012)
        (classes if kind == "class" else groups).append(ref)
    if len(classes) != 1:
        raise bad(f"A schema must reference exactly one class in allOf; found {len(classes)}: {classes}.")
    class_id = classes[0]
    if body.get("meta:class") not in (None, class_id):
        raise bad(f"'meta:class' [{body['meta:class']}] does not match the class in allOf [{class_id}].")
    for group in groups:
        _check_intended(sb, group, class_id)
    # Tolerance: a schema may share the title of the tenant ad-hoc class it is built on (the
    # provider's legacy ad-hoc operator names both alike); any other clash is XDM-1521, a second
    # schema with that title included.
    owner = title_owner(sb, body["title"], excluding=(class_id,))
    if owner is not None:
        raise bad(f"Title [{body['title']}] is not unique: the resource [{owner}] uses it.", 1521)
    hx = hex_id(32)
    tenant = state.config.tenant_id
    now = state.clock.now_ms()
    class_doc = sb.classes.get(class_id) or _standard().get(class_id) or {}
    extends = [*groups, *[e for e in class_doc.get("meta:extends", []) if e not in groups], class_id]
    schema = {
        "$id": f"https://ns.adobe.com/{tenant}/schemas/{hx}",
        "meta:altId": f"_{tenant}.schemas.{hx}",
        "meta:resourceType": "schemas",
        "version": "1.0",
        "title": body["title"],
        "type": "object",
        "description": body.get("description", ""),
        "allOf": [{"$ref": r, "type": "object", "meta:xdmType": "object"} for r in refs],
        "refs": sorted(refs),
        "imsOrg": c.org,
        "meta:extensible": False,
        "meta:abstract": False,
        "meta:extends": list(dict.fromkeys(extends)),
        "meta:xdmType": "object",
        "meta:registryMetadata": _registry_metadata(c, now),
        "meta:class": class_id,
        "meta:containerId": "tenant",
        "meta:tenantNamespace": f"_{tenant}",
        "meta:sandboxId": sb.sandbox_id,
        "meta:sandboxType": "production" if c.sandbox_name == "prod" else "development",
        "meta:fieldGroups": groups,
    }
    if class_id in sb.classes:
        schema["meta:datasetNamespace"] = sb.classes[class_id]["meta:datasetNamespace"]
    try:
        schema_paths_check = _paths_for(sb, class_id, groups)
    except KeyError as exc:
        raise bad(f"The referenced resource {exc} does not exist.", 1012) from exc
    except ValueError as exc:
        raise bad(str(exc)) from exc
    del schema_paths_check
    sb.schemas[schema["$id"]] = schema
    return JSONResponse(_public_schema(schema), status_code=201)


def _paths_for(sb: SandboxState, class_id: str, groups: list[str]) -> dict[str, dict[str, Any]]:
    """Leaf paths of a class plus field groups (standard or tenant); KeyError for unknown ids."""
    from .xdm import field_paths

    if class_id in sb.classes:
        return field_paths(
            ADHOC_CLASS,
            groups,
            sb.classes[class_id]["_tenantProperties"],
            tenant_resources=sb.fieldgroups,
            class_aliases=(class_id,),
        )
    return field_paths(class_id, groups, tenant_resources=sb.fieldgroups)


def _check_intended(sb: SandboxState, group: str, class_id: str) -> None:
    doc = _standard().get(group) or sb.fieldgroups.get(group) or {}
    intended = doc.get("meta:intendedToExtend") or []
    tenant_group = group in sb.fieldgroups
    if intended and class_id not in intended and (tenant_group or class_id not in sb.classes):
        raise bad(f"The field group [{group}] cannot be used with class [{class_id}]; it extends {intended}.")


def _public_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in public_copy(schema).items() if k != "meta:fieldGroups"}


@router.get("/tenant/schemas")
async def list_schemas(request: Request) -> dict[str, Any]:
    """List tenant schemas (``property=title==...``, orderby/start/limit, ``_page.next``)."""
    variant = parse_accept(request, lookup=False)
    items = [_public_schema(s) for s in ctx(request).sandbox.schemas.values()]
    return _links(
        sr_list(items, list(request.query_params.multi_items()), "/tenant/schemas", short=variant == "-id")
    )


@router.get("/tenant/schemas/{schema_id:path}")
async def get_schema(request: Request, schema_id: str) -> dict[str, Any]:
    """One tenant schema by altId or URL-encoded $id; ``xed-full`` expands properties."""
    variant = parse_accept(request, lookup=True)
    sb = ctx(request).sandbox
    schema = _find(sb.schemas, schema_id)
    if schema is None:
        raise sr_not_found("schema", unquote(schema_id))
    out = _public_schema(schema)
    if variant.startswith("-full"):
        out["properties"] = _nest(schema_field_paths(sb, schema["$id"]))
    return out


@router.delete("/tenant/schemas/{schema_id:path}")
async def delete_schema(request: Request, schema_id: str) -> Response:
    """Delete a tenant schema (400 while a dataset uses it)."""
    sb = ctx(request).sandbox
    schema = _find(sb.schemas, schema_id)
    if schema is None:
        raise sr_not_found("schema", unquote(schema_id))
    users = [k for k, d in sb.datasets.items() if (d.get("schemaRef") or {}).get("id") == schema["$id"]]
    if users:
        raise bad(f"The schema [{schema['$id']}] is used by dataset(s) {users}; delete them first.", 1013)
    if "union" in (schema.get("meta:immutableTags") or []):
        raise bad(
            f"The schema [{schema['$id']}] is enabled for Profile and cannot be deleted; rename it "
            "(e.g. add 'Do not use' to its title) instead.",
            1013,
        )
    del sb.schemas[schema["$id"]]
    # Emulator choice: the schema's descriptors go with it.
    for did in [k for k, d in sb.descriptors.items() if d.get("xdm:sourceSchema") == schema["$id"]]:
        del sb.descriptors[did]
    return Response(status_code=204)


# ------------------------------------------------------------------------------ global lookups
@router.get("/global/{kind}/{resource_id:path}")
async def get_global(request: Request, kind: str, resource_id: str) -> dict[str, Any]:
    """Standard classes and field groups (``/global/classes/...``, ``/global/fieldgroups/...``)."""
    parse_accept(request, lookup=True)
    rid = unquote(resource_id)
    doc = _standard().get(rid)
    if doc is None or kind not in ("classes", "fieldgroups", "mixins"):
        raise sr_not_found(kind.rstrip("s"), rid)
    return copy.deepcopy(doc)


# ------------------------------------------------------------------------------ schema evolution
#: Classes whose schemas may be enabled for Profile (the union tag).
_PROFILE_CLASSES = (
    "https://ns.adobe.com/xdm/context/profile",
    "https://ns.adobe.com/xdm/context/experienceevent",
)


def has_primary_identity(sb: SandboxState, schema_id: str) -> bool:
    """Whether a primary identity descriptor points into the schema."""
    return any(
        d.get("@type") == "xdm:descriptorIdentity"
        and d.get("xdm:sourceSchema") == schema_id
        and d.get("xdm:isPrimary") is True
        for d in sb.descriptors.values()
    )


def _union_value(value: Any) -> bool:
    """Whether a ``/meta:immutableTags`` value asks for the union tag (400 for other tags)."""
    tags = value if isinstance(value, list) else [value]
    if not tags or not all(isinstance(t, str) for t in tags) or set(tags) != {"union"}:
        raise bad(f"Invalid meta:immutableTags value {value!r}: the only supported tag is ['union'].")
    return True


def _check_union_allowed(sb: SandboxState, schema: dict[str, Any], groups: list[str]) -> None:
    from .xdm import IDENTITY_MAP_ID

    if schema["meta:class"] not in _PROFILE_CLASSES:
        # Emulator choice: ad-hoc (tenant) classes are not meant for Profile; AEP's code is unknown.
        raise bad(
            f"The schema's class [{schema['meta:class']}] cannot be enabled for Profile; use a schema of "
            f"the XDM Individual Profile or XDM ExperienceEvent class.",
            1528,
        )
    if not has_primary_identity(sb, schema["$id"]) and IDENTITY_MAP_ID not in groups:
        raise xdm_error(
            400,
            1528,
            f"The schema [{schema['$id']}] cannot be enabled for Profile: it has no primary identity. "
            "Create an xdm:descriptorIdentity descriptor with xdm:isPrimary true on one of its fields "
            "(POST /tenant/descriptors), or add the IdentityMap field group, then retry.",
            "Missing primary identity",
        )


@router.patch("/tenant/schemas/{schema_id:path}")
async def patch_schema(request: Request, schema_id: str) -> dict[str, Any]:
    """Additive schema changes only: add a field group (``/meta:extends/-`` + ``/allOf/-``), change
    title/description, enable Profile (``add /meta:immutableTags ["union"]``). Removing, replacing
    or moving anything is a breaking change AEP refuses; the union tag cannot be removed."""
    from .routes_fieldgroups import is_union, merge_conflict

    c = ctx(request)
    sb = c.sandbox
    schema = _find(sb.schemas, schema_id)
    if schema is None:
        raise sr_not_found("schema", unquote(schema_id))
    ops = await read_json(request, "schemaregistry", expect=list)
    if not isinstance(ops, list) or not ops:
        raise bad("The request body must be a non-empty JSON Patch array.")
    groups = list(schema.get("meta:fieldGroups") or [])
    refs = [e["$ref"] for e in schema.get("allOf") or []]
    extends = list(schema.get("meta:extends") or [])
    updates: dict[str, Any] = {}
    class_id = schema["meta:class"]
    was_union = is_union(schema)
    union = was_union
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise bad("Every patch operation needs 'op' and 'path'.")
        name, path, value = str(op.get("op", "")).lower(), op["path"], op.get("value")
        if path in ("/meta:immutableTags", "/meta:immutableTags/-", "/meta:immutableTags/0"):
            if name == "remove" or (name in ("add", "replace") and was_union and value in ([], None)):
                raise bad(
                    "meta:immutableTags cannot be removed: a schema enabled for Profile stays enabled "
                    "(rename it, e.g. with 'Do not use', instead).",
                    1017,
                )
            if name not in ("add", "replace"):
                raise bad(f"Unsupported patch op [{op.get('op')}] on [{path}].")
            union = _union_value(value)
        elif name == "add" and path == "/meta:extends/-" and isinstance(value, str):
            if value not in extends:
                extends.insert(len(extends) - 1, value)
        elif name == "add" and path == "/allOf/-" and isinstance(value, dict) and "$ref" in value:
            ref = str(value["$ref"])
            kind = resource_kind(sb, ref)
            if kind is None:
                raise bad(f"The referenced resource [{ref}] does not exist.", 1012)
            if kind == "class":
                raise bad("A schema's class cannot be changed or added (breaking change).", 1017)
            _check_intended(sb, ref, class_id)
            if ref not in refs:
                refs.append(ref)
                groups.append(ref)
        elif name in ("add", "replace") and path in ("/title", "/description") and isinstance(value, str):
            updates[path[1:]] = value
        else:
            raise bad(
                f"Breaking change refused: [{op.get('op')} {path}]. Only additive changes (new field "
                "groups, title, description, the union tag) are allowed once a schema is in use.",
                1017,
            )
    if set(refs) - {class_id} != set(groups) or any(g not in extends for g in groups):
        raise bad("Add a field group with both /meta:extends/- and /allOf/- operations.")
    try:
        paths = _paths_for(sb, class_id, groups)
    except KeyError as exc:
        raise bad(f"The referenced resource {exc} does not exist.", 1012) from exc
    except ValueError as exc:
        raise bad(str(exc)) from exc
    if "title" in updates:
        owner = title_owner(sb, updates["title"])
        if owner is not None and owner != schema["$id"]:
            raise bad(f"Title [{updates['title']}] is not unique: the resource [{owner}] uses it.", 1521)
    if union and not was_union:
        _check_union_allowed(sb, schema, groups)
    if union:
        conflict = merge_conflict(sb, schema, paths)
        if conflict is not None:
            raise conflict
    schema.update(updates)
    schema["allOf"] = [{"$ref": r, "type": "object", "meta:xdmType": "object"} for r in refs]
    schema["refs"] = sorted(refs)
    schema["meta:extends"] = extends
    schema["meta:fieldGroups"] = groups
    if union:
        schema["meta:immutableTags"] = ["union"]
    major, _, minor = str(schema.get("version", "1.0")).partition(".")
    schema["version"] = f"{major}.{int(minor or 0) + 1}"
    schema.setdefault("meta:registryMetadata", {})["repo:lastModifiedDate"] = emu(request).clock.now_ms()
    return _public_schema(schema)
