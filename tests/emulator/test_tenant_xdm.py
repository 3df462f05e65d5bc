"""Emulator: tenant id, tenant field groups, descriptors, the union tag, dataset Profile tags and
identity namespaces (issue 18), against AEP's documented rules and error bodies."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote

import pytest
from emu_helpers import CAT, DP, FS, PERSON, PROFILE, SR, XED_FULL, Api

TENANT = "emulatortenant"
NS = f"_{TENANT}"
XED = "application/vnd.adobe.xed+json;version=1"
XED_ID = "application/vnd.adobe.xed-id+json"
XDM_LIST = "application/vnd.adobe.xdm+json"
EE = "https://ns.adobe.com/xdm/context/experienceevent"
INT = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
LONG = {"type": "integer", "minimum": -(2**53), "maximum": 2**53}
ACCOUNT_FIELDS = {
    "Id": {"type": "string"},
    "Name": {"type": "string"},
    "LastModifiedDate": {"type": "string", "format": "date-time"},
}


def code(resp: Any) -> str:
    """``XDM-1521-400`` etc. from an error body."""
    return str(resp.json()["type"]).rsplit("/", 1)[-1]


def fg_body(
    title: str = "Account fields", fields: dict[str, Any] | None = None, **over: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "object",
        "title": title,
        "description": "columns of the table",
        "meta:intendedToExtend": [PROFILE],
        "definitions": {
            "customFields": {
                "properties": {NS: {"type": "object", "properties": fields or dict(ACCOUNT_FIELDS)}}
            }
        },
        "allOf": [{"$ref": "#/definitions/customFields"}],
    }
    body.update(over)
    return body


def create_fg(api: Api, **kw: Any) -> dict[str, Any]:
    r = api.post(f"{SR}/tenant/fieldgroups", fg_body(**kw))
    assert r.status_code == 201, r.text
    return dict(r.json())


def create_schema(api: Api, title: str, refs: list[str]) -> dict[str, Any]:
    body = {"type": "object", "title": title, "allOf": [{"$ref": r} for r in refs]}
    r = api.post(f"{SR}/tenant/schemas", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def identity(schema_id: str, prop: str = f"/{NS}/Id", **over: Any) -> dict[str, Any]:
    body = {
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": schema_id,
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": prop,
        "xdm:namespace": "CRMID",
        "xdm:property": "xdm:code",
        "xdm:isPrimary": True,
    }
    body.update(over)
    return body


UNION = [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}]


def enable_union(api: Api, schema_id: str) -> Any:
    return api.patch(f"{SR}/tenant/schemas/{quote(schema_id, safe='')}", UNION)


def profile_schema(api: Api, title: str = "Accounts", fields: dict[str, Any] | None = None) -> str:
    """A Profile schema with a tenant field group, a primary identity on ``Id``, union-enabled."""
    fg = create_fg(api, title=f"{title} fields", fields=fields)
    schema = create_schema(api, title, [PROFILE, fg["$id"]])
    assert api.post(f"{SR}/tenant/descriptors", identity(schema["$id"])).status_code == 201
    assert enable_union(api, schema["$id"]).status_code == 200
    return str(schema["$id"])


# ------------------------------------------------------------------------------------- stats
def test_stats_gives_the_tenant_id_and_counts(api: Api) -> None:
    create_fg(api)
    body = api.get(f"{SR}/stats").json()
    assert body["tenantId"] == TENANT and body["imsOrg"]
    assert body["counts"]["schemas"] == 0 and body["counts"]["mixins"] >= 1
    assert body["recentlyCreatedResources"][0]["title"] == "Account fields"
    # the namespace of custom fields is the tenant id with a leading underscore
    api.emu.client.put("/_emulator/config", json={"tenant_id": "acme"})
    try:
        assert api.get(f"{SR}/stats").json()["tenantId"] == "acme"
        r = api.post(f"{SR}/tenant/fieldgroups", fg_body(title="Other"))
        assert code(r) == "XDM-1020-400" and "_acme" in r.json()["detail"]
        body = fg_body(
            title="Other", definitions={"d": {"properties": {"_acme": {"type": "object", "properties": {}}}}}
        )
        body["allOf"] = [{"$ref": "#/definitions/d"}]
        assert (
            api.post(f"{SR}/tenant/fieldgroups", body)
            .json()["$id"]
            .startswith("https://ns.adobe.com/acme/mixins/")
        )
    finally:
        api.emu.client.put("/_emulator/config", json={"tenant_id": TENANT})


# ------------------------------------------------------------------------------ field groups
def test_fieldgroup_create_lookup_list_and_versions(api: Api) -> None:
    fg = create_fg(api)
    hx = fg["$id"].rsplit("/", 1)[-1]
    assert re.fullmatch(rf"https://ns\.adobe\.com/{TENANT}/mixins/[0-9a-f]+", fg["$id"])
    assert fg["meta:altId"] == f"_{TENANT}.mixins.{hx}"
    assert fg["meta:resourceType"] == "mixins" and fg["version"] == "1.0"
    assert fg["meta:containerId"] == "tenant" and fg["meta:tenantNamespace"] == NS
    assert fg["meta:intendedToExtend"] == [PROFILE]
    enc = quote(fg["$id"], safe="")
    assert api.get(f"{SR}/tenant/fieldgroups/{enc}").status_code == 400  # lookup needs Accept
    one = api.get(f"{SR}/tenant/fieldgroups/{fg['meta:altId']}", headers={"Accept": XED})
    assert one.status_code == 200 and one.json()["$id"] == fg["$id"]
    full = api.get(f"{SR}/tenant/fieldgroups/{enc}", headers={"Accept": XED_FULL}).json()
    assert set(full["properties"][NS]["properties"]) == set(ACCOUNT_FIELDS)
    listing = api.get(f"{SR}/tenant/fieldgroups", headers={"Accept": XED_ID}).json()
    assert listing["results"] == [{k: fg[k] for k in ("$id", "meta:altId", "version", "title")}]
    # PATCH adds a field (documented path) and bumps the minor version
    add = [
        {
            "op": "add",
            "path": f"/definitions/customFields/properties/{NS}/properties/Industry",
            "value": {"type": "string", "title": "Industry"},
        }
    ]
    r = api.patch(f"{SR}/tenant/fieldgroups/{enc}", add)
    assert r.status_code == 200 and r.json()["version"] == "1.1", r.text
    assert "Industry" in r.json()["definitions"]["customFields"]["properties"][NS]["properties"]
    # PUT replaces it whole
    r = api.client.put(f"{SR}/tenant/fieldgroups/{enc}", json=fg_body(description="v3"), headers=api.h())
    assert r.status_code == 200 and r.json()["version"] == "1.2" and r.json()["description"] == "v3"
    assert api.delete(f"{SR}/tenant/fieldgroups/{enc}").status_code == 204
    assert code(api.get(f"{SR}/tenant/fieldgroups/{enc}", headers={"Accept": XED})) == "XDM-1012-404"


@pytest.mark.parametrize(
    ("body", "expected", "fragment"),
    [
        (fg_body(definitions={"d": {"properties": {"Id": {"type": "string"}}}}), "XDM-1020-400", NS),
        (fg_body(fields={"Owner.Name": {"type": "string"}}), "XDM-1001-400", "Owner.Name"),
        (fg_body(fields={"Amount (USD)": {"type": "number"}}), "XDM-1001-400", "letters, digits"),
        (fg_body(fields={"X": {"type": "decimal"}}), "XDM-1001-400", "valid 'type'"),
        (fg_body(**{"meta:intendedToExtend": []}), "XDM-1001-400", "intendedToExtend"),
        (fg_body(**{"meta:intendedToExtend": ["https://ns.adobe.com/x/none"]}), "XDM-1012-400", "class"),
        (fg_body(type="array"), "XDM-1001-400", "'type'"),
        (fg_body(title=""), "XDM-1001-400", "'title'"),
        (fg_body(allOf=[{"$ref": "#/definitions/missing"}]), "XDM-1001-400", "missing"),
    ],
    ids=["not-under-tenant", "dot-in-name", "space-in-name", "bad-type", "no-class", "unknown-class",
         "not-object", "no-title", "allof-unknown-def"],
)  # fmt: skip
def test_fieldgroup_validation(api: Api, body: dict[str, Any], expected: str, fragment: str) -> None:
    r = api.post(f"{SR}/tenant/fieldgroups", body)
    assert r.status_code == 400 and code(r) == expected, r.text
    assert fragment in r.json()["detail"]


@pytest.mark.parametrize("first", ["schema", "fieldgroup", "class"])
def test_titles_are_unique_across_resource_types(api: Api, first: str) -> None:
    if first == "schema":
        create_schema(api, "Shared title", [PROFILE])
    elif first == "fieldgroup":
        create_fg(api, title="Shared title")
    else:
        body = {
            "type": "object",
            "title": "Shared title",
            "description": "d",
            "allOf": [
                {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                {"properties": {"_adhoc": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            ],
        }
        assert api.post(f"{SR}/tenant/classes", body).status_code == 201
    r1 = api.post(f"{SR}/tenant/fieldgroups", fg_body(title="Shared title"))
    r2 = api.post(
        f"{SR}/tenant/schemas", {"type": "object", "title": "Shared title", "allOf": [{"$ref": PROFILE}]}
    )
    assert code(r1) == "XDM-1521-400" and code(r2) == "XDM-1521-400"


def test_fieldgroup_in_use_cannot_be_deleted_and_class_must_match(api: Api) -> None:
    fg = create_fg(api)
    schema = create_schema(api, "Accounts", [PROFILE, fg["$id"]])
    r = api.delete(f"{SR}/tenant/fieldgroups/{fg['meta:altId']}")
    assert r.status_code == 400 and schema["$id"] in r.json()["detail"]
    ee = create_fg(api, title="Event fields", **{"meta:intendedToExtend": [EE]})
    r = api.post(
        f"{SR}/tenant/schemas",
        {"type": "object", "title": "Mixed", "allOf": [{"$ref": PROFILE}, {"$ref": ee["$id"]}]},
    )
    assert r.status_code == 400 and "cannot be used with class" in r.json()["detail"]


# ------------------------------------------------------------ schemas with tenant field groups
def test_schema_includes_tenant_fieldgroup_by_create_and_by_patch(api: Api) -> None:
    fg = create_fg(api)
    schema = create_schema(api, "Accounts", [PROFILE, PERSON])
    ops = [
        {"op": "add", "path": "/meta:extends/-", "value": fg["$id"]},
        {"op": "add", "path": "/allOf/-", "value": {"$ref": fg["$id"]}},
    ]
    r = api.patch(f"{SR}/tenant/schemas/{schema['meta:altId']}", ops)
    assert r.status_code == 200 and r.json()["version"] == "1.1", r.text
    assert fg["$id"] in r.json()["meta:extends"] and {"$ref": fg["$id"]} in [
        {"$ref": e["$ref"]} for e in r.json()["allOf"]
    ]
    full = api.get(f"{SR}/tenant/schemas/{schema['meta:altId']}", headers={"Accept": XED_FULL}).json()
    assert full["properties"][NS]["properties"]["LastModifiedDate"]["format"] == "date-time"
    assert "person" in full["properties"]
    direct = create_schema(api, "Accounts 2", [PROFILE, fg["$id"]])
    assert fg["$id"] in direct["meta:extends"]


def _wait_records(api: Api, dataset: str, fid: str) -> list[dict[str, Any]]:
    deadline = time.time() + 60  # a hang guard: the run takes well under a second when idle
    while time.time() < deadline:
        runs = api.get(f"{FS}/runs", params={"property": f"flowId=={fid}"}).json()["items"]
        if runs and all(r["metrics"]["statusSummary"]["status"] != "inProgress" for r in runs):
            return list(api.client.get(f"/_emulator/datasets/{dataset}/records").json())
        time.sleep(0.02)
    raise AssertionError("the run did not finish")


def test_mapped_rows_land_under_the_tenant_namespace_with_xdm_types(api: Api) -> None:
    fields = {
        "Id": {"type": "string"},
        "Name": {"type": "string"},
        "LastModifiedDate": {"type": "string", "format": "date-time"},
    }
    schema_id = profile_schema(api, fields=fields)
    base = api.base_connection()
    src = api.source_connection(base)
    r = api.post(
        f"{CAT}/dataSets",
        {
            "name": "accounts",
            "schemaRef": {"id": schema_id, "contentType": XED_FULL},
            "tags": {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]},
        },
    )
    assert r.status_code == 201, r.text
    ds = r.json()[0].removeprefix("@/dataSets/")
    tgt = api.target_connection(schema_id, ds)
    # a destination outside the schema is refused by Data Prep; the tenant ones are accepted
    bad = api.post(
        f"{DP}/mappingSets",
        {
            "outputSchema": {"schemaRef": {"id": schema_id, "contentType": XED_FULL}},
            "mappings": [{"sourceType": "ATTRIBUTE", "source": "Id", "destination": f"{NS}.Nope"}],
        },
    )
    assert bad.status_code == 400
    rules = {c: f"{NS}.{c}" for c in fields}
    mapping = api.mapping(schema_id, rules)
    world = {"source": src, "target": tgt, "mapping": mapping}
    fid = api.flow(world)
    records = _wait_records(api, ds, fid)
    assert len(records) == 200
    first = records[0][NS]
    assert set(first) == set(fields)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", first["LastModifiedDate"])  # coerced
    assert first["Id"].startswith("001")


# --------------------------------------------------------------------------- evolution rules
def _lock(api: Api, schema_id: str, how: str) -> None:
    if how == "dataset":
        api.dataset(schema_id)
    elif how == "profile":
        assert api.post(f"{SR}/tenant/descriptors", identity(schema_id)).status_code == 201
        assert enable_union(api, schema_id).status_code == 200


RETYPE = {**ACCOUNT_FIELDS, "Name": {"type": "integer"}}
REMOVE = {k: v for k, v in ACCOUNT_FIELDS.items() if k != "Name"}
RENAME = {**REMOVE, "AccountName": {"type": "string"}}
ADD = {**ACCOUNT_FIELDS, "Industry": {"type": "string"}}
OPTIONAL = dict(ACCOUNT_FIELDS)


@pytest.mark.parametrize("how", ["none", "dataset", "profile"])
@pytest.mark.parametrize(
    ("change", "fields", "breaking"),
    [("retype", RETYPE, True), ("remove", REMOVE, True), ("rename", RENAME, True), ("add", ADD, False),
     ("same", OPTIONAL, False)],
)  # fmt: skip
def test_fieldgroup_evolution_rules(
    api: Api, how: str, change: str, fields: dict[str, Any], breaking: bool
) -> None:
    fg = create_fg(api)
    schema = create_schema(api, "Accounts", [PROFILE, fg["$id"]])
    _lock(api, schema["$id"], how)
    r = api.client.put(
        f"{SR}/tenant/fieldgroups/{fg['meta:altId']}", json=fg_body(fields=fields), headers=api.h()
    )
    if breaking and how != "none":
        assert r.status_code == 400 and code(r) == "XDM-1017-400", r.text
        assert "Breaking change refused" in r.json()["detail"] and "[" + NS + "." in r.json()["detail"]
    else:
        assert r.status_code == 200, r.text


def test_schema_patch_cannot_remove_fieldgroups(api: Api) -> None:
    fg = create_fg(api)
    schema = create_schema(api, "Accounts", [PROFILE, fg["$id"]])
    r = api.patch(f"{SR}/tenant/schemas/{schema['meta:altId']}", [{"op": "remove", "path": "/allOf/1"}])
    assert r.status_code == 400 and code(r) == "XDM-1017-400"


# ------------------------------------------------------------------------------ descriptors
def test_descriptor_lifecycle_and_listing(api: Api) -> None:
    fg = create_fg(api)
    schema = create_schema(api, "Accounts", [PROFILE, fg["$id"]])
    r = api.post(f"{SR}/tenant/descriptors", identity(schema["$id"]))
    assert r.status_code == 201, r.text
    d = r.json()
    assert re.fullmatch(r"[0-9a-f]{40}", d["@id"]) and d["meta:containerId"] == "tenant"
    assert d["xdm:sourceProperty"] == f"/{NS}/Id" and d["xdm:isPrimary"] is True
    assert api.get(f"{SR}/tenant/descriptors/{d['@id']}").json()["@id"] == d["@id"]  # no Accept needed
    grouped = api.get(
        f"{SR}/tenant/descriptors", headers={"Accept": "application/vnd.adobe.xdm-id+json"}
    ).json()
    assert grouped == {"xdm:descriptorIdentity": [d["@id"]]}
    objects = api.get(
        f"{SR}/tenant/descriptors",
        headers={"Accept": XDM_LIST},
        params={"property": f"xdm:sourceSchema=={schema['$id']}"},
    ).json()
    assert objects["xdm:descriptorIdentity"][0]["xdm:namespace"] == "CRMID"
    links = api.get(
        f"{SR}/tenant/descriptors", headers={"Accept": "application/vnd.adobe.xdm-link+json"}
    ).json()
    assert links["xdm:descriptorIdentity"] == [f"{SR}/tenant/descriptors/{d['@id']}"]
    paged = api.get(
        f"{SR}/tenant/descriptors", headers={"Accept": "application/vnd.adobe.xdm-v2+json"}
    ).json()
    assert paged["_page"]["count"] == 1 and paged["results"][0]["@id"] == d["@id"]
    r = api.get(f"{SR}/tenant/descriptors", headers={"Accept": XED_ID})
    assert r.status_code == 400 and code(r) == "XDM-1008-400"
    put = api.client.put(
        f"{SR}/tenant/descriptors/{d['@id']}",
        json=identity(schema["$id"], **{"xdm:namespace": "Email"}),
        headers=api.h(),
    )
    assert put.status_code == 201 and put.json() == {"@id": d["@id"]}
    assert api.get(f"{SR}/tenant/descriptors/{d['@id']}").json()["xdm:namespace"] == "Email"
    assert api.delete(f"{SR}/tenant/descriptors/{d['@id']}").status_code == 204
    assert code(api.get(f"{SR}/tenant/descriptors/{d['@id']}")) == "XDM-1012-404"


@pytest.mark.parametrize(
    ("over", "fragment"),
    [
        ({"xdm:sourceProperty": f"{NS}/Id"}, "starts with '/'"),
        ({"xdm:sourceProperty": f"/{NS}/Id/"}, "trailing"),
        ({"xdm:sourceProperty": f"/properties/{NS}/properties/Id"}, "omits 'properties'"),
        ({"xdm:sourceProperty": f"/{NS}/Nope"}, "does not exist in the schema"),
        ({"xdm:sourceProperty": f"/{NS}/LastModifiedDate"}, "must be of type string"),
        ({"xdm:namespace": "NoSuchNamespace"}, "does not exist"),
        ({"xdm:namespace": "6", "xdm:property": "xdm:code"}, "does not exist"),
        ({"xdm:property": "code"}, "'xdm:property'"),
        ({"xdm:sourceSchema": "https://ns.adobe.com/emulatortenant/schemas/none"}, "does not exist"),
        ({"@type": "xdm:unknown"}, "'@type'"),
        ({"xdm:sourceVersion": 2}, "major version"),
    ],
    ids=["no-leading-slash", "trailing-slash", "properties-segment", "no-such-field", "not-a-string",
         "unknown-namespace", "id-as-code", "bad-property", "unknown-schema", "bad-type", "bad-version"],
)  # fmt: skip
def test_descriptor_validation(api: Api, over: dict[str, Any], fragment: str) -> None:
    fg = create_fg(api)
    schema = create_schema(api, "Accounts", [PROFILE, fg["$id"]])
    r = api.post(f"{SR}/tenant/descriptors", identity(schema["$id"], **over))
    assert r.status_code == 400 and code(r).startswith("XDM-") and fragment in r.json()["detail"], r.text


def test_namespace_by_numeric_id_and_at_most_one_primary(api: Api) -> None:
    fg = create_fg(api, fields={**ACCOUNT_FIELDS, "Email": {"type": "string"}})
    schema = create_schema(api, "Accounts", [PROFILE, fg["$id"]])
    by_id = identity(schema["$id"], prop=f"/{NS}/Email", **{"xdm:namespace": "6", "xdm:property": "xdm:id"})
    assert api.post(f"{SR}/tenant/descriptors", by_id).status_code == 201
    r = api.post(f"{SR}/tenant/descriptors", identity(schema["$id"]))
    assert r.status_code == 400 and "at most one" in r.json()["detail"]
    secondary = identity(schema["$id"], **{"xdm:isPrimary": False})
    assert api.post(f"{SR}/tenant/descriptors", secondary).status_code == 201


# ------------------------------------------------------------------------------- union tag
def test_union_needs_a_primary_identity_and_stays(api: Api) -> None:
    fg = create_fg(api)
    schema = create_schema(api, "Accounts", [PROFILE, fg["$id"]])
    r = enable_union(api, schema["$id"])
    assert r.status_code == 400 and code(r) == "XDM-1528-400" and "primary identity" in r.json()["detail"]
    assert api.post(f"{SR}/tenant/descriptors", identity(schema["$id"])).status_code == 201
    r = enable_union(api, schema["$id"])
    assert r.status_code == 200 and r.json()["meta:immutableTags"] == ["union"], r.text
    assert enable_union(api, schema["$id"]).status_code == 200  # idempotent
    enc = quote(schema["$id"], safe="")
    for op in (
        {"op": "remove", "path": "/meta:immutableTags"},
        {"op": "replace", "path": "/meta:immutableTags", "value": []},
    ):
        r = api.patch(f"{SR}/tenant/schemas/{enc}", [op])
        assert r.status_code == 400 and "cannot be removed" in r.json()["detail"]
    assert api.delete(f"{SR}/tenant/schemas/{enc}").status_code == 400
    assert api.get(f"{SR}/stats").json()["counts"]["unions"] == 1


def test_union_with_identitymap_fieldgroup_needs_no_descriptor(api: Api) -> None:
    schema = create_schema(api, "Accounts", [PROFILE, "https://ns.adobe.com/xdm/context/identitymap"])
    assert enable_union(api, schema["$id"]).status_code == 200


@pytest.mark.parametrize(
    ("other_type", "conflict"),
    [({"type": "string"}, False), ({"type": "integer"}, True), ({"type": "string", "format": "date"}, True),
     (INT, True), (LONG, True)],
    ids=["same-type", "integer-vs-string", "date-vs-string", "int-vs-string", "long-vs-string"],
)  # fmt: skip
def test_merge_conflict_across_profile_schemas(api: Api, other_type: dict[str, Any], conflict: bool) -> None:
    profile_schema(api, "Accounts", fields={"Id": {"type": "string"}, "Code": {"type": "string"}})
    fg = create_fg(api, title="Contacts fields", fields={"Id": {"type": "string"}, "Code": other_type})
    schema = create_schema(api, "Contacts", [PROFILE, fg["$id"]])
    assert api.post(f"{SR}/tenant/descriptors", identity(schema["$id"])).status_code == 201
    r = enable_union(api, schema["$id"])
    if conflict:
        assert r.status_code == 400 and code(r) == "XDM-1413-400" and f"{NS}.Code" in r.json()["detail"]
    else:
        assert r.status_code == 200, r.text


def test_int_and_long_are_different_types_in_the_union(api: Api) -> None:
    profile_schema(api, "Accounts", fields={"Id": {"type": "string"}, "Count": INT})
    for title, kind, status in (("Contacts", LONG, 400), ("Cases", INT, 200)):
        fg = create_fg(api, title=f"{title} fields", fields={"Id": {"type": "string"}, "Count": kind})
        schema = create_schema(api, title, [PROFILE, fg["$id"]])
        assert api.post(f"{SR}/tenant/descriptors", identity(schema["$id"])).status_code == 201
        assert enable_union(api, schema["$id"]).status_code == status


def test_fieldgroup_change_that_breaks_the_union_is_refused(api: Api) -> None:
    profile_schema(api, "Accounts", fields={"Id": {"type": "string"}, "Code": {"type": "string"}})
    fg = create_fg(api, title="Contacts fields", fields={"Id": {"type": "string"}})
    schema = create_schema(api, "Contacts", [PROFILE, fg["$id"]])
    _lock(api, schema["$id"], "profile")
    r = api.client.put(
        f"{SR}/tenant/fieldgroups/{fg['meta:altId']}",
        json=fg_body(title="Contacts fields", fields={"Id": {"type": "string"}, "Code": {"type": "integer"}}),
        headers=api.h(),
    )
    assert r.status_code == 400 and code(r) == "XDM-1413-400"


# --------------------------------------------------------------------- dataset Profile tags
def test_dataset_profile_tags_need_a_union_schema(api: Api) -> None:
    plain = create_schema(api, "Plain", [PROFILE])
    body = {
        "name": "x",
        "schemaRef": {"id": plain["$id"], "contentType": XED_FULL},
        "tags": {"unifiedProfile": ["enabled:true"]},
    }
    r = api.post(f"{CAT}/dataSets", body)
    assert r.status_code == 400 and "schema should be valid" in r.json()["detail"]
    ds = api.dataset(plain["$id"])
    tags = [{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]}]
    r = api.patch(f"{CAT}/dataSets/{ds}", tags, headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 400 and "schema should be valid" in r.json()["detail"]


def test_dataset_profile_tags_by_patch_and_the_upsert_dance(api: Api) -> None:
    schema_id = profile_schema(api)
    ds = api.dataset(schema_id)
    jp = {"Content-Type": "application/json-patch+json"}
    enable = [
        {"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]},
        {"op": "add", "path": "/tags/unifiedIdentity", "value": ["enabled:true"]},
    ]
    r = api.patch(f"{CAT}/dataSets/{ds}", enable, headers=jp)
    assert r.status_code == 200 and r.json() == [f"@/dataSets/{ds}"], r.text
    tags = api.get(f"{CAT}/dataSets/{ds}").json()[ds]["tags"]
    assert tags["unifiedProfile"] == ["enabled:true"] and tags["unifiedIdentity"] == ["enabled:true"]
    upsert = [
        {"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true", "isUpsert:true"]},
        {"op": "add", "path": "/tags/unifiedIdentity", "value": ["enabled:true"]},
    ]
    r = api.patch(f"{CAT}/dataSets/{ds}", upsert, headers=jp)
    assert r.status_code == 400 and "enabled:false" in r.json()["detail"]
    disable = [
        {"op": "replace", "path": "/tags/unifiedProfile", "value": ["enabled:false"]},
        {"op": "replace", "path": "/tags/unifiedIdentity", "value": ["enabled:false"]},
    ]
    assert api.patch(f"{CAT}/dataSets/{ds}", disable, headers=jp).status_code == 200
    assert api.patch(f"{CAT}/dataSets/{ds}", upsert, headers=jp).status_code == 200
    assert "isUpsert:true" in api.get(f"{CAT}/dataSets/{ds}").json()[ds]["tags"]["unifiedProfile"]


def test_dataset_profile_tags_with_a_space_are_read_as_enabled(api: Api) -> None:
    plain = create_schema(api, "Plain", [PROFILE])
    body = {"name": "x", "schemaRef": {"id": plain["$id"]}, "tags": {"unifiedProfile": ["enabled: true"]}}
    assert api.post(f"{CAT}/dataSets", body).status_code == 400


# ---------------------------------------------------------------------- identity namespaces
def test_identity_namespaces(api: Api) -> None:
    r = api.get("/data/core/idnamespace/identities")
    assert r.status_code == 200, r.text
    by_code = {n["code"]: n for n in r.json()}
    assert {"Email", "Phone", "ECID", "CRMID"} <= set(by_code)
    email = by_code["Email"]
    assert set(email) == {
        "id",
        "code",
        "name",
        "description",
        "idType",
        "status",
        "custom",
        "createTime",
        "updateTime",
    }
    assert email["id"] == 6 and email["status"] == "ACTIVE" and email["custom"] is False
    assert api.get(f"/data/core/idnamespace/identities/{email['id']}").json()["code"] == "Email"
    assert api.get("/data/core/idnamespace/identities/999999").status_code == 404
    assert api.client.get("/data/core/idnamespace/identities").status_code == 403  # gateway: no token


# ------------------------------------------------------------- every sample table, end to end
def _xdm_field(column: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in column["xdm"].items() if k in ("type", "format", "minimum", "maximum")}


@pytest.mark.parametrize("table", ["Account", "Contact", "Case", "Opportunity", "Lead", "Invoice__c"])
def test_every_salesforce_sample_table_lands_under_the_tenant_namespace(api: Api, table: str) -> None:
    base = api.base_connection()
    root = api.get(f"{FS}/connections/{base}/explore", params={"objectType": "root"}).json()
    path = next(i["path"] for i in root if i["path"] == table)
    cols = api.get(f"{FS}/connections/{base}/explore", params={"objectType": "table", "object": path})
    columns = cols.json()["schema"]["columns"]
    names = {c["name"]: re.sub(r"[^A-Za-z0-9_]", "_", c["name"]) for c in columns}
    fg = create_fg(api, title=f"{table} fields", fields={names[c["name"]]: _xdm_field(c) for c in columns})
    schema = create_schema(api, f"{table} schema", [PROFILE, fg["$id"]])
    ds = api.dataset(schema["$id"])
    world = {
        "source": api.source_connection(base, table=path),
        "target": api.target_connection(schema["$id"], ds),
        "mapping": api.mapping(schema["$id"], {c: f"{NS}.{n}" for c, n in names.items()}),
    }
    records = _wait_records(api, ds, api.flow(world))
    assert len(records) == 200
    row = records[-1][NS]
    assert set(row) == set(names.values())
    for column in columns:
        value = row[names[column["name"]]]
        expected = {"string": str, "integer": int, "number": (int, float), "boolean": bool}[column["type"]]
        assert isinstance(value, expected), (column, value)
        if column["xdm"].get("format") == "date":
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)


def test_adding_a_conflicting_fieldgroup_to_a_profile_schema_is_refused(api: Api) -> None:
    profile_schema(api, "Accounts", fields={"Id": {"type": "string"}, "Code": {"type": "string"}})
    contacts = profile_schema(api, "Contacts", fields={"Id": {"type": "string"}})
    clash = create_fg(api, title="Clash", fields={"Code": {"type": "boolean"}})
    fine = create_fg(api, title="Fine", fields={"Other": {"type": "boolean"}})
    enc = quote(contacts, safe="")
    for fg, status in ((clash, 400), (fine, 200)):
        ops = [
            {"op": "add", "path": "/meta:extends/-", "value": fg["$id"]},
            {"op": "add", "path": "/allOf/-", "value": {"$ref": fg["$id"]}},
        ]
        r = api.patch(f"{SR}/tenant/schemas/{enc}", ops)
        assert r.status_code == status, r.text
        if status == 400:
            assert code(r) == "XDM-1413-400" and f"{NS}.Code" in r.json()["detail"]


def test_custom_identity_namespace_can_back_a_descriptor(api: Api) -> None:
    body = {"name": "Salesforce Id", "code": "SalesforceId", "idType": "CROSS_DEVICE", "description": "d"}
    r = api.post("/data/core/idnamespace/identities", body)
    assert r.status_code == 200 and r.json()["custom"] is True and r.json()["code"] == "SalesforceId", r.text
    assert "SalesforceId" in [n["code"] for n in api.get("/data/core/idnamespace/identities").json()]
    for bad in ({**body, "code": "salesforceid"}, {**body, "code": "Email"}, {**body, "idType": "X"},
                {**body, "code": "a b"}, {**body, "name": ""}):  # fmt: skip
        assert api.post("/data/core/idnamespace/identities", bad).status_code == 400, bad
    fg = create_fg(api)
    schema = create_schema(api, "Accounts", [PROFILE, fg["$id"]])
    d = identity(schema["$id"], **{"xdm:namespace": "SalesforceId"})
    assert api.post(f"{SR}/tenant/descriptors", d).status_code == 201
    by_id = identity(
        schema["$id"],
        **{"xdm:namespace": str(r.json()["id"]), "xdm:property": "xdm:id", "xdm:isPrimary": False},
    )
    assert api.post(f"{SR}/tenant/descriptors", by_id).status_code == 201
