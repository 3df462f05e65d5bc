"""The customer-success DAG itself (``dag.test()``) under faults: task retries, re-runs, one of each.

``dag.test()`` runs every task in-process through the Task SDK and runs the sensor's trigger
inline, the way the triggerer would; the emulator is the session's real HTTP server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.reliability.conftest import AEP, FS, DagRunResult, fast_sensor, load_dag

PIPELINE_TASKS = (
    "create_base_connection",
    "create_source_connection",
    "create_target_schema",
    "create_dataset",
    "create_target_connection",
    "create_mapping_set",
    "get_flow_spec",
    "create_dataflow",
    "wait_for_first_run",
)
KINDS = (
    "connections",
    "sourceConnections",
    "targetConnections",
    "schemas",
    "dataSets",
    "mappingSets",
    "flows",
    "runs",
)


def assert_pipeline_done(result: DagRunResult, aep: AEP) -> None:
    not_ok = {t: result.states.get(t) for t in PIPELINE_TASKS if result.states.get(t) != "success"}
    assert result.state == "success" and not not_ok, f"DAG run {result.state}: {not_ok}"
    counts = aep.counts()
    wrong = {k: counts.get(k, 0) for k in KINDS if counts.get(k, 0) != 1}
    assert not wrong, f"not exactly one of each: {wrong} ({counts})"
    dataset = result.xcom("create_dataset")
    records = aep.records(dataset)
    ids = [r["_id"] for r in records]
    assert len(ids) == 200 and len(set(ids)) == 200, f"{len(ids)} records, {len(set(ids))} distinct"


def test_dag_under_mixed_faults_succeeds_with_one_of_each(
    aep: AEP, run_dag: Callable[..., DagRunResult]
) -> None:
    """429 bursts (Retry-After), 5xx on every GET, 1 s tokens, and the dataflow POST's answer lost."""
    aep.connection(retry_max_attempts=6)  # the default is 5; 0.2 ** 6: no GET exhausts its retries
    aep.set_faults(
        seed=5,
        rate_limit_per_second=15,
        error_rate=0.2,
        routes=["GET /data/foundation"],
        token_ttl_seconds=1,
        drop_after_commit=[f"POST {FS}/flows"],
    )
    result = run_dag(fast_sensor(load_dag()))

    assert_pipeline_done(result, aep)
    logged = aep.requests()
    assert any(r.get("dropped") for r in logged), "the dataflow POST's answer was never lost"
    assert any(r.get("fault") and r["status"] >= 500 for r in logged), "no 5xx was injected"
    # The second DAG run reuses everything: no POST at all, still one of each.
    aep.clear_requests()
    aep.clear_faults()
    assert_pipeline_done(run_dag(fast_sensor(load_dag())), aep)
    assert not [r for r in aep.requests() if r["method"] == "POST" and r["path"].startswith("/data/")]


def test_dag_rerun_after_permanent_dataflow_failure_finishes(
    aep: AEP, run_dag: Callable[..., DagRunResult], capfd: Any
) -> None:
    """Run 1: every dataflow POST fails (503) -> the run fails at create_dataflow, clearly. Run 2
    (fault cleared) reuses the six resources of run 1 and finishes, with no duplicate."""
    aep.set_faults(error_rate=1.0, error_statuses=[503], routes=[f"POST {FS}/flows"])
    dag = fast_sensor(load_dag())
    dag.task_dict["create_dataflow"].retries = 0  # this test is about a DAG re-run, not task retries
    first = run_dag(dag)

    assert first.state == "failed"
    assert first.states["create_dataflow"] == "failed"
    assert first.states["wait_for_first_run"] == "upstream_failed"
    assert all(first.states[t] == "success" for t in PIPELINE_TASKS[:7]), first.states
    out, err = capfd.readouterr()
    assert f"POST {FS}/flows failed with HTTP 503" in out + err, "the failure is not stated clearly"
    assert aep.counts()["flows"] == 0

    aep.clear_faults()
    second = run_dag(fast_sensor(load_dag()))
    assert_pipeline_done(second, aep)
    for task in PIPELINE_TASKS[:6]:
        assert second.xcom(task) == first.xcom(task), f"{task} did not reuse run 1's resource"


def test_task_retry_after_failed_create_finishes_without_duplicate(
    aep: AEP, run_dag: Callable[..., DagRunResult]
) -> None:
    """create_dataflow's first attempt gets a 500 on POST (not committed); Airflow retries the task
    and the second attempt creates the flow once."""
    # Seed 4 at rate 0.5 draws: 500 for the first POST /flows, then a pass.
    aep.set_faults(seed=4, error_rate=0.5, routes=[f"POST {FS}/flows"])
    dag = fast_sensor(load_dag())
    task = dag.task_dict["create_dataflow"]
    task.retries = 2
    task.retry_delay = timedelta(0)

    result = run_dag(dag)

    assert result.tries["create_dataflow"] == 2, result.tries
    assert_pipeline_done(result, aep)
    flow_posts = [r for r in aep.requests() if r["method"] == "POST" and r["path"] == f"{FS}/flows"]
    assert [r["status"] for r in flow_posts] == [500, 201]
