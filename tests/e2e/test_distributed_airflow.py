"""Distributed real-engine test: the provider on Airflow 3 with the CeleryExecutor.

One deployment, started once for the module (fresh PostgreSQL database, Redis key prefix and Celery
queue per run, all removed at the end, also on failure):

* PostgreSQL (127.0.0.1:5432) as metadata database and Celery result backend;
* Redis (127.0.0.1:6379) as Celery broker;
* two Celery workers (separate processes, ``--celery-hostname worker-a@…`` / ``worker-b@…``);
* two triggerers, the API server, the scheduler and the DAG processor;
* the AEP emulator with 150 ms of added latency on every AEP and IMS request.

Every component runs with ``[core] hostname_callable`` returning its own name (``worker-a``,
``triggerer-b``...), so task instances and triggerer jobs show which process did the work.

What it proves:

* concurrent runs of ``aep_customer_success_ingestion`` plus two runs of a mapped DAG over six
  (table, segment) pairs finish with exactly one AEP resource per name (and one run of the one
  flow), and their tasks ran on both workers;
* eight deferred waits are shared by both triggerers (triggerer-a takes at most four; triggerer-b
  joins once it is full); after a SIGKILL of triggerer-a mid-wait (the runs the waits are for do
  not exist yet) its waits move to triggerer-b, and once
  the test starts the runs every wait ends with its run's outcome (success, or failed for the run
  forced to fail), each trigger fires exactly once, no task runs twice and no AEP run is doubled;
* tokens: every IMS request the emulator saw is accounted for by a task or triggerer process, none
  fetched more than one (one per process, not per request);
* no secret (client secret, source secret, any issued access token) in any component's log, any task
  or trigger log, or a ``pg_dump`` of the metadata database.

Measured figures (start-up, wall times, tasks and tokens per worker, failover time) are printed; run
with ``-s`` to see them. Run alone with ``pytest tests/e2e/test_distributed_airflow.py``.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import (
    FAST_LOCAL_ENV,
    HOSTNAME_ENV,
    REPO,
    TEARDOWN_GRACE,
    RealAirflow,
    airflow_bin,
    base_env,
    connection_env,
    free_port,
    kill,
    migrate,
    start,
    start_emulator,
    stop_all,
    task_logs,
    wait_for,
    wait_for_api,
)
from tests.reliability.scan import scan

pytestmark = pytest.mark.e2e

psycopg2 = pytest.importorskip("psycopg2")
redis = pytest.importorskip("redis")

PG = {"host": "127.0.0.1", "port": 5432, "user": "root"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
#: Broker DB of this test; the per-run key prefix and queue keep concurrent runs apart.
REDIS_DB = 11

CS_DAG = "aep_customer_success_ingestion"
MANY_DAG = "aep_e2e_many_tables"
WAITS_DAG = "aep_e2e_waits"
TEST_DAGS = REPO / "tests" / "e2e" / "dags"
DAG_FILES = [REPO / "dags" / f"{CS_DAG}.py", TEST_DAGS / f"{MANY_DAG}.py", TEST_DAGS / f"{WAITS_DAG}.py"]
CS_RUNS = 3
MANY_RUNS = 2
MANY_ITEMS = 6  # tables x segments in the many-tables DAG
WORKERS = ("worker-a", "worker-b")
TRIGGERERS = ("triggerer-a", "triggerer-b")
WORKER_CONCURRENCY = 4
LATENCY_MS = 150
HEALTH_CHECK_THRESHOLD = 8.0
#: triggerer-a takes at most this many triggers, and triggerer-b starts once it holds that many: so
#: both hold waits, whatever the order the waits defer in, and triggerer-b can take them all.
FIRST_CAPACITY = 4
# Hard ceilings so a broken component fails the test instead of hanging CI.
STARTUP_TIMEOUT = 300.0
RUN_TIMEOUT = 300.0

FETCHED = "Fetched an IMS access token"
TOKEN_PATTERN = re.compile(r"emu\.[A-Za-z0-9_-]{20,}")
IMS_PATH = "/ims/token/v3"


@dataclass
class Cluster:
    """The running deployment and what it needs for clean-up and checks."""

    stack: RealAirflow
    db_name: str
    key_prefix: str
    secrets: tuple[str, ...]
    startup_seconds: float
    #: IMS token requests the test itself made (setup client), not the provider.
    own_token_requests: int = 0
    measured: dict[str, Any] = field(default_factory=dict)

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(dbname=self.db_name, **PG)
        try:
            with conn.cursor() as cur:
                cur.execute(query, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def emulator(self, method: str, path: str, body: Any = None) -> Any:
        answer = httpx.request(method, self.stack.emulator_url + path, json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def ims_requests(self) -> int:
        return sum(1 for r in self.emulator("GET", "/_emulator/requests") if r["path"] == IMS_PATH)

    def task_instances(self, dag_id: str | None = None) -> list[dict[str, Any]]:
        cols = ("dag_id", "run_id", "task_id", "map_index", "state", "hostname", "try_number",
                "external_executor_id", "start_date", "end_date")  # fmt: skip
        where, args = ("WHERE dag_id = %s", (dag_id,)) if dag_id else ("", ())
        rows = self.sql(f"SELECT {', '.join(cols)} FROM task_instance {where}", *args)  # noqa: S608
        return [dict(zip(cols, row, strict=True)) for row in rows]


def _pg_admin(statement: str) -> None:
    conn = psycopg2.connect(dbname="test", **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def _drop_redis_keys(prefix: str) -> int:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """CeleryExecutor deployment on PostgreSQL + Redis: 2 workers, 2 triggerers, emulator."""
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:10]}"
    db_name = f"aep_e2e_{tag}"
    key_prefix = f"aep-e2e-{tag}:"
    queue = f"aep-e2e-{tag}"
    home = tmp_path_factory.mktemp("celery_airflow_home")
    dags = home / "dags"
    dags.mkdir()
    for path in DAG_FILES:
        shutil.copy(path, dags / path.name)
    # The example DAG sets max_active_runs=1 as defence in depth; this test lets its runs overlap
    # on purpose, to prove the operators' own protection against concurrent twins.
    cs_copy = dags / f"{CS_DAG}.py"
    source = cs_copy.read_text()
    assert source.count("max_active_runs=1,") == 1, "the customer-success DAG changed: update the test"
    cs_copy.write_text(source.replace("max_active_runs=1,", f"max_active_runs={CS_RUNS},"))
    api_port, emulator_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    secrets = (f"cs-DIST-{uuid.uuid4().hex[:12]}", f"sf-DIST-{uuid.uuid4().hex[:12]}")
    db_url = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{db_name}"
    env = base_env(home, api_port, dags)
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "16",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url.replace("postgresql://", "postgresql+psycopg2://"),
            # No async engine: asyncpg is not installed (the dev group has psycopg2 only), and nothing
            # this test runs needs one (Airflow uses it for multi-team and the task state store).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": "",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "5",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
            + db_url.replace("postgresql://", "postgresql+psycopg2://"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": key_prefix,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.e2e.stack.hostname_from_env",
            "AIRFLOW__TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(HEALTH_CHECK_THRESHOLD),
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            # Waits poll AEP every 1 s, a finished task is seen at once, each DAG file parsed once.
            **FAST_LOCAL_ENV,
        }
    )
    env.update(connection_env(emulator_url, client_secret=secrets[0], salesforce_secret=secrets[1]))
    stack = RealAirflow(home=home, api_url=env["AIRFLOW__API__BASE_URL"], emulator_url=emulator_url, env=env)
    started = time.monotonic()
    created_db = False
    try:
        _pg_admin(f'CREATE DATABASE "{db_name}"')
        created_db = True
        migrate(env, home)
        print(f"\n[distributed] database migrated in {time.monotonic() - started:.1f}s")
        start_emulator(stack, emulator_port, "--run-duration", "6", "--latency-ms", str(LATENCY_MS))
        airflow = airflow_bin()
        for component in ("api-server", "scheduler", "dag-processor"):
            start(stack, component, [airflow, component], {HOSTNAME_ENV: component})
        # triggerer-b joins later (see ``workload``); triggerer-a holds at most FIRST_CAPACITY.
        start_triggerer(stack, TRIGGERERS[0], FIRST_CAPACITY)
        for name in WORKERS:
            argv = [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--queues", queue]
            argv += ["--concurrency", str(WORKER_CONCURRENCY), "--skip-serve-logs"]
            start(stack, name, [*argv, "--without-mingle", "--without-gossip"], {HOSTNAME_ENV: name})
        wait_for_api(stack, STARTUP_TIMEOUT)
        warm = time.monotonic()
        httpx.get(f"{stack.api_url}/execution/health", timeout=STARTUP_TIMEOUT)  # first call builds the app
        print(f"[distributed] API server up {warm - started:.1f}s after start; execution API warm-up "
              f"{time.monotonic() - warm:.1f}s")  # fmt: skip
        cluster = Cluster(stack, db_name, key_prefix, secrets, 0.0)
        cluster.emulator("PUT", "/_emulator/config", {"max_request_log": 1_000_000})
        with stack.client() as api:
            for dag_id in (CS_DAG, MANY_DAG, WAITS_DAG):
                wait_for(
                    lambda dag_id=dag_id: api.get(f"/api/v2/dags/{dag_id}").status_code == 200,
                    STARTUP_TIMEOUT,
                    f"the dag-processor to serialise {dag_id}",
                    stack,
                )
                api.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
            errors = api.get("/api/v2/importErrors").json()
            assert errors["total_entries"] == 0, errors
        for name in WORKERS:
            wait_for(
                lambda name=name: "ready." in stack.log_path(name).read_text(errors="replace"),
                STARTUP_TIMEOUT,
                f"Celery {name}",
                stack,
            )
        for name in TRIGGERERS[:1]:
            wait_for(
                lambda name=name: cluster.sql(
                    "SELECT 1 FROM job WHERE job_type = 'TriggererJob' AND hostname = %s "
                    "AND state = 'running'",
                    name,
                ),
                STARTUP_TIMEOUT,
                f"{name} to register its job",
                stack,
            )
        cluster.startup_seconds = time.monotonic() - started
        print(f"\n[distributed] deployment up in {cluster.startup_seconds:.1f}s (migrate included)")
        yield cluster
    finally:
        stop_all(stack.procs, grace=TEARDOWN_GRACE)  # the database is dropped WITH (FORCE) right after
        dropped = _drop_redis_keys(key_prefix)
        if created_db:
            _pg_admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        print(f"[distributed] torn down: processes, database {db_name}, {dropped} Redis keys")


def start_triggerer(stack: RealAirflow, name: str, capacity: int | None = None) -> None:
    argv = [airflow_bin(), "triggerer", "--skip-serve-logs"]
    start(stack, name, argv + (["--capacity", str(capacity)] if capacity else []), {HOSTNAME_ENV: name})


def _held_by(cluster: Cluster, hostname: str) -> int:
    """Triggers assigned to the (live) triggerer job of ``hostname``."""
    rows = cluster.sql(
        "SELECT count(*) FROM trigger t JOIN job j ON j.id = t.triggerer_id WHERE j.hostname = %s", hostname
    )
    return int(rows[0][0])


def _trigger(api: httpx.Client, dag_id: str, conf: dict[str, Any]) -> str:
    created = api.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    assert created.status_code == 200, created.text
    return str(created.json()["dag_run_id"])


def _run_states(cluster: Cluster, run_ids: list[str]) -> dict[str, str]:
    """DAG run states, read from the metadata DB (polling it costs the API server nothing)."""
    return dict(cluster.sql("SELECT run_id, state FROM dag_run WHERE run_id = ANY(%s)", run_ids))


def _worker_received(cluster: Cluster) -> dict[str, set[str]]:
    """Celery task ids each worker's own log says it executed."""
    found = {}
    for name in WORKERS:
        text = cluster.stack.log_path(name).read_text(errors="replace")
        found[name] = set(re.findall(r"\[([0-9a-f-]{36})\] Executing workload in Celery", text))
    return found


def _assignments(cluster: Cluster, run_id: str) -> dict[int, tuple[str | None, Any]]:
    """map_index -> (hostname of the triggerer holding its trigger, its trigger's id)."""
    rows = cluster.sql(
        "SELECT ti.map_index, j.hostname, t.id FROM task_instance ti "
        "JOIN trigger t ON t.id = ti.trigger_id LEFT JOIN job j ON j.id = t.triggerer_id "
        "WHERE ti.dag_id = %s AND ti.run_id = %s",
        WAITS_DAG,
        run_id,
    )
    return {int(m): (h, timeout) for m, h, timeout in rows}


def _failover_waits(cluster: Cluster) -> tuple[Any, dict[str, Any]]:
    """Two ``once`` flows made directly in the emulator, and eight waits for their next run.

    No run exists yet, so every wait defers whatever the machine's speed; the test starts the runs
    itself after the failover: the first flow's run succeeds, the second's is forced to fail.
    """
    from airflow_provider_aep.emulator.testing import EmulatorClient

    token = httpx.post(
        cluster.stack.emulator_url + IMS_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": "emulator-client",
            "client_secret": cluster.secrets[0],
            "scope": "openid",
        },
        timeout=30,
    ).json()["access_token"]
    cluster.own_token_requests += 1
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": "emulator-client",
        "x-gw-ims-org-id": "EMULATORORG@AdobeOrg",
        "x-sandbox-name": "prod",
    }
    setup = EmulatorClient(cluster.stack.emulator_url, headers)
    flows = [setup.once_flow(f"e2e failover {i}").flow_id for i in (1, 2)]
    after = time.time()
    # Alternating, so both kinds of outcome are likely on both triggerers.
    waits = [{"flow_id": flows[i % 2], "started_after": after, "timeout": RUN_TIMEOUT} for i in range(8)]
    expected = ["success", "failed"] * 4
    return setup, {"flows": flows, "waits": waits, "expected": expected}


def _finish_failover_runs(cluster: Cluster, setup: Any, flows: list[str]) -> list[str]:
    """Start one run per flow: the first succeeds, the second is forced to fail. The fault is
    scoped to that flow: the DAG runs' own flow may finish its run meanwhile (it did on a loaded CI
    machine, and all customer-success runs failed on the forced status)."""
    runs = []
    for flow, status in zip(flows, ("success", "failed"), strict=True):
        cluster.emulator(
            "PUT", "/_emulator/faults", {"force_run_status": status, "force_run_status_flows": [flow]}
        )
        run = setup.create_run(flow, 1767225600, 1767312000)
        runs.append(run)
        wait_for(
            lambda run=run: setup.get_run(run)["state"] != "inProgress",
            RUN_TIMEOUT,
            f"AEP run {run} to finish",
            cluster.stack,
            except_=TRIGGERERS,
        )
    cluster.emulator("PUT", "/_emulator/faults", {})
    return runs


def _names(setup: Any) -> dict[str, collections.Counter[str]]:
    """How many resources carry each name (title for schemas), per kind, read through AEP's API."""
    from airflow_provider_aep.emulator.testing import CAT, DP, FS, SR

    found: dict[str, collections.Counter[str]] = {}
    for kind in ("connections", "sourceConnections", "targetConnections", "flows"):
        found[kind] = collections.Counter(item["name"] for item in setup.call("GET", f"{FS}/{kind}")["items"])
    datasets: list[dict[str, Any]] = []
    while True:
        page = setup.call("GET", f"{CAT}/dataSets", limit=100, start=len(datasets))
        datasets += list(page.values())
        if len(page) < 100:
            break
    found["dataSets"] = collections.Counter(d["name"] for d in datasets)
    schemas = setup.session.get(
        setup.url + f"{SR}/tenant/schemas",
        headers={**setup.headers, "Accept": "application/vnd.adobe.xed-id+json"},
        timeout=60,
    )
    schemas.raise_for_status()
    found["schemas"] = collections.Counter(s["title"] for s in schemas.json()["results"])
    mapping_sets = setup.call("GET", f"{DP}/mappingSets", limit=10000)["data"]
    found["mappingSets"] = collections.Counter(m.get("name") or "" for m in mapping_sets)
    return found


@pytest.fixture(scope="module")
def workload(cluster: Cluster) -> dict[str, Any]:
    """Everything at once, as a busy deployment sees it.

    Eight deferred waits (``aep_e2e_waits``) start first; right after, CS_RUNS runs of the
    customer-success DAG and MANY_RUNS runs of the mapped DAG are triggered together. triggerer-a
    (capacity FIRST_CAPACITY) takes the first triggers; once it is full, triggerer-b starts and
    takes the rest. Once the eight waits are deferred and shared by both triggerers, triggerer-a is
    SIGKILLed, and the test measures how long its waits take to move to triggerer-b.
    """
    setup, failover = _failover_waits(cluster)
    stack = cluster.stack
    with stack.client() as api:
        started = time.monotonic()
        waits_run = _trigger(api, WAITS_DAG, {"waits": failover["waits"]})
        runs = [(CS_DAG, _trigger(api, CS_DAG, {"name_prefix": "e2e scale ssc"})) for _ in range(CS_RUNS)]
        runs += [
            (MANY_DAG, _trigger(api, MANY_DAG, {"name_prefix": "e2e scale many"})) for _ in range(MANY_RUNS)
        ]
    n_waits = len(failover["waits"])
    wait_for(
        lambda: _held_by(cluster, TRIGGERERS[0]) >= FIRST_CAPACITY,
        RUN_TIMEOUT,
        f"{TRIGGERERS[0]} to hold {FIRST_CAPACITY} triggers",
        stack,
    )
    start_triggerer(stack, TRIGGERERS[1])

    def shared() -> dict[int, tuple[str | None, Any]] | None:
        found = _assignments(cluster, waits_run)
        hosts = {host for host, _ in found.values()}
        return found if len(found) == n_waits and hosts == set(TRIGGERERS) else None

    before = wait_for(shared, RUN_TIMEOUT, "every wait deferred and shared by both triggerers", stack)
    holders = {index: host for index, (host, _) in before.items()}
    victim, survivor = TRIGGERERS
    orphans = sorted(index for index, host in holders.items() if host == victim)
    kill(stack.procs[victim])
    killed = time.monotonic()
    runs_at_kill = sum(len(setup.runs(flow)) for flow in failover["flows"])
    print(
        f"[distributed] waits {holders}; SIGKILL {victim} (holding waits {orphans}) "
        f"{killed - started:.1f}s after triggering"
    )

    def moved() -> float | None:
        now = _assignments(cluster, waits_run)
        return time.monotonic() if all(now.get(m, (None,))[0] == survivor for m in orphans) else None

    moved_at = wait_for(
        moved, RUN_TIMEOUT, f"{victim}'s waits to move to {survivor}", stack, except_=(victim,)
    )
    failover["runs"] = _finish_failover_runs(cluster, setup, failover["flows"])
    run_ids = [waits_run, *(run for _, run in runs)]

    def finished() -> dict[str, str] | None:
        found = _run_states(cluster, run_ids)
        done = len(found) == len(run_ids) and all(s in ("success", "failed") for s in found.values())
        return found if done else None

    states = wait_for(finished, RUN_TIMEOUT, "every DAG run to finish", stack, except_=(victim,))
    wall = time.monotonic() - started
    cluster.measured.update(
        concurrent_wall_seconds=round(wall, 1), failover_seconds=round(moved_at - killed, 1)
    )
    print(
        f"[distributed] failover: {len(orphans)} waits moved to {survivor} "
        f"{moved_at - killed:.1f}s after the SIGKILL (health-check threshold {HEALTH_CHECK_THRESHOLD:.0f}s); "
        f"all {len(run_ids)} DAG runs "
        f"finished {wall:.1f}s after triggering: {sorted(collections.Counter(states.values()).items())}"
    )
    names = _names(setup)
    twins = {f"{kind} {n!r}": c - 1 for kind, found in names.items() for n, c in found.items()
             if c > 1 and n.startswith("e2e scale")}  # fmt: skip
    print(f"[distributed] AEP resources {cluster.emulator('GET', '/_emulator/state')['sandboxes']}; "
          f"beyond one per name: {twins}")  # fmt: skip
    return {
        "setup": setup,
        "failover": failover,
        "waits_run": waits_run,
        "runs": runs,
        "states": states,
        "holders": holders,
        "victim": victim,
        "survivor": survivor,
        "orphans": orphans,
        "runs_at_kill": runs_at_kill,
        "names": names,
        "twins": twins,
    }


# --------------------------------------------------------------------------- (a) concurrent runs


def test_tasks_ran_on_both_workers(cluster: Cluster, workload: dict[str, Any]) -> None:
    tis = [ti for ti in cluster.task_instances() if ti["dag_id"] in (CS_DAG, MANY_DAG)]
    ran = [ti for ti in tis if ti["state"] in ("success", "skipped", "failed")]
    per_worker = collections.Counter(ti["hostname"] for ti in ran)
    cluster.measured["tasks_per_worker"] = dict(per_worker)
    print(f"[distributed] task states {dict(collections.Counter(ti['state'] for ti in tis))}; "
          f"tasks per worker {dict(per_worker)}")  # fmt: skip
    assert len(ran) >= CS_RUNS * 8 + MANY_RUNS * (2 + 2 * MANY_ITEMS), len(ran)
    # Both workers ran tasks, and each task ran where its hostname says: the Celery task id the
    # scheduler recorded for it is in that worker's own log (and in no other).
    assert set(per_worker) == set(WORKERS), per_worker
    received = _worker_received(cluster)
    assert not received["worker-a"] & received["worker-b"], "a Celery task ran on both workers"
    for ti in ran:
        assert ti["external_executor_id"] in received[ti["hostname"]], ti


def test_worker_logs_hold_no_false_xcom_errors(cluster: Cluster, workload: dict[str, Any]) -> None:
    # Airflow computes every extra link when a task ends or defers; a link reading an XCom the task
    # never pushed (a wait deferring before any run exists) is logged as "[error] XCom not found".
    # The provider's links read what the task pushed in that process instead.
    found = [
        f"{log.name}: {_short(line)}"
        for log in sorted(cluster.stack.home.glob("worker-*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if "XCom not found" in line
    ]
    assert not found, "\n".join(found[:10])


def _why_runs_failed(cluster: Cluster, runs: list[tuple[str, str]], states: dict[str, str]) -> str:
    """Each failed DAG run's failed tasks, with what can explain them from CI output alone: the
    tail of the task's own log, Airflow's audit log for it (a scheduler that failed it from outside
    writes a "state mismatch" or heartbeat event there), and the warning and error lines of every
    component's log that name the run."""
    lines = [f"run states: {states}"]
    failed = {run for run, state in states.items() if state != "success"}
    for dag_id, run in runs:
        if run not in failed:
            continue
        for ti in cluster.task_instances(dag_id):
            if ti["run_id"] != run or ti["state"] in ("success", "skipped"):
                continue
            worker, trigger = task_logs(cluster.stack.home, dag_id, run, ti["task_id"])
            tail = [_short(line) for line in (worker + "\n" + trigger).splitlines() if line.strip()][-15:]
            audit = cluster.sql(
                "SELECT dttm, event, owner, extra FROM log WHERE dag_id = %s AND run_id = %s "
                "AND task_id = %s ORDER BY dttm",
                dag_id, run, ti["task_id"],
            )  # fmt: skip
            lines.append(
                f"{dag_id} {run} {ti['task_id']}[{ti['map_index']}] {ti['state']} "
                f"(try {ti['try_number']}, {ti['hostname']}, {ti['start_date']} -> {ti['end_date']})"
            )
            lines += ["  task log tail:", *(f"    {line}" for line in tail)]
            lines += ["  audit log:", *(f"    {_short(' '.join(map(str, row)))}" for row in audit)]
        for component in sorted(cluster.stack.home.glob("*.log")):
            named = [
                _short(line) for line in component.read_text(errors="replace").splitlines()
                if run in line and re.search(r"warn|error|exception|fail|mismatch|kill", line, re.I)
            ]  # fmt: skip
            if named:
                lines += [f"  {component.name}:", *(f"    {line}" for line in named[-10:])]
    # The execution API fails a task whose state update raised, without naming the run.
    api_errors = [
        _short(line) for line in cluster.stack.log_path("api-server").read_text(errors="replace").splitlines()
        if re.search(r"Setting the task to failed|IntegrityError|UniqueViolation|violates", line)
    ]  # fmt: skip
    if api_errors:
        lines += ["  api-server.log state-update errors:", *(f"    {line}" for line in api_errors[-10:])]
    return "\n".join(lines)


def _failed_by_airflow_asset_race(
    cluster: Cluster, runs: list[tuple[str, str]], states: dict[str, str]
) -> dict[str, str]:
    """The failed customer-success runs whose only failure is Airflow's asset-creation race.

    The DAG's wait emits an asset event for the flow's dataset through an alias. The first event of
    a dataset Airflow has never seen makes the API server insert the asset (``Dynamically creating
    AssetModel`` in ``TaskInstance.register_asset_changes_in_db``) with no guard against a
    concurrent insert. When the overlapping DAG runs' waits succeed in the same instant (they wait
    for the same AEP run), one insert breaks ``idx_asset_name_uri_unique`` and the execution API
    answers the task's success with "Error updating Task Instance state. Setting the task to
    failed." (no retry). Such a run is recognised only when its sole failed task is the wait, the
    wait's own log says it finished successfully, and the API server logged that error on the
    asset index; anything else stays a failure of this test.
    """
    api_log = cluster.stack.log_path("api-server").read_text(errors="replace")
    if "Setting the task to failed" not in api_log or "idx_asset_name_uri_unique" not in api_log:
        return {}
    found = {}
    for dag_id, run in runs:
        if states.get(run) == "success" or dag_id != CS_DAG:
            continue
        failed = [ti for ti in cluster.task_instances(dag_id)
                  if ti["run_id"] == run and ti["state"] not in ("success", "skipped")]  # fmt: skip
        if [ti["task_id"] for ti in failed] != ["wait_for_first_run"] or failed[0]["state"] != "failed":
            continue
        worker, _ = task_logs(cluster.stack.home, dag_id, run, "wait_for_first_run")
        if "finished successfully" in worker and "Asset events for" in worker:
            found[run] = "the wait concluded successfully; Airflow failed it on idx_asset_name_uri_unique"
    return found


def _short(line: str, width: int = 600) -> str:
    return line if len(line) <= width else line[:width] + " …"


def _is_renamed_twin(name: str) -> bool:
    return bool(re.search(r" \(unused twin [^)]+\)$", name))


def test_concurrent_runs_leave_one_resource_per_name(cluster: Cluster, workload: dict[str, Any]) -> None:
    # One AEP resource per name the DAGs ensure: the customer-success DAG's seven named resources,
    # and the mapped DAG's base connection, schema and one source connection and dataset per
    # (table, segment). A twin renamed out of the way no longer carries the name.
    ours = {
        kind: {
            name: n
            for name, n in found.items()
            if name.startswith("e2e scale") and not _is_renamed_twin(name)
        }
        for kind, found in workload["names"].items()
    }
    # Mapping sets cannot be deleted: a losing twin is renamed '<name> (unused twin <id>)'. Such a
    # copy may exist after a race, but nothing may use it.
    renamed = [name for found in workload["names"].values() for name in found if _is_renamed_twin(name)]
    print(f"[distributed] renamed unused twins: {renamed}")
    runs = {run: workload["states"][run] for _, run in workload["runs"]}
    assert not workload["twins"], (
        f"duplicate AEP resources after concurrent runs: {workload['twins']} ({runs})"
    )
    wanted = {
        "connections": 2,
        "sourceConnections": 1 + MANY_ITEMS,
        "targetConnections": 1,
        "flows": 1,
        "schemas": 2,
        "dataSets": 1 + MANY_ITEMS,
        "mappingSets": 1,
    }
    assert {kind: len(found) for kind, found in ours.items()} == wanted, ours
    # Airflow 3.3 itself may fail a wait that concluded successfully: see _failed_by_airflow_asset_race.
    raced = _failed_by_airflow_asset_race(cluster, workload["runs"], runs)
    if raced:
        print(f"[distributed] failed by Airflow's own asset-creation race (not the provider): {raced}")
    unexplained = {run: state for run, state in runs.items() if state != "success" and run not in raced}
    assert not unexplained, _why_runs_failed(cluster, workload["runs"], runs)
    assert any(state == "success" for state in runs.values()), runs
    # The one flow ran once (its backfill), not once per DAG run.
    from airflow_provider_aep.emulator.testing import FS

    setup = workload["setup"]
    flows = [f for f in setup.call("GET", f"{FS}/flows")["items"] if f["name"].startswith("e2e scale")]
    assert [len(setup.runs(flow["id"])) for flow in flows] == [1], flows


# --------------------------------------------------------------------------- (b) triggerer failover


def test_triggerer_failover_moves_waits_without_loss_or_duplicates(
    cluster: Cluster, workload: dict[str, Any]
) -> None:
    failover, orphans = workload["failover"], workload["orphans"]
    # The kill happened mid-wait: no run the sensors wait for existed yet.
    assert workload["runs_at_kill"] == 0, workload["runs_at_kill"]
    assert orphans, "the killed triggerer held no wait"
    assert 0 < len(orphans) < len(failover["expected"]), workload["holders"]

    # Every wait ended with its run's outcome (the failed run fails its sensors), at its first try.
    tis = {ti["map_index"]: ti for ti in cluster.task_instances(WAITS_DAG) if ti["task_id"] == "wait"}
    states = [tis[i]["state"] for i in range(len(failover["expected"]))]
    assert states == failover["expected"], states
    assert all(ti["try_number"] == 1 for ti in tis.values()), {i: t["try_number"] for i, t in tis.items()}

    # Each trigger fired exactly one event, from the triggerer that held it last; the moved waits
    # had been running in the killed triggerer before.
    jobs = dict(cluster.sql("SELECT id, hostname FROM job WHERE job_type = 'TriggererJob'"))
    root = cluster.stack.home / "logs" / f"dag_id={WAITS_DAG}" / f"run_id={workload['waits_run']}"
    for index in range(len(failover["expected"])):
        trigger_logs = {
            jobs[int(p.name.rsplit(".", 2)[-2])]: p.read_text(errors="replace")
            for p in (root / "task_id=wait" / f"map_index={index}").glob("attempt=*.log.trigger.*.log")
        }
        fired = {host: text.count("Trigger fired event") for host, text in trigger_logs.items()}
        holder = workload["survivor"] if index in orphans else workload["holders"][index]
        assert fired == {**dict.fromkeys(trigger_logs, 0), holder: 1}, (index, fired)
        if index in orphans:
            assert workload["victim"] in trigger_logs, (index, sorted(trigger_logs))

    # No duplicate AEP run: each flow has exactly the one run the test started, with its outcome.
    setup = workload["setup"]
    assert [len(setup.runs(flow)) for flow in failover["flows"]] == [1, 1]
    assert [setup.get_run(run)["state"] for run in failover["runs"]] == ["success", "failed"]


# --------------------------------------------------------------------------- (c) tokens


def _log_files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*.log") if p.is_file())


def _attempt_hosts(cluster: Cluster) -> dict[tuple[str, str, str, int, int], str]:
    """(dag, run, task, map index, try) -> hostname of the worker that ran that try."""
    query = "SELECT dag_id, run_id, task_id, map_index, try_number, hostname FROM {}"
    rows = cluster.sql(query.format("task_instance")) + cluster.sql(query.format("task_instance_history"))
    return {(d, r, t, int(m), int(n)): h for d, r, t, m, n, h in rows if h}


def test_one_token_per_process_not_per_request(cluster: Cluster, workload: dict[str, Any]) -> None:
    home = cluster.stack.home
    hosts = _attempt_hosts(cluster)
    per_worker_tasks: collections.Counter[str] = collections.Counter()
    per_worker_tokens: collections.Counter[str] = collections.Counter()
    pattern = re.compile(
        r"dag_id=([^/]+)/run_id=([^/]+)/task_id=([^/]+)(?:/map_index=(-?\d+))?/attempt=(\d+)\.log$"
    )
    for path in (home / "logs").rglob("attempt=*.log"):
        if ".trigger." in path.name:
            continue
        match = pattern.search(path.as_posix())
        assert match, path
        dag, run, task, index, attempt = match.groups()
        host = hosts[(dag, run, task, int(index or -1), int(attempt))]
        text = path.read_text(errors="replace")
        # A deferred task runs twice in one try (before and after its trigger): two processes.
        processes = text.count("Worker startup parse complete")
        fetched = text.count(FETCHED)
        assert processes >= 1 and fetched <= processes, (path, processes, fetched)
        per_worker_tasks[host] += 1
        per_worker_tokens[host] += fetched
    assert sum(per_worker_tasks.values()) >= CS_RUNS * 8 + MANY_RUNS * (2 + 2 * MANY_ITEMS)
    jobs = dict(cluster.sql("SELECT id, hostname FROM job WHERE job_type = 'TriggererJob'"))
    per_triggerer: collections.Counter[str] = collections.Counter()
    for path in (home / "logs").rglob("attempt=*.log.trigger.*.log"):
        holder = jobs[int(path.name.rsplit(".", 2)[-2])]
        per_triggerer[holder] += path.read_text(errors="replace").count(FETCHED)
    seen_by_ims = cluster.ims_requests()
    from_logs = sum(per_worker_tokens.values()) + sum(per_triggerer.values())
    print(
        f"[distributed] IMS token requests seen by the emulator: {seen_by_ims} "
        f"({cluster.own_token_requests} by the test itself); task tries per worker "
        f"{dict(per_worker_tasks)}, tokens fetched per worker {dict(per_worker_tokens)}, "
        f"per triggerer {dict(per_triggerer)}"
    )
    cluster.measured.update(
        tokens_per_worker=dict(per_worker_tokens), tokens_per_triggerer=dict(per_triggerer)
    )
    # Every token request is accounted for by a process's own log line ...
    assert from_logs + cluster.own_token_requests == seen_by_ims, (from_logs, seen_by_ims)
    # ... no task process fetched more than one token although each made several AEP calls
    # (checked per log above) ...
    # ... and each triggerer fetched one token for all the waits it ran (not one per trigger).
    assert set(per_triggerer) == set(TRIGGERERS), per_triggerer
    assert all(n == 1 for n in per_triggerer.values()), per_triggerer


# --------------------------------------------------------------------------- (d) secrets


def test_no_secret_in_logs_or_metadata_database(cluster: Cluster, workload: dict[str, Any]) -> None:
    def check(place: str, text: str) -> None:
        scan(place, text, cluster.secrets)
        token = TOKEN_PATTERN.search(text)
        assert token is None, f"an access token ({token.group()[:8]}...) found in {place}"

    files = _log_files(cluster.stack.home)
    names = {p.name for p in files}
    assert {f"{n}.log" for n in (*WORKERS, *TRIGGERERS, "scheduler")} <= names, sorted(names)
    assert sum(1 for p in files if p.name.startswith("attempt=")) >= 40
    for path in files:
        check(f"distributed e2e log {path.relative_to(cluster.stack.home)}", path.read_text(errors="replace"))
    dump = subprocess.run(
        ["pg_dump", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], "--no-owner", cluster.db_name],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dump.returncode == 0, dump.stderr[-2000:]
    # The dump holds the runs' XComs, rendered fields, trigger kwargs and Celery results.
    for table in ("xcom", "rendered_task_instance_fields", "trigger", "celery_taskmeta"):
        assert f"COPY public.{table} " in dump.stdout, table
    check("pg_dump of the distributed metadata database", dump.stdout)
    print(
        f"[distributed] secret scan: {len(files)} log files and a "
        f"{len(dump.stdout) // 1024} KiB pg_dump, clean"
    )
    print(f"[distributed] measured: {json.dumps(cluster.measured, default=str)}")
