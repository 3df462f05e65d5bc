"""Test-only DAG of the distributed real-engine test: many deferred waits at once.

``dag_run.conf["waits"]`` lists the waits as keyword arguments of ``AEPFlowRunSensor`` (``flow_id``,
``started_after``, ``timeout``...); each becomes one mapped, deferrable sensor, so a wait whose run
succeeds ends ``success`` and one whose run fails ends ``failed``.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.sdk import DAG, get_current_context, task

from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

with DAG(
    dag_id="aep_e2e_waits",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    # Ahead of the other DAGs' tasks in the queue: the waits must all be deferred early.
    default_args={"priority_weight": 100},
):

    @task
    def waits() -> list[dict[str, Any]]:
        """The waits requested in the run's conf."""
        conf = get_current_context()["dag_run"].conf or {}
        return list(conf.get("waits") or [])

    AEPFlowRunSensor.partial(task_id="wait", deferrable=True, poke_interval=2).expand_kwargs(waits())
