"""The real server (pytest plugin fixture), faults, the CLI and the tutorial (seed) bodies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from airflow_provider_aep.emulator.pytest_plugin import AEPEmulatorHandle

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
DP = "/data/foundation/conversion"
SSC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"

# Bodies from seed S0 (pt-BR customer-success tutorial). Fixes: trailing comma after
# "format": "tabular" removed (source connection); the target connection's schema/dataset ids and
# the flow's connection/mapping ids are chained to the created resources; deltaColumn "updatedAt"
# (not a column) replaced by LastModifiedDate with the documented format yyyy-MM-dd HH:mm:ss.
SEED_SOURCE = {
    "name": "Source connection for Customer Success",
    "description": "Source connection for a Customer Success connector",
    "data": {"format": "tabular"},
    "params": {
        "tableName": "Account",
        "columns": [
            {"name": "Id", "type": "string", "xdm": {"type": "string"}},
            {"name": "Name", "type": "string", "xdm": {"type": "string"}},
            {"name": "Phone", "type": "string", "xdm": {"type": "string"}},
            {
                "name": "CreatedDate",
                "type": "string",
                "meta:xdmType": "date-time",
                "xdm": {"type": "string", "format": "date-time"},
            },
        ],
    },
    "connectionSpec": {"id": SSC, "version": "1.0"},
}
SEED_SCHEMA = {
    "type": "object",
    "title": "Target schema for a Customer Success connector",
    "description": "Target schema for a customer success connector",
    "allOf": [
        {"$ref": "https://ns.adobe.com/xdm/context/profile"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
    ],
    "meta:containerId": "tenant",
    "meta:resourceType": "schemas",
    "meta:xdmType": "object",
    "meta:class": "https://ns.adobe.com/xdm/context/profile",
}
SEED_MAPPING_ROWS = [("_id", "Id"), ("person.name.fullName", "Name"), ("_repo.createDate", "CreatedDate")]


def _legacy_mapping(schema_id: str) -> dict[str, Any]:
    return {
        "version": 0,
        "xdmSchema": schema_id,
        "xdmVersion": "1.0",
        "id": None,
        "mappings": [
            {
                "destinationXdmPath": d,
                "sourceAttribute": s,
                "identity": False,
                "identityGroup": None,
                "namespaceCode": None,
                "version": 0,
            }
            for d, s in SEED_MAPPING_ROWS
        ],
    }


def _call(
    emu: AEPEmulatorHandle, method: str, path: str, h: dict[str, str], body: Any = None, **kw: Any
) -> Any:
    return requests.request(method, emu.url + path, headers=h, json=body, timeout=10, **kw)


def test_full_workflow_with_seed_bodies(aep_emulator: AEPEmulatorHandle) -> None:
    emu = aep_emulator
    emu.set_config(run_duration_seconds=0.1)
    h = emu.headers()
    spec = _call(emu, "GET", f"{FS}/flowSpecs", h, params={"property": 'name=="CRMToAEP"'}).json()["items"][0]
    base = _call(
        emu,
        "POST",
        f"{FS}/connections",
        h,
        {
            "name": "ssc",
            "auth": {
                "specName": "OAuth2 Client Credential",
                "params": {
                    "environmentUrl": "https://acme.my.salesforce.com",
                    "clientId": "cid",
                    "clientSecret": "csecret",
                    "apiVersion": "60.0",
                },
            },
            "connectionSpec": {"id": SSC, "version": "1.0"},
        },
    ).json()["id"]
    src = _call(emu, "POST", f"{FS}/sourceConnections", h, {**SEED_SOURCE, "baseConnectionId": base})
    assert src.status_code == 201
    schema = _call(emu, "POST", f"{SR}/tenant/schemas", h, SEED_SCHEMA).json()["$id"]
    ds = _call(
        emu,
        "POST",
        f"{CAT}/dataSets?requestDataSource=true",
        h,
        {
            "name": "Target dataset for a Customer Success connector",
            "schemaRef": {
                "id": schema,
                "contentType": "application/vnd.adobe.xed-full-notext+json; version=1",
            },
        },
    )
    dataset = ds.json()[0].removeprefix("@/dataSets/")
    tgt = _call(
        emu,
        "POST",
        f"{FS}/targetConnections",
        h,
        {
            "name": "Target Connection for a customer success connector",
            "data": {
                "format": "parquet_xdm",
                "schema": {"id": schema, "version": "application/vnd.adobe.xed-full+json;version=1.0"},
            },
            "params": {"dataSetId": dataset},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        },
    ).json()["id"]
    mapping = _call(emu, "POST", f"{DP}/mappingSets", h, _legacy_mapping(schema))
    assert mapping.status_code == 200
    flow = _call(
        emu,
        "POST",
        f"{FS}/flows",
        h,
        {
            "name": "Creating a dataflow for a Customer Success connector",
            "flowSpec": {"id": spec["id"], "version": "1.0"},
            "sourceConnectionIds": [src.json()["id"]],
            "targetConnectionIds": [tgt],
            "transformations": [
                {
                    "name": "Copy",
                    "params": {
                        "deltaColumn": {
                            "name": "LastModifiedDate",
                            "dateFormat": "yyyy-MM-dd HH:mm:ss",
                            "timezone": "UTC",
                        }
                    },
                },
                {"name": "Mapping", "params": {"mappingId": mapping.json()["id"], "mappingVersion": "0"}},
            ],
            "scheduleParams": {
                "startTime": str(int(time.time()) - 1),
                "frequency": "minute",
                "interval": "15",
                "backfill": "true",
            },
        },
    )
    assert flow.status_code == 201, flow.text
    fid = flow.json()["id"]
    deadline = time.time() + 60  # a hang guard: the run takes well under a second when idle
    while time.time() < deadline:
        runs = _call(emu, "GET", f"{FS}/runs", h, params={"property": f"flowId=={fid}"}).json()["items"]
        if runs and runs[0]["metrics"]["statusSummary"]["status"] != "inProgress":
            break
        time.sleep(0.05)
    assert runs[0]["metrics"]["statusSummary"]["status"] == "success"
    records = emu.records(dataset)
    assert len(records) == 200
    assert {"_id", "person", "_repo"} <= set(records[0])
    assert emu.state()["sandboxes"][0]["counts"]["flows"] == 1
    assert "csecret" not in json.dumps(emu.requests())


def test_seed_s3_duplicate_field_group_and_s4_legacy_target(aep_emulator: AEPEmulatorHandle) -> None:
    # S3 repeats profile-personal-details in allOf (tolerated); S3/S4 used the source spec for the
    # target connection (fixed: Data Lake spec via a dataset base connection, §3.7).
    emu, h = aep_emulator, aep_emulator.headers()
    body = dict(SEED_SCHEMA, title="S3 target")
    body["allOf"] = [
        *SEED_SCHEMA["allOf"],
        {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
    ]
    r = _call(emu, "POST", f"{SR}/tenant/schemas", h, body)
    assert r.status_code == 201 and len(r.json()["allOf"]) == 3
    schema = r.json()["$id"]
    dataset = _call(emu, "POST", f"{CAT}/dataSets", h, {"name": "d", "schemaRef": {"id": schema}}).json()[0][
        11:
    ]
    lake = _call(
        emu,
        "POST",
        f"{FS}/connections",
        h,
        {"name": "Target dataset base connection", "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}},
    )
    assert lake.status_code == 201
    wrong = {
        "name": "t",
        "baseConnectionId": lake.json()["id"],
        "data": {"format": "parquet_xdm", "schema": {"id": schema}},
        "params": {"dataSetId": dataset},
        "connectionSpec": {"id": "eb13cb25-47ab-407f-ba89-c0125281c563", "version": "1.0"},
    }
    assert _call(emu, "POST", f"{FS}/targetConnections", h, wrong).status_code == 400
    fixed = {**wrong, "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}}
    assert _call(emu, "POST", f"{FS}/targetConnections", h, fixed).status_code == 201


def test_handle_connection_helpers(aep_emulator: AEPEmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = json.loads(aep_emulator.connection_json())
    assert conn["conn_type"] == "adobe_experience_platform" and conn["host"] == aep_emulator.url
    assert (
        conn["extra"]["ims_org_id"] == "EMULATORORG@AdobeOrg" and conn["extra"]["ims_url"] == aep_emulator.url
    )
    assert aep_emulator.connection_uri().startswith(
        "adobe-experience-platform://emulator-client:emulator-secret@http"
    )
    aep_emulator.set_env(monkeypatch, "my_aep")
    import os

    assert json.loads(os.environ["AIRFLOW_CONN_MY_AEP"])["login"] == "emulator-client"


def test_rate_limit_with_and_without_retry_after(aep_emulator: AEPEmulatorHandle) -> None:
    h = aep_emulator.headers()
    for retry_after in (True, False):
        aep_emulator.set_faults(rate_limit_per_second=1, rate_limit_retry_after=retry_after)
        statuses = [_call(aep_emulator, "GET", f"{FS}/flowSpecs", h) for _ in range(4)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, [r.status_code for r in statuses]
        assert ("Retry-After" in limited[0].headers) is retry_after
        assert limited[0].headers["x-request-id"]
        assert requests.get(aep_emulator.url + "/_emulator/state", timeout=5).status_code == 200
        time.sleep(1.1)


def _error_pattern(emu: AEPEmulatorHandle, seed: int) -> list[int]:
    emu.clear_faults()
    h = emu.headers()
    emu.set_faults(seed=seed, error_rate=0.5)
    return [_call(emu, "GET", f"{FS}/flowSpecs", h).status_code for _ in range(12)]


def test_error_rate_is_seed_deterministic(aep_emulator: AEPEmulatorHandle) -> None:
    first = _error_pattern(aep_emulator, 7)
    second = _error_pattern(aep_emulator, 7)
    assert first == second
    assert set(first) - {200} <= {500, 502, 503, 504} and any(s != 200 for s in first) and 200 in first


def test_latency(aep_emulator: AEPEmulatorHandle) -> None:
    h = aep_emulator.headers()
    aep_emulator.set_faults(latency_ms=200)
    t0 = time.monotonic()
    assert _call(aep_emulator, "GET", f"{FS}/flowSpecs", h).status_code == 200
    assert time.monotonic() - t0 >= 0.19
    # Admin routes get no latency: with an hour of it, an admin call answers within its 30 s
    # timeout (no upper bound on a fast call's wall time: a busy machine can take 0.2 s for it).
    aep_emulator.set_faults(latency_ms=3_600_000)
    assert requests.get(aep_emulator.url + "/_emulator/state", timeout=30).status_code == 200


def test_token_ttl_fault(aep_emulator: AEPEmulatorHandle) -> None:
    # 3 s: the first call comes well within the token's life even on a busy machine (with 1 s, a
    # 1 s stall after the token was issued made it a 401).
    aep_emulator.set_faults(token_ttl_seconds=3)
    token = aep_emulator.token()
    issued = time.monotonic()  # the token expires at the latest 3 s after this
    h = aep_emulator.headers(token)
    assert _call(aep_emulator, "GET", f"{FS}/flowSpecs", h).status_code == 200
    time.sleep(max(0.0, issued + 3.2 - time.monotonic()))
    r = _call(aep_emulator, "GET", f"{FS}/flowSpecs", h)
    assert r.status_code == 401 and r.json()["error_code"] == "401013"


def test_drop_after_commit(aep_emulator: AEPEmulatorHandle) -> None:
    h = aep_emulator.headers()
    aep_emulator.set_faults(drop_after_commit=[f"POST {FS}/connections"], drop_after_commit_count=1)
    body = {"name": "dropped", "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}}
    with pytest.raises(requests.exceptions.ConnectionError):
        _call(aep_emulator, "POST", f"{FS}/connections", h, body)
    listed = _call(aep_emulator, "GET", f"{FS}/connections", h, params={"property": 'name=="dropped"'}).json()
    assert len(listed["items"]) == 1
    again = _call(aep_emulator, "POST", f"{FS}/connections", h, {**body, "name": "second"})
    assert again.status_code == 201
    log = aep_emulator.requests()
    assert any(e.get("dropped") for e in log)


def test_cli_starts_fast_and_stops_on_sigint(tmp_path: Any) -> None:
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_aep.emulator", "--port", str(port), "--run-duration", "0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.monotonic() - t0
        assert line.strip() == f"AEP emulator listening on http://127.0.0.1:{port}"
        # Wall time only guards against a hang: the suite runs on two processes beside real
        # Airflow deployments, so a 2-core machine may be busy. Start-up cost is checked as CPU
        # time below (measured ~0.9 s wall alone).
        assert elapsed < 30
        assert (
            requests.get(f"http://127.0.0.1:{port}/_emulator/config", timeout=5).json()[
                "run_duration_seconds"
            ]
            == 0.1
        )
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30  # a hang guard
        while (waited := os.wait4(proc.pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        pid, status, usage = waited
        assert pid == proc.pid, "the emulator did not stop within 30 s of SIGINT"
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.returncode == 0
        # Its whole life (import, start, a request, shutdown) costs little CPU.
        assert usage.ru_utime + usage.ru_stime < 5, usage
    finally:
        if proc.poll() is None:
            proc.kill()
