"""Emulator fidelity (issue 19): each test is built from the spec or the documented sample it relies on.

- Flow Service spec ``TargetConnectionDataDTO``: ``format`` is a string with no enum (its example is
  ``delimited``); ``CreateTargetConnectionRequest`` requires ``connectionSpec`` and ``data`` only.
- Flow Service spec ``PageLink.href`` example: ``/connections?continuationToken=...``.
- Trailing slashes: the Flow Service spec writes ``/connections/{id}/`` (PATCH, DELETE) next to
  ``/connections/{id}``; public clients call ``/tenant/schemas/``, ``/tenant/classes/``,
  ``/dataSets/`` and ``/tenant/schemas/{id}/`` against AEP. One rule: one trailing slash is ignored.
- Catalog spec ``classification`` ``{dataBehavior, managedBy}``, read from dataset listings by
  public clients; the Data Lake connection spec is looked up by the name ``datalake``.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from emu_helpers import CAT, CRM_TO_AEP, DATA_LAKE, DP, FS, PROFILE, SR, XED_FULL, Api, flow_code

#: The body of the spec's own example values (format "delimited"; schema version as clients send it).
SPEC_TARGET_DATA = {
    "format": "delimited",
    "schema": {"version": "application/vnd.adobe.xed-full+json;version=1.0"},
}


def _target(api: Api, world: dict[str, str], data: dict[str, Any]) -> Any:
    return api.post(
        f"{FS}/targetConnections",
        {
            "name": "t",
            "data": data,
            "params": {"dataSetId": world["dataset"]},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        },
    )


def _wait_run(api: Api, flow_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = api.get(f"{FS}/runs", params={"property": f"flowId=={flow_id}"}).json()["items"]
        if runs and runs[0]["metrics"]["statusSummary"]["status"] != "inProgress":
            return dict(runs[0])
        time.sleep(0.02)
    raise AssertionError("the run did not finish")


@pytest.mark.parametrize("fmt", ["delimited", "parquet_xdm", "json", "parquet", "tabular", None])
def test_target_format_accepts_what_the_spec_accepts(
    api: Api, world: dict[str, str], fmt: str | None
) -> None:
    data: dict[str, Any] = {"schema": {**SPEC_TARGET_DATA["schema"], "id": world["schema"]}}  # type: ignore[dict-item]
    if fmt is not None:
        data["format"] = fmt
    r = _target(api, world, data)
    assert r.status_code == 201, r.text
    got = api.get(f"{FS}/targetConnections/{r.json()['id']}").json()["items"][0]
    assert got["data"]["format"] == (fmt or "parquet_xdm")
    # The target is usable: a flow writing through it ingests the source rows.
    fid = api.flow({**world, "target": r.json()["id"]})
    run = _wait_run(api, fid)
    assert run["metrics"]["statusSummary"]["status"] == "success"
    assert run["metrics"]["recordSummary"]["outputRecordCount"] > 0


@pytest.mark.parametrize("fmt", ["", "   ", 5, [], {"x": 1}])
def test_target_format_must_still_be_a_string(api: Api, world: dict[str, str], fmt: Any) -> None:
    r = _target(api, world, {"format": fmt, "schema": {"id": world["schema"]}})
    assert r.status_code == 400
    assert flow_code(r).startswith("FLOW-") and "data.format" in r.json()["report"]["detailed-message"]


def test_target_schema_is_optional_and_defaults_to_the_datasets(api: Api, world: dict[str, str]) -> None:
    r = _target(api, world, {"format": "parquet_xdm"})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert "schema" not in api.get(f"{FS}/targetConnections/{tid}").json()["items"][0]["data"]
    fid = api.flow({**world, "target": tid})
    run = _wait_run(api, fid)
    assert run["metrics"]["statusSummary"]["status"] == "success"
    records = api.emu.state.records[world["dataset"]]
    assert records and all("_id" in rec for rec in records)


def test_target_schema_when_given_must_name_the_datasets_schema(api: Api, world: dict[str, str]) -> None:
    other = api.schema(title="Other")
    cases = [
        ({"format": "parquet_xdm", "schema": {"version": XED_FULL}}, "'data.schema.id' must be the $id"),
        ({"format": "parquet_xdm", "schema": {"id": ""}}, "'data.schema.id' must be the $id"),
        ({"format": "parquet_xdm", "schema": {"id": other}}, "does not use the schema"),
        ({"format": "parquet_xdm", "schema": {"id": "https://ns.adobe.com/x/schemas/0"}}, "does not exist"),
    ]
    for data, fragment in cases:
        r = _target(api, world, data)
        assert r.status_code == 400
        body = r.json()
        assert re.search(r"/FLOW-\d+-400$", body["type"]) and body["status"] == 400
        assert fragment in body["report"]["detailed-message"], body


@pytest.mark.parametrize("kind", ["connections", "sourceConnections", "flows", "runs"])
def test_next_link_has_the_documented_shape_and_both_forms_page(
    api: Api, world: dict[str, str], kind: str
) -> None:
    if kind == "flows" or kind == "runs":
        for i in range(3):
            api.flow(
                world,
                name=f"f{i}",
                scheduleParams={"startTime": int(time.time()) - 5, "frequency": "minute", "interval": 15},
            )
        if kind == "runs":
            deadline = time.monotonic() + 60  # a hang guard
            while len(api.get(f"{FS}/runs").json()["items"]) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
    else:
        for i in range(3):
            if kind == "connections":
                api.base_connection(name=f"c{i}")
            else:
                api.source_connection(world["base"], name=f"s{i}")
    everything = {i["id"] for i in api.get(f"{FS}/{kind}").json()["items"]}
    assert len(everything) >= 3
    query = {"limit": "1", "orderby": "-createdAt"}
    first = api.get(f"{FS}/{kind}", params=query).json()
    href = first["_links"]["next"]["href"]
    # PageLink.href example: /connections?continuationToken=abcdefghijkLMNOPqrstupWXKYZ
    assert re.fullmatch(rf"/{kind}\?continuationToken=[A-Za-z0-9_\-%]+", href), href
    token = parse_qs(urlsplit(href).query)["continuationToken"][0]
    # The documented form: only the token (it carries filters, order and limit).
    seen = [first["items"][0]["id"]]
    page = first
    while "next" in page["_links"]:
        token = parse_qs(urlsplit(page["_links"]["next"]["href"]).query)["continuationToken"][0]
        page = api.get(f"{FS}/{kind}", params={"continuationToken": token}).json()
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["id"])
    assert sorted(seen) == sorted(everything) and len(seen) == len(set(seen))
    # The form the emulator used to write (the caller's query repeated before the token) still works.
    token = parse_qs(urlsplit(first["_links"]["next"]["href"]).query)["continuationToken"][0]
    again = api.get(f"{FS}/{kind}", params={**query, "continuationToken": token}).json()
    assert again["items"][0]["id"] == seen[1]


def test_one_trailing_slash_is_ignored_on_every_gateway_path(api: Api) -> None:
    """The whole workflow, every path written with a trailing slash as public clients do."""
    srh = {"Accept": "application/vnd.adobe.xed-id+json"}
    r = api.post(
        f"{SR}/tenant/schemas/",
        {"type": "object", "title": "S", "description": "d", "allOf": [{"$ref": PROFILE}]},
    )
    assert r.status_code == 201, r.text
    schema, alt_id = r.json()["$id"], r.json()["meta:altId"]
    assert api.get(f"{SR}/tenant/schemas/", headers=srh).json()["results"][0]["$id"] == schema
    full = {"Accept": XED_FULL}
    assert api.get(f"{SR}/tenant/schemas/{alt_id}/", headers=full).status_code == 200
    r = api.post(f"{CAT}/dataSets/", {"name": "d", "schemaRef": {"id": schema, "contentType": XED_FULL}})
    assert r.status_code == 201, r.text
    ds = r.json()[0].removeprefix("@/dataSets/")
    assert ds in api.get(f"{CAT}/dataSets/").json()
    assert api.get(f"{CAT}/dataSets/{ds}/").status_code == 200
    base = api.base_connection()
    for path in (f"{FS}/connections/{base}", f"{FS}/connections/{base}/"):
        assert api.get(path).json()["items"][0]["id"] == base
    assert api.get(f"{FS}/connections/").status_code == 200
    assert api.get(f"{FS}/connectionSpecs/{DATA_LAKE}/").json()["items"][0]["id"] == DATA_LAKE
    assert api.get(f"{DP}/mappingSets/").status_code == 200
    etag = api.get(f"{FS}/connections/{base}/").json()["items"][0]["etag"]
    r = api.patch(
        f"{FS}/connections/{base}/",
        [{"op": "replace", "path": "/name", "value": "renamed"}],
        headers={"If-Match": etag},
    )
    assert r.status_code == 200, r.text
    for without in (f"{FS}/flows", f"{FS}/runs", f"{FS}/targetConnections", f"{FS}/sourceConnections"):
        assert api.get(without + "/").json() == api.get(without).json()
    assert api.delete(f"{FS}/connections/{base}/").status_code == 204
    assert api.delete(f"{CAT}/dataSets/{ds}/").status_code == 200
    assert api.delete(f"{SR}/tenant/schemas/{alt_id}/").status_code == 204
    # The request log keeps the paths as the client sent them.
    assert any(e["path"] == f"{SR}/tenant/schemas/" for e in api.emu.state.request_log)


def test_only_one_trailing_slash_is_ignored(api: Api) -> None:
    r = api.get(f"{FS}/connections//")
    assert r.status_code == 404
    assert re.search(r"/FLOW-\d+-404$", r.json()["type"])


@pytest.mark.parametrize(
    ("class_ref", "behavior"),
    [
        (PROFILE, "record"),
        ("https://ns.adobe.com/xdm/context/experienceevent", "time-series"),
        ("https://ns.adobe.com/xdm/data/adhoc", "adhoc"),
    ],
)
def test_datasets_carry_the_catalog_classification(api: Api, class_ref: str, behavior: str) -> None:
    r = api.post(
        f"{SR}/tenant/schemas",
        {"type": "object", "title": behavior, "description": "d", "allOf": [{"$ref": class_ref}]},
    )
    assert r.status_code == 201, r.text
    ds = api.dataset(r.json()["$id"])
    expected = {"dataBehavior": behavior, "managedBy": "CUSTOMER"}
    assert api.get(f"{CAT}/dataSets/{ds}").json()[ds]["classification"] == expected
    # Public clients read it from listings: el["classification"]["dataBehavior"].
    listed = api.get(f"{CAT}/dataSets").json()
    assert listed[ds]["classification"]["dataBehavior"] == behavior
    r = api.patch(f"{CAT}/dataSets/{ds}", {"classification": {"dataBehavior": "x", "managedBy": "SYSTEM"}})
    assert r.status_code == 400


def test_data_lake_spec_is_found_by_the_name_clients_use(api: Api) -> None:
    specs = api.get(f"{FS}/connectionSpecs").json()["items"]
    by_name = {s["name"]: s["id"] for s in specs if "id" in s and "name" in s}
    assert by_name["datalake"] == DATA_LAKE
    filtered = api.get(f"{FS}/connectionSpecs", params={"property": "name==datalake"}).json()["items"]
    assert [s["id"] for s in filtered] == [DATA_LAKE]
    flows = api.get(f"{FS}/flowSpecs", params={"property": "name==CRMToAEP"}).json()["items"]
    assert [f["id"] for f in flows if by_name["datalake"] in f["targetConnectionSpecIds"]] == [CRM_TO_AEP]
