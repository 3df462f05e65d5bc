"""All tables: the ``aep_salesforce_all_tables`` DAG for N tables under an API rate limit.

The emulator's Salesforce source gets N tables (its sample tables plus copies added through the
admin API, ``POST /_emulator/sources/{spec}/tables`` with ``copy_of``). The DAG's own graph is
loaded from ``dags/aep_salesforce_all_tables.py`` (its mapped task group checked for the plan's N
entries); its work is then executed with the same factory code: the shared base connection,
table discovery (``AEPListSourceTablesOperator``), the plan (``plan_tables``) and the flow spec
lookup, then each table's chain exactly as the mapped task group builds it (``_table_chain``:
source connection, generated field group, schema, dataset, target connection, generated mapping,
dataflow, first-run wait), one table per worker slot, K slots at once. Why not ``dag.test()``: it
runs one task instance at a time, so it measures Airflow's per-task overhead and never presses
against the rate limit (see ``bench_bulk.py``).

The emulator (server process) gets ``rate_limit_per_second = R`` for the whole DAG. The floor is
the admitted (non-429) requests ÷ R, less the token bucket's initial burst of R:
floor = (admitted - R) / R. Reported: wall time / floor and task failures (429s must be absorbed
by the hook's Retry-After handling, never fail a task). The waits poll every second in poke mode
(the emulator's runs take 0.5 s); their polls count in the floor like every other request.

    python benchmarks/bench_all_tables.py [--quick | --smoke] [--json]
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DAGS,
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
PLAN = {"full": (100, 10.0, 16), "quick": (100, 25.0, 16), "smoke": (8, 25.0, 4)}
SAMPLE_TABLES = ("Account", "Contact", "Case", "Opportunity", "Lead", "Invoice__c")
POKE_SECONDS = 1.0
RUN_SECONDS = "0.5"
SOURCE_CONN = {
    "conn_type": "generic",
    "host": "https://demo.my.salesforce.com",
    "login": "demo-client-id",
    "password": "demo-client-S3cret",
    "extra": {"auth_type": "oauth2", "api_version": "60.0"},
}


class _TI:
    """The part of the task context the operators use: XCom push, plus the run's XComs."""

    def __init__(self, xcoms: dict[tuple[str, str], Any], task_id: str) -> None:
        self.xcoms, self.task_id = xcoms, task_id
        self.try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[(self.task_id, key)] = value


def _resolve(value: Any, xcoms: dict[tuple[str, str], Any]) -> Any:
    """A template field with every XComArg replaced by the value its task pushed."""
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

    if isinstance(value, PlainXComArg):
        return xcoms[(value.operator.task_id, value.key)]
    if isinstance(value, dict):
        return {k: _resolve(v, xcoms) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(v, xcoms) for v in value)
    return value


def _execute(task: Any, xcoms: dict[tuple[str, str], Any]) -> Any:
    for name in task.template_fields:
        setattr(task, name, _resolve(getattr(task, name), xcoms))
    context: dict[str, Any] = {"ti": _TI(xcoms, task.task_id), "params": {}, "task": task}
    if task.task_type == "AEPFlowRunSensor":
        task.deferrable = False
        task.poke_interval = POKE_SECONDS
        while not task.poke(context):
            time.sleep(POKE_SECONDS)
        value: Any = task.flow_id
    else:
        value = task.execute(context)
    xcoms[(task.task_id, "return_value")] = value
    return value


def _in_order(tasks: list[Any]) -> list[Any]:
    """The tasks of one table's group, upstream first."""
    ids = {t.task_id for t in tasks}
    done: list[Any] = []
    left = list(tasks)
    while left:
        ready = [t for t in left if not (t.upstream_task_ids & ids) - {d.task_id for d in done}]
        if not ready:
            raise RuntimeError(f"cycle among {[t.task_id for t in left]}")
        done += ready
        left = [t for t in left if t not in ready]
    return done


def _build(settings: Any, base: str, flow_spec: str, entry: dict[str, Any], index: int) -> list[Any]:
    """One table's chain as the mapped task group builds it, upstream first (DAG building uses a
    process-wide context stack: done on the main thread, before the threads run)."""
    import datetime

    from airflow.sdk import DAG
    from airflow.sdk.definitions.taskgroup import TaskGroup

    from airflow_provider_aep.ingestion import _table_chain

    with DAG(f"bench_table_{index}", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
        with TaskGroup(group_id="ingest_table"):
            _table_chain(settings, base, flow_spec, **entry)
    return _in_order(list(dag.tasks))


def _run_chain(tasks: list[Any]) -> tuple[Any, str | None]:
    """Run one table's tasks in order (one worker slot); (dataset id, failure)."""
    xcoms: dict[tuple[str, str], Any] = {}
    try:
        for task in tasks:
            _execute(task, xcoms)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:160]}"
    return xcoms.get(("ingest_table.create_dataset", "return_value")), None


def _group_size() -> int:
    """Load the example DAG and check its mapped task group is the factory's (parse only)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_all_tables_dag", DAGS / "aep_salesforce_all_tables.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    group = module.dag.task_group_dict["ingest_table"]
    if type(group).__name__ != "MappedTaskGroup":
        raise RuntimeError("the all-tables DAG has no mapped ingest_table group")
    return len(group.children)


def run(mode: str) -> list[Result]:
    """Ingest N tables through the factory's chains under a rate limit of R/s with K slots."""
    name = "all tables: wall time / floor (requests ÷ R)"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    missing = missing_module("airflow_provider_aep.ingestion", "airflow_provider_aep.operators.discovery")
    if missing:
        return [not_available(name, missing, f"< {GOAL_RATIO}x")]
    n, rate, slots = PLAN[mode]
    quiet_airflow_logs("ERROR")
    from airflow_provider_aep.ingestion import IngestionSettings, plan_tables
    from airflow_provider_aep.operators.discovery import AEPListSourceTablesOperator

    group_tasks = _group_size()
    settings = IngestionSettings(
        name_prefix="bench all",
        source_conn_id="salesforce_service_cloud_default",
        schema_mode="generated",
        poll_interval=POKE_SECONDS,
    )
    with emulator(["--run-duration", RUN_SECONDS]) as server:
        handle = server.handle()
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = handle.connection_json()
        os.environ["AIRFLOW_CONN_SALESFORCE_SERVICE_CLOUD_DEFAULT"] = json.dumps(SOURCE_CONN)
        sources = handle._admin("GET", "/sources")[SALESFORCE_SPEC]
        for i in range(max(0, n - len(sources))):
            handle.add_source_table(
                SALESFORCE_SPEC, f"Bench{i:03d}__c", copy_of=SAMPLE_TABLES[i % len(SAMPLE_TABLES)]
            )
        handle.clear_requests()
        handle.set_faults(rate_limit_per_second=rate)
        failures: list[str] = []
        t0 = time.perf_counter()
        shared: dict[tuple[str, str], Any] = {}
        base = _execute(settings.base_connection(), shared)
        tables = _execute(AEPListSourceTablesOperator(task_id="list_tables", base_connection_id=base), shared)
        entries = plan_tables(settings, tables)
        flow_spec = _execute(settings.flow_spec(), shared)
        chains = [_build(settings, base, flow_spec, entry, i) for i, entry in enumerate(entries)]
        chain = len(chains[0]) if chains else 0
        with ThreadPoolExecutor(max_workers=slots) as pool:
            done = list(pool.map(_run_chain, chains))
        wall = time.perf_counter() - t0
        handle.clear_faults()
        log = handle.requests()
        failures = [f for _d, f in done if f]
        datasets = [d for d, f in done if d and not f]
        records = [len(handle.records(d)) for d in datasets[:3]]

    kinds = request_kinds(log)
    admitted = sum(v for k, v in kinds.items() if k != "429")
    floor = max(admitted - rate, 1.0) / rate
    rate_failures = [f for f in failures if "RateLimit" in f or "429" in f]
    reasons = dict(Counter(f.split(":")[0] for f in failures))
    return [
        Result(
            name=name,
            value=wall / floor,
            unit="x",
            goal=f"< {GOAL_RATIO}x with every table ingested",
            limit=GOAL_RATIO,
            verdict=f"MISS: only {len(datasets)}/{len(entries)} tables ingested" if failures else "",
            details={
                "setup": f"{len(entries)} tables x {chain} tasks (the DAG's group: {group_tasks} with the "
                f"Profile steps), {slots} concurrent "
                f"slots, rate limit {rate:g} req/s, emulated runs {RUN_SECONDS} s, waits poll every "
                f"{POKE_SECONDS:g} s",
                "wall s": round(wall, 1),
                "floor s ((admitted requests - R burst) / R)": round(floor, 1),
                "requests by kind": dict(sorted(kinds.items())),
                "admitted requests per table": round(admitted / max(len(entries), 1), 1),
                "records in the first datasets": records,
                "failures by class": reasons,
                "first failure": failures[0] if failures else None,
            },
        ),
        Result(
            name="all tables: wall time",
            value=wall,
            unit="s",
            verdict="info",
        ),
        Result(
            name=f"all tables: failed table chains ({len(entries)} tables)",
            value=float(len(failures)),
            unit="tables",
            goal="0",
            limit=0.0,
            verdict="PASS" if not failures else f"MISS: {reasons}",
        ),
        Result(
            name="all tables: table chains failed by a 429",
            value=float(len(rate_failures)),
            unit="tables",
            goal="0",
            limit=0.0,
            verdict="PASS" if not rate_failures else "MISS",
        ),
        Result(
            name="all tables: 429 answers absorbed by retries",
            value=float(kinds.get("429", 0)),
            unit="answers",
            verdict="info",
        ),
    ]


if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__ or ""))
