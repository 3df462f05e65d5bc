"""Real DAG runs (``dag.test()``): input errors end the task on its first try; a downstream task reads
the run summary from XCom."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from flowrun_helpers import FAST, make_once_flow

from tests.conftest import private_airflow_db

D2 = datetime(2026, 1, 2, tzinfo=timezone.utc)

DAG_FILE = """
import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, task
from airflow.sdk.definitions.timetables.interval import DeltaDataIntervalTimetable

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

start = datetime(2026, 1, 1, tzinfo=timezone.utc)
retry = {"retries": 2, "retry_delay": timedelta(seconds=0)}
schedule = DeltaDataIntervalTimetable(timedelta(days=1))

with DAG("aep_ops_no_retry", schedule=schedule, start_date=start, catchup=False) as no_retry:
    AEPRunFlowOperator(task_id="bad_sandbox", flow_name="{{ params.flow }}", sandbox_name="Prod Sandbox",
                       params={"flow": "x"}, **retry)
    AEPFlowRunSensor(task_id="bad_gate_input", flow_name="{{ params.flow }}", params={"flow": 'a "b"'},
                     **retry)

    @task(retries=1, retry_delay=timedelta(seconds=0))
    def control():
        raise ValueError("an ordinary error is retried")

    control()

with DAG("aep_ops_summary", schedule=schedule, start_date=start, catchup=False) as summary_dag:
    run = AEPRunFlowOperator(task_id="run", flow_name=os.environ.get("AEP_OPS_FLOW", "x"), poll_interval=0.1,
                             deferrable=False, max_failed_ratio=0.0, min_records_written=1)
    wait = AEPFlowRunSensor(task_id="wait", flow_name=os.environ.get("AEP_OPS_FLOW", "x"), poke_interval=0.1,
                            timeout=60, deferrable=False)

    @task
    def report(ti=None):
        summary = ti.xcom_pull(task_ids="run", key=xcom_keys.RUN_SUMMARY)
        sensed = ti.xcom_pull(task_ids="wait", key=xcom_keys.RUN_SUMMARY)
        assert summary["run_ids"] == sensed["run_ids"], (summary, sensed)
        return {"written": summary["records_written"], "status": summary["status"]}

    run >> wait >> report()
"""


@pytest.fixture(scope="module")
def airflow_db(airflow_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("aep_ops_dag_home")
    dags = home / "dags"
    dags.mkdir()
    (dags / "aep_ops_test_dags.py").write_text(DAG_FILE)
    with private_airflow_db(
        airflow_db_template,
        home,
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
    ) as ready:
        yield ready


def _dag(airflow_db: Path, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(airflow_db / "dags"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None
    return dag


def test_input_error_ends_the_task_on_its_first_try(airflow_db, aep_emulator, monkeypatch):
    aep_emulator.set_env(monkeypatch)
    aep_emulator.clear_requests()
    dr = _dag(airflow_db, "aep_ops_no_retry").test(logical_date=D2)
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert tis["control"].state == "failed" and tis["control"].try_number == 2  # the harness does retry
    for task_id in ("bad_sandbox", "bad_gate_input"):
        assert tis[task_id].state == "failed", task_id
        assert tis[task_id].try_number == 1, task_id  # no retry
    assert [r for r in aep_emulator.requests() if not r["path"].startswith("/ims/")] == []


def test_downstream_task_reads_the_run_summary(airflow_db, aep_emulator, monkeypatch):
    aep_emulator.set_env(monkeypatch)
    aep_emulator.set_config(**FAST)
    flow = make_once_flow(aep_emulator, name="ops-summary")
    monkeypatch.setenv("AEP_OPS_FLOW", "ops-summary-flow")
    dr = _dag(airflow_db, "aep_ops_summary").test(logical_date=D2)
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert {k: ti.state for k, ti in tis.items()} == {
        "run": "success",
        "wait": "success",
        "report": "success",
    }
    assert tis["report"].xcom_pull(task_ids="report") == {"written": 4, "status": "success"}
    assert len(flow.api.runs(flow.flow_id)) == 1
