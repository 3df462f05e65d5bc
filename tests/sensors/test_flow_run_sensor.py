"""AEPFlowRunSensor against the emulator: poke and deferrable mode, outcomes, timeouts, events."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from airflow.sdk.exceptions import (
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    TaskDeferred,
)
from flowrun_helpers import FAST, POLL, make_once_flow

from airflow_provider_aep.exceptions import AEPError, AEPFlowRunError, AEPInputError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from airflow_provider_aep.task import AEPTaskMixin
from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

D1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
D2 = datetime(2026, 1, 2, tzinfo=timezone.utc)
WINDOW = (D1.timestamp(), D2.timestamp())
FAST_RETRY = {"max_attempts": 1}


@pytest.fixture
def emu(aep_emulator, monkeypatch):
    aep_emulator.set_env(monkeypatch)
    aep_emulator.set_config(**FAST)
    # hook calls fail fast so the provider's own transient-error tolerance is what is tested
    monkeypatch.setattr(
        AEPTaskMixin,
        "make_hook",
        lambda self: AdobeExperiencePlatformHook(
            aep_conn_id=self.aep_conn_id, retry_policy=RetryPolicy(**FAST_RETRY)
        ),
    )
    return aep_emulator


@pytest.fixture
def flow(emu):
    return make_once_flow(emu)


def ctx(start: datetime = D1, end: datetime = D2) -> dict:
    ti = mock.MagicMock()
    ti.start_date = datetime.now(timezone.utc)
    return {"data_interval_start": start, "data_interval_end": end, "ti": ti}


def sensor(**kw) -> AEPFlowRunSensor:
    kw.setdefault("task_id", "wait")
    kw.setdefault("poke_interval", POLL)
    kw.setdefault("timeout", 20)
    kw.setdefault("deferrable", False)
    return AEPFlowRunSensor(**kw)


def run_deferred(sen: AEPFlowRunSensor, context: dict, retry_policy: dict | None = FAST_RETRY):
    """execute() -> TaskDeferred; run the trigger to its single event; resume the task with it."""
    with pytest.raises(TaskDeferred) as info:
        sen.execute(context)
    deferred = info.value
    trigger = deferred.trigger
    assert isinstance(trigger, AEPFlowRunTrigger)
    _classpath, kwargs = trigger.serialize()
    kwargs["retry_policy"] = retry_policy
    again = AEPFlowRunTrigger(**kwargs)  # what the triggerer does

    async def drain():
        return [ev.payload async for ev in again.run()]

    events = asyncio.run(asyncio.wait_for(drain(), 30))
    assert len(events) == 1
    return (
        deferred,
        events[0],
        lambda: sen.resume_execution(deferred.method_name, {"event": events[0]}, context),
    )


# --------------------------------------------------------------------------- poke mode outcomes
def logged(capsys) -> str:
    out = capsys.readouterr()
    return out.out + out.err


def test_success_by_run_id_logs_progress(flow, capsys):
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    assert sensor(run_id=run_id).execute(ctx()) == run_id
    text = logged(capsys)
    assert "status=inProgress" in text and "status=success" in text
    assert "records read=4 written=4 failed=0" in text
    assert "bytes read=" in text and "elapsed" in text


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [("warn", "warn"), ("succeed", "ok"), ("fail", "raise")],
)
def test_partial_success_modes(emu, flow, capsys, mode, outcome):
    emu.set_faults(force_run_status="partialSuccess")
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    sen = sensor(run_id=run_id, partial_success=mode)
    if outcome == "raise":
        with pytest.raises(AEPFlowRunError) as info:
            sen.execute(ctx())
        assert run_id in str(info.value) and "partialSuccess" in str(info.value)
        assert "failed records" in str(info.value)
        return
    assert sen.execute(ctx()) == run_id
    warnings = [
        line for line in logged(capsys).splitlines() if "warning" in line and "partially succeeded" in line
    ]
    if outcome == "warn":
        assert warnings and "failed records" in warnings[0]
    else:
        assert not warnings


def test_failure_raises_one_line_with_details(emu, flow):
    emu.set_faults(force_run_status="failed")
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    with pytest.raises(AEPFlowRunError) as info:
        sensor(run_id=run_id).execute(ctx())
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert run_id in message and "failed" in message and flow.flow_id in message
    assert err.errors and all(e["code"] for e in err.errors)
    assert err.errors[0]["code"] in message


def test_failure_with_soft_fail_skips(emu, flow):
    emu.set_faults(force_run_status="failed")
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    with pytest.raises(AirflowSkipException):
        sensor(run_id=run_id, soft_fail=True).execute(ctx())


@pytest.mark.parametrize("soft_fail", [False, True])
def test_poke_timeout(emu, flow, soft_fail):
    emu.set_config(run_duration_seconds=30)
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    start = time.monotonic()
    expected = AirflowSkipException if soft_fail else AirflowSensorTimeout
    with pytest.raises(expected):
        sensor(run_id=run_id, timeout=0.5, soft_fail=soft_fail).execute(ctx())
    assert time.monotonic() - start < 5


def test_window_default_is_data_interval(flow):
    other = flow.api.create_run(
        flow.flow_id, (D2.timestamp(), D2.timestamp() + 86400), start_time=D2.timestamp() + 86400
    )
    mine = flow.api.create_run(flow.flow_id, WINDOW, start_time=D2.timestamp())
    result = sensor(flow_id=flow.flow_id).execute(ctx())
    assert result == [mine]
    assert other not in result


def test_window_explicit_iso_strings(flow):
    mine = flow.api.create_run(flow.flow_id, WINDOW, start_time=D2.timestamp())
    sen = sensor(
        flow_id=flow.flow_id, window_start="2026-01-01T00:00:00Z", window_end="2026-01-02T00:00:00+00:00"
    )
    assert sen.execute({"ti": mock.MagicMock()}) == [mine]


def test_started_after_waits_for_the_next_run(flow):
    old = flow.api.create_run(flow.flow_id, WINDOW, start_time=time.time() - 100)
    flow.api.wait_finished(old)
    after = time.time()
    new = flow.api.create_run(flow.flow_id, (WINDOW[1], WINDOW[1] + 86400), start_time=after + 1)
    assert sensor(flow_id=flow.flow_id, started_after=after).execute(ctx()) == new


def test_transient_errors_while_poking_are_tolerated(emu, flow, capsys):
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    emu.set_faults(
        error_rate=0.5, error_statuses=[429, 503], routes=["/data/foundation/flowservice/runs"], seed=3
    )
    assert sensor(run_id=run_id, max_transient_errors=20).execute(ctx()) == run_id
    assert "Transient AEP error" in logged(capsys)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"flow_id": "not-a-uuid"}, "flow_id"),
        ({"run_id": "123"}, "run_id"),
        (
            {"flow_id": "3fb0418e-1804-45d6-8d56-dd51f05c0baf", "window_start": datetime(2026, 1, 1)},
            "window_start",
        ),
        (
            {"flow_id": "3fb0418e-1804-45d6-8d56-dd51f05c0baf", "window_start": "2026-01-01T00:00:00"},
            "window_start",
        ),
        (
            {"flow_id": "3fb0418e-1804-45d6-8d56-dd51f05c0baf", "window_start": D2, "window_end": D1},
            "window_start",
        ),
        ({"flow_id": "3fb0418e-1804-45d6-8d56-dd51f05c0baf", "partial_success": "maybe"}, "partial_success"),
    ],
)
def test_bad_inputs_fail_before_http(aep_emulator, monkeypatch, kwargs, field):
    aep_emulator.set_env(monkeypatch)
    aep_emulator.clear_requests()
    with pytest.raises(AEPInputError) as info:
        sensor(**kwargs).execute(ctx())
    assert info.value.field.startswith(field)
    assert aep_emulator.requests() == []


def test_no_window_and_no_interval_is_an_input_error(aep_emulator, monkeypatch):
    aep_emulator.set_env(monkeypatch)
    with pytest.raises(AEPInputError):
        sensor(flow_id="3fb0418e-1804-45d6-8d56-dd51f05c0baf").execute({"ti": mock.MagicMock()})


# --------------------------------------------------------------------------- deferrable mode
@pytest.mark.parametrize(
    ("fault", "mode", "expect"),
    [
        (None, "warn", "ok"),
        ("partialSuccess", "warn", "ok"),
        ("partialSuccess", "fail", AEPFlowRunError),
        ("failed", "warn", AEPFlowRunError),
    ],
)
def test_deferrable_outcomes(emu, flow, fault, mode, expect):
    # Long enough that the run is still in progress when the sensor first looks, even on a
    # loaded machine (the sensor rightly does not defer for a run that already finished).
    emu.set_config(run_duration_seconds=1.5)
    if fault:
        emu.set_faults(force_run_status=fault)
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    sen = sensor(run_id=run_id, deferrable=True, partial_success=mode, timeout=60)
    deferred, _event, resume = run_deferred(sen, ctx())
    assert 60 <= deferred.timeout.total_seconds() <= 66  # sensor timeout handed to Airflow too
    if expect == "ok":
        assert resume() == run_id
    else:
        with pytest.raises(expect) as info:
            resume()
        assert run_id in str(info.value)


def test_deferrable_does_not_defer_when_already_finished(flow):
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    flow.api.wait_finished(run_id)
    assert sensor(run_id=run_id, deferrable=True).execute(ctx()) == run_id


@pytest.mark.parametrize("soft_fail", [False, True])
def test_deferrable_timeout_same_as_poke(emu, flow, soft_fail):
    emu.set_config(run_duration_seconds=30)
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    sen = sensor(run_id=run_id, deferrable=True, timeout=0.5, soft_fail=soft_fail)
    _, event, resume = run_deferred(sen, ctx())
    assert event["status"] == "timeout" and event["reason"] == "timeout"
    with pytest.raises(AirflowSkipException if soft_fail else AirflowSensorTimeout):
        resume()


def test_deferrable_honours_execution_timeout(emu, flow):
    emu.set_config(run_duration_seconds=30)
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    sen = sensor(run_id=run_id, deferrable=True, timeout=3600, execution_timeout=timedelta(seconds=0.6))
    deferred, event, resume = run_deferred(sen, ctx())
    assert deferred.timeout.total_seconds() < 10
    assert event["status"] == "timeout" and event["reason"] == "execution_timeout"
    with pytest.raises(AirflowTaskTimeout):
        resume()


@pytest.mark.parametrize("soft_fail", [False, True])
def test_airflow_trigger_timeout_maps_to_sensor_timeout(soft_fail):
    sen = sensor(run_id="3fb0418e-1804-45d6-8d56-dd51f05c0baf", soft_fail=soft_fail)
    with pytest.raises(AirflowSkipException if soft_fail else AirflowSensorTimeout):
        sen.resume_execution("__fail__", {"error": "Trigger timeout"}, ctx())


def test_token_expiry_while_deferred_is_refreshed(emu, flow):
    emu.set_config(run_duration_seconds=2.5)
    emu.set_faults(token_ttl_seconds=1)
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    emu.clear_requests()
    sen = sensor(run_id=run_id, deferrable=True, poke_interval=0.3)
    _, event, resume = run_deferred(sen, ctx())
    assert event["status"] == "success"
    assert resume() == run_id
    log = emu.requests()
    token_calls = [r for r in log if r["path"].endswith("/ims/token/v3")]
    assert len(token_calls) >= 2  # the first token expired while waiting and was replaced


def test_transient_errors_while_deferred_are_tolerated(emu, flow):
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    emu.set_faults(
        error_rate=0.5, error_statuses=[429, 500, 502], routes=["/data/foundation/flowservice/runs"], seed=5
    )
    sen = sensor(run_id=run_id, deferrable=True, max_transient_errors=20)
    _, event, resume = run_deferred(sen, ctx())
    assert event["status"] == "success"
    assert resume() == run_id


def test_persistent_errors_while_deferred_fail(emu, flow):
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    sen = sensor(run_id=run_id, deferrable=True, max_transient_errors=2)
    with pytest.raises(TaskDeferred) as info:
        sen.execute(ctx())
    emu.set_faults(error_rate=1.0, error_statuses=[503], routes=["/data/foundation/flowservice/runs"])
    _, kwargs = info.value.trigger.serialize()
    kwargs["retry_policy"] = FAST_RETRY

    async def drain():
        return [ev.payload async for ev in AEPFlowRunTrigger(**kwargs).run()]

    events = asyncio.run(drain())
    assert [e["status"] for e in events] == ["error"]
    with pytest.raises(AEPError, match="transient"):
        sen.resume_execution("execute_complete", {"event": events[0]}, ctx())


GOOD_RUN = {"run_id": "r1", "status": "success"}


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        "success",
        {"status": "SUCCESS", "target": {}, "runs": [GOOD_RUN]},
        {"status": "done", "target": {}, "runs": [GOOD_RUN]},
        {"status": "success", "runs": [GOOD_RUN]},
        {"status": "success", "target": {}, "runs": []},
        {"status": "success", "target": {}, "runs": "r1"},
        {"status": "success", "target": {}, "runs": [{"run_id": "r1", "status": "failed"}]},
        {"status": "success", "target": {}, "runs": [{"run_id": "r1", "status": "in_progress"}]},
        {"status": "success", "target": {}, "runs": [{"status": "success"}]},
        {"status": "success", "target": {"bogus": 1}, "runs": [GOOD_RUN]},
    ],
)
def test_execute_complete_fails_closed(event):
    sen = sensor(run_id="3fb0418e-1804-45d6-8d56-dd51f05c0baf")
    with pytest.raises(AEPError):
        sen.execute_complete(ctx(), event)


def test_execute_complete_accepts_a_valid_event():
    sen = sensor(run_id="3fb0418e-1804-45d6-8d56-dd51f05c0baf")
    event = {
        "status": "success",
        "target": {"run_id": "r1"},
        "runs": [GOOD_RUN],
        "message": "",
        "reason": None,
    }
    assert sen.execute_complete(ctx(), event) == "r1"


def test_deferrable_default_comes_from_config(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
    run = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"  # literal ids are checked when the DAG is parsed
    assert AEPFlowRunSensor(task_id="x", run_id=run).deferrable is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "false")
    assert AEPFlowRunSensor(task_id="x", run_id=run).deferrable is False
    assert AEPFlowRunSensor(task_id="x", run_id=run).poke_interval == 30
