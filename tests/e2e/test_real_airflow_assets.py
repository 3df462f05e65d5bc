"""Real-engine test of data-aware scheduling: AEP datasets as assets, alias events and the watcher.

One temporary Airflow 3 deployment (helpers of ``test_real_airflow``) with its own DAG folder:

1. ``aep_customer_success_ingestion`` ingests; its sensor adds an asset event for the AEP dataset
   through the alias ``aep-dataset:salesforce-accounts``, and ``aep_profile_export_after_accounts``
   (scheduled on that alias) runs once, with the AEP run summary in the event.
2. A DAG scheduled on that dataset's asset with an ``AssetWatcher`` on the (hourly, AEP-scheduled)
   dataflow: the emulator's clock is sped up until AEP has started and finished exactly one more
   run, which gives exactly one downstream DAG run.
3. The triggerer is restarted; AEP runs once more while it is down; the new triggerer resumes from
   the stored position: exactly one more downstream run, for that AEP run (no miss, no repeat).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import (
    FAST_LOCAL_ENV,
    TEARDOWN_GRACE,
    RealAirflow,
    airflow_bin,
    base_env,
    connection_env,
    copy_sqlite_db,
    free_port,
    start,
    stop_all,
    wait_for,
    warm_execution_api,
)
from tests.e2e.test_real_airflow import DAGS_FOLDER, POLL, STARTUP_TIMEOUT

pytestmark = pytest.mark.e2e

UPSTREAM = "aep_customer_success_ingestion"
EXPORT = "aep_profile_export_after_accounts"
WATCHED = "aep_watched_accounts"
RUN_TIMEOUT = 180.0
#: Emulated seconds per real second while AEP should run the hourly flow (an hour in ~6 s).
FAST_CLOCK = 600.0

WATCHER_DAG = """
import datetime
from airflow.sdk import DAG, Asset, AssetWatcher, task
from airflow_provider_aep.triggers.flow_run_event import AEPFlowRunEventTrigger

ACCOUNTS = Asset(
    "{uri}",
    watchers=[
        AssetWatcher(
            name="accounts_flow_watcher",
            trigger=AEPFlowRunEventTrigger(flow_id="{flow_id}", poll_interval=1),
        )
    ],
)

with DAG(
    dag_id="{dag_id}",
    schedule=ACCOUNTS,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
):

    @task
    def landed(*, triggering_asset_events=None):
        return [e.extra for events in (triggering_asset_events or {{}}).values() for e in events]

    landed()
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, airflow_db_template: Path) -> Iterator[RealAirflow]:
    """Airflow (api-server, scheduler, dag-processor, triggerer) + emulator, DAG folder in tmp.

    The metadata DB is a copy of the session's migrated template (not ``airflow db migrate``).
    """
    home = tmp_path_factory.mktemp("airflow_assets_home")
    dags = home / "dags"
    dags.mkdir()
    for name in (UPSTREAM, EXPORT):
        shutil.copy(DAGS_FOLDER / f"{name}.py", dags / f"{name}.py")
    api_port, emulator_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    env = base_env(home, api_port, dags)
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": copy_sqlite_db(airflow_db_template, home),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # The watcher's DAG file is written during the test: list the folder every second.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "1",
            **FAST_LOCAL_ENV,
        }
    )
    env.update(connection_env(emulator_url))
    real = RealAirflow(home=home, api_url=api_url, emulator_url=emulator_url, env=env)
    try:
        airflow = airflow_bin()
        emulator = [sys.executable, "-m", "airflow_provider_aep.emulator", "--host", "127.0.0.1"]
        start(real, "emulator", [*emulator, "--port", str(emulator_port), "--run-duration", "1"])
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            start(real, component, [airflow, component])

        def token() -> str | None:
            answer = httpx.get(f"{api_url}/auth/token", timeout=10)
            return answer.json()["access_token"] if answer.status_code == 201 else None

        real.token = wait_for(token, STARTUP_TIMEOUT, "the API server", real, interval=POLL)
        warm_execution_api(real, STARTUP_TIMEOUT)
        yield real
    finally:
        stop_all(real.procs, grace=TEARDOWN_GRACE)


def _emulator(stack: RealAirflow, method: str, path: str, body: Any = None) -> Any:
    answer = httpx.request(method, f"{stack.emulator_url}/_emulator{path}", json=body, timeout=10)
    answer.raise_for_status()
    return answer.json()


def _aep_runs(stack: RealAirflow, flow_id: str) -> list[dict[str, Any]]:
    """The flow's runs, read as a client of the emulator's public API."""
    from airflow_provider_aep.emulator.pytest_plugin import AEPEmulatorHandle
    from airflow_provider_aep.emulator.testing import EmulatorClient

    return EmulatorClient(stack.emulator_url, AEPEmulatorHandle(stack.emulator_url).headers()).runs(flow_id)


def _finished_ids(runs: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in runs if r["metrics"]["statusSummary"]["status"] == "success"]


def _dag_runs(api: httpx.Client, dag_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/api/v2/dags/{dag_id}/dagRuns")
    return list(answer.json()["dag_runs"]) if answer.status_code == 200 else []


def _wait_dag_runs(stack: RealAirflow, api: httpx.Client, dag_id: str, count: int) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        runs = _dag_runs(api, dag_id)
        finished = [r for r in runs if r["state"] in ("success", "failed")]
        return runs if len(runs) >= count and len(finished) == len(runs) else None

    return wait_for(done, RUN_TIMEOUT, f"{count} finished run(s) of {dag_id}", stack)  # type: ignore[no-any-return]


def _upstream_events(api: httpx.Client, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents")
    answer.raise_for_status()
    return list(answer.json()["asset_events"])


def _one_more_aep_run(stack: RealAirflow, flow_id: str) -> str:
    """Speed the emulator's clock up until AEP ran the hourly flow once more, then slow it down."""
    before = set(_finished_ids(_aep_runs(stack, flow_id)))
    _emulator(stack, "PUT", "/config", {"time_scale": FAST_CLOCK})
    try:
        new = wait_for(
            lambda: [i for i in _finished_ids(_aep_runs(stack, flow_id)) if i not in before],
            60,
            "AEP to run the flow on its schedule",
            stack,
            interval=POLL,
        )
    finally:
        _emulator(stack, "PUT", "/config", {"time_scale": 1.0})  # the next slot is minutes away again
    assert len(new) == 1, new
    return str(new[0])


def test_ingestion_and_aep_scheduled_runs_trigger_downstream_dags_exactly_once(stack: RealAirflow) -> None:
    started = time.monotonic()
    with stack.client() as api:
        for dag_id in (UPSTREAM, EXPORT):
            wait_for(
                lambda dag_id=dag_id: api.get(f"/api/v2/dags/{dag_id}").status_code == 200,
                STARTUP_TIMEOUT,
                dag_id,
                stack,
                interval=POLL,
            )
        created = api.post(f"/api/v2/dags/{UPSTREAM}/dagRuns", json={"logical_date": None})
        assert created.status_code == 200, created.text
        (upstream,) = _wait_dag_runs(stack, api, UPSTREAM, 1)
        assert upstream["state"] == "success", stack.diagnostics()

        # 1. the sensor's asset event (through the alias) triggered the export DAG once
        (export,) = _wait_dag_runs(stack, api, EXPORT, 1)
        assert export["state"] == "success"
        (event,) = _upstream_events(api, EXPORT, export["dag_run_id"])
        xcom = api.get(
            f"/api/v2/dags/{UPSTREAM}/dagRuns/{upstream['dag_run_id']}/taskInstances/create_dataset/xcomEntries/return_value"
        ).json()["value"]
        dataset_id = json.loads(xcom) if xcom.startswith('"') else xcom
        uri = f"aep://EMULATORORG/prod/datasets/{dataset_id}"
        assert event["uri"] == uri
        assert event["extra"]["records_written"] == 200 and event["extra"]["status"] == "success"
        flow_xcom = api.get(
            f"/api/v2/dags/{UPSTREAM}/dagRuns/{upstream['dag_run_id']}/taskInstances/create_dataflow/xcomEntries/return_value"
        ).json()["value"]
        flow_id = json.loads(flow_xcom) if flow_xcom.startswith('"') else flow_xcom
        assert event["extra"]["run_id"] in _finished_ids(_aep_runs(stack, flow_id))
        print(f"alias path done in {time.monotonic() - started:.1f}s")

        # 2. a watcher on the AEP-scheduled flow: one AEP run -> one downstream run
        dag_file = stack.home / "dags" / f"{WATCHED}.py"
        dag_file.write_text(WATCHER_DAG.format(uri=uri, flow_id=flow_id, dag_id=WATCHED))
        wait_for(
            lambda: api.get(f"/api/v2/dags/{WATCHED}").status_code == 200,
            STARTUP_TIMEOUT,
            WATCHED,
            stack,
            interval=POLL,
        )
        wait_for(
            lambda: "Watching flow" in stack.log_tail("triggerer", 400),
            STARTUP_TIMEOUT,
            "the watcher to start in the triggerer",
            stack,
            interval=POLL,
        )
        first = _one_more_aep_run(stack, flow_id)
        (watched,) = _wait_dag_runs(stack, api, WATCHED, 1)
        (event,) = _upstream_events(api, WATCHED, watched["dag_run_id"])
        assert event["extra"]["payload"]["run_id"] == first
        time.sleep(4)  # several watcher polls: nothing else may arrive
        assert len(_dag_runs(api, WATCHED)) == 1
        print(f"watcher path done in {time.monotonic() - started:.1f}s")

        # 3. restart the triggerer; AEP runs once while it is down; exactly one more downstream run
        old = stack.procs.pop("triggerer")
        stop_all({"triggerer": old})
        second = _one_more_aep_run(stack, flow_id)
        start(stack, "triggerer-restarted", [airflow_bin(), "triggerer"])
        runs = _wait_dag_runs(stack, api, WATCHED, 2)
        time.sleep(4)
        runs = _dag_runs(api, WATCHED)
        assert len(runs) == 2, runs
        payloads = sorted(
            (
                e["extra"]["payload"]["run_id"]
                for r in runs
                for e in _upstream_events(api, WATCHED, r["dag_run_id"])
            ),
        )
        assert payloads == sorted([first, second])
        print(f"real-engine assets test total {time.monotonic() - started:.1f}s after the stack was up")
