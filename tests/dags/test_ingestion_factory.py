"""The ingestion factory (``airflow_provider_aep.ingestion``): graph, input checks and runs.

Parse-time checks run without any network. The runs use ``dag.test()`` against the emulator,
with a private metadata DB whose DAG folder holds only this module's DAG file (``dag.test()``
re-parses the whole folder on each run).
"""

from __future__ import annotations

import importlib.util
import itertools
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError
from tests.conftest import private_airflow_db
from tests.dags.test_example_dags import _TABULAR_EDGES

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
FIELD_GROUPS = ["https://ns.adobe.com/xdm/context/profile-person-details"]
#: Columns every Salesforce sample table has.
COMMON_MAPPING = {"Id": "_id", "CreatedDate": "_repo.createDate"}
#: The edges of the single-table example DAGs (aep_customer_success_ingestion), without teardown.
TABLE_EDGES = {(up, down) for up, down in _TABULAR_EDGES if "delete_" not in up + down}
TABLE_TASKS = {task for edge in TABLE_EDGES for task in edge} - {"create_base_connection"}

DAG_FILE = textwrap.dedent(
    """
    import datetime

    from airflow.sdk import DAG

    from airflow_provider_aep.ingestion import IngestionSettings, ingest_table, ingest_tables

    SETTINGS = IngestionSettings(
        name_prefix="{{ params.name_prefix }}",
        source_conn_id="salesforce_service_cloud_default",
        class_id="https://ns.adobe.com/xdm/context/profile",
        field_groups=["https://ns.adobe.com/xdm/context/profile-person-details"],
        mapping={"Id": "_id", "CreatedDate": "_repo.createDate"},
        poll_interval=0.3,  # emulator runs last 0.2 s
    )
    START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    with DAG("factory_static", schedule=None, start_date=START, params={"name_prefix": "fs"},
             render_template_as_native_obj=True) as static_dag:
        base = SETTINGS.base_connection()
        ingest_table(SETTINGS, base, "Account", prefix_group_id=False,
                     overrides={"mapping": {"Name": "person.name.fullName"}})

    with DAG("factory_mapped", schedule=None, start_date=START, params={"name_prefix": "fm"},
             render_template_as_native_obj=True) as mapped_dag:
        base = SETTINGS.base_connection()
        ingest_tables(SETTINGS, base, ["Account", "Contact", "Case"], overrides={
            "Contact": {"interval": 2, "mapping": {"LastName": "person.name.lastName"}},
            "Case": {"frequency": "day"},
        })
    """
)


# ----------------------------------------------------------------------------- parse time
@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any outbound connection fails loudly (checks must happen before any request)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def settings(**changes: Any) -> Any:
    from airflow_provider_aep.ingestion import IngestionSettings

    values: dict[str, Any] = {
        "name_prefix": "p",
        "source_conn_id": "salesforce_service_cloud_default",
        "class_id": PROFILE_CLASS,
        "field_groups": FIELD_GROUPS,
        "mapping": COMMON_MAPPING,
    }
    return IngestionSettings(**{**values, **changes})


def _dag(build: Any) -> Any:
    import datetime

    from airflow.sdk import DAG

    with DAG(
        f"factory_parse_{next(_IDS)}",
        schedule=None,
        start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    ) as dag:
        build()
    return dag


_IDS = itertools.count()


def test_static_table_keeps_the_task_ids_and_edges_of_the_example_dags(no_network: None) -> None:
    from airflow_provider_aep.ingestion import ingest_table

    s = settings()

    def build() -> None:
        ingest_table(s, s.base_connection(), "Account", prefix_group_id=False)

    dag = _dag(build)
    assert {t.task_id for t in dag.tasks} == TABLE_TASKS | {"create_base_connection"}
    assert {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids} == TABLE_EDGES
    names = {t.task_id: getattr(t, "name", getattr(t, "title", None)) for t in dag.tasks}
    assert names["create_base_connection"] == "p base connection"
    assert names["create_source_connection"] == "p Account source"
    assert names["create_target_schema"] == "p Account schema"
    assert names["create_dataflow"] == "p Account dataflow"
    wait = dag.get_task("wait_for_first_run")
    assert wait.deferrable and wait.poke_interval == 30


def test_two_static_tables_get_one_group_each_and_share_the_base_connection() -> None:
    from airflow_provider_aep.ingestion import ingest_table

    s = settings(name_formats={"schema": "{prefix} {table} profile schema"})

    def build() -> None:
        base = s.base_connection()
        ingest_table(s, base, "Account")
        ingest_table(s, base, "Contact", overrides={"delta_column": "CreatedDate"})

    dag = _dag(build)
    ids = {t.task_id for t in dag.tasks}
    assert ids == {"create_base_connection"} | {
        f"ingest_{t}.{i}" for t in ("Account", "Contact") for i in TABLE_TASKS
    }
    assert dag.get_task("ingest_Contact.create_target_schema").title == "p Contact profile schema"
    assert dag.get_task("ingest_Contact.create_dataflow").delta_column == "CreatedDate"
    assert dag.get_task("ingest_Account.create_dataflow").delta_column == "LastModifiedDate"
    base = dag.get_task("create_base_connection")
    assert base.downstream_task_ids == {
        "ingest_Account.create_source_connection",
        "ingest_Contact.create_source_connection",
    }


def test_mapped_tables_are_one_mapped_task_group() -> None:
    from airflow.sdk.definitions.taskgroup import MappedTaskGroup

    from airflow_provider_aep.ingestion import ingest_tables

    s = settings()

    def build() -> None:
        ingest_tables(s, s.base_connection(), ["Account", "Contact"])

    dag = _dag(build)
    group = dag.task_group_dict["ingest_table"]
    assert isinstance(group, MappedTaskGroup)
    # The flow spec lookup is shared by every table, next to the base connection.
    assert {t.task_id for t in dag.tasks} == {"create_base_connection", "plan_tables", "get_flow_spec"} | {
        f"ingest_table.{i}" for i in TABLE_TASKS - {"get_flow_spec"}
    }


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: settings(mapping=None), "mapping"),
        (lambda: settings(source="salesforce"), "source"),
        (lambda: settings(name_prefix=" "), "name_prefix"),
        (lambda: settings(name_formats={"dataset": "{prefix} dataset"}), "name_formats['dataset']"),
        (lambda: settings(name_formats={"datasets": "{prefix} {table}"}), "name_formats"),
        (lambda: settings(mapping={"Id": 3}), "overrides['*']['mapping']"),
        (lambda: settings(poll_interval=0), "poll_interval"),
        (lambda: settings().table_entry("Account", {"intervall": 2}), "overrides['Account']"),
        (
            lambda: settings().table_entry("Account", {"frequency": "hourly"}),
            "overrides['Account']['frequency']",
        ),
        (lambda: settings().table_entry("Account", {"mapping": ["Id"]}), "overrides['Account']['mapping']"),
        (lambda: settings().table_entry("A\nB"), "source_name"),
        (lambda: _plan(["Account", "Account"]), "tables"),
        (lambda: _plan("Account"), "tables"),
        (lambda: _plan([{"name": "no path", "path": ""}, 3]), "tables[1]"),
        (lambda: _plan(["Account"], '{"Account": {}}'), "overrides"),
        (lambda: settings(schema_mode="generated", profile="yes please"), "profile"),
        (lambda: settings(profile=True), "profile"),
        (
            lambda: settings(schema_mode="generated", profile=True).table_entry("Case"),
            "overrides['Case']['identity_column']",
        ),
    ],
)
def test_bad_input_fails_with_the_field_named_before_any_request(
    no_network: None, build: Any, field: str
) -> None:
    with pytest.raises(AEPInputError) as raised:
        build()
    assert raised.value.field == field, str(raised.value)
    assert "Fix:" in str(raised.value)


def _plan(tables: Any, overrides: Any = None) -> Any:
    from airflow_provider_aep.ingestion import plan_tables

    return plan_tables(settings(), tables, overrides)


def test_plan_names_each_table_deterministically_and_applies_overrides() -> None:
    tables = [{"name": "Accepted Event Relation", "path": "AcceptedEventRelation"}, "Account"]
    plan = _plan(tables, {"Account": {"mapping": {"Name": "person.name.fullName"}, "interval": 3}})
    assert plan == _plan(tables, {"Account": {"mapping": {"Name": "person.name.fullName"}, "interval": 3}})
    first, account = plan
    assert first["table"] == "AcceptedEventRelation"
    assert first["dataset_name"] == "p AcceptedEventRelation dataset"
    assert first["mapping"] == COMMON_MAPPING and first["interval"] == 1
    assert account["mapping"] == {**COMMON_MAPPING, "Name": "person.name.fullName"}
    assert account["interval"] == 3
    from airflow_provider_aep.ingestion import PER_TABLE_KEYS

    assert all(set(entry) == set(PER_TABLE_KEYS) for entry in plan)


# ----------------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def factory_dags(airflow_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """This module's DAG file alone in the DAG folder of a private metadata DB."""
    home = tmp_path_factory.mktemp("factory_home")
    dags = home / "dags"
    dags.mkdir()
    path = dags / "factory_test_dags.py"
    path.write_text(DAG_FILE)
    with private_airflow_db(
        airflow_db_template,
        home,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
    ):
        spec = importlib.util.spec_from_file_location("factory_test_dags", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module


@pytest.fixture
def emulator(factory_dags: Any, demo_env: Any) -> Any:
    demo_env.set_config(run_duration_seconds=0.2)
    return demo_env


def counts(emulator: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in emulator.state()["sandboxes"]:
        for kind, n in entry["counts"].items():
            totals[kind] = totals.get(kind, 0) + n
    return totals


def run(dag: Any) -> tuple[Any, dict[tuple[str, int], str]]:
    from datetime import timedelta

    for task in dag.tasks:
        task.retry_delay = timedelta(0)
    started = time.monotonic()
    dag_run = dag.test()
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in dag_run.get_task_instances()}
    print(f"{dag.dag_id}: {dag_run.state} in {time.monotonic() - started:.1f}s")
    return dag_run, states


def xcoms(dag_run: Any, task_id: str, key: str = "return_value") -> dict[int, Any]:
    """XCom values of a (mapped) task by map index."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
    with create_session() as session:
        return {row.map_index: XComModel.deserialize_value(row) for row in session.scalars(query)}


def test_static_table_ingests_and_reruns_create_nothing(emulator: Any, factory_dags: Any) -> None:
    dag_run, states = run(factory_dags.static_dag)
    assert str(dag_run.state) == "success", states
    assert set(states.values()) == {"success"}
    dataset = xcoms(dag_run, "create_dataset")[-1]
    records = emulator.records(dataset)
    assert len(records) == 200
    assert all(r["_id"] and r["person"]["name"]["fullName"] for r in records)
    before = counts(emulator)
    again, _ = run(factory_dags.static_dag)
    assert str(again.state) == "success"
    assert counts(emulator) == before


def test_mapped_tables_ingest_each_table_with_its_overrides(emulator: Any, factory_dags: Any) -> None:
    dag_run, states = run(factory_dags.mapped_dag)
    assert str(dag_run.state) == "success", states
    assert {i for (t, i) in states if t == "ingest_table.wait_for_first_run"} == {0, 1, 2}
    datasets = xcoms(dag_run, "ingest_table.create_dataset")
    assert len(set(datasets.values())) == 3
    tables = ["Account", "Contact", "Case"]
    for index, table in enumerate(tables):
        records = emulator.records(datasets[index])
        assert len(records) == 200, table
        assert all(r["_id"] for r in records)
    contact = emulator.records(datasets[1])
    assert all(r["person"]["name"]["lastName"] for r in contact)
    flows = xcoms(dag_run, "ingest_table.create_dataflow")
    import requests

    schedules = {}
    for index, flow_id in flows.items():
        body = requests.get(
            f"{emulator.url}/data/foundation/flowservice/flows/{flow_id}",
            headers=emulator.headers(),
            timeout=10,
        ).json()
        flow = body["items"][0] if "items" in body else body
        schedules[tables[index]] = (
            flow["scheduleParams"]["frequency"],
            flow["scheduleParams"].get("interval"),
        )
        assert flow["name"] == f"fm {tables[index]} dataflow"
    assert schedules == {"Account": ("hour", 1), "Contact": ("hour", 2), "Case": ("day", 1)}
    before = counts(emulator)
    emulator.clear_requests()
    again, states = run(factory_dags.mapped_dag)
    assert str(again.state) == "success", states
    assert counts(emulator) == before
    posts = [r for r in emulator.requests() if r["method"] == "POST" and r["path"].startswith("/data/")]
    assert posts == []


@pytest.mark.parametrize("source", ["salesforce_service_cloud", "servicenow", "generic_odata"])
def test_source_decided_settings_default_to_the_source_table(source: str) -> None:
    """Delta column, its format and the flow spec come from the source's entry unless given; a new
    source in ``evolve`` brings its own, while explicit values (``None`` included) stay."""
    from airflow_provider_aep.ingestion import IngestionSettings
    from airflow_provider_aep.sources import SOURCES

    entry = SOURCES[source]
    made = IngestionSettings(name_prefix="p", source_conn_id="c", source=source, mapping={"Id": "_id"})
    assert (made.delta_column, made.delta_date_format, made.flow_spec_name) == (
        entry.delta_column,
        entry.delta_date_format,
        entry.flow_spec_name,
    )
    other = next(key for key in SOURCES if key != source)
    moved = made.evolve(source=other)
    assert moved.delta_column == SOURCES[other].delta_column
    assert moved.delta_date_format == SOURCES[other].delta_date_format
    pinned = IngestionSettings(
        name_prefix="p", source_conn_id="c", source=source, mapping={"Id": "_id"}, delta_column=None
    )
    assert pinned.delta_column is None and pinned.evolve(source=other).delta_column is None
