"""Secrets: distinctive secret values go through whole runs (and forced failures) and appear nowhere
a user, a log shipper or a metadata-DB reader can see them.

Secrets: the AEP client secret ``cs-SECRET-7f3a9``, every access token the emulator issued (read from
the hook's token cache and recorded as fetched), a static access token, Salesforce OAuth client
secret, Salesforce password + security token, ServiceNow password.

Places: task logs (captured process output of ``dag.test()`` and of the operators, plus any log
file under AIRFLOW_HOME/logs), XComs of the DAG run, rendered template fields (metadata DB and the
operators' template fields), exception messages (``str``, ``repr``, args and the formatted
traceback of forced failures: 401, 400, 5xx, lost answers), trigger ``serialize()`` kwargs (what the
triggerer stores), the emulator's request log (``/_emulator/requests``), and the ``aep-demo``
report (stdout + its log file; marked ``e2e``: it runs real ``airflow dags test``).
"""

from __future__ import annotations

import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPAPIError, AEPAuthenticationError, AEPError
from tests.reliability.conftest import (
    AEP,
    AEP_CLIENT_SECRET,
    AEP_STATIC_TOKEN,
    FS,
    REPO,
    SECRETS,
    SF_OAUTH_SECRET,
    SF_PASSWORD,
    SNOW_PASSWORD,
    DagRunResult,
    fast_sensor,
    load_dag,
)
from tests.reliability.pipeline import Pipeline, execute
from tests.reliability.scan import scan


def exception_texts(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), repr(exc.args), *traceback.format_exception(exc)])


@pytest.fixture
def issued_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every access token the hook fetched from the emulator's IMS during the test."""
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    tokens: list[str] = []
    real_fetch = AdobeExperiencePlatformHook._fetch_token

    def recording_fetch(self: AdobeExperiencePlatformHook) -> tuple[str, float]:
        token, lifetime = real_fetch(self)
        tokens.append(token)
        return token, lifetime

    monkeypatch.setattr(AdobeExperiencePlatformHook, "_fetch_token", recording_fetch)
    yield tokens


def cached_tokens() -> list[str]:
    """Tokens in the hook's process-wide cache right now."""
    from airflow_provider_aep.hooks import _auth

    return [t.token for t in _auth.TOKEN_CACHE._tokens.values()]


def all_secrets(tokens: list[str]) -> list[str]:
    found = [*SECRETS, *tokens, *cached_tokens()]
    assert all(len(s) >= 8 for s in found), "a secret too short to be distinctive"
    return found


def scan_emulator_log(aep: AEP, secrets: list[str]) -> None:
    log = aep.requests()
    assert log, "the emulator logged nothing"
    scan("emulator request log (/_emulator/requests)", log, secrets)


def scan_log_files(home: Path, secrets: list[str]) -> None:
    for path in sorted((home / "logs").rglob("*")) if (home / "logs").exists() else []:
        if path.is_file():
            scan("task log files (AIRFLOW_HOME/logs)", path.read_text(errors="replace"), secrets)


# ------------------------------------------------------------------------------ dag.test()
def test_dag_runs_leak_no_secret(
    aep: AEP,
    run_dag: Callable[..., DagRunResult],
    airflow_db: Path,
    issued_tokens: list[str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Run 1 fails (every dataflow POST answers 500, tokens live 1 s); run 2 succeeds. Salesforce
    basic auth: password + security token travel in the base connection's create request."""
    aep.set_faults(token_ttl_seconds=1, error_rate=1.0, error_statuses=[500], routes=[f"POST {FS}/flows"])
    conf = {"source_conn_id": "ssc_basic", "name_prefix": "secrets ssc"}
    dag = fast_sensor(load_dag())
    dag.task_dict["create_dataflow"].retries = 0  # one failed attempt is enough to scan its logs
    failed = run_dag(dag, run_conf=conf)
    assert failed.states["create_dataflow"] == "failed"
    aep.clear_faults()
    aep.set_config(run_duration_seconds=1.5)  # the deferred wait outlives a token
    done = run_dag(fast_sensor(load_dag()), run_conf=conf)
    assert done.state == "success", done.states

    out, err = capfd.readouterr()
    assert "HTTP 500" in out + err and "create_dataflow" in out + err, "the task logs were not captured"
    secrets = all_secrets(issued_tokens)
    assert len(issued_tokens) >= 2, "expected several tokens (1 s lifetime)"
    scan("task logs (dag.test() process output)", out + err, secrets)
    scan_log_files(airflow_db, secrets)
    for result in (failed, done):
        assert result.xcoms, "no XCom was read back"
        for (task_id, key), value in result.xcoms.items():
            scan("XComs (metadata DB)", {"task": task_id, "key": key, "value": value}, secrets)
        assert result.rendered, "no rendered template fields were read back"
        for task_id, fields in result.rendered.items():
            scan("rendered template fields (metadata DB)", {task_id: fields}, secrets)
    scan_emulator_log(aep, secrets)
    # the whole-DAG plan (every operator converging the existing resources, GETs only)
    from airflow_provider_aep.plan import plan_dag, render

    plans = plan_dag(load_dag(), conf)
    out, err = capfd.readouterr()
    scan(
        "DAG plan (records, rendered text, output)",
        [[p.__dict__ for p in plans], render(plans), out + err],
        secrets,
    )


# ------------------------------------------------------------------------------ operators
@pytest.mark.parametrize(
    ("source", "source_conn_id", "secret"),
    [
        ("salesforce_service_cloud", "salesforce_service_cloud_default", SF_OAUTH_SECRET),
        ("salesforce_service_cloud", "ssc_basic", SF_PASSWORD),
        ("servicenow", "servicenow_default", SNOW_PASSWORD),
    ],
    ids=["ssc-oauth2", "ssc-basic", "servicenow"],
)
def test_base_connection_operator_leaks_no_source_secret(
    aep: AEP,
    issued_tokens: list[str],
    capfd: pytest.CaptureFixture[str],
    source: str,
    source_conn_id: str,
    secret: str,
) -> None:
    """Create, converge (credentials re-sent in place by PATCH), plan, and a lost answer: logs,
    XComs (with the plan records), template fields, the stored connection."""
    from airflow_provider_aep.operators.connections import AEPCreateBaseConnectionOperator

    aep.set_faults(drop_after_commit=[f"POST {FS}/connections"])
    outputs: dict[str, dict[str, Any]] = {}
    ops = [
        AEPCreateBaseConnectionOperator(
            task_id=f"base_{i}",
            name=f"secrets {source_conn_id}",
            source=source,
            source_conn_id=source_conn_id,
        )
        for i in range(2)
    ]
    ids = [execute(op, outputs=outputs) for op in ops]
    assert ids[0] == ids[1] and aep.counts()["connections"] == 1
    patches = [
        r for r in aep.requests() if r["method"] == "PATCH" and r["path"] == f"{FS}/connections/{ids[0]}"
    ]
    assert patches, "the rerun re-sends the credentials in place"
    planner = AEPCreateBaseConnectionOperator(
        task_id="base_plan",
        name=f"secrets {source_conn_id}",
        source=source,
        source_conn_id=source_conn_id,
        plan_only=True,
    )
    ops.append(planner)
    assert execute(planner, outputs=outputs) == ids[0]
    assert outputs["base_plan"]["aep_plan"][0]["action"] == "update", outputs["base_plan"]

    out, err = capfd.readouterr()
    assert "lost" in out + err, "the lost answer was not logged"
    secrets = all_secrets(issued_tokens)
    assert secret in secrets
    scan("operator logs (captured output)", out + err, secrets)
    scan("operator XComs", outputs, secrets)
    for op in ops:
        scan("operator template fields", {f: getattr(op, f, None) for f in op.template_fields}, secrets)
        scan("operator/hook repr", [repr(op), repr(op.hook), repr(op.hook.conn_settings)], secrets)
    stored = ops[0].hook.get_base_connection(ids[0])
    scan("connection read back from AEP (GET /connections/{id})", stored, secrets)
    scan_emulator_log(aep, secrets)


def test_static_token_and_trigger_state_leak_nothing(
    aep: AEP, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A static ``access_token`` connection (no client secret): the whole pipeline, the deferred
    wait and the trigger's serialised kwargs (stored by the triggerer) carry no secret."""
    from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

    static = aep.emulator.token()  # a token the emulator accepts, used as the static token
    aep.clear_requests()
    aep.connection(password=None, access_token=static)
    serialized: list[Any] = []
    real_serialize = AEPFlowRunTrigger.serialize

    def recording_serialize(self: AEPFlowRunTrigger) -> tuple[str, dict[str, Any]]:
        result = real_serialize(self)
        serialized.append(result)
        return result

    monkeypatch.setattr(AEPFlowRunTrigger, "serialize", recording_serialize)
    aep.set_config(run_duration_seconds=0.5)
    run = Pipeline(prefix="secrets static")
    run.run()

    assert serialized, "the sensor never deferred"
    assert not [r for r in aep.requests() if r["path"].startswith("/ims/")], "IMS was called"
    out, err = capfd.readouterr()
    secrets = [*SECRETS, static]
    scan("trigger serialize() kwargs", serialized, secrets)
    scan("operator logs (captured output)", out + err, secrets)
    scan("operator XComs", run.xcoms, secrets)
    for op in run.operators:
        scan("operator template fields", {f: getattr(op, f, None) for f in op.template_fields}, secrets)
    scan_emulator_log(aep, secrets)


FAILURES: dict[str, dict[str, Any]] = {
    # IMS refuses the client secret (400 invalid_client -> AEPAuthenticationError)
    "wrong-client-secret": {"config": {"allowed_clients": {"emulator-client": "another-secret-1234"}}},
    # the gateway refuses a static token it never issued (401)
    "invalid-static-token": {"connection": {"password": None, "access_token": AEP_STATIC_TOKEN}},
    # Flow Service answers 400 to the base connection create (spec mismatch)
    "bad-request-400": {
        "faults": {"error_rate": 1.0, "error_statuses": [400], "routes": [f"POST {FS}/connections"]}
    },
    # 503 on the create: the answer is reported lost
    "server-error-503": {
        "faults": {"error_rate": 1.0, "error_statuses": [503], "routes": [f"POST {FS}/connections"]}
    },
    # 5xx on every GET until retries run out
    "retries-exhausted": {"faults": {"error_rate": 1.0, "routes": ["GET /data/foundation"]}},
    # the base connection's lookup is refused (403) after the token was issued
    "forbidden-403": {
        "faults": {"error_rate": 1.0, "error_statuses": [403], "routes": ["GET /data/foundation"]}
    },
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_forced_failures_leak_no_secret(
    aep: AEP, issued_tokens: list[str], capfd: pytest.CaptureFixture[str], failure: str
) -> None:
    """Each forced failure: the exception (message, repr, args, traceback) and the logs are clean."""
    setup = FAILURES[failure]
    if "config" in setup:
        aep.set_config(**setup["config"])
    if "connection" in setup:
        aep.connection(**setup["connection"])
    if "faults" in setup:
        aep.set_faults(**setup["faults"])

    with pytest.raises(AEPError) as info:
        Pipeline(prefix=f"secrets {failure}", source_conn_id="ssc_basic").run()

    exc = info.value
    if failure in ("wrong-client-secret", "invalid-static-token", "forbidden-403"):
        assert isinstance(exc, AEPAuthenticationError), repr(exc)
    else:
        assert isinstance(exc, AEPAPIError), repr(exc)
    out, err = capfd.readouterr()
    secrets = all_secrets(issued_tokens)
    scan("exception messages (str/repr/args/traceback)", exception_texts(exc), secrets)
    scan("operator logs (captured output)", out + err, secrets)
    scan_emulator_log(aep, secrets)


def test_hook_error_scrubs_echoed_aep_secrets(aep: AEP, issued_tokens: list[str]) -> None:
    """An AEP error answer that echoes the client secret and the bearer token is scrubbed."""
    import requests_mock

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    hook = AdobeExperiencePlatformHook()
    token = hook.get_access_token()
    echo = f"client_secret={AEP_CLIENT_SECRET} Authorization: Bearer {token}"
    with requests_mock.Mocker(real_http=True) as mock:
        mock.get(
            f"{aep.url}{FS}/flowSpecs",
            status_code=400,
            json={
                "type": "https://ns.adobe.com/aep/errors/FLOW-1100-400",
                "title": echo,
                "status": 400,
                "report": {"detailed-message": echo},
            },
        )
        with pytest.raises(AEPAPIError) as info:
            hook.get_flow_spec_by_name("CRMToAEP")
    assert "***" in str(info.value)
    scan(
        "exception messages (str/repr/args/traceback)",
        exception_texts(info.value),
        all_secrets(issued_tokens),
    )


# ------------------------------------------------------------------------------ the demo
@pytest.mark.e2e
def test_demo_report_leaks_no_secret(tmp_path: Path, airflow_db_template: Path) -> None:
    """``python -m airflow_provider_aep.emulator.demo`` (real ``airflow dags test``): its report and
    log carry neither the emulator's nor the demo sources' credentials.

    The demo gets its own Airflow home holding a copy of the session's migrated metadata DB (and
    the marker the demo leaves after ``airflow db migrate``), so it skips a 15-25 s migration and
    does not share ``<repo>/.airflow`` with anyone; its emulated runs last 0.5 s.
    """
    import shutil

    from airflow_provider_aep.emulator import demo

    home = tmp_path / "demo_home"
    home.mkdir()
    shutil.copy(airflow_db_template, home / "airflow.db")
    demo.migration_marker(home).touch()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_aep.emulator.demo",
            "--airflow-home",
            str(home),
            "--run-duration",
            "0.5",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report[-3000:]
    assert "SUCCESS" in report
    secrets = [demo.EMULATOR_CLIENT_SECRET]
    for conn in demo.SOURCE_CONNECTIONS.values():
        secrets.append(conn.get("password") or "")
        secrets.extend(str(v) for k, v in (conn.get("extra") or {}).items() if "token" in k or "secret" in k)
    secrets = [s for s in secrets if s]
    scan("aep-demo report (stdout/stderr)", report, secrets)
    assert "Preparing the Airflow metadata DB" not in report, "the demo migrated its DB again"
    logs = sorted((home / "logs").glob("demo-*.log"))
    assert logs, "the demo wrote no log file"
    scan("aep-demo log file", logs[-1].read_text(errors="replace"), secrets)


@pytest.mark.parametrize("secret", [*SECRETS])
def test_scan_catches_each_secret(secret: str) -> None:
    """Positive control: the scanner finds every secret, bare or inside JSON."""
    with pytest.raises(AssertionError, match="found in"):
        scan("control", f"prefix {secret} suffix", SECRETS)
    with pytest.raises(AssertionError, match="found in"):
        scan("control", {"nested": [secret]}, SECRETS)
