"""Schema Registry: the tenant id (``/stats``) and tenant field groups (``/tenant/fieldgroups``).

A tenant field group holds custom fields under the tenant namespace ``_{TENANT_ID}``; its ``$id``
is ``https://ns.adobe.com/{TENANT_ID}/mixins/<hex>`` and its ``meta:resourceType`` is ``mixins``
(the deprecated name of field groups). Once a schema that includes a field group is in use (a
dataset references it, or it is enabled for Profile), the group's fields can be added to but not
removed, renamed or retyped; with Profile-enabled schemas the merged (union) view of every schema
of a class must not give one path two types (``XDM-1413-400``).
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .errors import APIError, xdm_error
from .listing import sr_list
from .routes_schemaregistry import (
    _find,
    _links,
    _nest,
    _public,
    _registry_metadata,
    bad,
    parse_accept,
    sr_not_found,
    title_owner,
)
from .state import SandboxState, hex_id
from .validation import ctx, emu, read_json

router = APIRouter()

#: Field names the emulator accepts in custom field groups: letters, digits and underscores.
#: Emulator choice: AEP's UI only offers these characters (a ``.`` would be read as a path
#: separator, ``-``/spaces/``$``/``(``... are refused); the exact API rule is not documented.
FIELD_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_JSON_TYPES = {"string", "number", "integer", "boolean", "object", "array"}
#: Top-level keys a patch or a PUT may not change.
_READ_ONLY = {
    "$id",
    "meta:altId",
    "meta:resourceType",
    "meta:containerId",
    "meta:tenantNamespace",
    "meta:registryMetadata",
    "meta:sandboxId",
    "meta:sandboxType",
    "imsOrg",
    "version",
    "refs",
}
#: Code the emulator uses when it refuses a breaking change to a resource in use. AEP documents no
#: code for it (**Unconfirmed**, aep-api-day2.md §1.5); emulator choice, the same as schema PATCH.
BREAKING_CHANGE_CODE = 1017


def tenant_namespace(request: Request) -> str:
    """``_{TENANT_ID}`` of the emulator's configured tenant."""
    return f"_{emu(request).config.tenant_id}"


# --------------------------------------------------------------------------------------- stats
@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Tenant id and usage counts of the Schema Registry (``GET /stats``)."""
    from .xdm import STANDARD_RESOURCES

    c, state = ctx(request), emu(request)
    sb = c.sandbox
    standard = list(STANDARD_RESOURCES.values())
    tenant_resources = [*sb.schemas.values(), *sb.fieldgroups.values(), *sb.classes.values()]

    def summary(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: doc.get(k) for k in ("$id", "meta:altId", "version", "title")}

    def stamp(doc: dict[str, Any], key: str) -> int:
        return int((doc.get("meta:registryMetadata") or {}).get(key) or 0)

    created = sorted(tenant_resources, key=lambda d: stamp(d, "repo:createdDate"), reverse=True)
    updated = sorted(tenant_resources, key=lambda d: stamp(d, "repo:lastModifiedDate"), reverse=True)
    # classUsage follows the getting-started guide's sample (an object keyed by class $id); the
    # spec's statsResponse describes an array of {$id, title, numberOfSchemas, schemas}.
    usage: dict[str, list[dict[str, Any]]] = {}
    for schema in sb.schemas.values():
        usage.setdefault(schema["meta:class"], []).append(
            {k: schema.get(k) for k in ("$id", "title", "description")}
        )
    union_classes = {s["meta:class"] for s in sb.schemas.values() if is_union(s)}
    return {
        "imsOrg": c.org,
        "tenantId": state.config.tenant_id,
        "counts": {
            "schemas": len(sb.schemas),
            "mixins": len(sb.fieldgroups)
            + sum(1 for d in standard if d.get("meta:resourceType") == "mixins"),
            "datatypes": 0,
            "classes": len(sb.classes) + sum(1 for d in standard if d.get("meta:resourceType") == "classes"),
            "unions": len(union_classes),
        },
        "recentlyCreatedResources": [summary(d) for d in created[:10]],
        "recentlyUpdatedResources": [summary(d) for d in updated[:10]],
        "classUsage": usage,
    }


# ------------------------------------------------------------------------------ shared rules
def is_union(schema: dict[str, Any]) -> bool:
    """Whether a schema carries the ``union`` immutable tag (enabled for Profile)."""
    return "union" in (schema.get("meta:immutableTags") or [])


def schema_locked(sb: SandboxState, schema: dict[str, Any]) -> bool:
    """Whether the evolution rules apply: a dataset references the schema or it is Profile-enabled.

    Of the two documented versions (aep-api-day2.md §1.5) the emulator uses the troubleshooting
    guide's: the rules start as soon as a dataset is created from the schema.
    """
    if is_union(schema):
        return True
    return any((d.get("schemaRef") or {}).get("id") == schema["$id"] for d in sb.datasets.values())


def _type_key(info: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two fields the same XDM type: JSON type, format, range (int vs long vs short:
    the XDM integer types differ by their bounds), map-ness and the type of array items."""
    items = info.get("items") or {}
    return (
        info.get("type"),
        info.get("format"),
        info.get("minimum"),
        info.get("maximum"),
        info.get("meta:xdmType"),
        items.get("type"),
    )


def _describe(info: dict[str, Any]) -> str:
    text = str(info.get("type")) + (f" ({info['format']})" if info.get("format") else "")
    if "minimum" in info or "maximum" in info:
        text += f" [{info.get('minimum', '')}..{info.get('maximum', '')}]"
    return text


def merge_conflict(
    sb: SandboxState, schema: dict[str, Any], paths: dict[str, dict[str, Any]]
) -> APIError | None:
    """``XDM-1413-400`` when ``paths`` (the would-be fields of ``schema``) give a path another type
    than a Profile-enabled schema of the same class does; ``None`` when they merge."""
    from .routes_schemaregistry import schema_field_paths

    for other in sb.schemas.values():
        if other["$id"] == schema["$id"] or not is_union(other):
            continue
        if other.get("meta:class") != schema.get("meta:class"):
            continue
        try:
            theirs = schema_field_paths(sb, other["$id"])
        except (KeyError, ValueError):
            continue
        for path in sorted(set(paths) & set(theirs)):
            if _type_key(paths[path]) != _type_key(theirs[path]):
                detail = (
                    f"Merge Schema Error: the field [{path}] is {_describe(paths[path])} here but "
                    f"{_describe(theirs[path])} in the Profile-enabled schema [{other['$id']}] of the "
                    f"same class [{schema.get('meta:class')}]. Fields of one class must have one type "
                    "across all Profile-enabled schemas; rename or retype the field."
                )
                return xdm_error(400, 1413, detail, "Merge Schema Error")
    return None


def evolution_problems(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[str]:
    """Breaking changes between two ``{path: type info}`` views: removed (or renamed) and retyped
    fields. Added fields and now-optional fields are allowed."""
    problems = [f"[{p}] removed or renamed" for p in sorted(set(old) - set(new))]
    problems += [
        f"[{p}] changed from {_describe(old[p])} to {_describe(new[p])}"
        for p in sorted(set(old) & set(new))
        if _type_key(old[p]) != _type_key(new[p])
    ]
    return problems


def breaking_change(what: str, problems: list[str], users: list[str]) -> APIError:
    """The emulator's 400 for a refused breaking change (see :data:`BREAKING_CHANGE_CODE`)."""
    return bad(
        f"Breaking change refused: {what} is used by schema(s) {users} that a dataset references or "
        f"that are enabled for Profile; fields can be added but not removed, renamed or retyped: "
        f"{'; '.join(problems[:10])}.",
        BREAKING_CHANGE_CODE,
    )


# ------------------------------------------------------------------------------- validation
def _check_fields(props: Any, where: str) -> None:
    if not isinstance(props, dict):
        raise bad(f"[{where}.properties] must be an object of field definitions.")
    for name, field in props.items():
        path = f"{where}.{name}"
        if not FIELD_NAME_RE.match(str(name)):
            raise bad(
                f"Invalid field name [{name}] at [{path}]: field names may contain only letters, "
                "digits and underscores.",
                1001,
            )
        if not isinstance(field, dict):
            raise bad(f"The field [{path}] must be an object with a 'type'.")
        if "$ref" in field:
            raise bad(f"The field [{path}] uses $ref; the emulator supports inline field definitions only.")
        kind = field.get("type")
        if not isinstance(kind, str) or kind not in _JSON_TYPES:
            raise bad(f"The field [{path}] needs a valid 'type' (one of {sorted(_JSON_TYPES)}).")
        if kind == "object":
            if "properties" in field:
                _check_fields(field["properties"], path)
        elif kind == "array":
            items = field.get("items")
            if not isinstance(items, dict) or str(items.get("type")) not in _JSON_TYPES:
                raise bad(f"The array field [{path}] needs 'items' with a valid 'type'.")
            if items.get("type") == "object" and "properties" in items:
                _check_fields(items["properties"], path + "[]")
        for bound in ("minimum", "maximum"):
            if bound in field and (
                not isinstance(field[bound], (int, float)) or isinstance(field[bound], bool)
            ):
                raise bad(f"[{path}.{bound}] must be a number.")


def validate_fieldgroup(request: Request, body: Any) -> dict[str, Any]:
    """Check a create/replace body; returns the parts the emulator stores. Raises 400s."""
    from .xdm import STANDARD_RESOURCES

    sb = ctx(request).sandbox
    ns = tenant_namespace(request)
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.")
    if body.get("type") != "object":
        raise bad("'type' is required and must be 'object'.")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad("'title' is required.")
    intended = body.get("meta:intendedToExtend")
    if not isinstance(intended, list) or not intended or not all(isinstance(i, str) for i in intended):
        raise bad("'meta:intendedToExtend' is required: a list of the $id of the classes the group extends.")
    for class_id in intended:
        doc = STANDARD_RESOURCES.get(class_id)
        if class_id not in sb.classes and (doc is None or doc.get("meta:resourceType") != "classes"):
            raise bad(f"The class [{class_id}] in 'meta:intendedToExtend' does not exist.", 1012)
    definitions = body.get("definitions")
    if not isinstance(definitions, dict) or not definitions:
        raise bad("'definitions' is required: {<name>: {properties: {" + ns + ": {...}}}}.")
    for key, definition in definitions.items():
        if not isinstance(definition, dict) or not isinstance(definition.get("properties"), dict):
            raise bad(f"[definitions.{key}] must be an object with 'properties'.")
        for top, field in definition["properties"].items():
            if top != ns:
                # XDM-1020..1024-400: custom fields not nested under _{TENANT_ID}. Which of the five
                # codes goes with which resource is not documented; the emulator uses 1020.
                raise xdm_error(
                    400,
                    1020,
                    f"The field [{top}] in [definitions.{key}] is not under the tenant namespace; custom "
                    f"fields must be nested under [{ns}] (definitions.{key}.properties.{ns}.properties).",
                    "Invalid namespace",
                )
            if not isinstance(field, dict) or field.get("type", "object") != "object":
                raise bad(f"[definitions.{key}.properties.{ns}] must be {{type: object, properties}}.")
            _check_fields(field.get("properties") or {}, ns)
    all_of = body.get("allOf")
    if all_of is None:
        all_of = [{"$ref": f"#/definitions/{key}"} for key in definitions]
    if not isinstance(all_of, list):
        raise bad("'allOf' must be a list of {$ref: '#/definitions/<name>'}.")
    for entry in all_of:
        ref = entry.get("$ref") if isinstance(entry, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/definitions/"):
            raise bad("Every allOf entry must be {$ref: '#/definitions/<name>'} (references to other "
                      "resources are not supported by the emulator).")  # fmt: skip
        if ref.removeprefix("#/definitions/") not in definitions:
            raise bad(f"allOf references [{ref}], which is not in 'definitions'.")
    return {
        "title": title,
        "description": body.get("description", ""),
        "type": "object",
        "meta:intendedToExtend": list(dict.fromkeys(intended)),
        "definitions": copy.deepcopy(definitions),
        "allOf": [{"$ref": e["$ref"], "type": "object", "meta:xdmType": "object"} for e in all_of],
    }


def group_paths(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{dotted path: type info}`` of one field group's own fields."""
    from .xdm import _resource_properties, _walk

    out: dict[str, dict[str, Any]] = {}
    for props in _resource_properties(doc):
        out.update(_walk(props, ""))
    return out


def _check_title(sb: SandboxState, title: str, own_id: str | None) -> None:
    owner = title_owner(sb, title)
    if owner is not None and owner != own_id:
        raise bad(f"Title [{title}] is not unique: the resource [{owner}] already uses it.", 1521)


def _users(sb: SandboxState, fg_id: str) -> list[dict[str, Any]]:
    return [s for s in sb.schemas.values() if fg_id in (s.get("meta:fieldGroups") or [])]


def _check_change(sb: SandboxState, current: dict[str, Any], new: dict[str, Any]) -> None:
    """Evolution and merge rules for replacing ``current`` by ``new`` (same ``$id``)."""
    from .routes_schemaregistry import schema_field_paths

    users = _users(sb, current["$id"])
    locked = [s["$id"] for s in users if schema_locked(sb, s)]
    if locked:
        problems = evolution_problems(group_paths(current), group_paths(new))
        dropped = [
            c for c in current.get("meta:intendedToExtend", []) if c not in new["meta:intendedToExtend"]
        ]
        problems += [f"class [{c}] removed from meta:intendedToExtend" for c in dropped]
        if problems:
            raise breaking_change(f"the field group [{current['$id']}]", problems, locked)
    for schema in users:
        cls = schema["meta:class"]
        if cls not in new["meta:intendedToExtend"]:
            raise bad(f"The schema [{schema['$id']}] of class [{cls}] uses this field group; keep the class "
                      "in meta:intendedToExtend.")  # fmt: skip
    sb.fieldgroups[current["$id"]] = new
    try:
        for schema in users:
            if is_union(schema):
                err = merge_conflict(sb, schema, schema_field_paths(sb, schema["$id"]))
                if err is not None:
                    raise err
    finally:
        sb.fieldgroups[current["$id"]] = current


def _bump(doc: dict[str, Any], request: Request) -> None:
    c, state = ctx(request), emu(request)
    major, _, minor = str(doc.get("version", "1.0")).partition(".")
    doc["version"] = f"{major}.{int(minor or 0) + 1}"
    meta = doc.setdefault("meta:registryMetadata", {})
    meta["repo:lastModifiedDate"] = state.clock.now_ms()
    meta["xdm:lastModifiedClientId"] = c.client_id
    meta["xdm:lastModifiedUserId"] = c.user
    meta["eTag"] = hex_id(64)


# ----------------------------------------------------------------------------------- routes
@router.post("/tenant/fieldgroups")
async def create_fieldgroup(request: Request) -> JSONResponse:
    """Create a tenant field group: 201 with ``$id`` ``https://ns.adobe.com/{TENANT}/mixins/<hex>``."""
    c, state = ctx(request), emu(request)
    sb = c.sandbox
    parts = validate_fieldgroup(request, await read_json(request, "schemaregistry"))
    _check_title(sb, parts["title"], None)
    hx = hex_id(48)
    tenant = state.config.tenant_id
    doc = {
        "$id": f"https://ns.adobe.com/{tenant}/mixins/{hx}",
        "meta:altId": f"_{tenant}.mixins.{hx}",
        "meta:resourceType": "mixins",
        "version": "1.0",
        **parts,
        "refs": [],
        "imsOrg": c.org,
        "meta:extensible": True,
        "meta:abstract": True,
        "meta:xdmType": "object",
        "meta:registryMetadata": _registry_metadata(c, state.clock.now_ms()),
        "meta:containerId": "tenant",
        "meta:tenantNamespace": f"_{tenant}",
        "meta:sandboxId": sb.sandbox_id,
        "meta:sandboxType": "production" if c.sandbox_name == "prod" else "development",
    }
    sb.fieldgroups[doc["$id"]] = doc
    return JSONResponse(_public(doc), status_code=201)


@router.get("/tenant/fieldgroups")
async def list_fieldgroups(request: Request) -> dict[str, Any]:
    """List tenant field groups (xed-id / xed Accept, ``property=``, orderby/start/limit)."""
    variant = parse_accept(request, lookup=False)
    items = [_public(o) for o in ctx(request).sandbox.fieldgroups.values()]
    query = list(request.query_params.multi_items())
    return _links(sr_list(items, query, "/tenant/fieldgroups", short=variant == "-id"))


def _get_group(request: Request, group_id: str) -> dict[str, Any]:
    doc = _find(ctx(request).sandbox.fieldgroups, group_id)
    if doc is None:
        raise sr_not_found("field group", unquote(group_id))
    return doc


@router.get("/tenant/fieldgroups/{group_id:path}")
async def get_fieldgroup(request: Request, group_id: str) -> dict[str, Any]:
    """One tenant field group by ``meta:altId`` or URL-encoded ``$id``; ``xed-full`` adds ``properties``."""
    variant = parse_accept(request, lookup=True)
    doc = _get_group(request, group_id)
    out = _public(doc)
    if variant.startswith("-full"):
        out["properties"] = _nest(group_paths(doc))
    return out


@router.put("/tenant/fieldgroups/{group_id:path}")
async def replace_fieldgroup(request: Request, group_id: str) -> dict[str, Any]:
    """Replace a tenant field group (the body needs every field a create needs); version bumped."""
    sb = ctx(request).sandbox
    current = _get_group(request, group_id)
    parts = validate_fieldgroup(request, await read_json(request, "schemaregistry"))
    _check_title(sb, parts["title"], current["$id"])
    new = {**copy.deepcopy(current), **parts}
    _check_change(sb, current, new)
    _bump(new, request)
    sb.fieldgroups[current["$id"]] = new
    return _public(new)


@router.patch("/tenant/fieldgroups/{group_id:path}")
async def patch_fieldgroup(request: Request, group_id: str) -> dict[str, Any]:
    """JSON Patch a tenant field group, e.g. add
    ``/definitions/<def>/properties/_{TENANT}/properties/<field>``; version bumped."""
    from .routes_flowservice import apply_patch

    sb = ctx(request).sandbox
    current = _get_group(request, group_id)
    ops = await read_json(request, "schemaregistry", expect=list)
    if not isinstance(ops, list) or not ops:
        raise bad("The request body must be a non-empty JSON Patch array of {op, path, value}.")
    for op in ops:
        path = op.get("path") if isinstance(op, dict) else None
        if isinstance(path, str) and path.lstrip("/").split("/", 1)[0] in _READ_ONLY:
            raise bad(f"The field [{path}] cannot be changed.")
    try:
        patched = apply_patch(current, ops)
    except APIError as exc:
        raise bad(str(exc.body.get("errorMessage") if isinstance(exc.body, dict) else exc.body)) from exc
    parts = validate_fieldgroup(request, patched)
    _check_title(sb, parts["title"], current["$id"])
    new = {**patched, **parts}
    _check_change(sb, current, new)
    _bump(new, request)
    sb.fieldgroups[current["$id"]] = new
    return _public(new)


@router.delete("/tenant/fieldgroups/{group_id:path}")
async def delete_fieldgroup(request: Request, group_id: str) -> Response:
    """Delete a tenant field group: 204; 400 while a schema includes it."""
    sb = ctx(request).sandbox
    doc = _get_group(request, group_id)
    users = [s["$id"] for s in _users(sb, doc["$id"])]
    if users:
        raise bad(f"The field group [{doc['$id']}] is used by schema(s) {users}; remove it first.", 1013)
    del sb.fieldgroups[doc["$id"]]
    return Response(status_code=204)
