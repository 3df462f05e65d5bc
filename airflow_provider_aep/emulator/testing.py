"""Plain-HTTP helpers for tests and benchmarks that need ready-made resources in the emulator.

They use the AEP API directly (no hook, no operators), so a test of the sensor or a benchmark of the
trigger does not depend on the code it is not about. Usable by users' own tests too::

    client = EmulatorClient(aep_emulator.url, aep_emulator.headers())
    flow = client.once_flow("my-test")
    run_id = client.create_run(flow.flow_id, 1767225600, 1767312000)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
DP = "/data/foundation/conversion"
SALESFORCE_SPEC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
XED_FULL = "application/vnd.adobe.xed-full+json;version=1"
PROFILE_REFS = (
    "https://ns.adobe.com/xdm/context/profile",
    "https://ns.adobe.com/xdm/context/profile-person-details",
)


class EmulatorAPIError(RuntimeError):
    """An emulator call answered with an error status."""


@dataclass
class OnceFlow:
    """Ids of a ready ``once`` flow."""

    flow_id: str
    dataset_id: str


class EmulatorClient:
    """Direct API calls against a running emulator (one ``requests.Session``).

    :param url: the emulator's base URL.
    :param headers: authenticated AEP headers (e.g. ``aep_emulator.headers()`` from the plugin).
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        import requests

        self.url = url
        self.headers = headers
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One API call; raises :class:`EmulatorAPIError` on an error answer."""
        resp = self.session.request(
            method, self.url + path, json=body, params=params or None, headers=self.headers, timeout=60
        )
        if resp.status_code >= 300:
            raise EmulatorAPIError(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def base_connection(self, name: str) -> str:
        """A Salesforce Service Cloud base connection (sample credentials); its id."""
        body = {
            "name": name,
            "auth": {
                "specName": "Basic Authentication",
                "params": {
                    "environmentUrl": "https://acme.my.salesforce.com",
                    "username": "u@acme.com",
                    "password": "pw",
                    "securityToken": "tok",
                },
            },
            "connectionSpec": {"id": SALESFORCE_SPEC, "version": "1.0"},
        }
        return str(self.call("POST", f"{FS}/connections", body)["id"])

    def columns(self, base: str, table: str) -> list[Any]:
        """Columns of a source table (``/explore``)."""
        cols = self.call("GET", f"{FS}/connections/{base}/explore", objectType="table", object=table)
        return list(cols["schema"]["columns"])

    def source_connection_body(self, name: str, base: str, table: str, columns: list[Any]) -> dict[str, Any]:
        """Body of a tabular Salesforce source connection."""
        return {
            "name": name,
            "baseConnectionId": base,
            "data": {"format": "tabular"},
            "params": {"tableName": table, "columns": columns},
            "connectionSpec": {"id": SALESFORCE_SPEC, "version": "1.0"},
        }

    def once_flow(self, name: str, table: str = "Account") -> OnceFlow:
        """Base/source/target connections, schema, dataset, mapping and a ``once`` flow."""
        base = self.base_connection(f"{name}-base")
        source = self.call(
            "POST",
            f"{FS}/sourceConnections",
            self.source_connection_body(f"{name}-src", base, table, self.columns(base, table)),
        )["id"]
        schema = self.call(
            "POST",
            f"{SR}/tenant/schemas",
            {
                "type": "object",
                "title": f"{name}-schema",
                "description": "test",
                "allOf": [{"$ref": ref} for ref in PROFILE_REFS],
            },
        )["$id"]
        dataset = self.call(
            "POST",
            f"{CAT}/dataSets",
            {"name": f"{name}-ds", "schemaRef": {"id": schema, "contentType": XED_FULL}},
        )[0].removeprefix("@/dataSets/")
        target = self.call(
            "POST",
            f"{FS}/targetConnections",
            {
                "name": f"{name}-tgt",
                "data": {"format": "parquet_xdm", "schema": {"id": schema, "version": XED_FULL}},
                "params": {"dataSetId": dataset},
                "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"},
            },
        )["id"]
        mapping = self.call(
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
        copy = {
            "deltaColumn": {
                "name": "LastModifiedDate",
                "dateFormat": "yyyy-MM-dd HH:mm:ss",
                "timezone": "UTC",
            }
        }
        flow = self.call(
            "POST",
            f"{FS}/flows",
            {
                "name": f"{name}-flow",
                "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
                "sourceConnectionIds": [source],
                "targetConnectionIds": [target],
                "transformations": [
                    {"name": "Copy", "params": copy},
                    {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": "0"}},
                ],
                "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
            },
        )["id"]
        return OnceFlow(flow_id=str(flow), dataset_id=str(dataset))

    def create_run(
        self, flow_id: str, window_start: float, window_end: float, start_time: float | None = None
    ) -> str:
        """An on-demand run of a ``once`` flow for ``[window_start, window_end)`` (epoch seconds)."""
        params = {
            "startTime": int(start_time if start_time is not None else time.time()),
            "windowStartTime": int(window_start),
            "windowEndTime": int(window_end),
        }
        return str(self.call("POST", f"{FS}/runs", {"flowId": flow_id, "params": params})["id"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run."""
        return dict(self.call("GET", f"{FS}/runs/{run_id}")["items"][0])

    def runs(self, flow_id: str) -> list[dict[str, Any]]:
        """The runs of a flow."""
        return list(self.call("GET", f"{FS}/runs", property=f"flowId=={flow_id}")["items"])

    def wait_finished(self, run_id: str, limit: float = 10.0) -> dict[str, Any]:
        """Poll a run until it leaves ``inProgress``; raises ``TimeoutError`` after ``limit`` s."""
        deadline = time.time() + limit
        while time.time() < deadline:
            run = self.get_run(run_id)
            if run["metrics"]["statusSummary"]["status"] != "inProgress":
                return run
            time.sleep(0.05)
        raise TimeoutError(f"run {run_id} did not finish within {limit} s")
