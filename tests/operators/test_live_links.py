"""UI links computed by the worker in the process that ran the task read what it pushed, not XCom.

Airflow's task runner calls every extra link's ``get_link`` when a task ends or defers. A link that
reads an XCom the task has not pushed (a wait that deferred before any run existed, a create that
failed) gets a 404, which Airflow's client logs as ``[error] XCom not found`` in the worker's log:
one false error per deferral. These tests fail on any XCom read in that process.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from airflow.sdk.execution_time.xcom import XCom

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPError
from airflow_provider_aep.links import AEPDatasetLink, AEPFlowRunLink
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from tests.operators.conftest import FakeTI

FLOW = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"


@pytest.fixture
def xcom_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every XCom read, by key; the value read is the one a stored XCom would give."""
    reads: list[str] = []

    def get_value(*, ti_key: Any, key: str) -> Any:
        reads.append(key)
        return {xcom_keys.RUN_URL: "https://stored.example/run"}.get(key)

    monkeypatch.setattr(XCom, "get_value", staticmethod(get_value))
    return reads


def _run_live(op: Any) -> tuple[Any, FakeTI]:
    """What the task runner does: ``pre_execute``, then ``execute``."""
    ti = FakeTI()
    context: Any = {"ti": ti}
    op.pre_execute(context)
    return op.execute(context), ti


def test_a_create_task_links_from_what_it_pushed(aep: Any, xcom_reads: list[str]) -> None:
    schema, _ = _run_live(AEPCreateSchemaOperator(task_id="t", title="Live link target"))
    dataset_op = AEPCreateDatasetOperator(task_id="d", name="live-link-ds", schema_id=schema)
    dataset, ti = _run_live(dataset_op)
    url = AEPDatasetLink().get_link(dataset_op, ti_key=None)  # type: ignore[arg-type]
    assert url.endswith(f"/platform/dataset/browse/{dataset}")
    assert f"@{ti.xcoms[xcom_keys.UI_ORG]}/sname:{ti.xcoms[xcom_keys.UI_SANDBOX]}/" in url
    assert xcom_reads == []


def test_a_create_task_that_failed_has_no_link_and_reads_no_xcom(aep: Any, xcom_reads: list[str]) -> None:
    missing = "https://ns.adobe.com/emulatortenant/schemas/0123456789abcdef0123456789abcdef"
    op = AEPCreateDatasetOperator(task_id="d", name="no-schema-ds", schema_id=missing)
    with pytest.raises(AEPError):  # the schema does not exist
        _run_live(op)
    assert AEPDatasetLink().get_link(op, ti_key=None) == ""  # type: ignore[arg-type]
    assert xcom_reads == []


def test_a_wait_that_defers_before_any_run_reads_no_xcom(aep: Any, xcom_reads: list[str]) -> None:
    from tests.sensors.flowrun_helpers import make_once_flow

    flow = make_once_flow(aep).flow_id
    sensor = AEPFlowRunSensor(task_id="w", flow_id=flow, started_after=2_000_000_000, deferrable=True)
    with pytest.raises(TaskDeferred):
        _run_live(sensor)
    assert AEPFlowRunLink().get_link(sensor, ti_key=None) == ""  # type: ignore[arg-type]
    assert xcom_reads == []


def test_a_wait_for_a_known_run_links_to_it_before_deferring(aep: Any, xcom_reads: list[str]) -> None:
    run = "5c2c8f9e-c382-4030-8054-82df5459b5db"
    sensor = AEPFlowRunSensor(task_id="w", flow_id=FLOW, run_id=run, deferrable=True)
    ti = FakeTI()
    sensor.pre_execute({"ti": ti})  # type: ignore[arg-type]
    try:
        sensor.execute({"ti": ti})  # type: ignore[arg-type]
    except Exception:  # noqa: S110 - the run does not exist: only the link pushed first matters
        pass
    link = AEPFlowRunLink().get_link(sensor, ti_key=None)  # type: ignore[arg-type]
    assert link == ti.xcoms[xcom_keys.RUN_URL]
    assert link.endswith(f"/activity/{run}")
    assert xcom_reads == []


def test_a_resumed_wait_and_a_task_that_did_not_run_here_read_the_xcom(xcom_reads: list[str]) -> None:
    resumed = AEPFlowRunSensor(task_id="w", flow_id=FLOW, deferrable=True)
    resumed.pre_execute({"ti": FakeTI()})  # type: ignore[arg-type]
    resumed.forget_pushed_here()  # what resume_execution does: the earlier process pushed the URL
    assert AEPFlowRunLink().get_link(resumed, ti_key=None) == "https://stored.example/run"  # type: ignore[arg-type]
    elsewhere = AEPFlowRunSensor(task_id="w2", flow_id=FLOW)
    assert AEPFlowRunLink().get_link(elsewhere, ti_key=None) == "https://stored.example/run"  # type: ignore[arg-type]
    assert xcom_reads == [xcom_keys.RUN_URL, xcom_keys.RUN_URL]
