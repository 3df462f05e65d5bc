"""Flow Service endpoints and validations (black-box, in-process)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from emu_helpers import CRM_TO_AEP, DATA_LAKE, FS, ODATA, SNOW, SSC, SSC_BASIC, Api, flow_code


def test_specs(api: Api) -> None:
    specs = api.get(f"{FS}/connectionSpecs").json()["items"]
    assert {SSC, SNOW, ODATA, DATA_LAKE} <= {s["id"] for s in specs}
    one = api.get(f"{FS}/connectionSpecs", params={"property": f'id=="{SNOW}"'}).json()["items"]
    assert [s["id"] for s in one] == [SNOW]
    assert api.get(f"{FS}/connectionSpecs/{SSC}").json()["items"][0]["id"] == SSC
    r = api.get(f"{FS}/connectionSpecs/00000000-0000-0000-0000-000000000000")
    assert (r.status_code, flow_code(r)) == (404, "FLOW-1101-404")
    fs = api.get(f"{FS}/flowSpecs", params={"property": 'name=="CRMToAEP"'}).json()["items"]
    assert [f["id"] for f in fs] == [CRM_TO_AEP]
    assert {SSC, SNOW, ODATA} <= set(fs[0]["sourceConnectionSpecIds"])
    assert api.get(f"{FS}/flowSpecs/{CRM_TO_AEP}").json()["items"][0]["name"] == "CRMToAEP"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"connectionSpec": {"id": SSC}, "auth": SSC_BASIC}, "'name' is required"),
        ({"name": "x", "auth": SSC_BASIC}, "connectionSpec.id"),
        (
            {
                "name": "x",
                "connectionSpec": {"id": "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"},
                "auth": SSC_BASIC,
            },
            "does not exist",
        ),
        ({"name": "x", "connectionSpec": {"id": SSC, "version": "9.9"}, "auth": SSC_BASIC}, "Version [9.9]"),
        ({"name": "x", "connectionSpec": {"id": SSC}}, "'auth' is required"),
        (
            {"name": "x", "connectionSpec": {"id": SSC}, "auth": {"specName": "Nope", "params": {}}},
            "Invalid auth.specName",
        ),
        (
            {
                "name": "x",
                "connectionSpec": {"id": SSC},
                "auth": {"specName": "Basic Authentication", "params": {"username": "u"}},
            },
            "'password' is a required property",
        ),
        (
            {
                "name": "x",
                "connectionSpec": {"id": SNOW},
                "auth": {"specName": "Basic Authentication", "params": {"username": "u", "password": "p"}},
            },
            "'endpoint' is a required property",
        ),
        ({"name": "x", "connectionSpec": {"id": DATA_LAKE}, "auth": SSC_BASIC}, "takes no 'auth'"),
        ({"name": "x", "connectionSpec": {"id": SSC}, "auth": SSC_BASIC, "state": "enabled"}, "'state'"),
    ],
)
def test_connection_validation(api: Api, body: dict[str, Any], fragment: str) -> None:
    r = api.post(f"{FS}/connections", body)
    assert r.status_code == 400
    assert flow_code(r) in ("FLOW-1100-400", "FLOW-1410-400")
    assert fragment in r.json()["report"]["detailed-message"]
    assert "sample-password" not in r.text


def test_connection_lifecycle_and_masking(api: Api) -> None:
    body = {
        "name": "ssc",
        "description": "d",
        "auth": SSC_BASIC,
        "connectionSpec": {"id": SSC, "version": "1.0"},
    }
    r = api.post(f"{FS}/connections", body)
    assert r.status_code == 201
    cid, etag = r.json()["id"], r.json()["etag"]
    assert r.headers["location"].endswith(f"/connections/{cid}")
    assert etag.startswith('"') and etag.endswith('"')
    got = api.get(f"{FS}/connections/{cid}").json()["items"][0]
    assert got["auth"]["params"]["password"] != "sample-password"
    assert got["auth"]["params"]["securityToken"] != "sample-token"
    assert got["auth"]["params"]["username"] == "integration@acme.com"
    for key in (
        "createdAt",
        "updatedAt",
        "createdBy",
        "createdClient",
        "sandboxId",
        "sandboxName",
        "imsOrgId",
        "state",
    ):
        assert key in got
    assert got["sandboxName"] == "prod" and got["state"] == "enabled"
    assert "sample-password" not in api.get(f"{FS}/connections").text
    # PATCH requires If-Match, rejects stale etags, changes the etag
    ops = [{"op": "replace", "path": "/name", "value": "renamed"}]
    r = api.patch(f"{FS}/connections/{cid}/", ops)
    assert (r.status_code, flow_code(r)) == (400, "FLOW-1403-400")
    r = api.patch(f"{FS}/connections/{cid}", ops, headers={"If-Match": '"stale"'})
    assert (r.status_code, flow_code(r)) == (412, "FLOW-1404-412")
    assert "does not match the current version" in r.json()["errorMessage"]
    r = api.patch(f"{FS}/connections/{cid}/", ops, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["etag"] != etag
    assert api.get(f"{FS}/connections/{cid}").json()["items"][0]["name"] == "renamed"
    assert api.delete(f"{FS}/connections/{cid}/").status_code == 204
    r = api.get(f"{FS}/connections/{cid}")
    assert (r.status_code, flow_code(r)) == (404, "FLOW-1101-404")


def test_connection_test_endpoint(api: Api) -> None:
    good = api.base_connection()
    assert api.get(f"{FS}/connections/{good}/test").json() == {"result": True}
    auth = {"specName": "Basic Authentication", "params": {**SSC_BASIC["params"], "password": "invalid-pw"}}
    badc = api.base_connection(auth=auth)
    r = api.get(f"{FS}/connections/{badc}/test")
    assert r.status_code == 400 and "INVALID_LOGIN" in r.json()["report"]["detailed-message"]
    assert "invalid-pw" not in r.text
    oauth = {
        "specName": "OAuth2 Client Credential",
        "params": {
            "environmentUrl": "https://x",
            "clientId": "id",
            "clientSecret": "s",
            "apiVersion": "60.0",
        },
    }
    assert api.get(f"{FS}/connections/{api.base_connection(auth=oauth)}/test").status_code == 200


@pytest.mark.parametrize("object_type", ["root", "ROOT", "Root"])
def test_explore_root(api: Api, object_type: str) -> None:
    base = api.base_connection()
    items = api.get(f"{FS}/connections/{base}/explore", params={"objectType": object_type}).json()
    # Salesforce: name is the label, path the API name
    assert {i["path"]: i["name"] for i in items} == {
        "Account": "Account",
        "Contact": "Contact",
        "Case": "Case",
        "Opportunity": "Opportunity",
        "Lead": "Lead",
        "Invoice__c": "Invoice",
    }
    assert all(i["type"] == "table" and i["canFetchSchema"] and i["canPreview"] for i in items)


def test_explore_table(api: Api) -> None:
    base = api.base_connection(spec=SNOW)
    r = api.get(f"{FS}/connections/{base}/explore", params={"objectType": "TABLE", "object": "incident"})
    body = r.json()
    assert body["format"] == "flat"
    assert "sys_updated_on" in [c["name"] for c in body["schema"]["columns"]]
    assert all("xdm" in c for c in body["schema"]["columns"])
    root = api.get(f"{FS}/connections/{base}/explore", params={"objectType": "root"}).json()
    assert {i["path"]: i["name"] for i in root} == {"incident": "Incident", "sys_user": "User"}


@pytest.mark.parametrize(
    ("params", "code"),
    [({"objectType": "table", "object": "empty"}, "FLOW-1330-400"),
     ({"objectType": "table"}, "FLOW-1337-400"),
     ({"objectType": "table", "object": ""}, "FLOW-1337-400"), ({"objectType": "tables"}, "FLOW-1358-400"),
     ({"objectType": "file", "object": "a.csv"}, "FLOW-1336-400")],
    ids=["no-columns", "no-object", "empty-object", "bad-object-type", "files-not-supported"],
)  # fmt: skip
def test_explore_errors(api: Api, params: dict[str, str], code: str) -> None:
    from airflow_provider_aep.emulator.samples import SampleTable

    api.emu.state.source_catalog[SNOW]["empty"] = SampleTable(name="empty", columns=[])
    base = api.base_connection(spec=SNOW)
    r = api.get(f"{FS}/connections/{base}/explore", params=params)
    assert r.status_code == 400 and flow_code(r) == code, r.text
    r = api.get(f"{FS}/connections/{base}/explore", params={"objectType": "table", "object": "nope"})
    assert r.status_code == 404 and flow_code(r) == "FLOW-1101-404"


def test_explore_odata_name_is_the_path_and_columns_carry_xdm_types(api: Api) -> None:
    base = api.base_connection(spec=ODATA)
    root = api.get(f"{FS}/connections/{base}/explore", params={"objectType": "root"}).json()
    assert all(i["name"] == i["path"] for i in root) and {i["path"] for i in root} == {"Orders", "Customers"}
    ssc = api.base_connection()
    cols = api.get(f"{FS}/connections/{ssc}/explore", params={"objectType": "table", "object": "Invoice__c"})
    by_name = {c["name"]: c for c in cols.json()["schema"]["columns"]}
    assert by_name["DueDate__c"]["xdm"] == {"type": "string", "format": "date"}
    assert by_name["LedgerSequence__c"]["meta:xdmType"] == "long"
    assert by_name["Paid__c"]["type"] == "boolean" and by_name["Amount__c"]["xdm"]["type"] == "number"


def _src_body(base: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "src",
        "baseConnectionId": base,
        "data": {"format": "tabular"},
        "params": {
            "tableName": "Account",
            "columns": [{"name": "Id", "type": "string", "xdm": {"type": "string"}}],
        },
        "connectionSpec": {"id": SSC, "version": "1.0"},
    }
    body.update(over)
    return body


@pytest.mark.parametrize(
    ("over", "fragment"),
    [
        ({"baseConnectionId": "00000000-0000-0000-0000-000000000000"}, "does not exist"),
        ({"connectionSpec": {"id": SNOW, "version": "1.0"}}, "does not match the base connection"),
        ({"data": {"format": "parquet_xdm"}}, "Invalid data.format"),
        ({"params": {"tableName": "Nope"}}, "The table [Nope] does not exist"),
        ({"params": {"tableName": "Account", "columns": [{"name": "Bogus", "type": "string"}]}}, "Bogus"),
        ({"params": {}}, "params.tableName"),
        (
            {"data": {"format": "tabular", "schema": {"id": "https://ns.adobe.com/x/schemas/1"}}},
            "does not exist",
        ),
    ],
)
def test_source_connection_validation(api: Api, over: dict[str, Any], fragment: str) -> None:
    base = api.base_connection()
    r = api.post(f"{FS}/sourceConnections", _src_body(base, **over))
    assert r.status_code == 400, r.text
    assert fragment in r.json()["report"]["detailed-message"]


@pytest.mark.parametrize("fmt", ["tabular", "delimited", "json", "parquet"])
def test_source_connection_formats_and_legacy_path(api: Api, fmt: str) -> None:
    base = api.base_connection()
    r = api.post(f"{FS}/sourceConnections", _src_body(base, data={"format": fmt}, params={"path": "Contact"}))
    assert r.status_code == 201
    got = api.get(f"{FS}/sourceConnections/{r.json()['id']}").json()["items"][0]
    assert got["params"] == {"path": "Contact"}
    assert got["baseConnectionId"] == base
    assert got["inheritedAttributes"]["baseConnection"]["id"] == base


def test_target_connection_validation(api: Api, world: dict[str, str]) -> None:
    def body(**over: Any) -> dict[str, Any]:
        b: dict[str, Any] = {
            "name": "t",
            "data": {"format": "parquet_xdm", "schema": {"id": world["schema"], "version": "x"}},
            "params": {"dataSetId": world["dataset"]},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        }
        b.update(over)
        return b

    cases = [
        (body(connectionSpec={"id": SNOW, "version": "1.0"}), "use the Data Lake spec"),
        (body(params={}), "params.dataSetId"),
        (body(params={"dataSetId": "5e543e8a60b15218ad44b95f"}), "does not exist"),
        (
            body(data={"format": "parquet_xdm", "schema": {"id": "https://ns.adobe.com/t/schemas/0"}}),
            "does not exist",
        ),
        (body(data={"format": "", "schema": {"id": world["schema"]}}), "non-empty string"),
        (body(data={"format": "parquet_xdm", "schema": {"version": "x"}}), "data.schema.id"),
        (body(baseConnectionId=world["base"]), "not a Data Lake"),
    ]
    for b, fragment in cases:
        r = api.post(f"{FS}/targetConnections", b)
        assert r.status_code == 400, b
        assert fragment in r.json()["report"]["detailed-message"]
    lake = api.post(
        f"{FS}/connections", {"name": "lake", "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}}
    )
    assert lake.status_code == 201
    assert api.post(f"{FS}/targetConnections", body(baseConnectionId=lake.json()["id"])).status_code == 201


def test_delete_in_use_is_1418(api: Api, world: dict[str, str]) -> None:
    fid = api.flow(world)
    for path in (
        f"connections/{world['base']}/",
        f"sourceConnections/{world['source']}",
        f"targetConnections/{world['target']}",
    ):
        r = api.delete(f"{FS}/{path}")
        assert (r.status_code, flow_code(r)) == (400, "FLOW-1418-400"), path
    assert api.delete(f"{FS}/flows/{fid}").status_code == 204
    assert api.get(f"{FS}/flows/{fid}").status_code == 404
    assert api.delete(f"{FS}/sourceConnections/{world['source']}").status_code == 204
    assert api.delete(f"{FS}/targetConnections/{world['target']}").status_code == 204
    assert api.delete(f"{FS}/connections/{world['base']}").status_code == 204


def _with_copy(api: Api, world: dict[str, str], delta: Any) -> dict[str, Any]:
    body = api.flow_body(world)
    body["transformations"][0]["params"] = {"deltaColumn": delta} if delta is not None else {}
    return body


@pytest.mark.parametrize(
    ("mutate", "code", "fragment"),
    [
        (lambda b, w: b | {"state": "enabled"}, "FLOW-1410-400", "state"),
        (
            lambda b, w: b | {"flowSpec": {"id": "00000000-0000-0000-0000-000000000000"}},
            "FLOW-1100-400",
            "flow spec",
        ),
        (lambda b, w: b | {"sourceConnectionIds": ["nope"]}, "FLOW-1100-400", "source connection [nope]"),
        (lambda b, w: b | {"targetConnectionIds": ["nope"]}, "FLOW-1100-400", "target connection [nope]"),
        (lambda b, w: b | {"targetConnectionIds": [w["source"]]}, "FLOW-1100-400", "target connection"),
        (
            lambda b, w: b | {"scheduleParams": {"startTime": 1, "frequency": "minute", "interval": 5}},
            "FLOW-1100-400",
            "minimum",
        ),
        (
            lambda b, w: b | {"scheduleParams": {"startTime": 1, "frequency": "hour"}},
            "FLOW-1100-400",
            "'interval' is a required",
        ),
        (
            lambda b, w: b | {"scheduleParams": {"startTime": 1, "frequency": "once", "interval": 1}},
            "FLOW-1100-400",
            "scheduleParams",
        ),
        (
            lambda b, w: b | {"scheduleParams": {"startTime": 1, "frequency": "month", "interval": 1}},
            "FLOW-1100-400",
            "month",
        ),
        (
            lambda b, w: b | {"scheduleParams": {"frequency": "hour", "interval": 1}},
            "FLOW-1100-400",
            "startTime",
        ),
        (lambda b, w: b | {"options": {"partialIngestionPercent": 0}}, "FLOW-1100-400", "options"),
    ],
)
def test_flow_validation(api: Api, world: dict[str, str], mutate: Any, code: str, fragment: str) -> None:
    r = api.post(f"{FS}/flows", mutate(api.flow_body(world), world))
    assert r.status_code == 400, r.text
    assert flow_code(r) == code
    assert fragment in r.json()["report"]["detailed-message"]


def test_flow_transformation_validation(api: Api, world: dict[str, str]) -> None:
    for delta, fragment in [
        (None, "deltaColumn.name"),
        ({"dateFormat": "x"}, "deltaColumn.name"),
        ({"name": "updatedAt"}, "deltaColumn [updatedAt] is not a column"),
    ]:
        r = api.post(f"{FS}/flows", _with_copy(api, world, delta))
        assert r.status_code == 400 and fragment in r.json()["report"]["detailed-message"]
    body = api.flow_body(world)
    body["transformations"][1]["params"]["mappingVersion"] = "3"
    r = api.post(f"{FS}/flows", body)
    assert (r.status_code, flow_code(r)) == (400, "FLOW-1412-400")
    other_schema = api.schema(title="Other")
    other_map = api.mapping(other_schema)
    body = api.flow_body(world)
    body["transformations"][1]["params"]["mappingId"] = other_map
    r = api.post(f"{FS}/flows", body)
    assert (r.status_code, flow_code(r)) == (400, "FLOW-1425-400")
    body["transformations"][1]["params"]["mappingId"] = "0" * 32
    assert "mapping" in api.post(f"{FS}/flows", body).json()["report"]["detailed-message"]


def test_flow_spec_must_support_source(
    api: Api, world: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_aep.emulator import samples

    spec = dict(samples.FLOW_SPECS[0])
    spec["sourceConnectionSpecIds"] = [s for s in spec["sourceConnectionSpecIds"] if s != SSC]
    monkeypatch.setattr(samples, "FLOW_SPECS", [spec])
    r = api.post(f"{FS}/flows", api.flow_body(world))
    assert r.status_code == 400 and "is not supported by flow spec" in r.json()["report"]["detailed-message"]


def test_tutorial_string_schedule_values_are_coerced(api: Api, world: dict[str, str]) -> None:
    body = api.flow_body(
        world,
        scheduleParams={
            "startTime": "1590792316",
            "frequency": "minute",
            "interval": "15",
            "backfill": "true",
        },
    )
    r = api.post(f"{FS}/flows", body)
    assert r.status_code == 201, r.text
    flow = api.get(f"{FS}/flows/{r.json()['id']}").json()["items"][0]
    assert flow["scheduleParams"] == {
        "startTime": 1590792316,
        "frequency": "minute",
        "interval": 15,
        "backfill": True,
    }


def test_flow_get_shape(api: Api, world: dict[str, str]) -> None:
    fid = api.flow(world)
    flow = api.get(f"{FS}/flows/{fid}").json()["items"][0]
    assert flow["state"] == "enabled"
    assert flow["runs"] == f"/runs?property=flowId=={fid}"
    inh = flow["inheritedAttributes"]
    assert inh["sourceConnections"][0]["id"] == world["source"]
    assert inh["sourceConnections"][0]["baseConnection"]["id"] == world["base"]
    assert inh["targetConnections"][0]["connectionSpec"]["id"] == DATA_LAKE
    assert flow["lastOperation"]["status"]["value"] == "completed"


def test_flow_patch(api: Api, world: dict[str, str]) -> None:
    fid = api.flow(world)
    etag = api.get(f"{FS}/flows/{fid}").json()["items"][0]["etag"]
    ops = [
        {"op": "REPLACE", "path": "/name", "value": "new"},
        {"op": "add", "path": "/description", "value": "d"},
    ]
    r = api.patch(f"{FS}/flows/{fid}", ops)
    assert (r.status_code, flow_code(r)) == (400, "FLOW-1403-400")
    r = api.patch(f"{FS}/flows/{fid}", ops, headers={"If-Match": etag})
    assert r.status_code == 200
    new_etag = r.json()["etag"]
    assert new_etag != etag
    r = api.patch(f"{FS}/flows/{fid}", ops, headers={"If-Match": etag})
    assert (r.status_code, flow_code(r)) == (412, "FLOW-1404-412")
    assert r.json()["errorMessage"].startswith("Supplied version=[")
    flow = api.get(f"{FS}/flows/{fid}").json()["items"][0]
    assert (flow["name"], flow["description"]) == ("new", "d")
    bad_ops = [{"op": "replace", "path": "/scheduleParams/interval", "value": 5}]
    r = api.patch(f"{FS}/flows/{fid}", bad_ops, headers={"If-Match": new_etag})
    assert r.status_code == 400 and "minimum" in r.json()["report"]["detailed-message"]
    r = api.patch(f"{FS}/flows/{fid}", [{"op": "move", "path": "/name"}], headers={"If-Match": new_etag})
    assert r.status_code == 400
    r = api.patch(
        f"{FS}/flows/{fid}", [{"op": "remove", "path": "/description"}], headers={"If-Match": new_etag}
    )
    assert r.status_code == 200
    assert "description" not in api.get(f"{FS}/flows/{fid}").json()["items"][0]


@pytest.mark.parametrize("op", ["disable", "DISABLE", "Disable"])
def test_flow_action(api: Api, world: dict[str, str], op: str) -> None:
    fid = api.flow(world)
    r = api.post(f"{FS}/flows/{fid}/action", params={"op": op})
    assert r.status_code == 200 and set(r.json()) == {"id", "etag"}
    assert api.get(f"{FS}/flows/{fid}").json()["items"][0]["state"] == "disabled"
    r = api.post(f"{FS}/flows/{fid}/action", params={"op": op})
    assert (r.status_code, flow_code(r)) == (400, "FLOW-1422-400")
    r = api.post(f"{FS}/flows/{fid}/action", params={"op": "enable", "subOp": "APPLY"})
    assert r.status_code == 200
    assert api.post(f"{FS}/flows/{fid}/action", params={"op": "explode"}).status_code == 400


def test_sandbox_isolation(api: Api, emu: Any) -> None:
    cid = api.base_connection()
    dev = Api(emu, sandbox="dev")
    r = dev.get(f"{FS}/connections/{cid}")
    assert (r.status_code, flow_code(r)) == (404, "FLOW-1101-404")
    assert dev.get(f"{FS}/connections").json()["items"] == []
    schema = api.schema()
    assert dev.post("/data/foundation/catalog/dataSets", {"schemaRef": {"id": schema}}).status_code == 400
    other_org = api.client.get(f"{FS}/connections/{cid}", headers=emu.headers(org="OTHER@AdobeOrg"))
    assert other_org.status_code == 404
    counts = api.client.get("/_emulator/state").json()["sandboxes"]
    prod = next(s for s in counts if s["sandbox"] == "prod")
    assert prod["counts"]["connections"] == 1 and prod["counts"]["schemas"] == 1


def _runs(api: Api, fid: str, **params: Any) -> list[dict[str, Any]]:
    return api.get(f"{FS}/runs", params={"property": f"flowId=={fid}", **params}).json()["items"]


def _wait_done(api: Api, fid: str, n: int = 1) -> list[dict[str, Any]]:
    deadline = time.time() + 60  # a hang guard: runs take well under a second when idle
    while time.time() < deadline:
        runs = _runs(api, fid)
        if len(runs) >= n and all(r["metrics"]["statusSummary"]["status"] != "inProgress" for r in runs):
            return runs
        time.sleep(0.02)
    raise AssertionError("runs did not finish")


def test_scheduled_flow_runs_once_and_writes_records(api: Api, world: dict[str, str]) -> None:
    fid = api.flow(world)
    runs = _runs(api, fid)
    assert len(runs) == 1 and runs[0]["metrics"]["statusSummary"]["status"] == "inProgress"
    runs = _wait_done(api, fid)
    assert runs[0]["metrics"]["statusSummary"]["status"] == "success"
    assert runs[0]["metrics"]["recordSummary"]["outputRecordCount"] == 200
    run = api.get(f"{FS}/runs/{runs[0]['id']}").json()["items"][0]
    assert run["flowId"] == fid
    records = api.client.get(f"/_emulator/datasets/{world['dataset']}/records").json()
    assert len(records) == 200
    assert records[0]["_id"] and records[0]["person"]["name"]["fullName"]
    # reading again does not re-execute the run
    _runs(api, fid)
    assert len(api.client.get(f"/_emulator/datasets/{world['dataset']}/records").json()) == 200
    last = api.get(f"{FS}/flows/{fid}").json()["items"][0]["lastRunDetails"]
    assert last["id"] == runs[0]["id"] and last["state"] == "success"


def test_next_scheduled_run_is_incremental(api: Api, emu: Any, world: dict[str, str]) -> None:
    fid = api.flow(world)
    _wait_done(api, fid)
    api.client.post(
        f"/_emulator/sources/{SSC}/tables/Account/rows",
        json=[
            {
                "Id": "NEW1",
                "Name": "Newco",
                "LastModifiedDate": "2026-06-01 00:00:00",
                "CreatedDate": "2026-06-01 00:00:00",
            }
        ],
    )
    api.client.put("/_emulator/config", json={"time_scale": 100000.0})
    time.sleep(0.02)
    api.client.put("/_emulator/config", json={"time_scale": 1.0})
    runs = _wait_done(api, fid, 2)
    assert len(runs) >= 2
    records = api.client.get(f"/_emulator/datasets/{world['dataset']}/records").json()
    assert [r["_id"] for r in records].count("NEW1") == 1
    assert len(records) == 201


def test_disabled_flow_gets_no_runs(api: Api, world: dict[str, str]) -> None:
    start = int(time.time()) + 3600
    fid = api.flow(world, scheduleParams={"startTime": start, "frequency": "hour", "interval": 1})
    assert _runs(api, fid) == []
    api.post(f"{FS}/flows/{fid}/action", params={"op": "disable"})
    api.client.put("/_emulator/config", json={"time_scale": 1_000_000.0})
    time.sleep(0.02)
    assert _runs(api, fid) == []


def test_on_demand_runs(api: Api, world: dict[str, str]) -> None:
    sched = {"startTime": int(time.time()), "frequency": "once"}
    fid = api.flow(world, scheduleParams=sched)
    assert _runs(api, fid) == []
    # 2026-01-01 00:00 .. 2026-01-02 00:00 UTC: 4 rows at 6-hour steps
    params = {
        "windowStartTime": "1767225600",
        "windowEndTime": "1767312000",
        "deltaColumn": {"name": "LastModifiedDate"},
    }
    r = api.post(f"{FS}/runs", {"flowId": fid, "params": params})
    assert r.status_code == 201 and set(r.json()) == {"id", "etag"}
    # The run echoes its params from creation on, so an in-progress run is found by its window.
    in_progress = api.get(f"{FS}/runs/{r.json()['id']}").json()["items"][0]
    assert in_progress["params"]["windowStartTime"] == "1767225600"
    runs = _wait_done(api, fid)
    assert runs[0]["params"]["windowEndTime"] == "1767312000"
    assert runs[0]["metrics"]["recordSummary"]["outputRecordCount"] == 4
    scheduled = api.flow(world, name="sched")
    r = api.post(f"{FS}/runs", {"flowId": scheduled, "params": params})
    assert r.status_code == 400 and "frequency 'once'" in r.json()["report"]["detailed-message"]
    assert api.post(f"{FS}/runs", {"flowId": "nope", "params": {}}).status_code == 400
    r = api.post(f"{FS}/runs", {"flowId": fid, "params": {**params, "deltaColumn": {"name": "CreatedDate"}}})
    assert r.status_code == 400 and "deltaColumn" in r.json()["report"]["detailed-message"]


def test_force_run_status_fault(api: Api, emu: Any, world: dict[str, str]) -> None:
    emu.client.put("/_emulator/faults", json={"force_run_status": "failed"})
    fid = api.flow(world)
    runs = _wait_done(api, fid)
    assert runs[0]["metrics"]["statusSummary"]["status"] == "failed"
    assert api.get(f"{FS}/flows/{fid}").json()["items"][0]["lastRunDetails"]["state"] == "failed"


def test_force_run_status_scoped_to_flows(api: Api, emu: Any, world: dict[str, str]) -> None:
    """``force_run_status_flows`` confines the forced status to the listed flows: a run of any other
    flow finishing while the fault is set keeps its real outcome (tests that fail one flow's run on
    purpose must not fail a concurrent DAG's)."""
    sched = {"startTime": int(time.time()), "frequency": "once"}
    targeted = api.flow(world, name="targeted", scheduleParams=sched)
    bystander = api.flow(world, name="bystander", scheduleParams=sched)
    emu.client.put(
        "/_emulator/faults", json={"force_run_status": "failed", "force_run_status_flows": [targeted]}
    )
    params = {
        "windowStartTime": "1767225600",
        "windowEndTime": "1767312000",
        "deltaColumn": {"name": "LastModifiedDate"},
    }
    for fid in (bystander, targeted):
        assert api.post(f"{FS}/runs", {"flowId": fid, "params": params}).status_code == 201
    assert _wait_done(api, bystander)[0]["metrics"]["statusSummary"]["status"] == "success"
    assert _wait_done(api, targeted)[0]["metrics"]["statusSummary"]["status"] == "failed"
    bad = emu.client.put("/_emulator/faults", json={"force_run_status_flows": []})
    assert bad.status_code == 400 and "force_run_status_flows" in bad.text
