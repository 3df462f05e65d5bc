"""Issue 11, defects 6 and 9 on the waiting side.

* Defect 6: every numeric wait parameter of the sensor (poke and deferrable), the run operator
  and the trigger is finite and in range, checked before any request (``poke_interval=0`` polled
  hundreds of times a second; ``"nan"``/``inf`` made waits unbounded).
* Defect 9: a poke-mode timeout (and a soft-fail skip, and an execution timeout) names the flow,
  the runs seen and that the run keeps going in AEP, as the deferrable mode does.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, AirflowTaskTimeout

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from airflow_provider_aep.task import AEPTaskMixin
from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger
from tests.sensors.flowrun_helpers import FAST, POLL, make_once_flow

D1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
D2 = datetime(2026, 1, 2, tzinfo=timezone.utc)
WINDOW = (D1.timestamp(), D2.timestamp())
FLOW_ID = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"


@pytest.fixture
def emu(aep_emulator, monkeypatch):
    aep_emulator.set_env(monkeypatch)
    aep_emulator.set_config(**FAST)
    monkeypatch.setattr(
        AEPTaskMixin,
        "make_hook",
        lambda self: AdobeExperiencePlatformHook(
            aep_conn_id=self.aep_conn_id, retry_policy=RetryPolicy(max_attempts=1)
        ),
    )
    return aep_emulator


def ctx() -> dict:
    ti = mock.MagicMock()
    ti.start_date = datetime.now(timezone.utc)
    return {"data_interval_start": D1, "data_interval_end": D2, "ti": ti}


BAD_INTERVALS = [0, -1, math.nan, math.inf, "nan", "inf", "soon", 10**400, 0.001, 86401 * 2, True]


@pytest.mark.parametrize("deferrable", [False, True])
@pytest.mark.parametrize("value", BAD_INTERVALS, ids=lambda v: repr(v)[:30])
def test_sensor_poke_interval_bounded_before_any_request(emu, deferrable, value):
    before = len(emu.requests())
    sen = AEPFlowRunSensor(task_id="w", run_id=FLOW_ID, deferrable=deferrable, timeout=60)
    sen.poke_interval = value  # Airflow's own constructor check lets 0, NaN and inf through
    with pytest.raises(AEPInputError, match="poke_interval"):
        sen.execute(ctx())
    assert len(emu.requests()) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout", math.nan),
        ("timeout", math.inf),
        ("timeout", -5),
        ("timeout", 10**9),
        ("max_transient_errors", -1),
        ("max_transient_errors", math.nan),
        ("max_transient_errors", 2.5),
        ("max_transient_errors", "many"),
    ],
)
@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_other_wait_parameters(emu, deferrable, field, value):
    before = len(emu.requests())
    sen = AEPFlowRunSensor(task_id="w", run_id=FLOW_ID, deferrable=deferrable, poke_interval=POLL)
    setattr(sen, field, value)
    with pytest.raises(AEPInputError, match=field):
        sen.execute(ctx())
    assert len(emu.requests()) == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        *[({"poll_interval": v}, "poll_interval") for v in BAD_INTERVALS],
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"timeout": timedelta(days=10**5)}, "timeout"),
        ({"max_transient_errors": -1}, "max_transient_errors"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_run_operator_wait_parameters(emu, kwargs, field):
    before = len(emu.requests())
    op = AEPRunFlowOperator(task_id="run", flow_id=FLOW_ID, **kwargs)
    with pytest.raises(AEPInputError, match=field):
        op.execute(ctx())
    assert len(emu.requests()) == before


def test_one_second_floor_against_aep_not_against_the_emulator(monkeypatch):
    """Sub-second polls are for a loopback emulator only: against AEP the floor is 1 s."""
    from airflow_provider_aep.validation import check_poll_interval

    assert check_poll_interval("poke_interval", 0.05, loopback=True) == 0.05
    with pytest.raises(AEPInputError, match="poke_interval"):
        check_poll_interval("poke_interval", 0.5, loopback=False)
    assert check_poll_interval("poke_interval", 30) == 30


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("poll_interval", 0),
        ("poll_interval", math.nan),
        ("poll_interval", "x"),
        ("max_transient_errors", math.inf),
    ],
)
def test_trigger_refuses_unbounded_settings(field, value):
    with pytest.raises(AEPInputError, match=field):
        AEPFlowRunTrigger(run_id=FLOW_ID, **{field: value})


# ----------------------------------------------------------------------------------- defect 9
def _targets(flow: Any) -> dict[str, dict[str, Any]]:
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    return {
        "run_id": {"run_id": run_id, "flow_id": flow.flow_id},
        "window": {"flow_id": flow.flow_id},
        "started_after": {"flow_id": flow.flow_id, "started_after": "2100-01-01T00:00:00Z"},
    }


@pytest.mark.parametrize("soft_fail", [False, True])
def test_poke_timeouts_keep_the_aep_context(emu, soft_fail):
    emu.set_config(run_duration_seconds=30)
    flow = make_once_flow(emu)
    for mode, kwargs in _targets(flow).items():
        sen = AEPFlowRunSensor(
            task_id="w", deferrable=False, poke_interval=POLL, timeout=0.4, soft_fail=soft_fail, **kwargs
        )
        expected = AirflowSkipException if soft_fail else AirflowSensorTimeout
        with pytest.raises(expected) as info:
            sen.execute(ctx())
        message = str(info.value)
        assert flow.flow_id in message, (mode, message)
        assert "keeps going" in message, (mode, message)
        if mode == "run_id":
            assert kwargs["run_id"] in message
        if mode == "window":
            assert "runs seen:" in message and "none yet" not in message  # the window's run is named


def test_poke_and_deferrable_timeouts_say_the_same(emu):
    from airflow_provider_aep.runs_status import WaitTarget, timeout_message

    emu.set_config(run_duration_seconds=30)
    flow = make_once_flow(emu)
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    sen = AEPFlowRunSensor(task_id="w", run_id=run_id, deferrable=False, poke_interval=POLL, timeout=0.3)
    with pytest.raises(AirflowSensorTimeout) as info:
        sen.execute(ctx())
    trigger = AEPFlowRunTrigger(run_id=run_id, poll_interval=POLL)
    deferrable_text = trigger._timeout_event(trigger.target, sen._last_states).payload["message"]
    assert str(info.value) == deferrable_text == timeout_message(WaitTarget(run_id=run_id), sen._last_states)


def test_poke_execution_timeout_keeps_the_context(emu, monkeypatch):
    """Airflow raises AirflowTaskTimeout inside poke() when execution_timeout fires."""
    emu.set_config(run_duration_seconds=30)
    flow = make_once_flow(emu)
    run_id = flow.api.create_run(flow.flow_id, WINDOW)
    sen = AEPFlowRunSensor(task_id="w", run_id=run_id, deferrable=False, poke_interval=POLL, timeout=60)
    real_poke = AEPFlowRunSensor.poke
    calls = {"n": 0}

    def poke_then_timeout(self: AEPFlowRunSensor, context: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise AirflowTaskTimeout("Timeout, PID: 1")
        return real_poke(self, context)

    monkeypatch.setattr(AEPFlowRunSensor, "poke", poke_then_timeout)
    with pytest.raises(AirflowTaskTimeout) as info:
        sen.execute(ctx())
    assert run_id in str(info.value) and "keeps going" in str(info.value)
