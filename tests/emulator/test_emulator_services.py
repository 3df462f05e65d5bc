"""Schema Registry, Catalog, Data Prep and the three paging styles."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from emu_helpers import CAT, DP, FS, PERSON, PROFILE, SR, SSC, XED_FULL, Api, flow_code

XED_ID = {"Accept": "application/vnd.adobe.xed-id+json"}
XED_FULL_ACCEPT = {"Accept": "application/vnd.adobe.xed-full+json; version=1"}
ADHOC = "https://ns.adobe.com/xdm/data/adhoc"


def _sr_code(r: Any) -> str:
    return str(r.json()["type"]).rsplit("/", 1)[-1]


def test_schema_create_shape_and_lookup(api: Api) -> None:
    r = api.post(
        f"{SR}/tenant/schemas",
        {
            "type": "object",
            "title": "T",
            "description": "d",
            "allOf": [{"$ref": PROFILE}, {"$ref": PERSON}],
            "meta:class": PROFILE,
        },
    )
    assert r.status_code == 201
    s = r.json()
    hx = s["$id"].rsplit("/", 1)[-1]
    assert s["$id"] == f"https://ns.adobe.com/emulatortenant/schemas/{hx}" and len(hx) == 32
    assert s["meta:altId"] == f"_emulatortenant.schemas.{hx}"
    assert s["meta:class"] == PROFILE and s["meta:containerId"] == "tenant"
    assert s["meta:tenantNamespace"] == "_emulatortenant" and s["version"] == "1.0"
    assert set(s["refs"]) == {PROFILE, PERSON}
    for key in (s["meta:altId"], quote(s["$id"], safe="")):
        got = api.get(f"{SR}/tenant/schemas/{key}", headers=XED_FULL_ACCEPT)
        assert got.status_code == 200 and got.json()["$id"] == s["$id"]
    full = api.get(f"{SR}/tenant/schemas/{s['meta:altId']}", headers=XED_FULL_ACCEPT).json()
    assert full["properties"]["person"]["properties"]["name"]["properties"]["firstName"]["type"] == "string"
    plain = api.get(
        f"{SR}/tenant/schemas/{s['meta:altId']}",
        headers={"Accept": "application/vnd.adobe.xed+json; version=1"},
    )
    assert "properties" not in plain.json()


@pytest.mark.parametrize(
    ("accept", "status", "code"),
    [
        (None, 400, "XDM-1006-400"),
        ("application/json", 400, "XDM-1006-400"),
        ("application/vnd.adobe.xed-full+json", 400, "XDM-1006-400"),
        ("application/vnd.adobe.xed-bogus+json; version=1", 406, "XDM-1007-406"),
        ("application/vnd.adobe.xed-full+json; version=2", 406, "XDM-1007-406"),
    ],
)
def test_schema_accept_header(api: Api, accept: str | None, status: int, code: str) -> None:
    sid = api.schema()
    headers = {"Accept": accept} if accept else {}
    h = {k: v for k, v in api.h().items() if k.lower() != "accept"}
    r = api.client.get(f"{SR}/tenant/schemas/{quote(sid, safe='')}", headers={**h, **headers})
    assert r.status_code == status
    assert _sr_code(r) == code
    assert "report" in r.json() and "detail" in r.json()


@pytest.mark.parametrize(
    ("all_of", "fragment"),
    [
        ([{"$ref": PERSON}], "exactly one class"),
        (
            [{"$ref": PROFILE}, {"$ref": "https://ns.adobe.com/xdm/context/experienceevent"}],
            "exactly one class",
        ),
        ([{"$ref": PROFILE}, {"$ref": "https://ns.adobe.com/xdm/context/nope"}], "does not exist"),
        (
            [{"$ref": "https://ns.adobe.com/xdm/context/experienceevent"}, {"$ref": PERSON}],
            "cannot be used with class",
        ),
        ([], "allOf"),
    ],
)
def test_schema_validation(api: Api, all_of: list[dict[str, str]], fragment: str) -> None:
    r = api.post(f"{SR}/tenant/schemas", {"type": "object", "title": "X", "allOf": all_of})
    assert r.status_code == 400
    assert fragment in r.json()["detail"]


def test_schema_404_and_delete(api: Api) -> None:
    r = api.get(f"{SR}/tenant/schemas/_emulatortenant.schemas.0", headers=XED_FULL_ACCEPT)
    assert (r.status_code, _sr_code(r)) == (404, "XDM-1012-404")
    sid = api.schema()
    ds = api.dataset(sid)
    assert api.delete(f"{SR}/tenant/schemas/{quote(sid, safe='')}").status_code == 400
    assert api.delete(f"{CAT}/dataSets/{ds}").json() == [f"@/dataSets/{ds}"]
    assert api.delete(f"{SR}/tenant/schemas/{quote(sid, safe='')}").status_code == 204
    assert api.get(f"{SR}/tenant/schemas/{quote(sid, safe='')}", headers=XED_FULL_ACCEPT).status_code == 404


def _adhoc_body(title: str = "Adhoc") -> dict[str, Any]:
    return {
        "title": title,
        "description": "raw",
        "type": "object",
        "allOf": [
            {"$ref": ADHOC},
            {
                "properties": {
                    "_adhoc": {
                        "type": "object",
                        "properties": {"Id": {"type": "string"}, "Name": {"type": "string"}},
                    }
                }
            },
        ],
    }


def test_adhoc_class_and_schema(api: Api) -> None:
    r = api.post(f"{SR}/tenant/classes", _adhoc_body())
    assert r.status_code == 201
    cls = r.json()
    ns = cls["meta:datasetNamespace"]
    assert ns.startswith("_") and len(ns) == 33
    assert ns in cls["allOf"][1]["properties"] and "_adhoc" not in cls["allOf"][1]["properties"]
    assert cls["meta:altId"].startswith("_emulatortenant.classes.")
    assert cls["meta:abstract"] is True and cls["meta:extends"] == [ADHOC]
    r = api.post(
        f"{SR}/tenant/schemas", {"type": "object", "title": "AdhocSchema", "allOf": [{"$ref": cls["$id"]}]}
    )
    assert r.status_code == 201
    schema = r.json()
    assert schema["meta:class"] == cls["$id"] and schema["meta:datasetNamespace"] == ns
    full = api.get(f"{SR}/tenant/schemas/{schema['meta:altId']}", headers=XED_FULL_ACCEPT).json()
    assert full["properties"][ns]["properties"]["Id"]["type"] == "string"
    assert api.get(f"{SR}/tenant/classes", headers=XED_ID).json()["results"][0]["$id"] == cls["$id"]
    assert api.delete(f"{SR}/tenant/classes/{cls['meta:altId']}").status_code == 400
    bad = _adhoc_body("B")
    bad["allOf"] = [{"$ref": PROFILE}]
    assert api.post(f"{SR}/tenant/classes", bad).status_code == 400
    missing = {k: v for k, v in _adhoc_body("C").items() if k != "description"}
    assert api.post(f"{SR}/tenant/classes", missing).status_code == 400


def test_schema_titled_like_its_adhoc_class_is_tolerated_once(api: Api) -> None:
    """The class's title is tolerated on one schema built on it; a second schema with that title
    is XDM-1521, like any other title clash (a racing twin must be refused, not stored)."""
    cls = api.post(f"{SR}/tenant/classes", _adhoc_body("Twin")).json()
    schema = {"type": "object", "title": "Twin", "allOf": [{"$ref": cls["$id"]}]}
    assert api.post(f"{SR}/tenant/schemas", schema).status_code == 201
    r = api.post(f"{SR}/tenant/schemas", schema)
    assert (r.status_code, _sr_code(r)) == (400, "XDM-1521-400")
    listed = api.get(f"{SR}/tenant/schemas", params={"property": "title==Twin"}, headers=XED_ID)
    assert len(listed.json()["results"]) == 1


def test_schema_listing_paging(api: Api) -> None:
    for i in range(5):
        api.schema(title=f"S{i}")
    r = api.get(f"{SR}/tenant/schemas", headers=XED_ID)
    assert len(r.json()["results"]) == 5 and set(r.json()["results"][0]) == {
        "$id",
        "meta:altId",
        "version",
        "title",
    }
    one = api.get(f"{SR}/tenant/schemas", params={"property": "title==S3"}, headers=XED_ID).json()["results"]
    assert [s["title"] for s in one] == ["S3"]
    titles: list[str] = []
    params: dict[str, Any] = {"orderby": "title", "limit": 2}
    while True:
        page = api.get(f"{SR}/tenant/schemas", params=params, headers=XED_ID).json()
        titles += [s["title"] for s in page["results"]]
        if page["_page"]["next"] is None:
            assert page["_links"]["next"] is None
            break
        params["start"] = page["_page"]["next"]
    assert titles == ["S0", "S1", "S2", "S3", "S4"]
    desc = api.get(f"{SR}/tenant/schemas", params={"orderby": "-title"}, headers=XED_ID).json()["results"]
    assert desc[0]["title"] == "S4"
    full = api.get(f"{SR}/tenant/schemas", headers={"Accept": "application/vnd.adobe.xed+json"}).json()
    assert "allOf" in full["results"][0]
    assert api.get(f"{SR}/tenant/schemas").status_code == 400


def test_dataset_create_get_list(api: Api) -> None:
    sid = api.schema()
    r = api.post(
        f"{CAT}/dataSets?requestDataSource=true",
        {"name": "DS", "schemaRef": {"id": sid, "contentType": XED_FULL}},
    )
    assert r.status_code == 201
    [ref] = r.json()
    ds = ref.removeprefix("@/dataSets/")
    assert len(ds) == 24 and int(ds, 16) >= 0
    got = api.get(f"{CAT}/dataSets/{ds}").json()
    assert list(got) == [ds] and got[ds]["schemaRef"]["id"] == sid
    assert api.get(f"{CAT}/dataSets/{ds}", params={"properties": "name"}).json() == {ds: {"name": "DS"}}
    assert api.get(f"{CAT}/dataSets/000000000000000000000000").status_code == 404
    for body in ({"name": "x"}, {"name": "x", "schemaRef": {"id": "https://ns.adobe.com/nope/schemas/1"}}):
        assert api.post(f"{CAT}/dataSets", body).status_code == 400


def test_catalog_paging(api: Api) -> None:
    sid = api.schema()
    ids = [api.dataset(sid, name=f"d{i}") for i in range(5)]
    assert set(api.get(f"{CAT}/dataSets").json()) == set(ids)
    seen: list[str] = []
    for start in (0, 2, 4):
        page = api.get(f"{CAT}/dataSets", params={"limit": 2, "start": start, "orderBy": "asc:name"}).json()
        seen += [v["name"] for v in page.values()]
    assert seen == ["d0", "d1", "d2", "d3", "d4"]
    assert list(api.get(f"{CAT}/dataSets", params={"name": "d3"}).json()) == [ids[3]]
    assert len(api.get(f"{CAT}/dataSets", params={"name": "!d3"}).json()) == 4
    assert list(api.get(f"{CAT}/dataSets", params={"property": "name==d1"}).json()) == [ids[1]]
    proj = api.get(f"{CAT}/dataSets", params={"properties": "name,schemaRef", "limit": 1}).json()
    assert set(next(iter(proj.values()))) == {"name", "schemaRef"}
    desc = api.get(f"{CAT}/dataSets", params={"orderBy": "desc:name", "limit": 1}).json()
    assert next(iter(desc.values()))["name"] == "d4"
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "x"}):
        assert api.get(f"{CAT}/dataSets", params=bad).status_code == 400


def test_mapping_sets_current_and_legacy(api: Api) -> None:
    sid = api.schema()
    mid = api.mapping(sid, {"Id": "_id", "Name": "person.name.fullName"}, name="m1")
    assert len(mid) == 32
    got = api.get(f"{DP}/mappingSets/{mid}").json()
    assert got["outputSchema"]["schemaRef"]["id"] == sid and got["xdmSchema"] == sid
    m0 = got["mappings"][0]
    assert (m0["source"], m0["sourceAttribute"], m0["destination"], m0["destinationXdmPath"]) == (
        "Id",
        "Id",
        "_id",
        "_id",
    )
    legacy = {
        "version": 0,
        "xdmSchema": sid,
        "xdmVersion": "1.0",
        "id": None,
        "mappings": [
            {
                "destinationXdmPath": "_id",
                "sourceAttribute": "Id",
                "identity": False,
                "identityGroup": None,
                "namespaceCode": None,
                "version": 0,
            }
        ],
    }
    r = api.post(f"{DP}/mappingSets", legacy)
    assert r.status_code == 200 and set(r.json()) == {
        "id",
        "version",
        "createdDate",
        "modifiedDate",
        "createdBy",
        "modifiedBy",
    }
    assert r.json()["version"] == 0
    assert api.get(f"{DP}/mappingSets/{mid}", params={"version": 0}).status_code == 200
    assert api.get(f"{DP}/mappingSets/{mid}", params={"version": 5}).status_code == 404
    assert api.get(f"{DP}/mappingSets/{'0' * 32}").status_code == 404
    listing = api.get(f"{DP}/mappingSets").json()
    assert listing["_page"] == {"count": 2, "limit": 10} and len(listing["data"]) == 2
    assert [d["id"] for d in api.get(f"{DP}/mappingSets", params={"name": "m1"}).json()["data"]] == [mid]
    assert len(api.get(f"{DP}/mappingSets", params={"limit": 1, "start": 1}).json()["data"]) == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"mappings": [{"sourceType": "ATTRIBUTE", "source": "a", "destination": "_id"}]}, "outputSchema"),
        (
            {
                "outputSchema": {"schemaRef": {"id": "SCHEMA"}},
                "mappings": [
                    {"sourceType": "ATTRIBUTE", "source": "a", "destination": "person.name.nickname"}
                ],
            },
            "person.name.nickname",
        ),
        (
            {
                "outputSchema": {"schemaRef": {"id": "SCHEMA"}},
                "mappings": [{"sourceType": "MAGIC", "source": "a", "destination": "_id"}],
            },
            "sourceType",
        ),
        ({"outputSchema": {"schemaRef": {"id": "SCHEMA"}}, "mappings": []}, "non-empty"),
        (
            {
                "xdmSchema": "SCHEMA",
                "id": "abc",
                "mappings": [{"sourceAttribute": "a", "destinationXdmPath": "_id"}],
            },
            "'id'",
        ),
    ],
)
def test_mapping_validation(api: Api, body: dict[str, Any], fragment: str) -> None:
    sid = api.schema()
    text = __import__("json").dumps(body).replace("SCHEMA", sid)
    r = api.client.post(
        f"{DP}/mappingSets", content=text, headers={**api.h(), "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert fragment in r.json()["detail"]


def test_flow_service_paging_filters_and_count(api: Api) -> None:
    ids = [api.base_connection(name=f"c{i}") for i in range(5)]
    got: list[str] = []
    params: dict[str, Any] = {"limit": 2, "orderby": "name"}
    r = api.get(f"{FS}/connections", params=params).json()
    while True:
        got += [c["name"] for c in r["items"]]
        nxt = r.get("_links", {}).get("next")
        if not nxt:
            break
        href = nxt["href"]
        assert href.startswith("/connections?") and "continuationToken=" in href
        r = api.get(f"{FS}{href}").json()
    assert got == ["c0", "c1", "c2", "c3", "c4"]
    token = (
        api.get(f"{FS}/connections", params=params)
        .json()["_links"]["next"]["href"]
        .split("continuationToken=")[1]
    )
    resumed = api.get(f"{FS}/connections", params={"continuationToken": token}).json()["items"]
    assert [c["name"] for c in resumed] == ["c2", "c3"]
    desc = api.get(f"{FS}/connections", params={"orderby": "-name"}).json()["items"]
    assert desc[0]["name"] == "c4"
    assert api.get(f"{FS}/connections", params={"count": "true"}).json() == {"count": 5}
    r = api.get(f"{FS}/connections", params={"count": "true", "limit": 2})
    assert (r.status_code, flow_code(r)) == (400, "FLOW-1401-400")
    r = api.get(f"{FS}/connections", params={"property": "name~c"})
    assert (r.status_code, flow_code(r)) == (400, "FLOW-1440-400")
    r = api.get(f"{FS}/connections", params={"property": "createdAt<=1,2"})
    assert (r.status_code, flow_code(r)) == (400, "FLOW-1443-400")
    both = api.get(f"{FS}/connections", params={"property": f"id=={ids[0]},{ids[1]}"}).json()["items"]
    assert {c["id"] for c in both} == set(ids[:2])
    anded = api.get(
        f"{FS}/connections", params=[("property", f"id=={ids[0]},{ids[1]}"), ("property", "name==c1")]
    )
    assert [c["id"] for c in anded.json()["items"]] == [ids[1]]
    assert len(api.get(f"{FS}/connections", params={"property": "name!=c1"}).json()["items"]) == 4
    quoted = api.get(f"{FS}/connections", params={"property": 'name=="c2"'}).json()["items"]
    assert [c["name"] for c in quoted] == ["c2"]
    nested = api.get(f"{FS}/connections", params={"property": f"connectionSpec.id=={SSC}"}).json()["items"]
    assert len(nested) == 5
    created = sorted(c["createdAt"] for c in api.get(f"{FS}/connections").json()["items"])
    later = api.get(f"{FS}/connections", params={"property": f"createdAt>={created[2]}"}).json()["items"]
    assert len(later) >= 3


def test_array_filters(api: Api, world: dict[str, str]) -> None:
    fid = api.flow(world)
    hits = api.get(f"{FS}/flows", params={"property": f"sourceConnectionIds[]=={world['source']}"}).json()[
        "items"
    ]
    assert [f["id"] for f in hits] == [fid]
    cols = api.get(f"{FS}/sourceConnections", params={"property": "params.columns[].name==Phone"}).json()[
        "items"
    ]
    assert [s["id"] for s in cols] == [world["source"]]
    assert (
        api.get(f"{FS}/sourceConnections", params={"property": "params.columns[].name==Nope"}).json()["items"]
        == []
    )
