"""``aep-demo``: run an example DAG end to end against a local AEP emulator, then report.

What it does, with nothing to configure:

1. Uses its own Airflow home (SQLite metadata DB, no Airflow example DAGs): ``<repo>/.airflow`` with
   the checkout's ``dags/`` folder, or, when installed from a wheel, ``~/.cache/aep-demo/airflow``
   with the example DAGs the wheel ships (``airflow_provider_aep/example_dags``). It runs
   ``airflow db migrate`` the first time.
2. Starts the AEP emulator (``python -m airflow_provider_aep.emulator``) on a free port, with flow
   runs that take a couple of seconds.
3. Passes the Airflow connections for it (``aep_default``) and for the demo source systems
   (Salesforce, ServiceNow, OData) as ``AIRFLOW_CONN_*`` environment variables.
4. Runs the DAG with ``airflow dags test`` (the real task runner; deferred waits are resumed by an
   in-process triggerer).
5. Prints each task's state, the ids the run created (from XCom in the metadata DB), the AEP flow
   run's metrics and a few XDM records that landed in the dataset. Exits non-zero if anything
   failed. The emulator is stopped on exit, Ctrl-C included.

Usage: ``aep-demo [DAG_ID] [--logical-date ISO] [--conf JSON] [--verbose]``
(``python -m airflow_provider_aep.emulator.demo`` works too).

Secrets: the emulator's demo credentials and the demo source credentials are passed to Airflow
only through the environment of the child process; nothing here prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

DEFAULT_DAG_ID = "aep_customer_success_ingestion"
#: Scheduled DAGs are run for a day that has sample data (the emulator's rows start 2026-01-01).
DEFAULT_LOGICAL_DATES = {
    "aep_on_demand_ingestion": "2026-01-02T00:00:00+00:00",
    "aep_operate_existing_flow": "2026-01-02T00:00:00+00:00",
}
#: Flow the ``aep_operate_existing_flow`` DAG operates; the demo creates it first (outside Airflow).
EXISTING_FLOW_PREFIX = "aep-demo-existing"


def create_existing_flow(url: str, out: Any) -> str:
    """Create a ``once`` flow over plain HTTP (as a team would in the AEP UI); returns its id."""
    from airflow_provider_aep.emulator.testing import EmulatorClient as SetupClient

    headers = {k: str(v) for k, v in EmulatorClient(url).session.headers.items()}
    flow = SetupClient(url, headers).once_flow(EXISTING_FLOW_PREFIX)
    print(f"Created flow {EXISTING_FLOW_PREFIX}-flow ({flow.flow_id}) outside Airflow", file=out)
    return flow.flow_id


#: Steps the demo runs against the emulator before a DAG that expects existing AEP resources.
PREPARE = {"aep_operate_existing_flow": create_existing_flow}
EMULATOR_CLIENT_ID = "emulator-client"
EMULATOR_CLIENT_SECRET = "emulator-secret"  # noqa: S105 - the emulator's documented demo secret
EMULATOR_ORG = "EMULATORORG@AdobeOrg"
EMULATOR_SANDBOX = "prod"
RUN_DURATION_SECONDS = 2
STARTUP_TIMEOUT = 60.0
DAG_TEST_TIMEOUT = 600.0
RECORDS_SHOWN = 3

#: Demo source systems, in the layout the base-connection operator reads (see the contract).
SOURCE_CONNECTIONS: dict[str, dict[str, Any]] = {
    "salesforce_service_cloud_default": {
        "conn_type": "generic",
        "host": "https://demo.my.salesforce.com",
        "login": "demo-client-id",
        "password": "demo-client-secret",
        "extra": {"auth_type": "oauth2", "api_version": "60.0"},
    },
    "servicenow_default": {
        "conn_type": "generic",
        "host": "https://demo.service-now.com",
        "login": "demo-user",
        "password": "demo-password",
    },
    "odata_default": {
        "conn_type": "generic",
        "host": "https://services.odata.org/V4/Northwind/Northwind.svc",
    },
}


class DemoError(Exception):
    """A step of the demo failed; the message says which and what to look at."""


# --------------------------------------------------------------------------------------- setup
def find_dags_folder(start: Path | None = None) -> Path:
    """The folder of the example DAGs: ``dags/`` of a checkout, else the ones the wheel ships.

    A checkout is the current directory (or *start*) or one holding this module; an installed
    wheel carries the same files as ``airflow_provider_aep/example_dags``.
    """
    here = Path(__file__).resolve()
    candidates = [(start or Path.cwd()) / "dags", *(p / "dags" for p in here.parents[2:])]
    candidates.append(here.parents[1] / "example_dags")
    for candidate in candidates:
        if (candidate / f"{DEFAULT_DAG_ID}.py").is_file():
            return candidate
    raise DemoError(
        f"cannot find the example DAGs ({DEFAULT_DAG_ID}.py in dags/ of the airflow-provider-aep "
        "checkout, or airflow_provider_aep/example_dags/ of the installed wheel); reinstall the "
        "package or run aep-demo from the checkout"
    )


def default_airflow_home(dags: Path) -> Path:
    """``<repo>/.airflow`` in a checkout; a per-user cache directory for an installed wheel."""
    if dags.name == "dags":
        return dags.parent / ".airflow"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "aep-demo" / "airflow"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_env(dags: Path, home: Path) -> dict[str, str]:
    """Environment of the Airflow child processes (the demo's home, SQLite, the example DAGs)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            # The example DAGs poll AEP every 30 s; against the local emulator, every 2 s at most
            # (an emulator-only cap, read by the provider at run time for a loopback AEP only).
            "AEP_EMULATOR_POLL_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def connection_env(emulator_url: str) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` JSON values for the emulator (``aep_default``) and the demo sources."""
    aep = {
        "conn_type": "adobe_experience_platform",
        "host": emulator_url,
        "login": EMULATOR_CLIENT_ID,
        "password": EMULATOR_CLIENT_SECRET,
        "extra": {"ims_org_id": EMULATOR_ORG, "sandbox_name": EMULATOR_SANDBOX, "ims_url": emulator_url},
    }
    env = {"AIRFLOW_CONN_AEP_DEFAULT": json.dumps(aep)}
    for conn_id, conn in SOURCE_CONNECTIONS.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return env


def airflow_command(*args: str) -> list[str]:
    """``python -m airflow ...`` with this interpreter (works without the venv on PATH)."""
    return [sys.executable, "-m", "airflow", *args]


def migration_marker(home: Path) -> Path:
    """The file :func:`ensure_database` leaves in ``home`` once this Airflow version migrated it."""
    from importlib.metadata import version

    return home / f".migrated-{version('apache-airflow')}"


def ensure_database(home: Path, env: dict[str, str], out: Any) -> None:
    """Run ``airflow db migrate`` unless this home was migrated by the same Airflow version."""
    marker = migration_marker(home)
    if marker.exists() and (home / "airflow.db").exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    print(f"Preparing the Airflow metadata DB in {home} (first run only) ...", file=out, flush=True)
    log = home / "db-migrate.log"
    with open(log, "w") as handle:
        result = subprocess.run(  # noqa: S603 - fixed argv, this interpreter
            airflow_command("db", "migrate"),
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
    if result.returncode != 0:
        raise DemoError(f"airflow db migrate failed (exit {result.returncode}); see {log}")
    marker.touch()


class Emulator:
    """The AEP emulator as a child process in its own process group."""

    def __init__(self, log_path: Path, run_duration: float = RUN_DURATION_SECONDS) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.run_duration = run_duration
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        import requests

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "airflow_provider_aep.emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--run-duration",
            str(self.run_duration),
        ]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, this interpreter
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DemoError(f"the emulator exited with {self.proc.returncode}; see {self.log_path}")
            with suppress(requests.RequestException):
                if requests.get(f"{self.url}/_emulator/state", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise DemoError(f"the emulator did not answer within {STARTUP_TIMEOUT:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL) - always called, also after Ctrl-C."""
        stop_process_group(self.proc)


def stop_process_group(proc: subprocess.Popen[Any] | None, grace: float = 10.0) -> None:
    """Terminate a child started with ``start_new_session=True`` and everything it started."""
    if proc is None or proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


# ------------------------------------------------------------------------------------ the run
def run_dag_test(
    dag_id: str,
    env: dict[str, str],
    log_path: Path,
    out: Any,
    *,
    logical_date: str | None,
    conf: str | None,
    verbose: bool,
) -> int:
    """``airflow dags test`` in a child process group; task progress lines are echoed."""
    argv = airflow_command("dags", "test", dag_id)
    if logical_date:
        argv.append(logical_date)
    if conf:
        argv += ["--conf", conf]
    proc = subprocess.Popen(  # noqa: S603 - this interpreter; dag id checked against dags/
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
        errors="replace",
    )
    deadline = time.monotonic() + DAG_TEST_TIMEOUT
    try:
        with open(log_path, "w") as log:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if verbose:
                    out.write(line)
                elif "[DAG TEST] end task" in line or "Deferring" in line:
                    out.write("  " + _progress(line) + "\n")
                    out.flush()
                if time.monotonic() > deadline:
                    raise DemoError(f"airflow dags test took longer than {DAG_TEST_TIMEOUT:.0f}s")
        return proc.wait()
    finally:
        stop_process_group(proc)


def _progress(line: str) -> str:
    """A short progress line from an ``airflow dags test`` log line."""
    if "[DAG TEST] end task" in line:
        task = line.split("task_id=", 1)[-1].split()[0] if "task_id=" in line else "?"
        return f"finished {task}"
    text = line.split("Deferring:", 1)[-1].split("[airflow", 1)[0].strip()
    return f"deferred: {text}"


def read_run(db_path: Path, dag_id: str) -> dict[str, Any]:
    """The latest DAG run of *dag_id*: state, task states, XCom values (read straight from SQLite)."""
    with closing(sqlite3.connect(db_path)) as db:
        row = db.execute(
            "SELECT id, run_id, state, start_date, end_date FROM dag_run WHERE dag_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (dag_id,),
        ).fetchone()
        if row is None:
            raise DemoError(f"no DAG run of {dag_id} in {db_path}")
        run_pk, run_id, state, start, end = row
        tasks = db.execute(
            "SELECT task_id, state, duration FROM task_instance WHERE dag_id = ? AND run_id = ? "
            "ORDER BY start_date IS NULL, start_date, task_id",
            (dag_id, run_id),
        ).fetchall()
        # Airflow's xcom table has map_index; a minimal table without it reads as unmapped.
        has_index = any(c[1] == "map_index" for c in db.execute("PRAGMA table_info(xcom)"))
        index = "map_index" if has_index else "-1"
        xcoms = db.execute(
            f"SELECT task_id, key, value, {index} FROM xcom WHERE dag_run_id = ? "  # noqa: S608 - fixed text
            "ORDER BY task_id, key, 4",
            (run_pk,),
        ).fetchall()
    values: dict[tuple[str, str], Any] = {}
    #: Mapped tasks (e.g. one task group per table): {(task_id, key): {map index: value}}.
    mapped: dict[tuple[str, str], dict[int, Any]] = {}
    for task_id, key, value, map_index in xcoms:
        try:
            values[(task_id, key)] = json.loads(value) if isinstance(value, (str, bytes)) else value
        except ValueError:
            values[(task_id, key)] = value
        if map_index is not None and map_index >= 0:
            mapped.setdefault((task_id, key), {})[int(map_index)] = values[(task_id, key)]
    return {
        "mapped": mapped,
        "run_id": run_id,
        "state": state,
        "start": start,
        "end": end,
        "tasks": [(t, s or "none", d) for t, s, d in tasks],
        "xcom": values,
    }


class EmulatorClient:
    """Minimal Flow Service reads against the emulator (token + AEP headers)."""

    def __init__(self, url: str) -> None:
        import requests

        self.url = url
        self.session = requests.Session()
        answer = self.session.post(
            f"{url}/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": EMULATOR_CLIENT_ID,
                "client_secret": EMULATOR_CLIENT_SECRET,
                "scope": "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session",
            },
            timeout=10,
        )
        answer.raise_for_status()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {answer.json()['access_token']}",
                "x-api-key": EMULATOR_CLIENT_ID,
                "x-gw-ims-org-id": EMULATOR_ORG,
                "x-sandbox-name": EMULATOR_SANDBOX,
            }
        )

    def runs(self, flow_id: str) -> list[dict[str, Any]]:
        """Runs of a flow."""
        answer = self.session.get(
            f"{self.url}/data/foundation/flowservice/runs",
            params={"property": f"flowId=={flow_id}"},
            timeout=10,
        )
        answer.raise_for_status()
        return list(answer.json().get("items") or [])

    def records(self, dataset_id: str) -> list[dict[str, Any]]:
        """XDM records the emulator's runs wrote into a dataset."""
        answer = self.session.get(f"{self.url}/_emulator/datasets/{dataset_id}/records", timeout=10)
        answer.raise_for_status()
        return list(answer.json())

    def state(self) -> dict[str, int]:
        """Resource counts (all sandboxes)."""
        answer = self.session.get(f"{self.url}/_emulator/state", timeout=10)
        answer.raise_for_status()
        totals: dict[str, int] = {}
        for entry in answer.json().get("sandboxes", []):
            for kind, count in entry.get("counts", {}).items():
                totals[kind] = totals.get(kind, 0) + int(count)
        return totals


# ------------------------------------------------------------------------------------ report
_ID_LABELS = {
    "create_base_connection": "base connection",
    "create_adhoc_schema": "ad-hoc schema",
    "create_source_connection": "source connection",
    "create_target_schema": "target schema",
    "create_dataset": "dataset",
    "create_dataset_base_connection": "dataset base connection",
    "create_target_connection": "target connection",
    "create_mapping_set": "mapping set",
    "get_flow_spec": "flow spec",
    "create_dataflow": "dataflow",
    "create_once_dataflow": "dataflow (once)",
    "run_flow_for_interval": "flow run",
    "wait_for_first_run": "flow run",
}


def _ms_to_iso(value: Any) -> str:
    try:
        return datetime.fromtimestamp(float(value) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError):
        return "?"


def _run_line(run: dict[str, Any]) -> str:
    metrics = run.get("metrics") or {}
    records = metrics.get("recordSummary") or {}
    durations = metrics.get("durationSummary") or {}
    status = (metrics.get("statusSummary") or {}).get("status") or run.get("state") or "?"
    started, completed = durations.get("startedAtUTC"), durations.get("completedAtUTC")
    took = "?"
    if isinstance(started, (int, float)) and isinstance(completed, (int, float)):
        took = f"{(completed - started) / 1000:.1f}s"
    return (
        f"  run {run.get('id')}: {status}; records read {records.get('inputRecordCount', '?')}, "
        f"written {records.get('outputRecordCount', '?')}, failed {records.get('failedRecordCount', '?')}; "
        f"started {_ms_to_iso(started)} UTC, took {took} (emulated)"
    )


#: Task group the ingestion factory maps over the tables (``airflow_provider_aep.ingestion``).
TABLE_GROUP = "ingest_table"


def report_tables(run: dict[str, Any], client: EmulatorClient | None, out: Any) -> bool:
    """Per table of a DAG mapped over tables: records written and the dataset id. False when a
    table has no dataset or no successful first run."""
    mapped = run.get("mapped") or {}
    datasets = mapped.get((f"{TABLE_GROUP}.create_dataset", "return_value")) or {}
    if not datasets:
        return True
    plan = run["xcom"].get(("plan_tables", "return_value")) or []
    summaries = mapped.get((f"{TABLE_GROUP}.wait_for_first_run", "run_summary")) or {}
    ok = True
    print(f"\nTables ({len(plan)}): records written by the first run, and the dataset", file=out)
    for index, entry in enumerate(plan):
        table = entry.get("table", "?") if isinstance(entry, dict) else str(entry)
        dataset = datasets.get(index)
        found = summaries.get(index)
        summary: dict[str, Any] = found if isinstance(found, dict) else {}
        written = summary.get("records_written")
        if written is None and client is not None and dataset:
            with suppress(Exception):
                written = len(client.records(str(dataset)))
        if dataset is None or written is None or summary.get("status", "success") != "success":
            ok = False
        shown = "?" if written is None else str(written)
        print(f"  {table:<28} records written {shown:>6}   dataset {dataset}", file=out)
    return ok


def report(run: dict[str, Any], client: EmulatorClient | None, out: Any) -> bool:
    """Print the report; True when the DAG run and every task ended well."""
    ok = run["state"] == "success"
    print(f"\nDAG run {run['run_id']}: {run['state'].upper()}", file=out)
    print("\nTasks:", file=out)
    for task_id, state, duration in run["tasks"]:
        took = f"{duration:.1f}s" if isinstance(duration, (int, float)) else ""
        print(f"  {task_id:<34} {state:<16} {took}", file=out)
        if state in ("failed", "upstream_failed"):
            ok = False

    xcom = run["xcom"]
    print("\nAEP ids (XCom return values):", file=out)
    for task_id, label in _ID_LABELS.items():
        value = xcom.get((task_id, "return_value"))
        if value is not None:
            shown = ", ".join(value) if isinstance(value, list) else value
            print(f"  {label:<24} {shown}", file=out)

    if client is None:
        return ok
    flow_id = xcom.get(("create_dataflow", "return_value")) or xcom.get(
        ("create_once_dataflow", "return_value")
    )
    if flow_id:
        runs = client.runs(str(flow_id))
        print(f"\nFlow runs of {flow_id} ({len(runs)}):", file=out)
        for flow_run in runs[:5]:
            print(_run_line(flow_run), file=out)
    dataset_id = xcom.get(("create_dataset", "return_value"))
    if dataset_id:
        try:
            records = client.records(str(dataset_id))
        except Exception as exc:  # e.g. the dataset was torn down
            print(f"\nRecords in dataset {dataset_id}: unavailable ({type(exc).__name__})", file=out)
        else:
            print(f"\nRecords in dataset {dataset_id}: {len(records)}; the first {RECORDS_SHOWN}:", file=out)
            for record in records[:RECORDS_SHOWN]:
                print("  " + json.dumps(record, sort_keys=True), file=out)
    counts = {k: v for k, v in client.state().items() if v}
    print(
        "\nResources in the emulator: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())), file=out
    )
    return ok


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout): .+")


def failure_summary(log_path: Path, limit: int = 10) -> str:
    """The exceptions raised by failed tasks (the last line of each traceback), else the log's tail."""
    lines = log_path.read_text(errors="replace").splitlines()
    errors = list(dict.fromkeys(line.strip() for line in lines if _EXCEPTION_LINE.match(line.strip())))
    if errors:
        return "Errors:\n" + "\n".join(f"  {line}" for line in errors[:limit])
    return "Last lines of the log:\n" + "\n".join(f"  {line}" for line in lines[-15:])


# ------------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="aep-demo",
        description="Run an example DAG against a local AEP emulator and report what it did.",
    )
    parser.add_argument("dag_id", nargs="?", default=DEFAULT_DAG_ID, help=f"default: {DEFAULT_DAG_ID}")
    parser.add_argument("--logical-date", help="logical date (ISO); default: now, or a day with sample data")
    parser.add_argument("--conf", help="DAG run conf as JSON, e.g. '{\"teardown\": true}'")
    parser.add_argument(
        "--run-duration", type=float, default=RUN_DURATION_SECONDS, help="emulated run length (s)"
    )
    parser.add_argument(
        "--airflow-home",
        type=Path,
        help="default: <repo>/.airflow, or ~/.cache/aep-demo/airflow if installed",
    )
    parser.add_argument("--verbose", action="store_true", help="echo the whole airflow dags test output")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``aep-demo``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    out = sys.stdout
    if args.conf is not None:
        try:
            json.loads(args.conf)
        except ValueError:
            print("aep-demo: --conf must be a JSON object", file=sys.stderr)
            return 2
    started = time.monotonic()
    emulator: Emulator | None = None
    try:
        dags_folder = find_dags_folder()
        home = (args.airflow_home or default_airflow_home(dags_folder)).resolve()
        dags = sorted(p.stem for p in dags_folder.glob("*.py") if not p.name.startswith("_"))
        if args.dag_id not in dags:
            raise DemoError(f"unknown DAG {args.dag_id!r}; choose one of: {', '.join(dags)}")
        env = airflow_env(dags_folder, home)
        print(f"Example DAGs: {dags_folder}; Airflow home: {home}", file=out)
        ensure_database(home, env, out)

        emulator = Emulator(home / "logs" / "aep-emulator.log", run_duration=args.run_duration)
        emulator.start()
        print(f"AEP emulator running at {emulator.url}", file=out)
        env.update(connection_env(emulator.url))
        prepare = PREPARE.get(args.dag_id)
        if prepare is not None:
            prepare(emulator.url, out)

        logical_date = args.logical_date or DEFAULT_LOGICAL_DATES.get(args.dag_id)
        print(f"Running {args.dag_id} with `airflow dags test` ...", file=out, flush=True)
        log_path = home / "logs" / f"demo-{args.dag_id}.log"
        code = run_dag_test(
            args.dag_id,
            env,
            log_path,
            out,
            logical_date=logical_date,
            conf=args.conf,
            verbose=args.verbose,
        )
        run = read_run(home / "airflow.db", args.dag_id)
        client = EmulatorClient(emulator.url)
        ok = report(run, client, out) and report_tables(run, client, out) and code == 0
        elapsed = time.monotonic() - started
        print(f"\nDemo {'succeeded' if ok else 'FAILED'} in {elapsed:.0f}s. Full log: {log_path}", file=out)
        if not ok and not args.verbose:
            print(failure_summary(log_path), file=out)
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("\nInterrupted; stopping the emulator.", file=sys.stderr)
        return 130
    except DemoError as exc:
        print(f"aep-demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if emulator is not None:
            emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
