"""Build a ``once`` flow in the emulator over plain HTTP (no operator code), for run tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
DP = "/data/foundation/conversion"
SSC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
XED_FULL = "application/vnd.adobe.xed-full+json;version=1"
PROFILE_REFS = (
    "https://ns.adobe.com/xdm/context/profile",
    "https://ns.adobe.com/xdm/context/profile-person-details",
)
FAST = {"run_duration_seconds": 0.2}
POLL = 0.1


@dataclass
class Flow:
    """Ids of a ready flow."""

    flow_id: str
    dataset_id: str
    api: EmuApi


class EmuApi:
    """Direct Flow Service calls against the emulator fixture."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.base = emu.url
        self.headers = emu.headers()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = requests.request(
            method, self.base + path, json=body, params=params or None, headers=self.headers, timeout=30
        )
        assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def create_run(self, flow_id: str, window: tuple[float, float], start_time: float | None = None) -> str:
        params = {
            "startTime": int(start_time if start_time is not None else time.time()),
            "windowStartTime": int(window[0]),
            "windowEndTime": int(window[1]),
        }
        return str(self.call("POST", f"{FS}/runs", {"flowId": flow_id, "params": params})["id"])

    def get_run(self, run_id: str) -> dict:
        return self.call("GET", f"{FS}/runs/{run_id}")["items"][0]  # type: ignore[no-any-return]

    def runs(self, flow_id: str) -> list[dict]:
        return self.call("GET", f"{FS}/runs", property=f"flowId=={flow_id}")["items"]  # type: ignore[no-any-return]

    def wait_finished(self, run_id: str, limit: float = 10.0) -> dict:
        deadline = time.time() + limit
        while time.time() < deadline:
            run = self.get_run(run_id)
            if run["metrics"]["statusSummary"]["status"] != "inProgress":
                return run
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish")


def make_once_flow(emu: Any, table: str = "Account", name: str = "runs-test") -> Flow:
    """Base/source/target connections, schema, dataset, mapping and a ``once`` flow."""
    api = EmuApi(emu)
    base = api.call(
        "POST",
        f"{FS}/connections",
        {
            "name": f"{name}-base",
            "auth": {
                "specName": "Basic Authentication",
                "params": {
                    "environmentUrl": "https://acme.my.salesforce.com",
                    "username": "u@acme.com",
                    "password": "pw",
                    "securityToken": "tok",
                },
            },
            "connectionSpec": {"id": SSC, "version": "1.0"},
        },
    )["id"]
    cols = api.call("GET", f"{FS}/connections/{base}/explore", objectType="table", object=table)
    source = api.call(
        "POST",
        f"{FS}/sourceConnections",
        {
            "name": f"{name}-src",
            "baseConnectionId": base,
            "data": {"format": "tabular"},
            "params": {"tableName": table, "columns": cols["schema"]["columns"]},
            "connectionSpec": {"id": SSC, "version": "1.0"},
        },
    )["id"]
    schema = api.call(
        "POST",
        f"{SR}/tenant/schemas",
        {
            "type": "object",
            "title": f"{name}-schema",
            "description": "t",
            "allOf": [{"$ref": r} for r in PROFILE_REFS],
        },
    )["$id"]
    dataset = api.call(
        "POST",
        f"{CAT}/dataSets",
        {"name": f"{name}-ds", "schemaRef": {"id": schema, "contentType": XED_FULL}},
    )[0].removeprefix("@/dataSets/")
    target = api.call(
        "POST",
        f"{FS}/targetConnections",
        {
            "name": f"{name}-tgt",
            "data": {"format": "parquet_xdm", "schema": {"id": schema, "version": XED_FULL}},
            "params": {"dataSetId": dataset},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        },
    )["id"]
    mapping = api.call(
        "POST",
        f"{DP}/mappingSets",
        {
            "outputSchema": {"schemaRef": {"id": schema, "contentType": XED_FULL}},
            "mappings": [
                {"sourceType": "ATTRIBUTE", "source": "Id", "destination": "_id"},
                {"sourceType": "ATTRIBUTE", "source": "Name", "destination": "person.name.fullName"},
            ],
        },
    )["id"]
    flow = api.call(
        "POST",
        f"{FS}/flows",
        {
            "name": f"{name}-flow",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [source],
            "targetConnectionIds": [target],
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
                {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": "0"}},
            ],
            "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
        },
    )["id"]
    return Flow(flow_id=str(flow), dataset_id=str(dataset), api=api)
