"""Robustness of the Profile-ready routes (issue 18): every field of a valid body replaced by each
wrongly typed value, and each raw malformed body, gets a 4xx in the service's error shape (never a
5xx, never the generic guard), and nothing stored breaks a later read."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from emu_helpers import CAT, PROFILE, SR, XED_FULL, Api
from test_robustness import RAW_BODIES, WRONG_VALUES, _send, _unhandled, assert_aep_error, leaves, replaced

NS = "_emulatortenant"
IDN = "/data/core/idnamespace/identities"


def _fg(title: str) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "description": "d",
        "meta:intendedToExtend": [PROFILE],
        "definitions": {
            "f": {
                "properties": {
                    NS: {
                        "type": "object",
                        "properties": {
                            "Id": {"type": "string", "title": "Id"},
                            "N": {"type": "integer", "minimum": 0, "maximum": 9},
                            "L": {"type": "array", "items": {"type": "string"}},
                        },
                    }
                }
            }
        },
        "allOf": [{"$ref": "#/definitions/f"}],
    }


def _world(api: Api) -> dict[str, Any]:
    fg = api.post(f"{SR}/tenant/fieldgroups", _fg("Base fields")).json()
    body = {"type": "object", "title": "Base", "allOf": [{"$ref": PROFILE}, {"$ref": fg["$id"]}]}
    schema = api.post(f"{SR}/tenant/schemas", body).json()
    descriptor = {
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": schema["$id"],
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": f"/{NS}/Id",
        "xdm:namespace": "Email",
        "xdm:property": "xdm:code",
        "xdm:isPrimary": True,
    }
    d = api.post(f"{SR}/tenant/descriptors", descriptor).json()
    return {"fg": fg, "schema": schema, "descriptor": descriptor, "descriptor_id": d["@id"]}


def _routes(w: dict[str, Any]) -> list[tuple[str, str, Any]]:
    fg_alt, schema_enc = w["fg"]["meta:altId"], quote(w["schema"]["$id"], safe="")
    add_field = [
        {"op": "add", "path": f"/definitions/f/properties/{NS}/properties/X", "value": {"type": "string"}}
    ]
    secondary = {**w["descriptor"], "xdm:isPrimary": False}
    union = [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}]
    on = ["enabled:true"]
    dataset = {
        "name": "p",
        "schemaRef": {"id": w["schema"]["$id"], "contentType": XED_FULL},
        "tags": {"unifiedProfile": on, "unifiedIdentity": on},
    }
    return [
        ("POST", f"{SR}/tenant/fieldgroups", _fg("Other fields")),
        ("PUT", f"{SR}/tenant/fieldgroups/{fg_alt}", _fg("Base fields")),
        ("PATCH", f"{SR}/tenant/fieldgroups/{fg_alt}", add_field),
        ("POST", f"{SR}/tenant/descriptors", secondary),
        ("PUT", f"{SR}/tenant/descriptors/{w['descriptor_id']}", w["descriptor"]),
        ("POST", IDN, {"name": "n", "code": "Custom1", "idType": "CROSS_DEVICE", "description": "d"}),
        ("PATCH", f"{SR}/tenant/schemas/{schema_enc}", union),
        ("POST", f"{CAT}/dataSets", dataset),
    ]


def _state_ok(api: Api, what: str) -> None:
    for sb in api.emu.state.sandboxes.values():
        stores = (sb.schemas, sb.fieldgroups, sb.descriptors, sb.namespaces, sb.datasets)
        json.dumps(stores, allow_nan=False, ensure_ascii=False).encode("utf-8")
    xed_id = {"Accept": "application/vnd.adobe.xed-id+json"}
    for path, headers in (
        (f"{SR}/tenant/fieldgroups", xed_id),
        (f"{SR}/tenant/schemas", xed_id),
        (f"{SR}/tenant/descriptors", {"Accept": "application/vnd.adobe.xdm+json"}),
        (f"{SR}/stats", {}),
        (IDN, {}),
        (f"{CAT}/dataSets", {}),
    ):
        r = api.get(path, headers=headers)
        assert r.status_code == 200, f"after {what}: GET {path} -> {r.status_code} {r.text[:200]}"
    for schema in next(iter(api.emu.state.sandboxes.values())).schemas.values():
        r = api.get(f"{SR}/tenant/schemas/{quote(schema['$id'], safe='')}", headers={"Accept": XED_FULL})
        assert r.status_code == 200, f"after {what}: {r.text[:200]}"


def test_profile_ready_write_routes_refuse_malformed_bodies(api: Api) -> None:
    with api.client:
        w = _world(api)
        sent = 0
        for method, path, valid in _routes(w):
            r = _send(api, method, path, {}, body=valid)
            assert r.status_code < 300, f"valid body of {method} {path}: {r.status_code} {r.text[:300]}"
            for bad in [replaced(valid, p, v) for p in leaves(valid) for v in WRONG_VALUES]:
                r = _send(api, method, path, {}, body=bad)
                assert_aep_error(r, path, f"{method} {path} {json.dumps(bad)[:200]}")
                sent += 1
            for raw in RAW_BODIES:
                r = _send(api, method, path, {}, raw=raw)
                assert r.status_code == 400, f"{method} {path} {raw[:60]!r}: {r.status_code}"
                assert_aep_error(r, path, f"{method} {path} {raw[:60]!r}")
                sent += 1
            _state_ok(api, f"the malformed bodies of {method} {path}")
        assert sent > 500
        assert _unhandled(api) == []
