"""The ``aep-demo`` command's parts: setup, DB reading, the report, failure output (no Airflow run).

The whole command (which runs ``airflow dags test``) is exercised by hand and by the e2e/DAG tests;
here each piece is checked quickly and for what it must never do (print a secret).
"""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep.emulator import demo

SECRETS = ("emulator-secret", "demo-client-secret", "demo-password")


def test_unknown_dag_fails_fast_without_touching_airflow(tmp_path: Path, capsys: Any) -> None:
    home = tmp_path / "home"
    assert demo.main(["no_such_dag", "--airflow-home", str(home)]) == 1
    err = capsys.readouterr().err
    assert "unknown DAG 'no_such_dag'" in err and "aep_customer_success_ingestion" in err
    assert not home.exists()


def test_bad_conf_is_a_usage_error(capsys: Any) -> None:
    assert demo.main(["--conf", "{not json"]) == 2
    assert "--conf must be a JSON object" in capsys.readouterr().err


def test_dags_folder_and_airflow_env(tmp_path: Path) -> None:
    dags = demo.find_dags_folder()
    assert (dags / "aep_customer_success_ingestion.py").is_file()
    assert demo.default_airflow_home(dags) == dags.parent / ".airflow"
    env = demo.airflow_env(dags, tmp_path)
    assert env["AIRFLOW_HOME"] == str(tmp_path)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(dags)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow.db'}"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"


def test_installed_wheel_layout_uses_shipped_dags_and_a_user_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site-packages" / "airflow_provider_aep"
    (package / "example_dags").mkdir(parents=True)
    (package / "example_dags" / "aep_customer_success_ingestion.py").write_text("")
    monkeypatch.setattr(demo, "__file__", str(package / "emulator" / "demo.py"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dags = demo.find_dags_folder(tmp_path / "elsewhere")
    assert dags == package / "example_dags"
    assert demo.default_airflow_home(dags) == tmp_path / "cache" / "aep-demo" / "airflow"


def test_find_dags_folder_explains_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "__file__", str(tmp_path / "x" / "y" / "demo.py"))
    with pytest.raises(demo.DemoError, match="cannot find the example DAGs"):
        demo.find_dags_folder(tmp_path)


@pytest.mark.parametrize(
    ("conn_id", "conn_type", "host"),
    [
        ("AEP_DEFAULT", "adobe_experience_platform", "http://127.0.0.1:1234"),
        ("SALESFORCE_SERVICE_CLOUD_DEFAULT", "generic", "https://demo.my.salesforce.com"),
        ("SERVICENOW_DEFAULT", "generic", "https://demo.service-now.com"),
        ("ODATA_DEFAULT", "generic", "https://services.odata.org/V4/Northwind/Northwind.svc"),
    ],
)
def test_connection_env(conn_id: str, conn_type: str, host: str) -> None:
    env = demo.connection_env("http://127.0.0.1:1234")
    conn = json.loads(env[f"AIRFLOW_CONN_{conn_id}"])
    assert conn["conn_type"] == conn_type
    assert conn["host"] == host
    if conn_id == "AEP_DEFAULT":
        assert conn["extra"]["ims_url"] == "http://127.0.0.1:1234"
        assert conn["extra"]["ims_org_id"] == "EMULATORORG@AdobeOrg"


def _metadata_db(path: Path, task_states: dict[str, str], run_state: str = "success") -> None:
    with closing(sqlite3.connect(path)) as db:
        db.executescript(
            """
            CREATE TABLE dag_run (id INTEGER PRIMARY KEY, dag_id TEXT, run_id TEXT, state TEXT,
                                  start_date TEXT, end_date TEXT);
            CREATE TABLE task_instance (dag_id TEXT, run_id TEXT, task_id TEXT, state TEXT,
                                        duration REAL, start_date TEXT);
            CREATE TABLE xcom (dag_run_id INTEGER, task_id TEXT, key TEXT, value JSON);
            """
        )
        db.execute("INSERT INTO dag_run VALUES (1, 'd', 'old', 'failed', NULL, NULL)")
        db.execute("INSERT INTO dag_run VALUES (2, 'd', 'manual__1', ?, 's', 'e')", (run_state,))
        for i, (task, state) in enumerate(task_states.items()):
            db.execute(
                "INSERT INTO task_instance VALUES ('d', 'manual__1', ?, ?, 0.5, ?)", (task, state, str(i))
            )
        db.execute(
            "INSERT INTO xcom VALUES (2, 'create_dataset', 'return_value', ?)", (json.dumps("a" * 24),)
        )
        db.execute("INSERT INTO xcom VALUES (2, 'create_dataflow', 'return_value', ?)", (json.dumps("f-1"),))
        db.execute("INSERT INTO xcom VALUES (1, 'create_dataset', 'return_value', ?)", (json.dumps("old"),))
        db.commit()


class FakeClient:
    """Stands in for the emulator: one finished run, two records, resource counts."""

    def runs(self, flow_id: str) -> list[dict[str, Any]]:
        assert flow_id == "f-1"
        return [
            {
                "id": "run-1",
                "metrics": {
                    "statusSummary": {"status": "success"},
                    "recordSummary": {"inputRecordCount": 7, "outputRecordCount": 6, "failedRecordCount": 1},
                    "durationSummary": {"startedAtUTC": 1767225600000, "completedAtUTC": 1767225612500},
                },
            }
        ]

    def records(self, dataset_id: str) -> list[dict[str, Any]]:
        return [{"_id": "r1", "person": {"name": {"fullName": "Ada"}}}, {"_id": "r2"}]

    def state(self) -> dict[str, int]:
        return {"flows": 1, "dataSets": 1, "classes": 0}


def test_read_run_and_report(tmp_path: Path) -> None:
    db = tmp_path / "airflow.db"
    _metadata_db(db, {"create_dataset": "success", "create_dataflow": "success", "delete_dataset": "skipped"})
    run = demo.read_run(db, "d")
    assert run["run_id"] == "manual__1" and run["state"] == "success"
    assert run["xcom"][("create_dataset", "return_value")] == "a" * 24  # the latest run's XCom only
    out = io.StringIO()
    assert demo.report(run, FakeClient(), out) is True  # type: ignore[arg-type]
    text = out.getvalue()
    for expected in (
        "DAG run manual__1: SUCCESS",
        "create_dataflow",
        "skipped",
        "dataset                  " + "a" * 24,
        "run run-1: success; records read 7, written 6, failed 1;",
        "started 2026-01-01 00:00:00 UTC, took 12.5s",
        "Records in dataset " + "a" * 24 + ": 2",
        '{"_id": "r1", "person": {"name": {"fullName": "Ada"}}}',
        "Resources in the emulator: dataSets=1, flows=1",
    ):
        assert expected in text, expected
    assert not any(secret in text for secret in SECRETS)


@pytest.mark.parametrize(
    ("run_state", "task_state", "ok"),
    [("success", "success", True), ("failed", "success", False), ("success", "upstream_failed", False)],
)
def test_report_verdict(tmp_path: Path, run_state: str, task_state: str, ok: bool) -> None:
    db = tmp_path / "airflow.db"
    _metadata_db(db, {"create_dataset": task_state}, run_state=run_state)
    assert demo.report(demo.read_run(db, "d"), None, io.StringIO()) is ok


def test_read_run_without_a_run(tmp_path: Path) -> None:
    db = tmp_path / "airflow.db"
    _metadata_db(db, {})
    with pytest.raises(demo.DemoError, match="no DAG run of other"):
        demo.read_run(db, "other")


def test_failure_summary_shows_task_exceptions(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    error = "airflow_provider_aep.exceptions.AEPInputError: table_name: 'Nope' is not a table."
    log.write_text(f"noise\nTraceback (most recent call last):\n  File x\n{error}\nmore noise\n{error}\n")
    assert demo.failure_summary(log).splitlines() == ["Errors:", f"  {error}"]
    log.write_text("\n".join(f"line {i}" for i in range(40)))
    assert demo.failure_summary(log).splitlines()[-1] == "  line 39"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "2026 [info] [DAG TEST] end task task_id=create_dataset map_index=-1 [airflow]",
            "finished create_dataset",
        ),
        (
            "2026 [info] Deferring: waiting for run X in the triggerer [airflow.task]",
            "deferred: waiting for run X in the triggerer",
        ),
    ],
)
def test_progress_lines(line: str, expected: str) -> None:
    assert demo._progress(line) == expected
