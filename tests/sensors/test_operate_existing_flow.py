"""Operating an existing flow: by name, run summary in XCom, quality gate, no retries on bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from airflow.sdk.exceptions import AirflowFailException
from flowrun_helpers import FAST, FS, POLL, make_once_flow

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPInputError, AEPQualityGateError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy
from airflow_provider_aep.operators.delete import AEPDeleteResourceOperator
from airflow_provider_aep.operators.flows import AEPSetFlowStateOperator
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.run_outcome import QualityGate, RunSummary
from airflow_provider_aep.runs_status import RunState, WaitTarget
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from airflow_provider_aep.task import AEPTaskMixin

D1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
D2 = D1 + timedelta(days=1)
FLOW_UUID = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"


@pytest.fixture
def emu(aep_emulator, monkeypatch):
    aep_emulator.set_env(monkeypatch)
    aep_emulator.set_config(**FAST)
    monkeypatch.setattr(
        AEPTaskMixin,
        "make_hook",
        lambda self: AdobeExperiencePlatformHook(
            aep_conn_id=self.aep_conn_id,
            sandbox_name=self.sandbox_name,
            retry_policy=RetryPolicy(max_attempts=2, initial_backoff=0.05),
        ),
    )
    return aep_emulator


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}
        self.start_date = datetime.now(timezone.utc)

    def xcom_push(self, key: str, value: object) -> None:
        json.dumps(value)
        self.xcom[key] = value

    def xcom_pull(self, task_ids=None, key=None):
        return self.xcom.get(key)


def ctx() -> dict:
    return {"data_interval_start": D1, "data_interval_end": D2, "ti": FakeTI()}


def _posts(emu, suffix: str) -> list[dict]:
    return [r for r in emu.requests() if r["method"] == "POST" and r["path"].endswith(suffix)]


def test_flow_made_outside_airflow_is_run_and_awaited_by_name(emu, capsys):
    flow = make_once_flow(emu, name="by-name")  # plain HTTP, like a flow made in the UI
    c = ctx()
    run_id = AEPRunFlowOperator(
        task_id="run", flow_name="by-name-flow", poll_interval=POLL, deferrable=False
    ).execute(c)
    assert flow.api.get_run(run_id)["flowId"] == flow.flow_id
    assert f"resolved to flow {flow.flow_id}" in capsys.readouterr().out
    c2 = ctx()
    sensor = AEPFlowRunSensor(
        task_id="wait", flow_name="{{ params.flow }}", poke_interval=POLL, timeout=30, deferrable=False
    )
    sensor.render_template_fields({"params": {"flow": "by-name-flow"}})
    assert sensor.execute(c2) == [run_id]  # the window = the data interval
    assert c2["ti"].xcom[xcom_keys.RUN_SUMMARY]["run_ids"] == [run_id]


def test_set_state_and_delete_by_name(emu):
    flow = make_once_flow(emu, name="named-ops")
    op = AEPSetFlowStateOperator(task_id="off", flow_name="named-ops-flow", enabled=False)
    assert op.execute({"ti": FakeTI()}) == flow.flow_id
    assert flow.api.call("GET", f"{FS}/flows/{flow.flow_id}")["items"][0]["state"] == "disabled"
    ti = FakeTI()
    delete = AEPDeleteResourceOperator(task_id="rm", resource_type="flow", flow_name="named-ops-flow")
    assert delete.execute({"ti": ti}) == flow.flow_id and ti.xcom[xcom_keys.DELETED] is True
    ti = FakeTI()
    assert delete.execute({"ti": ti}) is None and ti.xcom[xcom_keys.DELETED] is False  # already gone: success


def test_ambiguous_or_unknown_name_fails_naming_the_matches_and_starts_nothing(emu):
    a = make_once_flow(emu, name="twin")
    b = make_once_flow(emu, name="twin-2")
    # AEP lets two flows share a name: rename the second one to the first one's name
    etag = a.api.call("GET", f"{FS}/flows/{b.flow_id}")["items"][0]["etag"]
    a.api.headers = {**a.api.headers, "If-Match": etag}
    a.api.call("PATCH", f"{FS}/flows/{b.flow_id}", [{"op": "replace", "path": "/name", "value": "twin-flow"}])
    emu.clear_requests()
    with pytest.raises(AEPInputError) as info:
        AEPRunFlowOperator(task_id="run", flow_name="twin-flow", deferrable=False).execute(ctx())
    message = str(info.value)
    assert "\n" not in message and a.flow_id in message and b.flow_id in message
    assert "2 flows are named 'twin-flow'" in message
    with pytest.raises(AEPInputError, match="no flow is named 'nope'"):
        AEPFlowRunSensor(task_id="w", flow_name="nope", deferrable=False).execute(ctx())
    with pytest.raises(AEPInputError, match="no flow is named"):
        AEPSetFlowStateOperator(task_id="s", flow_name="nope").execute({"ti": FakeTI()})
    with pytest.raises(AEPInputError, match="flow_name"):
        AEPDeleteResourceOperator(task_id="d", resource_type="flow", flow_name="twin-flow").execute(
            {"ti": FakeTI()}
        )
    assert not _posts(emu, "/runs") and not [r for r in emu.requests() if r["method"] == "DELETE"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: AEPRunFlowOperator(
            task_id="r", flow_id="3fb0418e-1804-45d6-8d56-dd51f05c0baf", flow_name="x"
        ),
        lambda: AEPRunFlowOperator(task_id="r"),
        lambda: AEPFlowRunSensor(task_id="s", flow_name='say "hi"'),
        lambda: AEPSetFlowStateOperator(task_id="s", flow_name="back\\slash"),
        lambda: AEPDeleteResourceOperator(task_id="d", resource_type="dataset", flow_name="x"),
        lambda: AEPDeleteResourceOperator(task_id="d", resource_type="flow"),
        lambda: AEPRunFlowOperator(task_id="r", flow_name="x", max_failed_ratio=5),
        lambda: AEPFlowRunSensor(task_id="s", flow_name="x", max_failed_records=-1),
        lambda: AEPFlowRunSensor(task_id="s", flow_name="x", min_records_written=1.5),
        lambda: AEPRunFlowOperator(task_id="r", flow_name="x", quality_gate_action="ignore"),
    ],
)
def test_bad_flow_reference_or_gate_is_refused_at_parse_time(build):
    with pytest.raises(AEPInputError) as info:
        build()
    assert "\n" not in str(info.value) and "Fix:" in str(info.value)


def test_templated_bad_name_is_refused_before_any_request(emu):
    op = AEPRunFlowOperator(task_id="r", flow_name="{{ params.f }}", deferrable=False)
    op.render_template_fields({"params": {"f": 'a "quoted" name'}})
    emu.clear_requests()
    with pytest.raises(AEPInputError, match="flow_name"):
        op.execute(ctx())
    assert [r for r in emu.requests() if not r["path"].startswith("/ims/")] == []


def test_input_errors_and_gate_failures_are_airflow_fail_exceptions():
    assert issubclass(AEPInputError, AirflowFailException) and issubclass(AEPInputError, ValueError)
    assert issubclass(AEPQualityGateError, AirflowFailException)


def test_rejected_rows_fail_the_ratio_gate_with_figures_and_summary_in_xcom(emu):
    flow = make_once_flow(emu, name="gate")
    emu.set_faults(force_run_status="partialSuccess")  # a real partial run: some rows rejected
    c = ctx()
    op = AEPRunFlowOperator(
        task_id="run", flow_name="gate-flow", poll_interval=POLL, deferrable=False, max_failed_ratio=0.01
    )
    with pytest.raises(AEPQualityGateError) as info:
        op.execute(c)
    summary = c["ti"].xcom[xcom_keys.RUN_SUMMARY]
    assert summary["records_failed"] >= 1 and summary["flow_id"] == flow.flow_id
    message = str(info.value)
    assert "max_failed_ratio=0.01" in message
    assert f"{summary['records_failed']} of {summary['records_read']} records read failed" in message
    assert "Fix:" in message and "\n" not in message
    # the same figures, warn only: the task succeeds and says why
    c2 = ctx()
    run_id = AEPRunFlowOperator(
        task_id="run",
        flow_id=flow.flow_id,
        poll_interval=POLL,
        deferrable=False,
        max_failed_ratio=0.01,
        quality_gate_action="warn",
        partial_success="succeed",
    ).execute(c2)
    assert c2["ti"].xcom[xcom_keys.RUN_SUMMARY]["run_ids"] == [run_id]


def _state(**kw) -> RunState:
    base = dict(run_id="r1", status="success", records_read=100, records_written=98, records_failed=2)
    base.update(kw)
    return RunState(**base)


@pytest.mark.parametrize(
    ("gate", "state", "broken"),
    [
        (QualityGate(max_failed_records=2), _state(), []),
        (QualityGate(max_failed_records=1), _state(), ["max_failed_records=1: 2 records failed"]),
        (QualityGate(max_failed_ratio=0.02), _state(), []),
        (QualityGate(max_failed_ratio=0.019), _state(), ["max_failed_ratio=0.019"]),
        (QualityGate(min_records_written=98), _state(), []),
        (QualityGate(min_records_written=1), _state(records_written=0), ["only 0 records written"]),
        (QualityGate(max_failed_records=5), _state(records_failed=None), ["no failed-record count"]),
        (QualityGate(max_failed_ratio=0.5), _state(records_read=0, records_written=0, records_failed=0), []),
    ],
)
def test_gate_rules(gate, state, broken):
    summary = RunSummary.from_states(WaitTarget(flow_id="f", run_id="r1"), [state])
    found = gate.violations(summary)
    assert len(found) == len(broken)
    for text, expected in zip(found, broken, strict=True):
        assert expected in text and "r1" in text
    assert json.loads(summary.to_json())["records_failed"] == state.records_failed


def test_links_open_the_run_in_the_sandbox_of_prefixed_extras(emu, monkeypatch):
    from airflow.sdk.execution_time import xcom

    from airflow_provider_aep.emulator.testing import EmulatorClient
    from airflow_provider_aep.links import AEPFlowRunLink

    conn = json.loads(emu.connection_json())
    extra = {f"extra__adobe_experience_platform__{k}": v for k, v in conn["extra"].items()}
    extra["extra__adobe_experience_platform__sandbox_name"] = "dev-2"
    extra["extra__adobe_experience_platform__ui_tenant"] = "acme"
    conn["extra"] = extra
    monkeypatch.setenv("AIRFLOW_CONN_AEP_PREFIXED", json.dumps(conn))
    flow = EmulatorClient(emu.url, emu.headers(sandbox="dev-2")).once_flow("linked")
    c = ctx()
    run_id = AEPRunFlowOperator(
        task_id="run",
        aep_conn_id="aep_prefixed",
        flow_name="linked-flow",
        poll_interval=POLL,
        deferrable=False,
    ).execute(c)
    page = f"https://experience.adobe.com/#/@acme/sname:dev-2/platform/source/dataflows/{flow.flow_id}"
    assert c["ti"].xcom[xcom_keys.RUN_URL] == f"{page}/activity/{run_id}"
    sensor = AEPFlowRunSensor(task_id="wait", aep_conn_id="aep_prefixed", run_id=run_id, deferrable=False)
    c2 = ctx()
    assert sensor.execute(c2) == run_id
    assert c2["ti"].xcom[xcom_keys.RUN_URL] == f"{page}/activity/{run_id}"
    for task in (sensor, AEPRunFlowOperator(task_id="r", flow_name="x")):
        assert [type(link) for link in task.operator_extra_links] == [AEPFlowRunLink]
    monkeypatch.setattr(xcom.XCom, "get_value", staticmethod(lambda ti_key, key: c2["ti"].xcom.get(key)))
    assert AEPFlowRunLink().get_link(sensor, ti_key=None) == f"{page}/activity/{run_id}"


def _enable_diagnostics(api, flow_id: str) -> None:
    etag = api.call("GET", f"{FS}/flows/{flow_id}")["items"][0]["etag"]
    saved = api.headers
    api.headers = {**saved, "If-Match": etag}
    try:
        api.call(
            "PATCH",
            f"{FS}/flows/{flow_id}",
            [{"op": "add", "path": "/options", "value": {"errorDiagnosticsEnabled": True}}],
        )
    finally:
        api.headers = saved


def test_gate_failure_logs_a_bounded_error_sample_without_the_rows(emu, capsys):
    flow = make_once_flow(emu, name="diag")
    _enable_diagnostics(flow.api, flow.flow_id)
    emu.set_faults(force_run_status="partialSuccess")
    c = ctx()
    with pytest.raises(AEPQualityGateError, match="max_failed_ratio"):
        AEPRunFlowOperator(
            task_id="run", flow_name="diag-flow", poll_interval=POLL, deferrable=False, max_failed_ratio=0.0
        ).execute(c)
    out = capsys.readouterr().out
    failed = c["ti"].xcom[xcom_keys.RUN_SUMMARY]["records_failed"]
    assert f"{failed} failed records; sample of {min(failed, 10)} row errors" in out
    assert out.count("row error code=") == min(failed, 10)
    assert "injected mapping failure" in out and "source row" not in out  # never the row itself
    assert any("/data/foundation/export/batches/" in r["path"] for r in emu.requests())


def test_without_diagnostics_the_log_says_how_to_enable_them(emu, capsys):
    make_once_flow(emu, name="nodiag")
    emu.set_faults(force_run_status="partialSuccess")
    AEPRunFlowOperator(task_id="run", flow_name="nodiag-flow", poll_interval=POLL, deferrable=False).execute(
        ctx()
    )
    out = capsys.readouterr().out
    assert "errorDiagnosticsEnabled" in out and "row error code=" not in out
