"""Emulator day-2 rules, black box: flow PATCH field rules and errors (runtime kept), connection
PATCH of credentials (validated, new etag), additive schema PATCH, mapping-set versions used by
the next run, and the admin endpoint that says which source credentials are valid now."""

from __future__ import annotations

import time
from typing import Any

import pytest
from emu_helpers import FS, PERSON, PERSONAL, PROFILE, SSC, SSC_BASIC, Api, flow_code

SR = "/data/foundation/schemaregistry"


def _flow(api: Api, fid: str) -> dict[str, Any]:
    return api.get(f"{FS}/flows/{fid}").json()["items"][0]


def _patch(api: Api, path: str, ops: list, etag: str | None) -> Any:
    headers = {"If-Match": etag} if etag else {}
    return api.patch(path, ops, headers=headers)


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        (
            [{"op": "replace", "path": "/scheduleParams/startTime", "value": int(time.time()) + 3600}],
            "1366-400",
        ),
        ([{"op": "replace", "path": "/scheduleParams/backfill", "value": False}], "1404-400"),
        (
            [{"op": "replace", "path": "/scheduleParams", "value": {"frequency": "once", "startTime": 1}}],
            "1403-400",
        ),
        ([{"op": "replace", "path": "/flowSpec/id", "value": "x"}], "1365-400"),
        ([{"op": "replace", "path": "/sourceConnectionIds/0", "value": "x"}], "1365-400"),
        (
            [{"op": "replace", "path": "/transformations/0/params/deltaColumn/name", "value": "Id"}],
            "1365-400",
        ),
    ],
    ids=["start-after-start", "backfill-after-start", "to-once", "flow-spec", "source", "copy"],
)
def test_started_flow_refuses_locked_fields(api: Api, world: dict[str, str], ops: list, code: str) -> None:
    fid = api.flow(
        world,
        scheduleParams={
            "startTime": int(time.time()) - 5,
            "frequency": "hour",
            "interval": 1,
            "backfill": True,
        },
    )
    flow = _flow(api, fid)
    r = _patch(api, f"{FS}/flows/{fid}", ops, flow["etag"])
    assert r.status_code == 400 and flow_code(r).endswith(code), r.text
    assert _flow(api, fid)["etag"] == flow["etag"], "nothing changed"


def test_flow_patch_keeps_runs_and_watermark_and_next_run_uses_new_mapping(
    api: Api, world: dict[str, str]
) -> None:
    fid = api.flow(world)
    api.emu.client.put("/_emulator/config", json={"run_duration_seconds": 0.05})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = api.get(f"{FS}/runs", params={"property": f"flowId=={fid}"}).json()["items"]
        if runs and all(r["state"] != "inProgress" for r in runs):
            break
        time.sleep(0.05)
    first = api.get(f"{FS}/runs", params={"property": f"flowId=={fid}"}).json()["items"]
    assert first and first[0]["state"] == "success"
    # a new mapping version with one more field, then the flow PATCHed to it (interval too)
    body = {
        "outputSchema": {
            "schemaRef": {
                "id": world["schema"],
                "contentType": "application/vnd.adobe.xed-full+json;version=1",
            }
        },
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": "Id", "destination": "_id"},
            {"sourceType": "ATTRIBUTE", "source": "BillingCity", "destination": "homeAddress.city"},
        ],
    }
    r = api.client.put(
        f"/data/foundation/conversion/mappingSets/{world['mapping']}", json=body, headers=api.h()
    )
    assert r.status_code == 200 and r.json()["version"] == 1
    flow = _flow(api, fid)
    ops = [
        {
            "op": "replace",
            "path": "/transformations/1",
            "value": {"name": "Mapping", "params": {"mappingId": world["mapping"], "mappingVersion": 1}},
        },
        {"op": "replace", "path": "/scheduleParams/interval", "value": 30},
    ]
    r = _patch(api, f"{FS}/flows/{fid}", ops, flow["etag"])
    assert r.status_code == 200 and r.json()["etag"] != flow["etag"], r.text
    after = _flow(api, fid)
    assert after["id"] == fid and after["lastOperation"]["operation"] == "update"
    assert after["scheduleParams"]["interval"] == 30
    assert after["lastRunDetails"]["id"] == first[0]["id"], "run history kept"
    # the next run reads only rows past the watermark, with the new mapping
    # Counted before the row exists: the run due at the PATCH time may read it (the delta column has
    # whole seconds) and finish at any moment after the POST, so a count taken after the POST can
    # already hold it. Whichever run reads it, only that row lies past the kept watermark.
    before = len(api.emu.client.get(f"/_emulator/datasets/{world['dataset']}/records").json())
    api.emu.client.post(
        f"/_emulator/sources/{SSC}/tables/Account/rows",
        json=[
            {
                "Id": "NEW1",
                "Name": "n",
                "BillingCity": "Lyon",
                "LastModifiedDate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            }
        ],
    )
    api.emu.client.put("/_emulator/config", json={"time_scale": 100000.0})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            records = api.emu.client.get(f"/_emulator/datasets/{world['dataset']}/records").json()
            if len(records) > before:
                break
            time.sleep(0.05)
    finally:
        api.emu.client.put("/_emulator/config", json={"time_scale": 1.0})
    new = records[before:]
    assert [r.get("homeAddress", {}).get("city") for r in new] == ["Lyon"], new


def test_connection_patch_validates_credentials_and_gives_new_etag(api: Api) -> None:
    cid = api.base_connection()
    conn = api.get(f"{FS}/connections/{cid}").json()["items"][0]
    bad = [{"op": "replace", "path": "/auth/params", "value": {"environmentUrl": "https://x"}}]
    r = _patch(api, f"{FS}/connections/{cid}", bad, conn["etag"])
    assert r.status_code == 400 and "auth.params" in r.text
    params = {**SSC_BASIC["params"], "password": "rotated-P4ss"}
    good = [{"op": "replace", "path": "/auth/params", "value": params}]
    assert _patch(api, f"{FS}/connections/{cid}", good, None).status_code == 400  # If-Match required
    r = _patch(api, f"{FS}/connections/{cid}", good, conn["etag"])
    assert r.status_code == 200 and r.json()["etag"] != conn["etag"]
    assert "rotated-P4ss" not in api.get(f"{FS}/connections/{cid}").text
    r = _patch(api, f"{FS}/connections/{cid}", good, conn["etag"])
    assert r.status_code == 412 and flow_code(r).endswith("1404-412")


def test_admin_credentials_endpoint_decides_runs_and_tests(api: Api, world: dict[str, str]) -> None:
    url = f"/_emulator/sources/{SSC}/credentials"
    assert api.emu.client.get(url).json()["restricted"] is False
    rule = [{"username": SSC_BASIC["params"]["username"], "password": "only-this-one"}]
    report = api.emu.client.put(url, json=rule).json()
    assert report["restricted"] and [c["valid"] for c in report["connections"]] == [False]
    assert "only-this-one" not in str(report)
    assert api.get(f"{FS}/connections/{world['base']}/test").status_code == 400
    fid = api.flow(world)
    api.emu.client.put("/_emulator/config", json={"run_duration_seconds": 0.05})
    deadline = time.monotonic() + 30
    runs: list = []
    while time.monotonic() < deadline:
        runs = api.get(f"{FS}/runs", params={"property": f"flowId=={fid}"}).json()["items"]
        if runs and runs[0]["state"] != "inProgress":
            break
        time.sleep(0.05)
    assert runs[0]["state"] == "failed"
    assert runs[0]["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-1001-500"
    assert api.emu.client.put(url, json="bad").status_code == 400
    assert api.emu.client.put(url, json=None).json()["restricted"] is False


def test_schema_patch_is_additive_only(api: Api) -> None:
    r = api.post(
        f"{SR}/tenant/schemas",
        {"title": "evolving", "type": "object", "allOf": [{"$ref": PROFILE}, {"$ref": PERSON}]},
    )
    assert r.status_code == 201, r.text
    sid = r.json()["meta:altId"]
    add = [
        {"op": "add", "path": "/meta:extends/-", "value": PERSONAL},
        {"op": "add", "path": "/allOf/-", "value": {"$ref": PERSONAL}},
    ]
    r = api.patch(f"{SR}/tenant/schemas/{sid}", add)
    assert r.status_code == 200 and r.json()["version"] == "1.1"
    assert PERSONAL in [e["$ref"] for e in r.json()["allOf"]]
    for ops in (
        [{"op": "remove", "path": "/allOf/1"}],
        [{"op": "replace", "path": "/meta:class", "value": PROFILE}],
        [{"op": "add", "path": "/allOf/-", "value": {"$ref": PERSONAL + "x"}}],
    ):
        assert api.patch(f"{SR}/tenant/schemas/{sid}", ops).status_code == 400, ops
    accept = {"Accept": "application/vnd.adobe.xed+json; version=1"}
    assert api.get(f"{SR}/tenant/schemas/{sid}", headers=accept).json()["version"] == "1.1"
