"""One home for the wait logic: the sensor, the run operator and the trigger use the same objects,
and the run operator no longer needs the sensor module; one UUID check, at the same step."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from airflow_provider_aep import wait
from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators import runs
from airflow_provider_aep.operators.flows import AEPSetFlowStateOperator
from airflow_provider_aep.sensors import flow_run as sensor_module
from airflow_provider_aep.triggers import flow_run as trigger_module
from airflow_provider_aep.validation import check_uuid


@pytest.fixture(autouse=True)
def _aep_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection to read settings from (the poll-interval floor depends on the host); no HTTP."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AEP_DEFAULT",
        json.dumps(
            {
                "conn_type": "adobe_experience_platform",
                "login": "client",
                "password": "secret-value",
                "host": "http://127.0.0.1:9",
                "extra": {"ims_org_id": "ORG@AdobeOrg"},
            }
        ),
    )


JAN1 = "2026-01-01T00:00:00Z"
JAN2 = "2026-01-02T00:00:00Z"


def test_run_operator_does_not_import_the_sensor_module() -> None:
    code = (
        "import sys, airflow_provider_aep.operators.runs; "
        "print('airflow_provider_aep.sensors.flow_run' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    # The last line: Airflow may log to stdout first (a session fixture of another file can leave
    # AIRFLOW__CORE__UNIT_TEST_MODE in this worker's environment, and Airflow then says so).
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout


def test_sensor_operator_and_trigger_share_the_wait_objects() -> None:
    assert runs.FlowRunWaitMixin is sensor_module.FlowRunWaitMixin is wait.FlowRunWaitMixin
    assert trigger_module.TRANSIENT_ERRORS is wait.TRANSIENT_ERRORS
    assert trigger_module.EVENT_STATUSES is wait.EVENT_STATUSES
    assert runs.resolve_window is sensor_module.resolve_window is wait.resolve_window


BAD_IDS = ["flow-1", "", "3fb0418e-1804-45d6-8d56-dd51f05c0ba", 42]  # None: "missing" (flow_name)


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    ("build", "field"),
    [
        (
            lambda v: runs.AEPRunFlowOperator(
                task_id="r", flow_id=v, window_start=JAN1, window_end=JAN2
            ).validate({}),
            "flow_id",
        ),
        (
            lambda v: sensor_module.AEPFlowRunSensor(task_id="s", flow_id=v, started_after=JAN1).build_target(
                {}
            ),
            "flow_id",
        ),
        (lambda v: sensor_module.AEPFlowRunSensor(task_id="s", run_id=v or "x").build_target({}), "run_id"),
        (lambda v: AEPSetFlowStateOperator(task_id="f", flow_id=v, enabled=True), "flow_id"),
    ],
    ids=["run-operator", "sensor-flow", "sensor-run", "set-flow-state"],
)
def test_one_uuid_check_same_message(build: Any, field: str, bad: Any) -> None:
    """Literal ids fail when the DAG is parsed (``__init__``), in every operator, with one message."""
    with pytest.raises(AEPInputError) as info:
        build(bad)
    with pytest.raises(AEPInputError) as direct:
        check_uuid(field, bad if field != "run_id" else (bad or "x"))
    assert str(info.value) == str(direct.value)
