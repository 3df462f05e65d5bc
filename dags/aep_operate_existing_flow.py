"""Operate a dataflow that already exists: run it by name every day, gate its quality, re-run a failure.

Many teams create their dataflows once, in the AEP UI, and let Airflow drive them. This DAG never
creates anything: it finds the ``once``-scheduled flow by its name (``params.flow_name``), starts
one on-demand run for the DAG run's data interval, waits for it in the triggerer, and then:

* re-triggers a failed run once (AEP's re-trigger action; a retried task never re-triggers twice);
* fails without retries when more than 5 % of the records read failed, or nothing was written
  (the log shows a sample of the row errors when the flow keeps error diagnostics);
* publishes the run summary (XCom ``run_summary``) for downstream consumers.

``aep-demo aep_operate_existing_flow`` first creates the flow in the emulator over plain HTTP, as a
team would in the UI, then runs this DAG.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.sdk import DAG, Param, task
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from airflow_provider_aep.operators.runs import AEPRunFlowOperator

#: The flow the demo creates first (the emulator's ``once_flow("aep-demo-existing")``).
DEFAULT_FLOW_NAME = "aep-demo-existing-flow"
AEP_CONN_ID = "aep_default"

with DAG(
    "aep_operate_existing_flow",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": datetime.timedelta(seconds=30)},
    params={"flow_name": Param(DEFAULT_FLOW_NAME, type="string", description="exact name of the flow")},
    tags=["aep", "example"],
) as dag:
    run_flow = AEPRunFlowOperator(
        task_id="run_flow",
        aep_conn_id=AEP_CONN_ID,
        flow_name="{{ params.flow_name }}",
        deferrable=True,
        poll_interval=5,
        timeout=datetime.timedelta(hours=2),
        retrigger_failed=1,
        max_failed_ratio=0.05,
        min_records_written=1,
    )

    @task
    def publish_summary(ti: Any = None) -> dict[str, Any]:
        """Read the run summary the run task pushed and publish the figures a consumer needs."""
        summary = ti.xcom_pull(task_ids="run_flow", key="run_summary")
        published = {
            "flow_id": summary["flow_id"],
            "run_ids": summary["run_ids"],
            "status": summary["status"],
            "records_written": summary["records_written"],
            "records_failed": summary["records_failed"],
            "window": [summary["window_start"], summary["window_end"]],
        }
        print(f"AEP run summary: {published}")
        return published

    run_flow >> publish_summary()
