"""Operate a dataflow that already exists: run it by name every day, gate its quality, re-run a failure.

Many teams create their dataflows once, in the AEP UI, and let Airflow drive them. This DAG never
creates anything: it finds the `once`-scheduled flow by its name (the **Flow name** param), starts
one on-demand run for the DAG run's data interval, waits for it in the triggerer, and then:

- re-triggers a failed run once (AEP's re-trigger action; a retried task never re-triggers twice);
- fails without retries when more than 5 % of the records read failed, or nothing was written
  (the log shows a sample of the row errors when the flow keeps error diagnostics);
- publishes the run summary (XCom `run_summary`) for downstream consumers.

The DAG runs daily, for the day before; `catchup` is off, so unpausing it queues one run.

### Params (trigger form)

- `aep_conn_id` / `sandbox_name`: the AEP connection and sandbox (empty sandbox: the connection's).
- `flow_name`: the exact name of the flow to run.

The run task checks the run every 30 s (AEP is rate-limited); against the local emulator,
`AEP_EMULATOR_POLL_SECONDS` makes it poll faster. `aep-demo aep_operate_existing_flow` first
creates the flow in the emulator over plain HTTP, as a team would in the UI, then runs this DAG.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.sdk import DAG, Param, task
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from airflow_provider_aep import params as aep_params
from airflow_provider_aep import xcom_keys
from airflow_provider_aep.operators.runs import AEPRunFlowOperator

#: The flow the demo creates first (the emulator's `once_flow("aep-demo-existing")`).
DEFAULT_FLOW_NAME = "aep-demo-existing-flow"

with DAG(
    "aep_operate_existing_flow",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    render_template_as_native_obj=True,  # an empty sandbox param stays None
    default_args=aep_params.aep_default_args(retry_delay=datetime.timedelta(seconds=30)),
    params={
        **aep_params.aep_connection_params(),
        "flow_name": Param(
            DEFAULT_FLOW_NAME,
            type="string",
            minLength=1,
            title="Flow name",
            description="Exact name of the AEP dataflow to run (a flow with frequency once).",
        ),
    },
    tags=["aep", "example"],
) as dag:
    run_flow = AEPRunFlowOperator(
        task_id="run_flow",
        flow_name="{{ params.flow_name }}",
        deferrable=True,
        # AEP is rate-limited: one status check every 30 s. Emulator-only speed-up: the provider
        # reads AEP_EMULATOR_POLL_SECONDS at run time against a loopback AEP (demo and tests set it).
        poll_interval=30,
        timeout=datetime.timedelta(hours=2),
        retrigger_failed=1,
        max_failed_ratio=0.05,
        min_records_written=1,
    )

    @task
    def publish_summary(ti: Any = None) -> dict[str, Any]:
        """Read the run summary the run task pushed and publish the figures a consumer needs."""
        summary = ti.xcom_pull(task_ids="run_flow", key=xcom_keys.RUN_SUMMARY)
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
