"""``aep-demo``'s per-table report of DAGs mapped over tables (the ingestion factory's group)."""

from __future__ import annotations

import io
from typing import Any

from airflow_provider_aep.emulator.demo import report_tables


def _run(summaries: dict[int, Any], datasets: dict[int, str]) -> dict[str, Any]:
    return {
        "xcom": {("plan_tables", "return_value"): [{"table": "Account"}, {"table": "Invoice__c"}]},
        "mapped": {
            ("ingest_table.create_dataset", "return_value"): datasets,
            ("ingest_table.wait_for_first_run", "run_summary"): summaries,
        },
    }


def test_each_table_shows_records_written_and_its_dataset() -> None:
    out = io.StringIO()
    ok = report_tables(
        _run(
            {
                0: {"status": "success", "records_written": 200},
                1: {"status": "success", "records_written": 7},
            },
            {0: "a" * 24, 1: "b" * 24},
        ),
        None,
        out,
    )
    text = out.getvalue()
    assert ok
    assert "Tables (2)" in text
    lines = [line.split() for line in text.splitlines() if line.startswith("  ")]
    assert lines == [
        ["Account", "records", "written", "200", "dataset", "a" * 24],
        ["Invoice__c", "records", "written", "7", "dataset", "b" * 24],
    ]


def test_a_table_without_a_successful_first_run_fails_the_report() -> None:
    out = io.StringIO()
    failed = {0: {"status": "success", "records_written": 200}, 1: {"status": "failed", "records_written": 0}}
    assert not report_tables(_run(failed, {0: "a" * 24, 1: "b" * 24}), None, out)
    assert not report_tables(_run({0: {"status": "success", "records_written": 1}}, {0: "a" * 24}), None, out)


def test_a_single_table_dag_has_no_table_section() -> None:
    out = io.StringIO()
    assert report_tables({"xcom": {}, "mapped": {}}, None, out)
    assert out.getvalue() == ""


def test_read_run_keeps_each_map_index_of_a_mapped_task(tmp_path: Any) -> None:
    """The metadata DB's xcom rows of a mapped task group, read per map index."""
    import json
    import sqlite3
    from contextlib import closing

    from airflow_provider_aep.emulator.demo import read_run

    path = tmp_path / "airflow.db"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(
            """
            CREATE TABLE dag_run (id INTEGER PRIMARY KEY, dag_id TEXT, run_id TEXT, state TEXT,
                                  start_date TEXT, end_date TEXT);
            CREATE TABLE task_instance (dag_id TEXT, run_id TEXT, task_id TEXT, state TEXT,
                                        duration REAL, start_date TEXT);
            CREATE TABLE xcom (dag_run_id INTEGER, task_id TEXT, key TEXT, value JSON, map_index INTEGER);
            """
        )
        db.execute("INSERT INTO dag_run VALUES (1, 'd', 'manual__1', 'success', 's', 'e')")
        plan = json.dumps([{"table": "Account"}, {"table": "Case"}])
        db.execute("INSERT INTO xcom VALUES (1, 'plan_tables', 'return_value', ?, -1)", (plan,))
        for index, dataset in enumerate(("a" * 24, "b" * 24)):
            db.execute(
                "INSERT INTO xcom VALUES (1, 'ingest_table.create_dataset', 'return_value', ?, ?)",
                (json.dumps(dataset), index),
            )
            summary = json.dumps({"status": "success", "records_written": 10 + index})
            db.execute(
                "INSERT INTO xcom VALUES (1, 'ingest_table.wait_for_first_run', 'run_summary', ?, ?)",
                (summary, index),
            )
        db.commit()
    run = read_run(path, "d")
    assert run["mapped"][("ingest_table.create_dataset", "return_value")] == {0: "a" * 24, 1: "b" * 24}
    out = io.StringIO()
    assert report_tables(run, None, out)
    assert "Case" in out.getvalue() and "11" in out.getvalue()
