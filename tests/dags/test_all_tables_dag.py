"""``aep_salesforce_all_tables`` against the emulator: every sample table ingested through a
generated schema, Profile-ready on request, idempotent (two concurrent runs are in
``test_all_tables_concurrency.py``).

Runs use ``dag.test()`` with a private metadata DB whose DAG folder holds only this DAG, the
emulator's runs last 0.2 s and the waits poll every 0.3 s (the DAG's 30 s is for AEP).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import private_airflow_db

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "aep_salesforce_all_tables.py"
SSC_SPEC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
GROUP = "ingest_table"


@pytest.fixture(scope="module")
def all_tables_home(airflow_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private metadata DB whose DAG folder holds only the all-tables DAG."""
    home = tmp_path_factory.mktemp("all_tables_home")
    (home / "dags").mkdir()
    shutil.copy(DAG_FILE, home / "dags" / DAG_FILE.name)
    with private_airflow_db(
        airflow_db_template,
        home,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
    ):
        yield home


@pytest.fixture
def emulator(all_tables_home: Path, demo_env: Any) -> Any:
    demo_env.set_config(run_duration_seconds=0.2)
    return demo_env


def load_dag() -> Any:
    from tests.reliability.conftest import fast_sensor
    from tests.reliability.conftest import load_dag as load

    return fast_sensor(load(DAG_FILE))


def run(dag: Any, **conf: Any) -> tuple[Any, dict[tuple[str, int], str]]:
    started = time.monotonic()
    dag_run = dag.test(run_conf=conf or None)
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in dag_run.get_task_instances()}
    print(f"{dag.dag_id} {conf}: {dag_run.state} in {time.monotonic() - started:.1f}s, {len(states)} tasks")
    return dag_run, states


def xcoms(dag_run: Any, task_id: str, key: str = "return_value") -> dict[int, Any]:
    """XCom values of a (mapped) task by map index."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
    with create_session() as session:
        return {row.map_index: XComModel.deserialize_value(row) for row in session.scalars(query)}


def counts(emulator: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in emulator.state()["sandboxes"]:
        for kind, n in entry["counts"].items():
            totals[kind] = totals.get(kind, 0) + n
    return totals


def get(emulator: Any, path: str, **headers: str) -> Any:
    import requests

    answer = requests.get(f"{emulator.url}{path}", headers={**emulator.headers(), **headers}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def writes(emulator: Any) -> list[dict[str, Any]]:
    return [
        r
        for r in emulator.requests()
        if r["method"] in ("POST", "PUT", "PATCH", "DELETE") and r["path"].startswith("/data/")
    ]


def test_every_sample_table_lands_under_the_tenant_namespace(emulator: Any) -> None:
    from airflow_provider_aep.emulator.samples import new_source_catalog

    source = new_source_catalog()[SSC_SPEC]
    dag = load_dag()
    dag_run, states = run(dag, name_prefix="all")
    assert str(dag_run.state) == "success", {k: v for k, v in states.items() if v != "success"}
    tables = [t["path"] for t in xcoms(dag_run, "list_tables")[-1]]
    assert sorted(tables) == sorted(source), "the DAG did not select every sample table"
    datasets = xcoms(dag_run, f"{GROUP}.create_dataset")
    assert len(set(datasets.values())) == len(tables)
    tenant = "_" + get(emulator, f"{SR}/stats")["tenantId"]
    fields = xcoms(dag_run, f"{GROUP}.create_field_group", "fields")
    for index, table in enumerate(tables):
        rows = {row["Id"]: row for row in source[table].rows}
        records = emulator.records(datasets[index])
        assert len(records) == len(rows), table
        # column -> generated field (names sanitised for XDM, e.g. "Owner Name" -> Owner_Name)
        field_of = {f["column"]: f["field"] for f in fields[index]}
        assert set(field_of) == set(source[table].column_names()), table
        for record in records:
            values = record[tenant]
            row = rows[values["Id"]]
            assert set(values) <= set(field_of.values()), table
            for column, value in row.items():
                if isinstance(value, (str, int, bool)) and "Date" not in column and value is not None:
                    assert values[field_of[column]] == value, (table, column)
    # No Profile by default: no descriptor, no union tag, no Profile tags.
    assert counts(emulator).get("descriptors", 0) == 0


def test_profile_ready_tables_and_a_second_run_creates_nothing(emulator: Any) -> None:
    dag = load_dag()
    conf = {"name_prefix": "prof", "profile": True, "include": ["Account", "Contact"]}
    dag_run, states = run(dag, **conf)
    assert str(dag_run.state) == "success", {k: v for k, v in states.items() if v != "success"}
    schemas = xcoms(dag_run, f"{GROUP}.create_target_schema")
    datasets = xcoms(dag_run, f"{GROUP}.create_dataset")
    assert len(schemas) == len(datasets) == 2
    tenant = get(emulator, f"{SR}/stats")["tenantId"]
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    hook = AdobeExperiencePlatformHook()
    for index, schema_id in schemas.items():
        schema = hook.get_schema(schema_id)
        assert "union" in schema.get("meta:immutableTags", []), schema_id
        dataset = get(emulator, f"{CAT}/dataSets/{datasets[index]}")
        dataset = dataset.get(datasets[index], dataset)
        assert dataset["tags"]["unifiedProfile"] == ["enabled:true"]
        assert dataset["tags"]["unifiedIdentity"] == ["enabled:true"]
    descriptors = xcoms(dag_run, f"{GROUP}.create_identity_descriptor", "source_property")
    assert sorted(descriptors.values()) == [f"/_{tenant}/Id"] * 2
    assert counts(emulator)["descriptors"] == 2

    before = counts(emulator)
    emulator.clear_requests()
    again, states = run(dag, **conf)
    assert str(again.state) == "success", {k: v for k, v in states.items() if v != "success"}
    assert counts(emulator) == before
    # Nothing created; the one write is the base connection's credentials, re-sent on every run
    # (AEP never returns secrets, so they cannot be compared).
    written = [(r["method"], r["path"].rsplit("/", 1)[0]) for r in writes(emulator)]
    assert written == [("PATCH", "/data/foundation/flowservice/connections")], written


def test_a_missing_identity_column_fails_before_any_table_write(emulator: Any) -> None:
    dag = load_dag()
    overrides = {"Account": {"identity_column": "Id"}, "Contact": {"identity_column": "NoSuchColumn"}}
    conf = {"name_prefix": "noid", "profile": True, "include": ["Account", "Contact", "Case"]}
    for conf_overrides, message in (
        ({"Account": {"identity_column": "Id"}}, "overrides['Case']['identity_column']: is missing"),
        (overrides, "'NoSuchColumn' is not a column of table 'Contact'"),
    ):
        emulator.clear_requests()
        _run, states = run(dag, **conf, overrides=conf_overrides)
        assert states[("plan_tables", -1)] == "failed"
        assert not [k for k, v in states.items() if k[0].startswith(GROUP) and v == "success"]
        # Only the shared base connection (created, or its credentials re-sent) was written.
        written = {r["path"] for r in writes(emulator)}
        assert all(p.startswith("/data/foundation/flowservice/connections") for p in written), written
        log = Path(os.environ["AIRFLOW_HOME"], "logs")
        texts = [
            p.read_text(errors="replace") for p in log.rglob("*") if p.is_file() and "plan_tables" in str(p)
        ]
        assert any(message in text for text in texts) or not texts, message
    assert counts(emulator).get("schemas", 0) == 0 and counts(emulator).get("dataSets", 0) == 0
