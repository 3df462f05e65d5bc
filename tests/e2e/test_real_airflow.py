"""Real-engine end-to-end test: the customer-success example DAG run by real Airflow 3 components.

Starts, in a temporary ``AIRFLOW_HOME`` with a SQLite metadata database and the LocalExecutor:
``airflow api-server`` (on a free port), ``airflow scheduler``, ``airflow dag-processor`` and
``airflow triggerer``, plus the AEP emulator as a separate process. The DAG is triggered through the
REST API (v2, Simple auth manager with ``simple_auth_manager_all_admins``), and the test waits for
the run to succeed while watching the flow-run sensor go through the ``deferred`` state, i.e. it
was resumed by the real triggerer process.

This is the only slow test (one to three minutes on two cores, most of it Airflow starting up).
Run it alone with ``pytest -m e2e``; leave it out with ``pytest -m "not e2e"``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import (
    FAST_LOCAL_ENV,
    REPO,
    TEARDOWN_GRACE,
    RealAirflow,
    airflow_bin,
    base_env,
    connection_env,
    copy_sqlite_db,
    free_port,
    start,
    start_emulator,
    stop_all,
    task_logs,
    wait_for,
    wait_for_api,
    warm_execution_api,
)

pytestmark = pytest.mark.e2e

DAGS_FOLDER = REPO / "dags"
DAG_ID = "aep_customer_success_ingestion"
SENSOR_TASK_ID = "wait_for_first_run"
# Hard ceilings so a broken component fails the test instead of hanging CI.
STARTUP_TIMEOUT = 150.0
RUN_TIMEOUT = 240.0
TERMINAL_RUN_STATES = {"success", "failed"}
#: Seconds between two looks at the deployment (API or emulator) while waiting for it (the waits
#: for the DAG run itself keep 0.5 s: two API calls a look, CPU the run needs).
POLL = 0.25


@pytest.fixture(scope="module")
def real_airflow(
    tmp_path_factory: pytest.TempPathFactory, airflow_db_template: Path
) -> Iterator[RealAirflow]:
    """A running Airflow 3 deployment (api-server, scheduler, dag-processor, triggerer) + emulator.

    The metadata DB is a copy of the session's migrated template (not ``airflow db migrate``).
    """
    home = tmp_path_factory.mktemp("airflow_home")
    api_port, emulator_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    env = base_env(home, api_port, DAGS_FOLDER)
    env.update(
        {
            # Airflow 3 has no SequentialExecutor; LocalExecutor runs fine on SQLite here.
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": copy_sqlite_db(airflow_db_template, home),
            **FAST_LOCAL_ENV,
        }
    )
    env.update(connection_env(emulator_url))
    stack = RealAirflow(home=home, api_url=env["AIRFLOW__API__BASE_URL"], emulator_url=emulator_url, env=env)
    try:
        start_emulator(stack, emulator_port, "--run-duration", "6")
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            start(stack, component, [airflow_bin(), component])
        wait_for_api(stack, STARTUP_TIMEOUT, interval=POLL)
        warm_execution_api(stack, STARTUP_TIMEOUT)
        yield stack
    finally:
        stop_all(stack.procs, grace=TEARDOWN_GRACE)


def test_customer_success_dag_runs_on_real_airflow(real_airflow: RealAirflow) -> None:
    stack = real_airflow
    started = time.monotonic()
    with stack.client() as api:
        wait_for(
            lambda: api.get(f"/api/v2/dags/{DAG_ID}").status_code == 200,
            STARTUP_TIMEOUT,
            f"the dag-processor to serialise {DAG_ID}",
            stack,
            interval=POLL,
        )
        errors = api.get("/api/v2/importErrors").json()
        assert errors["total_entries"] == 0, errors
        api.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
        created = api.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
        assert created.status_code == 200, created.text
        run_id = created.json()["dag_run_id"]

        seen_sensor_states: list[str] = []
        run: dict[str, Any] = {}
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            stack.check_alive()
            run = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()
            sensor = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{SENSOR_TASK_ID}")
            if sensor.status_code == 200:
                state = sensor.json().get("state")
                if state and (not seen_sensor_states or seen_sensor_states[-1] != state):
                    seen_sensor_states.append(state)
            if run.get("state") in TERMINAL_RUN_STATES:
                break
            time.sleep(0.5)
        instances = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()
        states = {ti["task_id"]: ti["state"] for ti in instances["task_instances"]}
        elapsed = time.monotonic() - started
        print(f"real-engine run finished in {elapsed:.1f}s: {run.get('state')} {states}")
        print(f"sensor states seen: {seen_sensor_states}")

        assert run.get("state") == "success", f"{run}\n{states}\n{stack.diagnostics()}"
        assert all(state in ("success", "skipped") for state in states.values()), states
        assert states[SENSOR_TASK_ID] == "success"
        # The sensor handed its wait to the triggerer process and was resumed from it.
        assert "deferred" in seen_sensor_states, seen_sensor_states
        task_log, trigger_log = task_logs(stack.home, DAG_ID, run_id, SENSOR_TASK_ID)
        assert "Pausing task as DEFERRED" in task_log
        # Written by the triggerer process itself (``attempt=N.log.trigger.<id>.log``).
        assert re.search(r"trigger \S+ \(ID \d+\) starting", trigger_log), trigger_log[:2000]
        assert "Trigger fired event" in trigger_log
        # ... and the trigger polled AEP from there until the flow run succeeded.
        assert re.search(r"AEP run [0-9a-f-]{36}: status=success, records read=200", trigger_log)

        # The flow really ran in the emulator and its records landed in the dataset from XCom.
        xcom = api.get(
            f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/create_dataset/xcomEntries/return_value"
        )
        assert xcom.status_code == 200, xcom.text
        dataset_id = xcom.json()["value"]
        dataset_id = json.loads(dataset_id) if dataset_id.startswith('"') else dataset_id
        records = httpx.get(f"{stack.emulator_url}/_emulator/datasets/{dataset_id}/records", timeout=10)
        assert records.status_code == 200, records.text
        landed = records.json()
        assert len(landed) == 200
        assert all(r.get("_id") and r.get("person", {}).get("name", {}).get("fullName") for r in landed)

        # The UI links the worker computed when each task ended (the UI shows these): the dataset,
        # the dataflow, and the run the wait resumed on (pushed after the deferral, read from XCom).
        def link(task_id: str) -> str:
            answer = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/links")
            assert answer.status_code == 200, answer.text
            links = {name: url for name, url in answer.json()["extra_links"].items() if url}
            assert len(links) == 1, (task_id, answer.json())
            return next(iter(links.values()))

        ui = "https://experience.adobe.com/#/@EMULATORORG@AdobeOrg/sname:prod/platform"
        assert link("create_dataset") == f"{ui}/dataset/browse/{dataset_id}"
        flow_id = (
            api.get(
                f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/create_dataflow/xcomEntries/return_value"
            )
            .json()["value"]
            .strip('"')
        )
        assert link("create_dataflow") == f"{ui}/source/dataflows/{flow_id}"
        assert re.fullmatch(
            rf"{re.escape(ui)}/source/dataflows/{flow_id}/activity/[0-9a-f-]{{36}}", link(SENSOR_TASK_ID)
        )
        assert "XCom not found" not in stack.log_path("scheduler").read_text(errors="replace")
        print(f"real-engine test total {time.monotonic() - started:.1f}s after the stack was up")
