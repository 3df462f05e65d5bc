"""Shared pieces of the real-engine tests: start Airflow components and the emulator as processes.

Used by ``test_real_airflow.py`` (LocalExecutor, SQLite) and ``test_distributed_airflow.py``
(CeleryExecutor, PostgreSQL, Redis). Every process is started in its own session so a stop kills
its whole process group; every wait is bounded and fails with the tail of each component's log.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: Environment variable read by :func:`hostname_from_env` (``[core] hostname_callable``).
HOSTNAME_ENV = "AEP_E2E_HOSTNAME"
#: Default credentials of the test connections (a test that scans for leaks passes its own).
AEP_CLIENT_SECRET = "emulator-secret"
SALESFORCE_CLIENT_SECRET = "demo-client-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_bin() -> str:
    candidate = BIN / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def hostname_from_env() -> str:
    """``[core] hostname_callable`` for the tests: a per-process name, else the machine's FQDN.

    Two Celery workers on one machine share a host name; giving each its own makes the task
    instances' ``hostname`` show which worker ran them.
    """
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


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

    def log_path(self, name: str) -> Path:
        return self.home / f"{name}.log"

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_path(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def diagnostics(self) -> str:
        parts = []
        for name, proc in self.procs.items():
            parts.append(f"--- {name} (exit code {proc.poll()}):\n{self.log_tail(name)}")
        return "\n".join(parts)

    def check_alive(self, *, except_: tuple[str, ...] = ()) -> None:
        for name, proc in self.procs.items():
            if name not in except_ and proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}\n{self.diagnostics()}")


def base_env(home: Path, api_port: int, dags_folder: Path) -> dict[str, str]:
    """The environment every component of a test deployment shares (no executor, no database)."""
    api_url = f"http://127.0.0.1:{api_port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            # Airflow generates these three secrets per process when no airflow.cfg exists yet, and
            # the components start together: every component must get the same test-only values
            # (a triggerer that read another key than the dag-processor's could not decrypt the
            # asset watcher's trigger kwargs, and died: seen under load).
            # JWT: issued by the API server, held by the workers and the triggerer.
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-only-" + os.urandom(32).hex(),
            # Fernet: encrypts connection passwords and trigger kwargs in the metadata DB.
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            # Signs log-server requests between components.
            "AIRFLOW__API__SECRET_KEY": "e2e-only-" + os.urandom(16).hex(),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # The example DAGs poll AEP every 30 s; against the emulator every 5 s at most (an
            # emulator-only cap the provider reads at run time; waits that poll faster keep theirs).
            "AEP_EMULATOR_POLL_SECONDS": "5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


#: For the single-host (LocalExecutor) deployments, on top of :func:`base_env`:
#:
#: - a task supervisor whose task closed its sockets just before it exited waits in ``select`` for
#:   up to ``[workers] min_heartbeat_interval`` (5 s) before it sees the exit (seen on about one
#:   task in fifteen, each delaying its DAG run by ~5 s): capped at 1 s;
#: - the DAGs' AEP waits poll the emulator every second (as the in-process DAG tests do), not 5 s;
#: - the dag-processor parses each file once (new files are still parsed as soon as they are
#:   listed) instead of re-parsing every file every 30 s: a test lasts 1-3 minutes on two shared
#:   cores, and the re-parses of unchanged files cost ~10 s of CPU that the DAG runs wait for.
FAST_LOCAL_ENV = {
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    "AEP_EMULATOR_POLL_SECONDS": "1",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
}


def connection_env(
    emulator_url: str,
    *,
    client_secret: str = AEP_CLIENT_SECRET,
    salesforce_secret: str = SALESFORCE_CLIENT_SECRET,
) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` JSON for the emulator and the demo Salesforce source system."""
    aep = {
        "conn_type": "adobe_experience_platform",
        "host": emulator_url,
        "login": "emulator-client",
        "password": client_secret,
        "extra": {"ims_org_id": "EMULATORORG@AdobeOrg", "sandbox_name": "prod", "ims_url": emulator_url},
    }
    salesforce = {
        "conn_type": "generic",
        "host": "https://demo.my.salesforce.com",
        "login": "demo-client-id",
        "password": salesforce_secret,
        "extra": {"auth_type": "oauth2", "api_version": "60.0"},
    }
    return {
        "AIRFLOW_CONN_AEP_DEFAULT": json.dumps(aep),
        "AIRFLOW_CONN_SALESFORCE_SERVICE_CLOUD_DEFAULT": json.dumps(salesforce),
    }


def start(stack: RealAirflow, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
    """Start one component; its output goes to ``<home>/<name>.log``."""
    env = {**stack.env, **(extra_env or {})}
    with open(stack.log_path(name), "w") as log:  # the child keeps its own descriptor
        stack.procs[name] = subprocess.Popen(
            argv,
            env=env,
            cwd=stack.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_emulator(stack: RealAirflow, port: int, *args: str) -> None:
    """Start the AEP emulator on ``port`` (extra CLI ``args``: run duration, latency, ...)."""
    argv = [sys.executable, "-m", "airflow_provider_aep.emulator", "--host", "127.0.0.1"]
    start(stack, "emulator", [*argv, "--port", str(port), *args])


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal a component's whole process group (it was started in its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


#: Seconds the components of a deployment get to exit on SIGTERM at teardown before they are killed
#: (nothing is checked after the tests; a graceful stop took 4-10 s, because a triggerer waits up to
#: 10 s for a runner that has already exited).
TEARDOWN_GRACE = 3.0


def stop_all(procs: dict[str, subprocess.Popen], grace: float = 20.0) -> None:
    """SIGTERM every component, then SIGKILL what is still running after ``grace`` seconds."""
    for proc in procs.values():
        if proc.poll() is None:
            kill(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill(proc, signal.SIGKILL)
            proc.wait(5)
        # Children that outlived their leader (task processes, pool workers) go too.
        kill(proc, signal.SIGKILL)


def wait_for(
    predicate: Any,
    timeout: float,
    what: str,
    stack: RealAirflow,
    *,
    except_: tuple[str, ...] = (),
    interval: float = 0.5,
) -> Any:
    """Poll ``predicate`` every ``interval`` s until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive(except_=except_)
        try:
            result = predicate()
        except (httpx.HTTPError, OSError, ValueError):
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{stack.diagnostics()}")


def wait_for_api(stack: RealAirflow, timeout: float, *, interval: float = 0.5) -> None:
    """Wait for the API server (then keep its token on ``stack``) and the emulator."""

    def token() -> str | None:
        answer = httpx.get(f"{stack.api_url}/auth/token", timeout=10)
        return answer.json()["access_token"] if answer.status_code == 201 else None

    stack.token = wait_for(token, timeout, "the API server", stack, interval=interval)
    wait_for(
        lambda: httpx.get(f"{stack.emulator_url}/_emulator/state", timeout=5).status_code == 200,
        timeout,
        "the emulator",
        stack,
        interval=interval,
    )


def warm_execution_api(stack: RealAirflow, timeout: float) -> None:
    """Make the API server build its execution API now (it does so on the first call, for seconds),
    while the dag-processor parses, instead of on the first task's first call."""
    answer = httpx.get(f"{stack.api_url}/execution/health", timeout=timeout)
    assert answer.status_code == 200, answer.text


def copy_sqlite_db(template: Path, home: Path) -> str:
    """Put a copy of a migrated SQLite metadata DB in ``home``; return its SQLAlchemy URL.

    ``template`` is the session's ``airflow_db_template`` (``tests/conftest.py``): ``db.initdb()``
    with the default configuration and no example DAGs, which gives the same schema, default pool
    and log templates as ``airflow db migrate`` (the DB is per xdist worker, nothing is shared).
    Copying costs milliseconds; ``airflow db migrate`` costs 10-13 s of CPU.
    """
    shutil.copy(template, home / "airflow.db")
    return f"sqlite:///{home}/airflow.db"


def migrate(env: dict[str, str], home: Path) -> None:
    done = subprocess.run(
        [airflow_bin(), "db", "migrate"], env=env, cwd=home, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def task_logs(home: Path, dag_id: str, run_id: str, task_id: str) -> tuple[str, str]:
    """(worker log, triggerer log) of every attempt (and map index) of one task."""
    root = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    paths = sorted(root.rglob("attempt=*.log*"))
    worker = [p for p in paths if ".trigger." not in p.name]
    trigger = [p for p in paths if ".trigger." in p.name]
    return tuple("\n".join(p.read_text(errors="replace") for p in group) for group in (worker, trigger))  # type: ignore[return-value]
