"""OpenLineage of the on-demand run operator and the flow-run sensor (in process, emulator-backed).

The DAG-level test covers the listener; this one calls the operators' methods directly, for the
run operator and the sensor, success and failure, and the exact statistics of the run they waited for.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPFlowRunError
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from tests.sensors.flowrun_helpers import FAST, POLL, make_once_flow

D1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
D2 = D1 + timedelta(days=3)


class FakeTI:
    """What the operators push to (their XComs are not under test here)."""

    start_date = datetime.now(timezone.utc)

    def xcom_push(self, key: str, value: object) -> None:
        pass


@pytest.fixture
def flow(aep_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    aep_emulator.set_env(monkeypatch)
    aep_emulator.set_config(**FAST)
    return make_once_flow(aep_emulator, name="lineage-runs")


def _check_datasets(lineage: Any, flow: Any) -> None:
    (source,) = lineage.inputs
    assert (source.namespace, source.name) == ("salesforce://acme.my.salesforce.com", "Account")
    assert {f.name for f in source.facets["schema"].fields} >= {"Id", "Name"}
    (output,) = lineage.outputs
    assert (output.namespace, output.name) == ("aep://EMULATORORG/prod", f"datasets/{flow.dataset_id}")
    edges = {k: [i.field for i in v.inputFields] for k, v in output.facets["columnLineage"].fields.items()}
    assert edges == {"_id": ["Id"], "person.name.fullName": ["Name"]}  # the helper flow's mapping set


def test_run_operator_reports_the_rows_its_run_wrote(aep_emulator: Any, flow: Any) -> None:
    op = AEPRunFlowOperator(
        task_id="run",
        flow_id=flow.flow_id,
        poll_interval=POLL,
        deferrable=False,
        window_start=D1,
        window_end=D2,
    )
    start = op.get_openlineage_facets_on_start()
    _check_datasets(start, flow)
    assert start.outputs[0].outputFacets == {}  # nothing written yet
    run_id = op.execute({"ti": FakeTI()})
    complete = op.get_openlineage_facets_on_complete(None)
    _check_datasets(complete, flow)
    written = len(aep_emulator.records(flow.dataset_id))
    assert written > 0
    assert complete.outputs[0].outputFacets["outputStatistics"].rowCount == written
    assert complete.run_facets["externalQuery"].externalQueryId == run_id


def test_sensor_failure_carries_the_aep_error(aep_emulator: Any, flow: Any) -> None:
    aep_emulator.set_faults(force_run_status="failed")
    run_id = flow.api.create_run(flow.flow_id, (D1.timestamp(), D2.timestamp()))
    flow.api.wait_finished(run_id)
    sensor = AEPFlowRunSensor(task_id="wait", run_id=run_id, flow_id=flow.flow_id, deferrable=False)
    with pytest.raises(AEPFlowRunError) as raised:
        sensor.execute({"ti": FakeTI()})
    failure = sensor.get_openlineage_facets_on_failure(None)
    _check_datasets(failure, flow)
    assert failure.run_facets["errorMessage"].message == str(raised.value)
    assert run_id in failure.run_facets["errorMessage"].message
    assert failure.run_facets["externalQuery"].externalQueryId == run_id
