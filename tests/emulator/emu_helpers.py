"""Shared helpers for the emulator's black-box tests (imported by the test modules)."""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_aep.emulator.pytest_plugin import InProcessEmulator

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
DP = "/data/foundation/conversion"
SSC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
SNOW = "eb13cb25-47ab-407f-ba89-c0125281c563"
ODATA = "8e6b41a8-d998-4545-ad7d-c6a9fff406c3"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
PERSON = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL = "https://ns.adobe.com/xdm/context/profile-personal-details"
XED_FULL = "application/vnd.adobe.xed-full+json;version=1"

SSC_BASIC = {
    "specName": "Basic Authentication",
    "params": {
        "environmentUrl": "https://acme.my.salesforce.com",
        "username": "integration@acme.com",
        "password": "sample-password",
        "securityToken": "sample-token",
    },
}


class Api:
    """Thin client over the in-process emulator with platform headers."""

    def __init__(self, emu: InProcessEmulator, sandbox: str = "prod") -> None:
        self.emu = emu
        self.client = emu.client
        self.sandbox = sandbox

    def h(self, **extra: str) -> dict[str, str]:
        return {**self.emu.headers(sandbox=self.sandbox), **extra}

    def get(self, path: str, **kw: Any) -> Any:
        headers = {**self.h(), **kw.pop("headers", {})}
        return self.client.get(path, headers=headers, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        headers = {**self.h(), **kw.pop("headers", {})}
        return self.client.post(path, json=json, headers=headers, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        headers = {**self.h(), **kw.pop("headers", {})}
        return self.client.patch(path, json=json, headers=headers, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        headers = {**self.h(), **kw.pop("headers", {})}
        return self.client.delete(path, headers=headers, **kw)

    # ------------------------------------------------------------------------- builders
    def base_connection(self, spec: str = SSC, auth: dict[str, Any] | None = None, name: str = "ssc") -> str:
        body: dict[str, Any] = {"name": name, "connectionSpec": {"id": spec, "version": "1.0"}}
        if spec == SSC:
            body["auth"] = auth or SSC_BASIC
        elif spec == SNOW:
            body["auth"] = auth or {
                "specName": "Basic Authentication",
                "params": {"endpoint": "https://acme.service-now.com", "username": "u", "password": "p"},
            }
        elif spec == ODATA:
            body["auth"] = auth or {
                "specName": "Anonymous Authentication",
                "params": {"url": "https://odata.example"},
            }
        r = self.post(f"{FS}/connections", body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def source_connection(self, base: str, spec: str = SSC, table: str = "Account", name: str = "src") -> str:
        cols = self.get(
            f"{FS}/connections/{base}/explore", params={"objectType": "table", "object": table}
        ).json()
        body = {
            "name": name,
            "baseConnectionId": base,
            "data": {"format": "tabular"},
            "params": {"tableName": table, "columns": cols["schema"]["columns"]},
            "connectionSpec": {"id": spec, "version": "1.0"},
        }
        r = self.post(f"{FS}/sourceConnections", body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def schema(self, title: str = "Target", refs: tuple[str, ...] = (PROFILE, PERSON, PERSONAL)) -> str:
        body = {
            "type": "object",
            "title": title,
            "description": "target",
            "allOf": [{"$ref": r} for r in refs],
        }
        r = self.post(f"{SR}/tenant/schemas", body)
        assert r.status_code == 201, r.text
        return str(r.json()["$id"])

    def dataset(self, schema_id: str, name: str = "ds") -> str:
        r = self.post(
            f"{CAT}/dataSets", {"name": name, "schemaRef": {"id": schema_id, "contentType": XED_FULL}}
        )
        assert r.status_code == 201, r.text
        return str(r.json()[0].removeprefix("@/dataSets/"))

    def target_connection(self, schema_id: str, dataset_id: str, name: str = "tgt") -> str:
        body = {
            "name": name,
            "data": {"format": "parquet_xdm", "schema": {"id": schema_id, "version": XED_FULL}},
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
        }
        r = self.post(f"{FS}/targetConnections", body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def mapping(self, schema_id: str, rules: dict[str, str] | None = None, name: str | None = None) -> str:
        rules = rules or {"Id": "_id", "Name": "person.name.fullName"}
        body: dict[str, Any] = {
            "outputSchema": {"schemaRef": {"id": schema_id, "contentType": XED_FULL}},
            "mappings": [
                {"sourceType": "ATTRIBUTE", "source": s, "destination": d} for s, d in rules.items()
            ],
        }
        if name:
            body["name"] = name
        r = self.post(f"{DP}/mappingSets", body)
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    def flow_body(self, world: dict[str, str], **over: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "flow",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [world["source"]],
            "targetConnectionIds": [world["target"]],
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
                {"name": "Mapping", "params": {"mappingId": world["mapping"], "mappingVersion": "0"}},
            ],
            "scheduleParams": {"startTime": int(time.time()) - 5, "frequency": "minute", "interval": 15},
        }
        body.update(over)
        return body

    def world(self) -> dict[str, str]:
        base = self.base_connection()
        src = self.source_connection(base)
        schema = self.schema()
        ds = self.dataset(schema)
        tgt = self.target_connection(schema, ds)
        mapping = self.mapping(schema)
        return {
            "base": base,
            "source": src,
            "schema": schema,
            "dataset": ds,
            "target": tgt,
            "mapping": mapping,
        }

    def flow(self, world: dict[str, str], **over: Any) -> str:
        r = self.post(f"{FS}/flows", self.flow_body(world, **over))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def flow_code(resp: Any) -> str:
    """``FLOW-1101-404`` etc. from a Flow Service error body."""
    return str(resp.json()["type"]).rsplit("/", 1)[-1]
