"""Request economy of one full customer-success DAG run against the emulator.

Runs ``dags/aep_customer_success_ingestion.py`` with ``dag.test()`` (real task runner in-process,
the deferred sensor's trigger run inline) on a throwaway SQLite metadata DB, against the emulator
as a server process, then reads the emulator's request log (``GET /_emulator/requests``) and
counts requests by kind. The minimum is what the work needs and nothing more: one IMS token, one
POST per resource the run created, and the polls the run's duration needs at the sensor's
``poke_interval`` (first poll at t0, then every interval until the first poll at or after the
run completed). Everything else (idempotency lookups by name, ``/explore``, the flow spec, ...) is
listed as overhead by route so the excess is explained, not hidden.

    python benchmarks/bench_requests.py [--quick | --smoke] [--json]
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DAGS,
    FS,
    Result,
    bench_main,
    emulator,
    missing_file,
    missing_module,
    not_available,
    quiet_airflow_logs,
    request_kinds,
)

DAG_FILE = DAGS / "aep_customer_success_ingestion.py"
DAG_ID = "aep_customer_success_ingestion"
SOURCE_CONNECTIONS = {
    "salesforce_service_cloud_default": {
        "conn_type": "generic",
        "host": "https://demo.my.salesforce.com",
        "login": "demo-client-id",
        "password": "demo-client-S3cret",
        "extra": {"auth_type": "oauth2", "api_version": "60.0"},
    }
}
#: emulator run duration (s) per mode: how long the first flow run stays inProgress.
RUN_DURATION = {"full": 12.0, "quick": 6.0, "smoke": 2.0}
_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27,}|/[0-9a-f]{24,}|/_?[a-z]+\.schemas\.[0-9a-f]+|/https?%3A[^/]*")


def route(path: str) -> str:
    """A request path with ids replaced by ``{id}`` (for grouping)."""
    return _ID.sub("/{id}", path)


def _setup_airflow(home: str, emulator_conn: str) -> None:
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home}/airflow.db"
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = emulator_conn
    for conn_id, conn in SOURCE_CONNECTIONS.items():
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)


def run(mode: str) -> list[Result]:
    """One dag.test() of the customer-success DAG; request log by kind vs the minimum."""
    name = "requests for one customer-success DAG run"
    missing = missing_file(DAG_FILE) or missing_module("airflow_provider_aep.sensors.flow_run")
    if missing:
        return [not_available(name, missing, "the minimum")]
    duration = RUN_DURATION[mode]
    with (
        tempfile.TemporaryDirectory(prefix="aep-bench-requests-") as home,
        emulator(["--run-duration", str(duration)]) as server,
    ):
        handle = server.handle()
        _setup_airflow(home, handle.connection_json())
        quiet_airflow_logs("WARNING")
        from airflow.dag_processing.dagbag import DagBag
        from airflow.utils import db

        db.initdb()
        bag = DagBag(dag_folder=str(DAG_FILE), safe_mode=False)
        if bag.import_errors or DAG_ID not in bag.dags:
            return [
                not_available(name, f"{DAG_FILE.name} (import errors: {list(bag.import_errors.values())})")
            ]
        dag = bag.dags[DAG_ID]
        sensor: Any = dag.get_task("wait_for_first_run")
        if mode == "smoke":
            sensor.poke_interval = 1.0  # the DAG's 5 s would dominate the smoke run's time
        poke = float(sensor.poke_interval)
        handle.clear_requests()
        t0 = time.perf_counter()
        dag_run = dag.test()
        wall = time.perf_counter() - t0
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        log = handle.requests()
        state_counts = handle.state()
        completed = _run_completed_at(handle.url, log)

    kinds = request_kinds(log)
    created = [e for e in log if e["method"] == "POST" and (e.get("status") or 0) in (200, 201, 202)]
    created = [e for e in created if not e["path"].startswith("/ims/")]
    polls = [e for e in log if e["method"] == "GET" and route(e["path"]).startswith(f"{FS}/runs")]
    # Polls needed: first poll at t0, then every poke interval until one sees the run finished.
    needed_polls = 1
    if polls:
        t_first = polls[0]["ts"]
        if completed is not None and completed > t_first:
            needed_polls = 1 + math.ceil((completed - t_first) / poke)
    minimum = 1 + len(created) + needed_polls
    total = len(log)
    overhead = Counter(
        f"{e['method']} {route(e['path'])}"
        for e in log
        if e not in created and e not in polls and not e["path"].startswith("/ims/")
    )
    ok = str(dag_run.state) == "success"
    run_note = "" if ok else f" (DAG run {dag_run.state}: {states})"
    return [
        Result(
            name=name,
            value=float(total),
            unit="requests",
            goal=f"the minimum ({minimum})",
            limit=float(minimum),
            verdict="" if ok else f"MISS{run_note}",
            details={
                "by kind": dict(sorted(kinds.items())),
                "minimum": f"1 token + {len(created)} creating POSTs + {needed_polls} polls "
                f"(poke_interval {poke:g}s, run inProgress {duration:g}s)",
                "polls made (s after the first)": [round(e["ts"] - polls[0]["ts"], 1) for e in polls],
                "run completed (s after the first poll)": (
                    round(completed - polls[0]["ts"], 1) if completed and polls else None
                ),
                "overhead by route (beyond the minimum)": dict(overhead.most_common()),
                "dag.test() wall s": round(wall, 1),
                "task states": states,
                "resources in emulator": state_counts,
            },
        ),
        Result(
            name="token requests in one DAG run",
            value=float(kinds.get("token", 0)),
            unit="requests",
            goal="1",
            limit=1.0,
            verdict="" if kinds.get("token", 0) == 1 else "MISS",
        ),
        Result(
            name="status polls vs polls the run's duration needs",
            value=float(len(polls)),
            unit="polls",
            goal=f"{needed_polls}",
            limit=float(needed_polls),
        ),
        Result(
            name="429 / error answers during the run",
            value=float(sum(1 for e in log if (e.get("status") or 0) >= 400)),
            unit="answers",
            verdict="info",
        ),
    ]


def _run_completed_at(server_url: str, log: list[dict[str, Any]]) -> float | None:
    """Epoch seconds at which the awaited run completed (from the emulator, read after the DAG)."""
    import requests

    from airflow_provider_aep.emulator.pytest_plugin import AEPEmulatorHandle

    flows = [e for e in log if e["method"] == "POST" and e["path"].endswith("/flowservice/flows")]
    if not flows:
        return None
    handle = AEPEmulatorHandle(server_url)
    resp = requests.get(f"{server_url}{FS}/runs", headers=handle.headers(), timeout=30)
    resp.raise_for_status()
    done = [
        r["metrics"]["durationSummary"].get("completedAtUTC")
        for r in resp.json().get("items", [])
        if r.get("metrics", {}).get("durationSummary", {}).get("completedAtUTC")
    ]
    return min(done) / 1000 if done else None


if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__ or ""))
