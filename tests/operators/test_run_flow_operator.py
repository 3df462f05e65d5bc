"""AEPRunFlowOperator end to end against the emulator (on-demand runs for data intervals)."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
from airflow.sdk.exceptions import TaskDeferred

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sensors"))
from flowrun_helpers import FAST, POLL, make_once_flow

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import (
    AEPError,
    AEPFlowRunError,
    AEPFlowRunTimeoutError,
    AEPInputError,
)
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.task import AEPTaskMixin
from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

D1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
D2 = D1 + timedelta(days=1)
D3 = D2 + timedelta(days=1)
FLOW_UUID = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"


@pytest.fixture
def emu(aep_emulator, monkeypatch):
    aep_emulator.set_env(monkeypatch)
    aep_emulator.set_config(**FAST)
    monkeypatch.setattr(
        AEPTaskMixin,
        "make_hook",
        lambda self: AdobeExperiencePlatformHook(
            aep_conn_id=self.aep_conn_id, retry_policy=RetryPolicy(max_attempts=2, initial_backoff=0.05)
        ),
    )
    return aep_emulator


@pytest.fixture
def flow(emu):
    return make_once_flow(emu, name="op-runs")


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}
        self.pushed_before_wait: dict[str, object] | None = None
        self.start_date = datetime.now(timezone.utc)

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids=None, key=None):
        return self.xcom.get(key)


def ctx(start=D1, end=D2) -> dict:
    return {"data_interval_start": start, "data_interval_end": end, "ti": FakeTI()}


def op(flow_id: str, **kw) -> AEPRunFlowOperator:
    kw.setdefault("task_id", "run")
    kw.setdefault("poll_interval", POLL)
    kw.setdefault("deferrable", False)
    return AEPRunFlowOperator(flow_id=flow_id, **kw)


def test_two_consecutive_intervals_ingest_only_newer_rows(emu, flow):
    c1 = ctx(D1, D2)
    run1 = op(flow.flow_id).execute(c1)
    assert c1["ti"].xcom[xcom_keys.RUN_ID] == run1
    url = c1["ti"].xcom[xcom_keys.RUN_URL]
    assert url == (
        "https://experience.adobe.com/#/@EMULATORORG@AdobeOrg/sname:prod/platform/source/dataflows/"
        + f"{flow.flow_id}/activity/{run1}"  # the run's own page
    )
    assert c1["ti"].xcom[xcom_keys.UI_SANDBOX] == "prod"
    assert "secret" not in str(c1["ti"].xcom)
    after_first = emu.records(flow.dataset_id)
    c2 = ctx(D2, D3)
    run2 = op(flow.flow_id).execute(c2)
    assert run2 != run1
    after_second = emu.records(flow.dataset_id)

    r1, r2 = flow.api.get_run(run1), flow.api.get_run(run2)
    n1 = r1["metrics"]["recordSummary"]["outputRecordCount"]
    n2 = r2["metrics"]["recordSummary"]["outputRecordCount"]
    assert n1 == 4 and n2 == 4  # sample rows every 6 hours: 4 per day
    assert len(after_first) == n1
    assert len(after_second) == n1 + n2
    ids_first = {r["_id"] for r in after_first}
    ids_second = {r["_id"] for r in after_second[len(after_first) :]}
    assert ids_first.isdisjoint(ids_second)  # the second interval brought only newer rows
    params = [r for r in emu.requests() if r["method"] == "POST" and r["path"].endswith("/runs")]
    assert len(params) == 2


def test_retry_reuses_the_run_for_the_same_window(emu, flow):
    first = op(flow.flow_id).execute(ctx())
    again = op(flow.flow_id).execute(ctx())  # a retry / cleared task
    assert again == first
    assert len(flow.api.runs(flow.flow_id)) == 1


def test_lost_post_answer_is_recovered_without_duplicate(emu, flow):
    emu.set_faults(drop_after_commit=["POST /data/foundation/flowservice/runs"], drop_after_commit_count=1)
    run_id = op(flow.flow_id).execute(ctx())
    runs = flow.api.runs(flow.flow_id)
    assert [r["id"] for r in runs] == [run_id]


def test_no_wait_returns_immediately(emu, flow):
    emu.set_config(run_duration_seconds=30)
    c = ctx()
    run_id = op(flow.flow_id, wait_for_completion=False).execute(c)
    assert c["ti"].xcom[xcom_keys.RUN_ID] == run_id
    assert flow.api.get_run(run_id)["metrics"]["statusSummary"]["status"] == "inProgress"


def test_failed_run_raises_with_details(emu, flow):
    emu.set_faults(force_run_status="failed")
    with pytest.raises(AEPFlowRunError) as info:
        op(flow.flow_id).execute(ctx())
    assert "\n" not in str(info.value) and "failed" in str(info.value)


def test_poke_timeout_says_run_keeps_going(emu, flow, capsys):
    emu.set_config(run_duration_seconds=30)
    c = ctx()
    with pytest.raises(AEPFlowRunTimeoutError) as info:
        op(flow.flow_id, timeout=0.4).execute(c)
    assert c["ti"].xcom[xcom_keys.RUN_ID] in str(info.value)
    assert "cannot cancel" in str(info.value)


def test_on_kill_logs_the_run_that_keeps_going(capsys):
    o = op(FLOW_UUID)
    o.run_id = "3c0c5a55-0000-4000-8000-000000000001"
    o.on_kill()
    out = capsys.readouterr().out
    assert "cannot cancel" in out and o.run_id in out


def test_deferrable_pushes_before_deferring_and_completes(emu, flow):
    c = ctx()
    o = op(flow.flow_id, deferrable=True, timeout=60)
    with pytest.raises(TaskDeferred) as info:
        o.execute(c)
    run_id = c["ti"].xcom[xcom_keys.RUN_ID]  # pushed before waiting
    trigger = info.value.trigger
    assert isinstance(trigger, AEPFlowRunTrigger) and trigger.run_id == run_id
    assert info.value.timeout is not None and info.value.timeout.total_seconds() <= 66

    async def drain():
        return [e.payload async for e in trigger.run()]

    events = asyncio.run(asyncio.wait_for(drain(), 30))
    assert o.resume_execution(info.value.method_name, {"event": events[0]}, c) == run_id


def test_deferrable_timeout(emu, flow):
    emu.set_config(run_duration_seconds=30)
    c = ctx()
    o = op(flow.flow_id, deferrable=True, timeout=0.4)
    with pytest.raises(TaskDeferred) as info:
        o.execute(c)

    async def drain():
        return [e.payload async for e in info.value.trigger.run()]

    events = asyncio.run(asyncio.wait_for(drain(), 30))
    assert events[0]["status"] == "timeout"
    with pytest.raises(AEPFlowRunTimeoutError, match="keeps going"):
        o.resume_execution(info.value.method_name, {"event": events[0]}, c)
    with pytest.raises(AEPFlowRunTimeoutError):  # Airflow's own trigger timeout
        o.resume_execution("__fail__", {"error": "Trigger timeout"}, c)


@pytest.mark.parametrize("event", [None, {"status": "nope"}, {"status": "success", "target": {}, "runs": []}])
def test_execute_complete_fails_closed(event):
    with pytest.raises(AEPError):
        op(FLOW_UUID).execute_complete(ctx(), event)


@pytest.mark.parametrize(
    ("kwargs", "context", "field"),
    [
        ({"flow_id": "nope"}, ctx(), "flow_id"),
        ({"flow_id": FLOW_UUID}, ctx(D2, D1), "window_start"),
        ({"flow_id": FLOW_UUID}, ctx(D1, D1), "window_start"),
        ({"flow_id": FLOW_UUID, "window_start": datetime(2026, 1, 1)}, ctx(), "window_start"),
        ({"flow_id": FLOW_UUID, "window_end": "2026-01-02 00:00:00"}, ctx(), "window_end"),
        ({"flow_id": FLOW_UUID}, {"ti": FakeTI()}, "window_start"),
        ({"flow_id": FLOW_UUID, "partial_success": "x"}, ctx(), "partial_success"),
        ({"flow_id": FLOW_UUID, "delta_column": ""}, ctx(), "delta_column"),
    ],
)
def test_inputs_validated_before_any_http(aep_emulator, monkeypatch, kwargs, context, field):
    aep_emulator.set_env(monkeypatch)
    aep_emulator.clear_requests()
    flow_id = kwargs.pop("flow_id")
    with pytest.raises(AEPInputError) as info:
        op(flow_id, **kwargs).execute(context)
    assert info.value.field.startswith(field)
    assert aep_emulator.requests() == []


def test_delta_column_sent_only_when_given(emu, flow):
    with mock.patch.object(AdobeExperiencePlatformHook, "create_run", autospec=True) as create:
        create.return_value = {"id": "3c0c5a55-0000-4000-8000-000000000001"}
        op(flow.flow_id, wait_for_completion=False).execute(ctx())
        op(flow.flow_id, wait_for_completion=False, delta_column="LastModifiedDate").execute(ctx(D2, D3))
    first, second = (call.args[2] for call in create.call_args_list)
    assert first == {
        "startTime": first["startTime"],
        "windowStartTime": int(D1.timestamp()),
        "windowEndTime": int(D2.timestamp()),
    }
    assert second["deltaColumn"] == {"name": "LastModifiedDate"}
    assert second["windowStartTime"] == int(D2.timestamp())


class FakeStore:
    """Stand-in for Airflow 3.3's ``task_state_store`` (persists across tries of one TI)."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value, *, retention=None):
        self.data[key] = value


def test_retry_while_run_in_progress_reattaches_via_task_state_store(emu, flow):
    emu.set_config(run_duration_seconds=30)
    store = FakeStore()
    first_ctx = {**ctx(), "task_state_store": store}
    first = op(flow.flow_id, wait_for_completion=False).execute(first_ctx)
    assert store.data == {"aep_run_id": first}
    retry_ctx = {**ctx(), "task_state_store": store}  # next try, run still in progress
    again = op(flow.flow_id, wait_for_completion=False).execute(retry_ctx)
    assert again == first
    assert len(flow.api.runs(flow.flow_id)) == 1


def test_retry_after_failed_run_starts_a_new_run(emu, flow):
    emu.set_faults(force_run_status="failed")
    store = FakeStore()
    with pytest.raises(AEPFlowRunError):
        op(flow.flow_id).execute({**ctx(), "task_state_store": store})
    failed = store.data["aep_run_id"]
    emu.clear_faults()
    again = op(flow.flow_id).execute({**ctx(), "task_state_store": store})
    assert again != failed
    assert store.data["aep_run_id"] == again
    assert len(flow.api.runs(flow.flow_id)) == 2


def test_extra_link_reads_the_run_url(monkeypatch):
    from airflow.sdk.execution_time import xcom

    from airflow_provider_aep.operators.runs import AEPFlowRunLink

    values = {"run_url": "https://experience.adobe.com/#/@org/sname:prod/platform/source/dataflows/x"}
    monkeypatch.setattr(xcom.XCom, "get_value", staticmethod(lambda ti_key, key: values.get(key)))
    o = op(FLOW_UUID)
    assert [type(link) for link in o.operator_extra_links] == [AEPFlowRunLink]
    assert AEPFlowRunLink().get_link(o, ti_key=mock.MagicMock()) == values["run_url"]
    values.clear()
    assert AEPFlowRunLink().get_link(o, ti_key=mock.MagicMock()) == ""
