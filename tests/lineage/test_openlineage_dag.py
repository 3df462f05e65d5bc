"""OpenLineage events of the customer-success DAG, and the same DAG with OpenLineage absent.

Each test runs ``dag.test()`` in a fresh interpreter (``dag_runner.py``) against the session
emulator, with OpenLineage's file transport writing one JSON event per line, then reads the events.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep.wait import EMULATOR_POLL_ENV
from tests.dags.conftest import SOURCE_CONNECTIONS

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
RUNNER = Path(__file__).with_name("dag_runner.py")
DAG_ID = "aep_customer_success_ingestion"
SUBPROCESS_TIMEOUT = 240


def _account_mapping() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("_cs_dag", DAGS / f"{DAG_ID}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.ACCOUNT_MAPPING)


def _run_dags(
    tmp_path: Path,
    emulator: Any,
    template: Path,
    runs: list[dict[str, Any]],
    *,
    hide_openlineage: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the DAGs in a subprocess; return (results, OpenLineage events)."""
    shutil.copy(template, tmp_path / "airflow.db")
    events_file = tmp_path / "events.jsonl"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "aep-tests",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW_CONN_AEP_DEFAULT": emulator.connection_json(),
        "PYTHONPATH": str(REPO),
        # The DAG's waits poll every 30 s; against the emulator every second, as in tests/dags.
        EMULATOR_POLL_ENV: "1",
    }
    for conn_id, conn in SOURCE_CONNECTIONS.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    args = {
        "dags_folder": str(DAGS),
        "emulator_url": emulator.url,
        "runs": runs,
        "hide_openlineage": hide_openlineage,
    }
    proc = subprocess.run(
        [sys.executable, str(RUNNER), json.dumps(args)],
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    print("dag.test() seconds:", [r.get("seconds") for r in results])
    assert proc.returncode == 0 and len(results) == len(runs), proc.stdout[-3000:] + proc.stderr[-5000:]
    events = []
    if events_file.exists():
        events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    return results, events


def _task_events(events: list[dict[str, Any]], task_id: str) -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event.get("job", {}).get("name") == f"{DAG_ID}.{task_id}":
            by_type.setdefault(event["eventType"], []).append(event)
    return by_type


@pytest.fixture
def emulator(aep_emulator: Any) -> Any:
    aep_emulator.set_config(run_duration_seconds=1)
    return aep_emulator


def test_customer_success_dag_emits_column_lineage_and_a_fail_event(
    tmp_path: Path, emulator: Any, airflow_db_template: Path
) -> None:
    mapping = _account_mapping()
    results, events = _run_dags(
        tmp_path,
        emulator,
        airflow_db_template,
        [
            {"dag_id": DAG_ID},
            {
                "dag_id": DAG_ID,
                "conf": {"name_prefix": "lineage failing"},
                "faults": {"force_run_status": "failed"},
                "no_retries": True,
            },
        ],
    )
    ok, failing = results
    assert ok["state"] == "success", ok
    assert failing["states"]["wait_for_first_run"] == "failed", failing

    # --- the successful run: START and COMPLETE for the sensor that saw the AEP run finish
    wait = _task_events(events, "wait_for_first_run")
    assert wait.get("START") and wait.get("COMPLETE"), sorted(wait)
    complete = wait["COMPLETE"][0]
    (source,) = complete["inputs"]
    assert source["namespace"] == "salesforce://demo.my.salesforce.com"
    assert source["name"] == "Account"
    source_columns = {f["name"] for f in source["facets"]["schema"]["fields"]}
    assert set(mapping) <= source_columns
    (output,) = complete["outputs"]
    assert output["namespace"] == "aep://EMULATORORG/prod"
    assert output["name"].startswith("datasets/") and len(output["name"]) == len("datasets/") + 24
    dataset_id = output["name"].split("/", 1)[1]
    xdm_fields = {f["name"]: f.get("type") for f in output["facets"]["schema"]["fields"]}
    assert set(xdm_fields) == set(mapping.values())
    assert all(xdm_fields.values()), xdm_fields  # types read from the target schema
    lineage = output["facets"]["columnLineage"]["fields"]
    assert {
        dest: [(i["namespace"], i["name"], i["field"]) for i in f["inputFields"]]
        for dest, f in lineage.items()
    } == {dest: [("salesforce://demo.my.salesforce.com", "Account", src)] for src, dest in mapping.items()}
    written = len(emulator.records(dataset_id))
    assert written > 0
    stats = output["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == written
    assert stats["size"] > 0
    assert source["inputFacets"]["inputStatistics"]["rowCount"] >= written
    assert complete["run"]["facets"]["externalQuery"]["externalQueryId"]

    # --- the dataflow operator reports the same datasets and column lineage (no statistics)
    flow = _task_events(events, "create_dataflow")
    flow_complete = flow["COMPLETE"][0]
    assert [(d["namespace"], d["name"]) for d in flow_complete["outputs"]] == [
        ("aep://EMULATORORG/prod", output["name"])
    ]
    assert flow_complete["outputs"][0]["facets"]["columnLineage"]["fields"] == lineage
    assert "outputStatistics" not in flow_complete["outputs"][0].get("outputFacets", {})

    # --- the failing run: a FAIL event with the AEP error, still naming the datasets
    (fail,) = wait["FAIL"]
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert "failed" in message.lower()
    assert fail["run"]["facets"]["externalQuery"]["externalQueryId"] in message
    assert [d["namespace"] for d in fail["outputs"]] == ["aep://EMULATORORG/prod"]
    assert fail["outputs"][0]["name"] != output["name"]  # the failing DAG run's own dataset


def test_dag_runs_unchanged_without_openlineage(
    tmp_path: Path, emulator: Any, airflow_db_template: Path
) -> None:
    results, events = _run_dags(
        tmp_path, emulator, airflow_db_template, [{"dag_id": DAG_ID}], hide_openlineage=True
    )
    (result,) = results
    assert result["state"] == "success", result
    assert result["ol_modules"] == []  # nothing of OpenLineage was importable, nothing was imported
    assert events == []  # and, configured or not, nothing was emitted
    assert all(state in ("success", "skipped") for state in result["states"].values())
