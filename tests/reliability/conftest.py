"""Fixtures of the reliability suite: distinctive secrets, the emulator as Airflow connections,
short retry waits, a throwaway Airflow metadata DB for ``dag.test()`` and duplicate checks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import private_airflow_db

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
CUSTOMER_SUCCESS_DAG = DAGS_FOLDER / "aep_customer_success_ingestion.py"
FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"

# ------------------------------------------------------------------------------ secrets
#: Every secret the suite hands to the provider; none may show up anywhere a user can read.
AEP_CLIENT_SECRET = "cs-SECRET-7f3a9"
AEP_STATIC_TOKEN = "st-TOKEN-static-5e2c8"
SF_OAUTH_SECRET = "sf-CLIENTSECRET-b81d2"
SF_PASSWORD = "sf-PASSWORD-4c6e1"
SF_SECURITY_TOKEN = "sf-SECTOKEN-9a0f3"
SNOW_PASSWORD = "sn-PASSWORD-2d7b8"
SECRETS = (
    AEP_CLIENT_SECRET,
    AEP_STATIC_TOKEN,
    SF_OAUTH_SECRET,
    SF_PASSWORD,
    SF_SECURITY_TOKEN,
    SNOW_PASSWORD,
)

SOURCE_CONNECTIONS: dict[str, dict[str, Any]] = {
    "salesforce_service_cloud_default": {
        "conn_type": "generic",
        "host": "https://acme.my.salesforce.com",
        "login": "sf-client-id",
        "password": SF_OAUTH_SECRET,
        "extra": {"auth_type": "oauth2", "api_version": "60.0"},
    },
    "ssc_basic": {
        "conn_type": "generic",
        "host": "https://acme.my.salesforce.com",
        "login": "sf-user@example.com",
        "password": SF_PASSWORD,
        "extra": {"auth_type": "basic", "security_token": SF_SECURITY_TOKEN, "api_version": "60.0"},
    },
    "servicenow_default": {
        "conn_type": "generic",
        "host": "https://acme.service-now.com",
        "login": "snow-user",
        "password": SNOW_PASSWORD,
    },
}

#: Short retry waits: the policy is the real one, only the numbers are small.
FAST_RETRY_EXTRA = {
    "retry_max_attempts": 4,
    "retry_initial_backoff": 0.05,
    "retry_max_backoff": 0.2,
    "retry_max_wait_seconds": 2,
    "retry_max_total_seconds": 20,
    # A lost answer is looked up for this long before "not committed" (default 30 s).
    "late_commit_wait_seconds": 1.0,
}


class AEP:
    """The emulator handle plus helpers to (re)define the Airflow connections pointing at it."""

    def __init__(self, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.emulator = emulator
        self.monkeypatch = monkeypatch
        self.url = emulator.url

    def __getattr__(self, name: str) -> Any:
        return getattr(self.emulator, name)

    def connection(self, conn_id: str = "aep_default", **extra: Any) -> dict[str, Any]:
        """Define ``conn_id`` (emulator, client secret ``cs-SECRET-7f3a9``); ``extra`` overrides.

        An extra set to ``None`` is removed; ``host``/``password``/``login`` keys override those.
        """
        merged = {**self.emulator.connection_extra(), **FAST_RETRY_EXTRA}
        fields = {"host": self.url, "login": self.emulator.client_id, "password": AEP_CLIENT_SECRET}
        for key, value in extra.items():
            if key in fields:
                fields[key] = value
            elif value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        conn = {"conn_type": "adobe_experience_platform", **fields, "extra": merged}
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn

    # ---------------------------------------------------------------- state / duplicates
    def counts(self) -> dict[str, int]:
        """Resource counts of the emulator's default org/sandbox."""
        for entry in self.emulator.state()["sandboxes"]:
            if entry["sandbox"] == self.emulator.sandbox and entry["org"] == self.emulator.org_id:
                return {k: int(v) for k, v in entry["counts"].items()}
        return {}

    def api_requests(self) -> list[dict[str, Any]]:
        """Logged requests except IMS token calls."""
        return [r for r in self.emulator.requests() if not r["path"].startswith("/ims/")]


@pytest.fixture
def aep(aep_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[AEP]:
    """The emulator (reset; runs last 0.2 s) as ``aep_default`` plus the source connections."""
    from airflow_provider_aep.hooks import _auth

    _auth.TOKEN_CACHE.clear()
    handle = AEP(aep_emulator, monkeypatch)
    handle.connection()
    for conn_id, conn in SOURCE_CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    aep_emulator.set_config(run_duration_seconds=0.2)
    yield handle
    _auth.TOKEN_CACHE.clear()


@pytest.fixture
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait a task's hook asks for between attempts (they still happen, for real).

    Only waits on the main thread (the operators) are recorded: the trigger's hook runs in a
    worker thread with its own, deliberately short, retry policy.
    """
    import threading

    from airflow_provider_aep.hooks import _retry

    waits: list[float] = []
    real_sleep = _retry.sleep

    def recording_sleep(seconds: float) -> None:
        if threading.current_thread() is threading.main_thread():
            waits.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(_retry, "sleep", recording_sleep)
    return waits


# ------------------------------------------------------------------------------ Airflow DB
@pytest.fixture(scope="session")
def airflow_db(airflow_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private copy of the session's metadata DB and AIRFLOW_HOME for ``dag.test()``."""
    home = tmp_path_factory.mktemp("reliability_airflow_home")
    # Only the DAG under test in the bundle: dag.test() re-parses the whole folder on every run.
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(CUSTOMER_SUCCESS_DAG, dags / CUSTOMER_SUCCESS_DAG.name)
    with private_airflow_db(
        airflow_db_template,
        home,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
    ) as ready:
        yield ready


def load_dag(path: Path = CUSTOMER_SUCCESS_DAG) -> Any:
    """A fresh copy of a DAG file's ``dag`` (tests may tweak its tasks without leaking)."""
    import importlib.util

    name = f"_reliability_dag_{path.stem}_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def _counter() -> Iterator[int]:
    n = 0
    while True:
        n += 1
        yield n


_COUNTER = _counter()


@pytest.fixture
def one_of_each() -> Callable[[AEP, tuple[str, ...]], None]:
    """Assert exactly one resource of each pipeline kind (and no stray run) in the emulator."""

    def check(aep: AEP, kinds: tuple[str, ...]) -> None:
        counts = aep.counts()
        wrong = {k: counts.get(k, 0) for k in kinds if counts.get(k, 0) != 1}
        assert not wrong, f"expected exactly one of each {kinds}, got {counts}"

    return check


# ------------------------------------------------------------------------------ dag.test()
class DagRunResult:
    """What a ``dag.test()`` run left behind: task states, XComs and rendered template fields."""

    def __init__(self, dag_run: Any) -> None:
        from airflow.models.renderedtifields import RenderedTaskInstanceFields
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        self.dag_run = dag_run
        self.state = str(dag_run.state)
        with create_session() as session:
            tis = dag_run.get_task_instances(session=session)
            self.states = {ti.task_id: str(ti.state) for ti in tis}
            self.tries = {ti.task_id: ti.try_number for ti in tis}
            rows = (
                session.query(XComModel)
                .filter(XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id)
                .all()
            )
            self.xcoms = {(r.task_id, r.key): r.value for r in rows}
            rendered = (
                session.query(RenderedTaskInstanceFields)
                .filter(
                    RenderedTaskInstanceFields.dag_id == dag_run.dag_id,
                    RenderedTaskInstanceFields.run_id == dag_run.run_id,
                )
                .all()
            )
            self.rendered = {r.task_id: r.rendered_fields for r in rendered}

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        value = self.xcoms.get((task_id, key))
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


def fast_sensor(dag: Any, poll: float = 0.3) -> Any:
    """Make the DAG's flow-run sensor poll every ``poll`` s (the emulator's runs last 0.2 s), and
    task retries (the DAG keeps its retry counts) happen without the DAG's retry delay."""
    from datetime import timedelta

    for task in dag.tasks:
        task.retry_delay = timedelta(0)
        if task.task_type == "AEPFlowRunSensor":
            task.poke_interval = poll
    return dag


@pytest.fixture
def run_dag(airflow_db: Path) -> Callable[..., DagRunResult]:
    """``dag.test()`` a DAG and collect its task states, XComs and rendered fields."""

    def _run(dag: Any, **kwargs: Any) -> DagRunResult:
        # The teardown tasks skip themselves unless params.teardown; not running them saves time.
        kwargs.setdefault("mark_success_pattern", r"delete_.*")
        return DagRunResult(dag.test(**kwargs))

    return _run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how many places and texts the secret scans covered."""
    from tests.reliability.scan import summary_lines

    for line in summary_lines():
        terminalreporter.write_line(line)
