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
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
BIN = Path(sys.executable).parent
DAG_ID = "aep_customer_success_ingestion"
SENSOR_TASK_ID = "wait_for_first_run"
# Hard ceilings so a broken component fails the test instead of hanging CI.
STARTUP_TIMEOUT = 150.0
RUN_TIMEOUT = 240.0
TERMINAL_RUN_STATES = {"success", "failed"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _airflow_bin() -> str:
    candidate = BIN / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


@dataclass
class RealAirflow:
    """Handles on the running components of one temporary Airflow deployment."""

    home: Path
    api_url: str
    emulator_url: str
    env: dict[str, str]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str = ""

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60.0,
        )

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.home / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def diagnostics(self) -> str:
        parts = []
        for name, proc in self.procs.items():
            parts.append(f"--- {name} (exit code {proc.poll()}):\n{self.log_tail(name)}")
        return "\n".join(parts)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}\n{self.diagnostics()}")


def _start(stack: RealAirflow, name: str, argv: list[str]) -> None:
    with open(stack.home / f"{name}.log", "w") as log:  # the child keeps its own descriptor
        stack.procs[name] = subprocess.Popen(
            argv,
            env=stack.env,
            cwd=stack.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 20
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)


def _wait_for(predicate: Any, timeout: float, what: str, stack: RealAirflow) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            result = predicate()
        except (httpx.HTTPError, OSError, ValueError):
            result = None
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{stack.diagnostics()}")


@pytest.fixture(scope="module")
def real_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAirflow]:
    """A running Airflow 3 deployment (api-server, scheduler, dag-processor, triggerer) + emulator."""
    home = tmp_path_factory.mktemp("airflow_home")
    api_port, emulator_port = _free_port(), _free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Airflow 3 has no SequentialExecutor; LocalExecutor runs fine on SQLite here.
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            # Shared by the API server (issuer) and the workers/triggerer (holders); test-only value.
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-only-" + os.urandom(32).hex(),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(_connection_env(emulator_url))
    stack = RealAirflow(home=home, api_url=api_url, emulator_url=emulator_url, env=env)
    try:
        airflow = _airflow_bin()
        migrate = subprocess.run(
            [airflow, "db", "migrate"], env=env, cwd=home, capture_output=True, text=True, timeout=180
        )
        assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
        _start(
            stack,
            "emulator",
            [
                sys.executable,
                "-m",
                "airflow_provider_aep.emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(emulator_port),
                "--run-duration",
                "6",
            ],
        )
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            _start(stack, component, [airflow, component])

        def token() -> str | None:
            answer = httpx.get(f"{api_url}/auth/token", timeout=10)
            return answer.json()["access_token"] if answer.status_code == 201 else None

        stack.token = _wait_for(token, STARTUP_TIMEOUT, "the API server", stack)
        _wait_for(
            lambda: httpx.get(f"{emulator_url}/_emulator/state", timeout=5).status_code == 200,
            STARTUP_TIMEOUT,
            "the emulator",
            stack,
        )
        yield stack
    finally:
        _stop_all(stack.procs)


def _connection_env(emulator_url: str) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` JSON for the emulator and the three demo source systems."""
    aep = {
        "conn_type": "adobe_experience_platform",
        "host": emulator_url,
        "login": "emulator-client",
        "password": "emulator-secret",
        "extra": {"ims_org_id": "EMULATORORG@AdobeOrg", "sandbox_name": "prod", "ims_url": emulator_url},
    }
    salesforce = {
        "conn_type": "generic",
        "host": "https://demo.my.salesforce.com",
        "login": "demo-client-id",
        "password": "demo-client-secret",
        "extra": {"auth_type": "oauth2", "api_version": "60.0"},
    }
    return {
        "AIRFLOW_CONN_AEP_DEFAULT": json.dumps(aep),
        "AIRFLOW_CONN_SALESFORCE_SERVICE_CLOUD_DEFAULT": json.dumps(salesforce),
    }


def test_customer_success_dag_runs_on_real_airflow(real_airflow: RealAirflow) -> None:
    stack = real_airflow
    started = time.monotonic()
    with stack.client() as api:
        _wait_for(
            lambda: api.get(f"/api/v2/dags/{DAG_ID}").status_code == 200,
            STARTUP_TIMEOUT,
            f"the dag-processor to serialise {DAG_ID}",
            stack,
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
        task_log, trigger_log = _task_logs(stack, run_id, SENSOR_TASK_ID)
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
        print(f"real-engine test total {time.monotonic() - started:.1f}s after the stack was up")


def _task_logs(stack: RealAirflow, run_id: str, task_id: str) -> tuple[str, str]:
    """(worker log, triggerer log) of every attempt of one task instance."""
    root = stack.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
    worker = [p for p in sorted(root.glob("attempt=*.log")) if ".trigger." not in p.name]
    trigger = sorted(root.glob("attempt=*.log.trigger.*.log"))
    return tuple("\n".join(p.read_text(errors="replace") for p in paths) for paths in (worker, trigger))  # type: ignore[return-value]
