"""Run AEPRunFlowOperator + AEPFlowRunSensor inside a real DAG run with ``dag.test()``.

``dag.test()`` in Airflow 3 runs deferred tasks' triggers inline, so the deferrable variant goes
through serialisation, the trigger's ``run()`` and ``execute_complete`` like a real deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from flowrun_helpers import FAST, make_once_flow

from airflow_provider_aep.runs_status import to_epoch_seconds
from tests.conftest import private_airflow_db

D1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
D2 = datetime(2026, 1, 2, tzinfo=timezone.utc)

DAG_FILE = """
import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG
from airflow.sdk.definitions.timetables.interval import DeltaDataIntervalTimetable

from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

for deferrable in (False, True):
    dag_id = "aep_runs_" + ("deferrable" if deferrable else "poke")
    schedule = DeltaDataIntervalTimetable(timedelta(days=1))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with DAG(dag_id, schedule=schedule, start_date=start, catchup=False) as dag:
        flow_id = os.environ.get("AEP_RUNS_TEST_FLOW_ID", "3fb0418e-1804-45d6-8d56-dd51f05c0baf")
        run = AEPRunFlowOperator(task_id="run", flow_id=flow_id, poll_interval=0.1, deferrable=deferrable)
        # the window defaults to the DAG run's data interval
        wait = AEPFlowRunSensor(task_id="wait_window", flow_id=flow_id, poke_interval=0.1, timeout=60,
                                deferrable=deferrable)
        by_id = AEPFlowRunSensor(task_id="wait_id", run_id="{{ ti.xcom_pull(task_ids='run', key='run_id') }}",
                                 poke_interval=0.1, timeout=60, deferrable=deferrable)
        run >> [wait, by_id]
    globals()[dag_id] = dag
"""


@pytest.fixture(scope="module")
def airflow_db(airflow_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private copy of the session's metadata DB with this module's DAG file."""
    home = tmp_path_factory.mktemp("aep_runs_dag_home")
    dags = home / "dags"
    dags.mkdir()
    (dags / "aep_runs_test_dags.py").write_text(DAG_FILE)
    with private_airflow_db(
        airflow_db_template,
        home,
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
    ) as ready:
        yield ready


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_dag_run_with_data_interval(airflow_db, aep_emulator, monkeypatch, deferrable):
    from airflow.dag_processing.dagbag import DagBag

    aep_emulator.set_env(monkeypatch)
    aep_emulator.set_config(**FAST)
    flow = make_once_flow(aep_emulator, name=f"dag-{deferrable}")
    monkeypatch.setenv("AEP_RUNS_TEST_FLOW_ID", flow.flow_id)
    bag = DagBag(dag_folder=str(airflow_db / "dags"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(f"aep_runs_{'deferrable' if deferrable else 'poke'}")
    assert dag is not None

    dr = dag.test(logical_date=D2)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states == {"run": "success", "wait_window": "success", "wait_id": "success"}, states
    runs = flow.api.runs(flow.flow_id)
    assert len(runs) == 1
    window = runs[0]["activities"][0]["durationSummary"]["extensions"]
    interval = (dr.data_interval_start.timestamp(), dr.data_interval_end.timestamp())
    assert interval == (D1.timestamp(), D2.timestamp())  # a run at logical date D2 covers [D1, D2)
    assert (to_epoch_seconds(window["windowStart"]), to_epoch_seconds(window["windowEnd"])) == interval
    assert len(aep_emulator.records(flow.dataset_id)) == 4  # 4 sample rows per day
