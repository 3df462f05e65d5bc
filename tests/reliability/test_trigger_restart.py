"""A deferred wait survives a triggerer restart.

The triggerer stores ``trigger.serialize()`` in the metadata DB; after a restart it re-creates the
trigger from that form. The re-created trigger must wait for the same run(s) with the SAME absolute
deadline (not a fresh timeout from the restart) and its event must conclude the task.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_aep import xcom_keys
from tests.reliability.conftest import AEP
from tests.reliability.pipeline import FLOW_FIRST_RUN, WINDOW_END, WINDOW_START, FakeTI, Pipeline


def _context() -> dict[str, Any]:
    ti = FakeTI("wait")
    return {
        "ti": ti,
        "task_instance": ti,
        "params": {},
        "data_interval_start": None,
        "data_interval_end": None,
    }


def _defer(op: Any, context: dict[str, Any]) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    return info.value


def _revive(serialized: tuple[str, dict[str, Any]]) -> Any:
    """What the triggerer does after a restart: import the classpath, kwargs from the DB (JSON)."""
    from airflow.sdk._shared.module_loading import import_string

    classpath, kwargs = serialized
    return import_string(classpath)(**json.loads(json.dumps(kwargs)))


async def _run_for(trigger: Any, seconds: float) -> Any:
    """Run the trigger for ``seconds`` (then the triggerer 'dies'); its event if it fired."""

    async def first() -> Any:
        async for event in trigger.run():
            return event
        return None

    try:
        return await asyncio.wait_for(first(), seconds)
    except asyncio.TimeoutError:
        return None


def _runs(aep: AEP) -> int:
    return aep.counts().get("runs", 0)


def test_sensor_trigger_recreated_after_restart_finishes_same_run(aep: AEP) -> None:
    from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

    # The run must outlast the first triggerer (0.5 s after deferring): 5 s leaves seconds of slack
    # for a busy machine (with 2 s, a 1 s stall before it finished the run first).
    aep.set_config(run_duration_seconds=5.0)
    pipeline = Pipeline(prefix="restart sensor")
    flow_id = pipeline.run(wait=False)["create_dataflow"]
    sensor = AEPFlowRunSensor(
        task_id="wait",
        flow_id=flow_id,
        started_after=FLOW_FIRST_RUN,
        deferrable=True,
        poke_interval=0.2,
        timeout=60,
    )
    context = _context()
    before = time.time()
    deferred = _defer(sensor, context)
    stored = deferred.trigger.serialize()
    deadline = stored[1]["end_time"]
    assert before + 59 <= deadline <= time.time() + 60, "the deadline is not absolute (started + timeout)"

    # The first triggerer polls a little, then dies before the run finishes.
    assert asyncio.run(_run_for(_revive(stored), 0.5)) is None
    time.sleep(0.3)
    revived = _revive(stored)
    assert revived.serialize() == stored, "the re-created trigger is not the same trigger"
    assert revived.end_time == deadline

    event = asyncio.run(_run_for(revived, 60))
    assert event is not None and event.payload["status"] == "success", event
    run_ids = [r["run_id"] for r in event.payload["runs"]]
    result = sensor.execute_complete(context, event=event.payload)
    assert result == run_ids[0]
    assert _runs(aep) == 1, "the restart started or saw another run"


def test_restarted_trigger_keeps_the_original_deadline(aep: AEP) -> None:
    """The deadline passes while the triggerer is down: the revived trigger times out at once,
    it does not grant itself a fresh timeout."""
    from airflow.sdk.exceptions import AirflowSensorTimeout

    from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

    aep.set_config(run_duration_seconds=30.0)
    flow_id = Pipeline(prefix="restart deadline").run(wait=False)["create_dataflow"]
    sensor = AEPFlowRunSensor(
        task_id="wait",
        flow_id=flow_id,
        started_after=FLOW_FIRST_RUN,
        deferrable=True,
        poke_interval=0.2,
        timeout=1,
    )
    context = _context()
    stored = _defer(sensor, context).trigger.serialize()
    time.sleep(max(0.0, stored[1]["end_time"] - time.time()) + 0.2)  # triggerer down past the deadline

    aep.clear_requests()
    event = asyncio.run(_run_for(_revive(stored), 30))
    assert event is not None and event.payload["status"] == "timeout", event
    # At once, without a poll (a fresh 1 s timeout would poll every 0.2 s until it ran out).
    polls = [r for r in aep.requests() if r["method"] == "GET" and "/flowservice/runs" in r["path"]]
    assert polls == [], "the revived trigger waited again instead of timing out"
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(context, event=event.payload)
    assert _runs(aep) == 1


def test_run_operator_trigger_recreated_after_restart_waits_for_same_run(aep: AEP) -> None:
    """On-demand run: the run is created once before deferring (its id pushed to XCom first); the
    revived trigger waits for that run id and concludes the task; no second ``POST /runs``."""
    from airflow_provider_aep.operators.runs import AEPRunFlowOperator

    aep.set_config(run_duration_seconds=5.0)  # outlasts the first triggerer even on a busy machine
    flow_id = Pipeline(prefix="restart run", variant="on_demand").run(wait=False)["create_dataflow"]
    operator = AEPRunFlowOperator(
        task_id="run", flow_id=flow_id, window_start=WINDOW_START, window_end=WINDOW_END,
        deferrable=True, poll_interval=0.2, timeout=60,
    )  # fmt: skip
    context = _context()
    stored = _defer(operator, context).trigger.serialize()
    run_id = stored[1]["run_id"]
    assert run_id and context["ti"].xcoms[xcom_keys.RUN_ID] == run_id, "run id not pushed before deferring"
    assert asyncio.run(_run_for(_revive(stored), 0.3)) is None
    time.sleep(0.2)

    revived = _revive(stored)
    assert revived.serialize() == stored
    event = asyncio.run(_run_for(revived, 60))
    assert event is not None and event.payload["status"] == "success", event
    assert [r["run_id"] for r in event.payload["runs"]] == [run_id]
    assert operator.execute_complete(context, event=event.payload) == run_id
    posts = [r for r in aep.requests() if r["method"] == "POST" and r["path"].endswith("/flowservice/runs")]
    assert len(posts) == 1 and _runs(aep) == 1


def test_run_operator_retry_while_run_in_progress_reuses_it(aep: AEP) -> None:
    """The task is retried (worker lost, triggerer down) while its run is still in progress: the
    retry waits for the same run; no second ``POST /runs``, every row ingested once."""
    from airflow_provider_aep.operators.runs import AEPRunFlowOperator

    aep.set_config(run_duration_seconds=5.0)  # still in progress when the retry looks, even if busy
    pipeline = Pipeline(prefix="retry run", variant="on_demand")
    flow_id = pipeline.run(wait=False)["create_dataflow"]

    def operator() -> AEPRunFlowOperator:
        return AEPRunFlowOperator(
            task_id="run", flow_id=flow_id, window_start=WINDOW_START, window_end=WINDOW_END,
            deferrable=True, poll_interval=0.2, timeout=60,
        )  # fmt: skip

    first = _defer(operator(), _context()).trigger.serialize()
    retry_context = _context()
    retry = _defer(operator(), retry_context).trigger.serialize()
    assert retry[1]["run_id"] == first[1]["run_id"], "the retry started a second run for the same window"

    event = asyncio.run(_run_for(_revive(retry), 60))
    assert event is not None and event.payload["status"] == "success", event
    assert operator().execute_complete(retry_context, event=event.payload) == first[1]["run_id"]
    assert _runs(aep) == 1
    assert pipeline.dataset_id
    records = aep.records(pipeline.dataset_id)
    assert len(records) == 28 and len({r["_id"] for r in records}) == 28
