"""The example DAGs: they parse fast without network, have the intended graph, and run against the emulator.

Every DAG is run with ``dag.test()`` (the real task runner in-process, deferrable waits resumed
in-process) against the emulator, then run again to check that nothing new is created in AEP, and
run with ``teardown=True`` to check that the resources go away.
"""

from __future__ import annotations

import datetime
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"

DAG_FILES = {
    "aep_customer_success_ingestion": "aep_customer_success_ingestion.py",
    "aep_servicenow_ingestion": "aep_servicenow_ingestion.py",
    "aep_protocols_odata_ingestion": "aep_protocols_odata_ingestion.py",
    "aep_on_demand_ingestion": "aep_on_demand_ingestion.py",
}
#: DAGs scheduled on AEP dataset assets (nothing to run on the emulator by itself).
ASSET_DAG_FILES = {"aep_profile_export_after_accounts": "aep_profile_export_after_accounts.py"}
#: DAGs that operate AEP resources created outside Airflow (the demo creates them first).
EXISTING_FLOW_DAG_FILES = {"aep_operate_existing_flow": "aep_operate_existing_flow.py"}
#: DAGs built with the ingestion factory (run on the emulator by tests/dags/test_all_tables_dag.py).
FACTORY_DAG_FILES = {"aep_salesforce_all_tables": "aep_salesforce_all_tables.py"}
#: Generous: a parse takes tens of milliseconds; the bound only catches network calls or heavy
#: imports at parse time on a busy 2-core CI machine.
MAX_PARSE_SECONDS = 2.0

_CREATE_COMMON = {
    "create_base_connection",
    "create_source_connection",
    "create_target_schema",
    "create_dataset",
    "create_target_connection",
    "create_mapping_set",
    "get_flow_spec",
}
_DELETE_COMMON = {
    "delete_dataflow",
    "delete_source_connection",
    "delete_target_connection",
    "delete_base_connection",
    "delete_dataset",
    "delete_target_schema",
}
EXPECTED_TASKS: dict[str, set[str]] = {
    "aep_customer_success_ingestion": _CREATE_COMMON
    | _DELETE_COMMON
    | {"create_dataflow", "wait_for_first_run"},
    "aep_servicenow_ingestion": _CREATE_COMMON
    | _DELETE_COMMON
    | {
        "create_adhoc_schema",
        "create_dataset_base_connection",
        "create_dataflow",
        "wait_for_first_run",
        "delete_dataset_base_connection",
        "delete_adhoc_schema",
        "delete_adhoc_class",
    },
    "aep_protocols_odata_ingestion": _CREATE_COMMON
    | _DELETE_COMMON
    | {"create_dataflow", "wait_for_first_run"},
    "aep_on_demand_ingestion": _CREATE_COMMON | _DELETE_COMMON | {"create_dataflow", "run_flow_for_interval"},
}

_TABULAR_EDGES = {
    ("create_base_connection", "create_source_connection"),
    ("create_target_schema", "create_dataset"),
    ("create_target_schema", "create_target_connection"),
    ("create_target_schema", "create_mapping_set"),
    ("create_dataset", "create_target_connection"),
    ("create_source_connection", "create_dataflow"),
    ("create_target_connection", "create_dataflow"),
    ("create_mapping_set", "create_dataflow"),
    ("get_flow_spec", "create_dataflow"),
    ("create_dataflow", "wait_for_first_run"),
    ("wait_for_first_run", "delete_dataflow"),
    ("delete_dataflow", "delete_source_connection"),
    ("delete_dataflow", "delete_target_connection"),
    ("delete_source_connection", "delete_base_connection"),
    ("delete_target_connection", "delete_dataset"),
    ("delete_dataset", "delete_target_schema"),
}
_ON_DEMAND_EDGES = {edge for edge in _TABULAR_EDGES if "wait_for_first_run" not in edge} | {
    ("create_dataflow", "run_flow_for_interval"),
    ("run_flow_for_interval", "delete_dataflow"),
}
EXPECTED_EDGES: dict[str, set[tuple[str, str]]] = {
    "aep_customer_success_ingestion": _TABULAR_EDGES,
    "aep_protocols_odata_ingestion": _TABULAR_EDGES,
    "aep_servicenow_ingestion": (_TABULAR_EDGES - {("delete_dataset", "delete_target_schema")})
    | {
        ("create_adhoc_schema", "create_source_connection"),
        ("create_dataset_base_connection", "create_target_connection"),
        ("delete_source_connection", "delete_adhoc_schema"),
        ("delete_adhoc_schema", "delete_adhoc_class"),
        ("delete_target_connection", "delete_dataset_base_connection"),
        ("delete_dataset", "delete_target_schema"),
    },
    "aep_on_demand_ingestion": _ON_DEMAND_EDGES,
}
#: Tasks that are not in the main line (``teardown`` param False): skipped.
TEARDOWN_TASKS = {
    dag_id: {t for t in tasks if t.startswith("delete_")} for dag_id, tasks in EXPECTED_TASKS.items()
}
#: What a first run must ingest: (dataset task, minimum records, XDM paths every record has).
EXPECTED_RECORDS: dict[str, tuple[int, list[str]]] = {
    "aep_customer_success_ingestion": (200, ["_id", "person.name.fullName", "mobilePhone.number"]),
    "aep_servicenow_ingestion": (100, ["_id", "person.name.firstName", "personalEmail.address"]),
    "aep_protocols_odata_ingestion": (100, ["_id", "personID", "homeAddress.city"]),
    # One day of rows (the sample tables have a row every 6 hours from 2026-01-01).
    "aep_on_demand_ingestion": (1, ["_id", "person.name.lastName"]),
}
#: The on-demand DAG is scheduled; run it for a day that has sample data.
LOGICAL_DATES = {"aep_on_demand_ingestion": datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)}


class NetworkBlocked(AssertionError):
    """Raised by the patched socket layer: a DAG tried to open a network connection while parsing."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any outbound connection or DNS lookup fail loudly."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkBlocked(f"network access during DAG parsing: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER), safe_mode=False)


@pytest.fixture(scope="module")
def dagbag() -> Any:
    return _dagbag()


def test_dag_files_import_without_errors_or_network(no_network: None) -> None:
    bag = _dagbag()  # twice: the first one also pays for importing the provider modules
    bag = _dagbag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == set(DAG_FILES) | set(ASSET_DAG_FILES) | set(EXISTING_FLOW_DAG_FILES) | set(
        FACTORY_DAG_FILES
    )
    stats = {stat.file.rsplit("/", 1)[-1]: stat for stat in bag.dagbag_stats}
    assert set(stats) == set(DAG_FILES.values()) | set(ASSET_DAG_FILES.values()) | set(
        EXISTING_FLOW_DAG_FILES.values()
    ) | set(FACTORY_DAG_FILES.values())
    for name, stat in stats.items():
        seconds = stat.duration.total_seconds() if hasattr(stat.duration, "total_seconds") else stat.duration
        print(f"parse {name}: {seconds * 1000:.0f} ms, {stat.task_num} tasks")
        assert seconds < MAX_PARSE_SECONDS, (name, seconds)
        assert stat.dag_num == 1


@pytest.mark.parametrize("dag_id", sorted(DAG_FILES))
def test_dag_tasks_and_edges(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag is not None
    assert dag.fileloc.endswith(DAG_FILES[dag_id])
    assert {t.task_id for t in dag.tasks} == EXPECTED_TASKS[dag_id]
    edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    # Setup -> teardown links are added by as_teardown(); check the work graph and teardown order.
    setup_links = {(u, d) for (u, d) in edges if dag.get_task(u).is_setup and dag.get_task(d).is_teardown}
    assert edges - setup_links == EXPECTED_EDGES[dag_id]
    for task in dag.tasks:
        assert task.is_teardown == task.task_id.startswith("delete_"), task.task_id
        if task.is_teardown:
            # every delete task cleans up exactly one create task (its setup)
            setups = [u for u in task.upstream_task_ids if dag.get_task(u).is_setup]
            assert len(setups) == 1, (task.task_id, setups)


@pytest.mark.parametrize("dag_id", sorted(DAG_FILES))
def test_dag_conventions(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert "teardown" in dag.params and dag.params["teardown"] is False
    assert {"source_conn_id", "table_name", "name_prefix"} <= set(dag.params.keys())
    assert dag.render_template_as_native_obj is True
    assert dag.doc_md
    deferring = [t for t in dag.tasks if getattr(t, "deferrable", False)]
    assert deferring, "the wait for AEP must be deferrable"


# ----------------------------------------------------------------------------- runs on the emulator


def _counts(emulator: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in emulator.state()["sandboxes"]:
        for kind, count in entry["counts"].items():
            totals[kind] = totals.get(kind, 0) + count
    return totals


def _run(dag: Any, dag_id: str, **conf: Any) -> tuple[Any, dict[str, str]]:
    started = time.monotonic()
    run = dag.test(logical_date=LOGICAL_DATES.get(dag_id), run_conf=conf or None)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    print(f"{dag_id} {conf or ''}: {run.state} in {time.monotonic() - started:.1f}s")
    return run, states


def _xcom(run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key=key)
    with create_session() as session:
        row = session.scalars(query).first()
        assert row is not None, f"no XCom {key} for {task_id}"
        return XComModel.deserialize_value(row)


def _get_path(record: dict[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _check_dataset_asset_event(run: Any, dataset_id: str, written: int) -> None:
    """The sensor added one asset event for the AEP dataset, through its alias, with the run summary."""
    from airflow.models.asset import AssetAliasModel, AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    uri = f"aep://EMULATORORG/prod/datasets/{dataset_id}"
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri, AssetEvent.source_run_id == run.run_id)
        ).all()
        assert len(events) == 1, events
        (event,) = events
        assert event.source_task_id == "wait_for_first_run"
        assert event.extra["records_written"] == written
        assert event.extra["dataset_id"] == dataset_id
        assert event.extra["status"] == "success"
        assert event.extra["run_id"]
        alias = session.scalars(
            select(AssetAliasModel).where(AssetAliasModel.name == "aep-dataset:salesforce-accounts")
        ).one()
        assert uri in [a.uri for a in alias.assets]


@pytest.fixture
def emulator(airflow_db: Any, demo_env: Any) -> Iterator[Any]:
    demo_env.set_config(run_duration_seconds=1)
    yield demo_env


@pytest.mark.parametrize("dag_id", sorted(DAG_FILES))
def test_dag_runs_on_emulator_and_is_idempotent(dagbag: Any, emulator: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]

    first, states = _run(dag, dag_id)
    assert str(first.state) == "success", states
    expected_states = {t: "success" for t in EXPECTED_TASKS[dag_id]} | dict.fromkeys(
        TEARDOWN_TASKS[dag_id], "skipped"
    )
    assert states == expected_states

    # The ingestion really happened: the dataset holds mapped XDM records.
    dataset_id = _xcom(first, "create_dataset")
    records = emulator.records(dataset_id)
    minimum, paths = EXPECTED_RECORDS[dag_id]
    assert len(records) >= minimum
    for record in records:
        for path in paths:
            assert _get_path(record, path) not in (None, ""), (path, record)

    if dag_id == "aep_customer_success_ingestion":
        _check_dataset_asset_event(first, dataset_id, len(records))

    # A second run reuses every resource (and, for the on-demand DAG, the run of the same window).
    before = _counts(emulator)
    second, states = _run(dag, dag_id)
    assert str(second.state) == "success", states
    assert _counts(emulator) == before
    assert _xcom(second, "create_dataset") == dataset_id


@pytest.mark.parametrize("dag_id", ["aep_customer_success_ingestion", "aep_servicenow_ingestion"])
def test_teardown_param_deletes_what_was_created(dagbag: Any, emulator: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    run, states = _run(dag, dag_id, teardown=True)
    assert str(run.state) == "success", states
    assert all(states[t] == "success" for t in TEARDOWN_TASKS[dag_id]), states
    left = {kind: n for kind, n in _counts(emulator).items() if n}
    # Data Prep has no DELETE for mapping sets; runs disappear with their flow or are history.
    assert set(left) <= {"mappingSets", "runs"}, left


def test_operate_existing_flow_dag_retriggers_once_and_publishes_the_summary(
    dagbag: Any, emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flow is made outside Airflow (as the demo does); a forced failure is re-triggered once."""
    from airflow_provider_aep.emulator.demo import create_existing_flow

    flow_id = create_existing_flow(emulator.url, sys.stdout)
    emulator.set_faults(force_run_status="failed", force_run_status_count=1)
    emulator.clear_requests()
    dag_id = "aep_operate_existing_flow"
    run = dagbag.dags[dag_id].test(logical_date=datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc))
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"run_flow": "success", "publish_summary": "success"}, states
    published = _xcom(run, "publish_summary")
    assert published["flow_id"] == flow_id and published["status"] == "success"
    assert published["records_written"] >= 1 and published["records_failed"] == 0
    actions = [r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/action")]
    assert len(actions) == 1
    assert len([r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/runs")]) == 1
