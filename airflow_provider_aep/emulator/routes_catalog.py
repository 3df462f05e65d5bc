"""Catalog: ``/dataSets`` create/list/get/patch/delete."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .errors import catalog_error
from .listing import catalog_list
from .state import hex_id
from .validation import check_patched, ctx, emu, read_json

router = APIRouter()
BASE = "/data/foundation/catalog"


_BEHAVIOURS = (
    ("https://ns.adobe.com/xdm/data/time-series", "time-series"),
    ("https://ns.adobe.com/xdm/data/record", "record"),
    ("https://ns.adobe.com/xdm/data/adhoc", "adhoc"),
)


def data_behavior(schema: dict[str, Any]) -> str:
    """``classification.dataBehavior`` of a dataset: the XDM behaviour of its schema's class."""
    extends = set(schema.get("meta:extends") or []) | {schema.get("meta:class")}
    return next((name for uri, name in _BEHAVIOURS if uri in extends), "record")


def _tag_flags(tags: dict[str, Any], name: str) -> tuple[bool, bool]:
    """(enabled, upsert) of a Profile/Identity tag; ``"enabled: true"`` (with a space, as one of
    Adobe's samples writes it) counts as ``"enabled:true"``."""
    values = {str(v).replace(" ", "").lower() for v in tags.get(name) or []}
    return "enabled:true" in values, "isupsert:true" in values


def check_profile_tags(schema: dict[str, Any], old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    """Rules for the ``unifiedProfile`` / ``unifiedIdentity`` tags of a dataset (create or update).

    * Enabling Profile needs a union-enabled schema: 400 "To enable profile datasets the schema
      should be valid" (an older guide's answer; newer docs only say the dataset does not show as
      Profile-enabled in the UI; emulator choice: refuse).
    * Turning upsert on or off on a dataset that is already enabled needs the documented dance:
      first replace both tags with ``["enabled:false"]``, then add them again (emulator choice: 400
      otherwise, since AEP documents the dance but not the error).
    """
    for name in ("unifiedProfile", "unifiedIdentity"):
        value = new.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise catalog_error(400, 1000, f"'tags.{name}' must be a list of strings, e.g. ['enabled:true'].")
    enabled, upsert = _tag_flags(new, "unifiedProfile")
    if enabled and "union" not in (schema.get("meta:immutableTags") or []):
        raise catalog_error(
            400,
            1000,
            "To enable profile datasets the schema should be valid: the schema "
            f"[{schema.get('$id')}] is not enabled for Profile. PATCH it with "
            '[{"op":"add","path":"/meta:immutableTags","value":["union"]}] first.',
        )
    if old is not None and enabled:
        was_enabled, was_upsert = _tag_flags(old, "unifiedProfile")
        if was_enabled and was_upsert != upsert:
            raise catalog_error(
                400,
                1000,
                "The dataset is already enabled for Profile: to change isUpsert, first replace "
                'tags/unifiedProfile and tags/unifiedIdentity with ["enabled:false"], then add them again.',
            )


def _not_found(dataset_id: str) -> Any:
    return catalog_error(404, 1004, f"Requested object [{dataset_id}] not found.")


@router.post("/dataSets")
async def create_dataset(request: Request) -> JSONResponse:
    """Create a dataset; ``schemaRef.id`` must name an existing schema. 201 ``["@/dataSets/<id>"]``."""
    c, state = ctx(request), emu(request)
    body = await read_json(request, "catalog")
    ref = body.get("schemaRef")
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
        raise catalog_error(400, 1000, "'schemaRef.id' is required: the $id of the dataset's XDM schema.")
    if ref["id"] not in c.sandbox.schemas:
        raise catalog_error(400, 1001, f"The schema [{ref['id']}] referenced by schemaRef.id does not exist.")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise catalog_error(400, 1000, "'name' must be a non-empty string.")
    tags = body.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, list) for v in tags.values()):
        raise catalog_error(400, 1000, "'tags' must map tag names to lists of strings.")
    check_profile_tags(c.sandbox.schemas[ref["id"]], None, tags)
    dataset_id = hex_id(24)
    now = state.clock.now_ms()
    obj = {
        "name": name or dataset_id,
        "description": body.get("description", ""),
        "imsOrg": c.org,
        "sandboxId": c.sandbox.sandbox_id,
        "tags": copy.deepcopy(tags),
        "version": "1.0.0",
        "created": now,
        "updated": now,
        "createdClient": c.client_id,
        "createdUser": c.user,
        "updatedUser": c.user,
        "schemaRef": {
            "id": ref["id"],
            "contentType": ref.get("contentType", "application/vnd.adobe.xed+json;version=1"),
        },
        "files": f"@/dataSetFiles?dataSetId={dataset_id}",
        "viewId": hex_id(24),
        "enableErrorDiagnostics": bool(body.get("enableErrorDiagnostics", False)),
        "classification": {
            "dataBehavior": data_behavior(c.sandbox.schemas[ref["id"]]),
            "managedBy": "CUSTOMER",
        },
    }
    if "fileDescription" in body:
        obj["fileDescription"] = copy.deepcopy(body["fileDescription"])
    c.sandbox.datasets[dataset_id] = obj
    state.records.setdefault(dataset_id, [])
    return JSONResponse(
        [f"@/dataSets/{dataset_id}"], status_code=201, headers={"Location": f"{BASE}/dataSets/{dataset_id}"}
    )


@router.get("/dataSets")
async def list_datasets(request: Request) -> dict[str, Any]:
    """List datasets: object keyed by id (limit/start/orderBy/properties/filters)."""
    sb = ctx(request).sandbox
    return catalog_list(copy.deepcopy(sb.datasets), list(request.query_params.multi_items()))


@router.get("/dataSets/{dataset_id}")
async def get_dataset(request: Request, dataset_id: str) -> dict[str, Any]:
    """One dataset as ``{<id>: obj}``."""
    sb = ctx(request).sandbox
    obj = sb.datasets.get(dataset_id)
    if obj is None:
        raise _not_found(dataset_id)
    projection = request.query_params.get("properties")
    out = copy.deepcopy(obj)
    if projection:
        keep = {p.strip() for p in projection.split(",")}
        out = {k: v for k, v in out.items() if k in keep}
    return {dataset_id: out}


@router.patch("/dataSets/{dataset_id}")
async def patch_dataset(request: Request, dataset_id: str) -> list[str]:
    """Update a dataset (merge object, or JSON Patch with application/json-patch+json)."""
    c, state = ctx(request), emu(request)
    obj = c.sandbox.datasets.get(dataset_id)
    if obj is None:
        raise _not_found(dataset_id)
    body = await read_json(request, "catalog", expect=(dict, list))
    if isinstance(body, list):
        from .routes_flowservice import apply_patch

        try:
            patched = apply_patch(obj, body)
        except Exception as exc:
            raise catalog_error(400, 1000, "Invalid JSON Patch body.") from exc
    else:
        patched = {**obj, **body}
    check_patched(request, "catalog", patched)
    for key in ("schemaRef", "imsOrg", "sandboxId", "created", "classification"):
        if patched.get(key) != obj.get(key):
            raise catalog_error(400, 1000, f"The field [{key}] cannot be changed.")
    tags = patched.get("tags") or {}
    if not isinstance(tags, dict):
        raise catalog_error(400, 1000, "'tags' must map tag names to lists of strings.")
    schema = c.sandbox.schemas.get(str((obj.get("schemaRef") or {}).get("id")))
    if schema is not None:
        check_profile_tags(schema, obj.get("tags") or {}, tags)
    obj.clear()
    obj.update(patched)
    obj["updated"] = state.clock.now_ms()
    obj["updatedUser"] = c.user
    return [f"@/dataSets/{dataset_id}"]


@router.delete("/dataSets/{dataset_id}")
async def delete_dataset(request: Request, dataset_id: str) -> list[str]:
    """Delete a dataset: 200 ``["@/dataSets/<id>"]``."""
    sb = ctx(request).sandbox
    if dataset_id not in sb.datasets:
        raise _not_found(dataset_id)
    del sb.datasets[dataset_id]
    return [f"@/dataSets/{dataset_id}"]
