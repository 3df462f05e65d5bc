"""Identity Service: identity namespaces (``GET /data/core/idnamespace/identities``).

AEP serves this API from region hosts (``platform-va7.adobe.io``, ``platform-nld2.adobe.io``); the
emulator answers it on its one host. The standard namespaces below carry the documented fields
``{id, code, name, description, idType, status, custom, createTime, updateTime}``. Their numeric
ids follow the values Adobe's samples show (Email 6, Phone 7, ECID 4...); ``CRMID`` is not an
Adobe-defined namespace in every org, so its id here is an emulator choice.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from .errors import service_error
from .state import SandboxState
from .validation import ctx, emu, read_json

router = APIRouter()

_CREATED = 1_546_300_800_000  # 2019-01-01, fixed so that answers are deterministic


def _ns(nid: int, code: str, name: str, id_type: str, description: str) -> dict[str, Any]:
    return {
        "id": nid,
        "code": code,
        "name": name,
        "description": description,
        "idType": id_type,
        "status": "ACTIVE",
        "custom": False,
        "createTime": _CREATED,
        "updateTime": _CREATED,
    }


STANDARD_NAMESPACES: list[dict[str, Any]] = [
    _ns(411, "AdCloud", "AdCloud", "COOKIE", "Adobe AdCloud - ID Syncing Partner"),
    _ns(10, "AAID", "Adobe Analytics (Legacy ID)", "COOKIE", "Adobe Analytics (Legacy ID)"),
    _ns(9, "TNTID", "Adobe Target", "COOKIE", "Adobe Target (TNTID)"),
    _ns(20914, "GAID", "Google Ad ID (GAID)", "DEVICE", "Google Advertising ID"),
    _ns(20915, "IDFA", "Apple IDFA (ID for Advertisers)", "DEVICE", "Apple ID for Advertisers"),
    _ns(4, "ECID", "ECID", "COOKIE", "Adobe Experience Cloud ID"),
    _ns(6, "Email", "Email", "EMAIL", "Email address"),
    _ns(11, "Email_LC_SHA256", "Emails (SHA256, lowercased)", "EMAIL", "SHA256 of a lowercased email"),
    _ns(7, "Phone", "Phone", "PHONE", "Phone number"),
    _ns(16, "Phone_SHA256", "Phone (SHA256)", "PHONE", "SHA256 of a phone number"),
    _ns(20919, "CRMID", "CRM ID", "CROSS_DEVICE", "Person identifier of a CRM system"),
]


#: ``idType`` values of the Identity Service.
ID_TYPES = ("COOKIE", "CROSS_DEVICE", "DEVICE", "EMAIL", "MOBILE", "NON_PEOPLE", "PHONE")
_CODE_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _all(sb: SandboxState | None) -> list[dict[str, Any]]:
    return [*STANDARD_NAMESPACES, *((sb.namespaces.values()) if sb is not None else [])]


def find_namespace(
    value: Any, *, by_id: bool = False, sb: SandboxState | None = None
) -> dict[str, Any] | None:
    """A standard (or the sandbox's custom) namespace by ``code`` (exact) or, with ``by_id``, by
    numeric ``id``."""
    for ns in _all(sb):
        if by_id:
            if str(ns["id"]) == str(value):
                return ns
        elif ns["code"] == value:
            return ns
    return None


def _bad(detail: str) -> Any:
    return service_error("IDN", 400, 1000, detail)


@router.get("/idnamespace/identities")
async def list_namespaces(request: Request) -> list[dict[str, Any]]:
    """Every identity namespace visible in the sandbox: the standard ones and its custom ones."""
    return [dict(ns) for ns in _all(ctx(request).sandbox)]


@router.post("/idnamespace/identities")
async def create_namespace(request: Request) -> dict[str, Any]:
    """Create a custom namespace ``{name, code, idType, description?}``: 200 with it (``custom``
    true). Emulator choices: a code already used (case-insensitively) is a 400."""
    c = ctx(request)
    body = await read_json(request, "identity")
    if not isinstance(body, dict):
        raise _bad("The body must be an object {name, code, idType, description?}.")
    name, code, id_type = body.get("name"), body.get("code"), body.get("idType")
    if not isinstance(name, str) or not name.strip():
        raise _bad("'name' is required.")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise _bad("'code' is required: 1-64 letters, digits or '_'.")
    if id_type not in ID_TYPES:
        raise _bad(f"'idType' must be one of {list(ID_TYPES)}.")
    if any(ns["code"].lower() == code.lower() for ns in _all(c.sandbox)):
        raise _bad(f"An identity namespace with code [{code}] already exists.")
    now = emu(request).clock.now_ms()
    ns = {
        "id": 1_000_000 + len(c.sandbox.namespaces) + 1,
        "code": code,
        "name": name,
        "description": str(body.get("description") or ""),
        "idType": id_type,
        "status": "ACTIVE",
        "custom": True,
        "createTime": now,
        "updateTime": now,
    }
    c.sandbox.namespaces[code] = ns
    return dict(ns)


@router.get("/idnamespace/identities/{namespace_id}")
async def get_namespace(request: Request, namespace_id: str) -> dict[str, Any]:
    """One namespace by numeric id."""
    ns = find_namespace(namespace_id, by_id=True, sb=ctx(request).sandbox)
    if ns is None:
        raise service_error("IDN", 404, 1012, f"The identity namespace [{namespace_id}] was not found.")
    return dict(ns)
