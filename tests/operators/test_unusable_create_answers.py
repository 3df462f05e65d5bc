"""Issue 11, defect 7 end to end: a create that committed but was answered without an id.

The emulator commits the POST; the gateway in front of it (requests-mock, forwarding the request
for real) hands the client an unusable 200 (``{}``, ``{"items": []}``, ``[]``, non-JSON). The
hook raises ``AEPResponseLostError`` ("may have been committed"), the operator looks the name up
and adopts the committed resource: exactly one resource, no ``KeyError``.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import requests_mock as rm

from airflow_provider_aep.emulator.testing import PROFILE_REFS, EmulatorClient
from airflow_provider_aep.operators.connections import AEPCreateBaseConnectionOperator
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator

FS = "/data/foundation/flowservice"
CAT = "/data/foundation/catalog"


def _forward_then(answer: dict[str, Any]) -> Any:
    """A callback that really sends the request to the emulator, then answers *answer*."""

    def callback(request: Any, context: Any) -> Any:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-length", "host")}
        forwarded = urllib.request.Request(  # noqa: S310 (the loopback emulator)
            request.url, data=request.body, headers=headers, method=request.method
        )
        with urllib.request.urlopen(forwarded, timeout=30) as response:  # noqa: S310
            assert response.status < 300
        context.status_code = 200
        if "text" in answer:
            context.headers["Content-Type"] = "text/html"
            return answer["text"]
        return json.dumps(answer["json"])

    return callback


ANSWERS = [{"json": {}}, {"json": {"items": []}}, {"json": []}, {"text": "<html>ok</html>"}]


@pytest.mark.parametrize("answer", ANSWERS, ids=["{}", "items-empty", "[]", "not-json"])
def test_base_connection_committed_without_an_id_is_adopted(aep_emulator, monkeypatch, run_op, answer):
    aep_emulator.set_env(monkeypatch)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ODATA_SRC",
        json.dumps({"conn_type": "generic", "host": "https://services.odata.org/V4/Northwind/Northwind.svc"}),
    )
    op = AEPCreateBaseConnectionOperator(
        task_id="base", name="unusable answer base", source="generic_odata", source_conn_id="odata_src"
    )
    with rm.Mocker(real_http=True) as mock:
        mock.post(f"{aep_emulator.url}{FS}/connections", text=_forward_then(answer))
        connection_id, _ = run_op(op)
    same_name = [c["id"] for c in op.hook.list_base_connections() if c.get("name") == "unusable answer base"]
    assert same_name == [connection_id]


@pytest.mark.parametrize("answer", ANSWERS, ids=["{}", "items-empty", "[]", "not-json"])
def test_dataset_committed_without_an_id_is_adopted(aep_emulator, monkeypatch, run_op, answer):
    aep_emulator.set_env(monkeypatch)
    api = EmulatorClient(aep_emulator.url, aep_emulator.headers())
    schema = api.call(
        "POST",
        "/data/foundation/schemaregistry/tenant/schemas",
        {
            "type": "object",
            "title": "unusable answers",
            "description": "t",
            "allOf": [{"$ref": r} for r in PROFILE_REFS],
        },
    )["$id"]
    op = AEPCreateDatasetOperator(task_id="ds", name="unusable answer ds", schema_id=schema)
    with rm.Mocker(real_http=True) as mock:
        mock.post(f"{aep_emulator.url}{CAT}/dataSets", text=_forward_then(answer))
        dataset_id, _ = run_op(op)
    datasets = list(op.hook.list_datasets(name="unusable answer ds"))
    assert [d["id"] for d in datasets] == [dataset_id]
