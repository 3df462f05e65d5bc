"""Bulk throughput: N tables ingested through dynamic task mapping under an API rate limit.

Shape (what a DAG maps): one base connection, schema, dataset, mapping set and flow spec shared;
per table, mapped with ``.partial().expand()``: a source connection, a target connection and a
dataflow. The emulator's sample tables are few, so the N "tables" are N source connections over
the Salesforce tables (Account, Contact, Case) with distinct names.

Execution: the benchmark builds the real mapped DAG (``.partial(**shared).expand(**per_table)``,
checked for N map entries) and executes the same partial + expanded arguments with a direct loop
of operator ``execute()`` calls on K threads, stage by stage as the scheduler would (all source and
target connections, then all dataflows). Why not ``dag.test()``: it runs task instances one at a
time in one process, so it measures Airflow's per-task overhead and never presses against the
rate limit; K concurrent threads behave like K worker slots, which is what makes 429s happen.

The emulator (server process) gets ``rate_limit_per_second = R`` for the mapped phase only. The
floor is the admitted (non-429) requests of that phase ÷ R, less the initial burst: the emulator's
limiter is a token bucket of capacity R that starts full, so floor = (admitted - R) / R.
Reported: wall time / floor, and task failures (429s must be absorbed by the hook's Retry-After
handling, never fail a task).

    python benchmarks/bench_bulk.py [--quick | --smoke] [--json]
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SALESFORCE_SPEC,
    Result,
    bench_main,
    emulator,
    missing_module,
    not_available,
    quiet_airflow_logs,
    request_kinds,
)

GOAL_RATIO = 1.2
#: mode -> (tables, R requests/s, K concurrent worker slots)
PLAN = {"full": (100, 10.0, 16), "quick": (100, 25.0, 16), "smoke": (6, 20.0, 4)}
TABLES = ("Account", "Contact", "Case")
SOURCE_CONN = {
    "conn_type": "generic",
    "host": "https://demo.my.salesforce.com",
    "login": "demo-client-id",
    "password": "demo-client-S3cret",
    "extra": {"auth_type": "oauth2", "api_version": "60.0"},
}


class _TI:
    """The only part of the task context the operators use: ``ti.xcom_push``."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def _execute(op: Any) -> tuple[str | None, str | None]:
    """Run one operator instance: (return value, failure class name)."""
    try:
        return str(op.execute({"ti": _TI()})), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:160]}"


def _stage(
    pool: ThreadPoolExecutor, cls: Any, partial: dict[str, Any], expand: list[dict[str, Any]], task_id: str
) -> tuple[list[str | None], list[str]]:
    ops = [cls(task_id=f"{task_id}_{i}", **partial, **kw) for i, kw in enumerate(expand)]
    done = list(pool.map(_execute, ops))
    return [r for r, _ in done], [f for _, f in done if f]


def _check_mapped_dag(stages: list[tuple[Any, dict[str, Any], list[dict[str, Any]], str]]) -> None:
    """Build the mapped DAG with the very arguments the loop executes; one map entry per instance.

    ``expand_kwargs`` (a list of per-table argument dicts) rather than ``expand(name=[...],
    table_name=[...])``: ``expand`` over several lists maps their cross product.
    """
    import datetime

    from airflow.sdk import DAG

    with DAG(dag_id="aep_bench_bulk", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
        for cls, partial, expand, task_id in stages:
            cls.partial(task_id=task_id, **partial).expand_kwargs(expand)
    for _cls, _partial, expand, task_id in stages:
        task: Any = dag.get_task(task_id)
        if len(task.expand_input.value) != len(expand):
            raise RuntimeError(f"mapped task {task_id}: {len(task.expand_input.value)} != {len(expand)}")


def run(mode: str) -> list[Result]:
    """Create N tables' source/target connections and dataflows under a rate limit of R/s."""
    name = "bulk: wall time / floor (requests ÷ R)"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    missing = missing_module(
        "airflow_provider_aep.operators.flows", "airflow_provider_aep.operators.connections"
    )
    if missing:
        return [not_available(name, missing, f"< {GOAL_RATIO}x")]
    n, rate, slots = PLAN[mode]
    quiet_airflow_logs("ERROR")  # every 429 retry logs a warning, so does execute() outside the runner
    from airflow_provider_aep.operators.connections import (
        AEPCreateBaseConnectionOperator,
        AEPCreateSourceConnectionOperator,
        AEPCreateTargetConnectionOperator,
    )
    from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
    from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator, AEPGetFlowSpecOperator
    from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
    from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator

    with emulator() as server:
        handle = server.handle()
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = handle.connection_json()
        os.environ["AIRFLOW_CONN_SALESFORCE_SERVICE_CLOUD_DEFAULT"] = json.dumps(SOURCE_CONN)

        def shared(op: Any) -> str:
            value, failure = _execute(op)
            if failure or value is None:
                raise RuntimeError(f"shared setup {op.task_id} failed: {failure}")
            return value

        base = shared(
            AEPCreateBaseConnectionOperator(
                task_id="base",
                name="bulk base",
                source="salesforce_service_cloud",
                source_conn_id="salesforce_service_cloud_default",
            )
        )
        schema = shared(AEPCreateSchemaOperator(task_id="schema", title="bulk profile schema"))
        dataset = shared(AEPCreateDatasetOperator(task_id="dataset", name="bulk dataset", schema_id=schema))
        mapping = shared(
            AEPCreateMappingSetOperator(
                task_id="mapping", name="bulk mapping", schema_id=schema, mapping={"Id": "_id"}
            )
        )
        flow_spec = shared(
            AEPGetFlowSpecOperator(task_id="flow_spec", source_connection_spec_id=SALESFORCE_SPEC)
        )
        tables = [TABLES[i % len(TABLES)] for i in range(n)]
        src_partial = {"base_connection_id": base, "connection_spec_id": SALESFORCE_SPEC}
        src_expand = [{"name": f"bulk src {i:03d} {t}", "table_name": t} for i, t in enumerate(tables)]
        tgt_partial = {"dataset_id": dataset, "schema_id": schema}
        tgt_expand = [{"name": f"bulk tgt {i:03d} {t}"} for i, t in enumerate(tables)]

        handle.clear_requests()
        handle.set_faults(rate_limit_per_second=rate)
        failures: list[str] = []
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=slots) as pool:
            sources, f1 = _stage(pool, AEPCreateSourceConnectionOperator, src_partial, src_expand, "source")
            targets, f2 = _stage(pool, AEPCreateTargetConnectionOperator, tgt_partial, tgt_expand, "target")
            failures += f1 + f2
            flow_partial = {
                "flow_spec_id": flow_spec,
                "mapping_id": mapping,
                "delta_column": "LastModifiedDate",
                "frequency": "hour",
                "interval": 1,
            }
            flow_expand = [
                {"name": f"bulk flow {i:03d} {t}", "source_connection_id": s, "target_connection_id": g}
                for i, (t, s, g) in enumerate(zip(tables, sources, targets, strict=True))
                if s and g
            ]
            flows, f3 = _stage(pool, AEPCreateDataflowOperator, flow_partial, flow_expand, "dataflow")
            failures += f3
            # A dataflow whose source or target failed would be upstream_failed in Airflow.
            failures += ["UpstreamFailed: source or target connection failed"] * (n - len(flow_expand))
        wall = time.perf_counter() - t0
        handle.clear_faults()
        log = handle.requests()
        stages: list[tuple[Any, dict[str, Any], list[dict[str, Any]], str]] = [
            (AEPCreateSourceConnectionOperator, src_partial, src_expand, "source"),
            (AEPCreateTargetConnectionOperator, tgt_partial, tgt_expand, "target"),
        ]
        if flow_expand:
            stages.append((AEPCreateDataflowOperator, flow_partial, flow_expand, "dataflow"))
        _check_mapped_dag(stages)

    kinds = request_kinds(log)
    admitted = sum(v for k, v in kinds.items() if k != "429")
    # The limiter is a token bucket of capacity R that starts full: the first R requests are free.
    floor = max(admitted - rate, 1.0) / rate
    tasks = 3 * n
    rate_failures = [f for f in failures if "RateLimit" in f or "429" in f]
    reasons: Callable[[list[str]], dict[str, int]] = lambda fs: dict(Counter(f.split(":")[0] for f in fs))  # noqa: E731
    return [
        Result(
            name=name,
            value=wall / floor,
            unit="x",
            goal=f"< {GOAL_RATIO}x with all tasks done",
            limit=GOAL_RATIO,
            # Failed tasks send fewer requests and so shrink the floor: the ratio only counts when
            # every table was ingested.
            verdict=f"MISS: only {sum(1 for f in flows if f)}/{n} dataflows created" if failures else "",
            details={
                "setup": f"{n} tables x (source, target, dataflow) = {tasks} mapped task instances, "
                f"{slots} concurrent slots, rate limit {rate:g} req/s",
                "wall s": round(wall, 1),
                "floor s ((admitted requests - R burst) / R)": round(floor, 1),
                "requests by kind": dict(sorted(kinds.items())),
                "admitted requests per table": round(admitted / n, 1),
                "dataflows created": sum(1 for f in flows if f),
                "failures by class": reasons(failures),
                "first failure": failures[0] if failures else None,
            },
        ),
        Result(
            name=f"bulk: task failures ({tasks} mapped tasks)",
            value=float(len(failures)),
            unit="tasks",
            goal="0",
            limit=0.0,
            verdict="PASS" if not failures else f"MISS: {reasons(failures)}",
        ),
        Result(
            name="bulk: task failures caused by 429",
            value=float(len(rate_failures)),
            unit="tasks",
            goal="0",
            limit=0.0,
            verdict="PASS" if not rate_failures else "MISS",
        ),
        Result(
            name="bulk: 429 answers absorbed by retries",
            value=float(kinds.get("429", 0)),
            unit="answers",
            verdict="info",
        ),
    ]


if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__ or ""))
