"""Re-running failed runs through AEP's re-trigger action: bounded, never twice for one failure."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from flowrun_helpers import FAST, FS, POLL, make_once_flow

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.emulator.testing import EmulatorAPIError
from airflow_provider_aep.exceptions import AEPFlowRunError, AEPInputError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.task import AEPTaskMixin

D1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
D2 = D1 + timedelta(days=1)


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


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}
        self.start_date = datetime.now(timezone.utc)

    def xcom_push(self, key: str, value: object) -> None:
        json.dumps(value)
        self.xcom[key] = value

    def xcom_pull(self, task_ids=None, key=None):
        return self.xcom.get(key)


class Store:
    """Airflow 3.3's task_state_store: survives the task's retries."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def get(self, key: str) -> object:
        return self.data.get(key)

    def set(self, key: str, value: object) -> None:
        self.data[key] = json.loads(json.dumps(value))


def ctx(store: Store | None = None) -> dict:
    c: dict = {"data_interval_start": D1, "data_interval_end": D2, "ti": FakeTI()}
    if store is not None:
        c["task_state_store"] = store
    return c


def op(flow_id: str, **kw) -> AEPRunFlowOperator:
    kw.setdefault("task_id", "run")
    kw.setdefault("poll_interval", POLL)
    kw.setdefault("deferrable", False)
    return AEPRunFlowOperator(flow_id=flow_id, **kw)


def _actions(emu) -> list[dict]:
    return [r for r in emu.requests() if r["method"] == "POST" and r["path"].endswith("/action")]


def _run_posts(emu) -> list[dict]:
    return [r for r in emu.requests() if r["method"] == "POST" and r["path"].endswith("/runs")]


def test_forced_failure_is_retriggered_once_then_succeeds(emu):
    flow = make_once_flow(emu, name="retrig")
    emu.set_faults(force_run_status="failed", force_run_status_count=1)
    emu.clear_requests()
    c = ctx()
    run_id = op(flow.flow_id, retrigger_failed=1).execute(c)
    runs = {r["id"]: r for r in flow.api.runs(flow.flow_id)}
    assert len(runs) == 2 and runs[run_id]["metrics"]["statusSummary"]["status"] == "success"
    (failed,) = [r for r in runs.values() if r["id"] != run_id]
    assert failed["metrics"]["statusSummary"]["status"] == "failed"
    assert runs[run_id]["params"]["windowEndTime"] == failed["params"]["windowEndTime"]  # same window
    assert len(_actions(emu)) == 1 and len(_run_posts(emu)) == 1
    assert _actions(emu)[0]["path"].endswith(f"/runs/{failed['id']}/action")
    assert (
        c["ti"].xcom[xcom_keys.RUN_ID] == run_id
        and c["ti"].xcom[xcom_keys.RUN_SUMMARY]["status"] == "success"
    )


@pytest.mark.parametrize("with_store", [True, False], ids=["task_state_store", "no_store"])
def test_task_retry_after_the_retrigger_never_sends_a_second_one(emu, monkeypatch, with_store):
    flow = make_once_flow(emu, name=f"retrig-crash-{with_store}")
    emu.set_faults(force_run_status="failed", force_run_status_count=1)
    emu.clear_requests()
    real = AdobeExperiencePlatformHook.retrigger_run
    crashes = []

    def crash_after_sending(self, run_id):
        new_id = real(self, run_id)
        if not crashes:
            crashes.append(new_id)
            raise RuntimeError("worker lost right after the re-trigger")  # the try dies here
        return new_id

    monkeypatch.setattr(AdobeExperiencePlatformHook, "retrigger_run", crash_after_sending)
    store = Store() if with_store else None
    with pytest.raises(RuntimeError):
        op(flow.flow_id, retrigger_failed=1).execute(ctx(store))
    second = op(flow.flow_id, retrigger_failed=1).execute(ctx(store))  # Airflow's retry of the task
    assert second == crashes[0]
    assert len(_actions(emu)) == 1 and len(_run_posts(emu)) == 1
    assert flow.api.get_run(second)["metrics"]["statusSummary"]["status"] == "success"


def test_retriggers_are_bounded(emu):
    flow = make_once_flow(emu, name="retrig-bound")
    emu.set_faults(force_run_status="failed")  # every run fails
    emu.clear_requests()
    store = Store()
    with pytest.raises(AEPFlowRunError):
        op(flow.flow_id, retrigger_failed=2).execute(ctx(store))
    assert len(_actions(emu)) == 2
    assert len(store.data["aep_retriggered"]) == 2  # type: ignore[arg-type]


def test_emulator_retrigger_rules(emu):
    flow = make_once_flow(emu, name="retrig-rules")
    ok = op(flow.flow_id).execute(ctx())  # a successful run with records
    with pytest.raises(EmulatorAPIError, match="1387"):
        flow.api.call("POST", f"{FS}/runs/{ok}/action", op="RE_TRIGGER")
    with pytest.raises(EmulatorAPIError, match="1401"):
        flow.api.call("POST", f"{FS}/runs/{ok}/action", op="CANCEL")
    with pytest.raises(EmulatorAPIError, match="404"):
        flow.api.call("POST", f"{FS}/runs/3fb0418e-1804-45d6-8d56-dd51f05c0baf/action", op="RE_TRIGGER")
    emu.set_faults(force_run_status="failed", force_run_status_count=1)
    c = ctx()
    c["data_interval_start"], c["data_interval_end"] = D2, D2 + timedelta(days=1)
    with pytest.raises(AEPFlowRunError) as info:
        op(flow.flow_id).execute(c)
    failed = info.value.run_id
    flow.api.call("POST", f"{FS}/flows/{flow.flow_id}/action", op="disable")
    with pytest.raises(EmulatorAPIError, match="1388"):
        flow.api.call("POST", f"{FS}/runs/{failed}/action", op="re-trigger")
    flow.api.call("POST", f"{FS}/flows/{flow.flow_id}/action", op="enable")
    new = flow.api.call("POST", f"{FS}/runs/{failed}/action", op="re-trigger")  # the docs' spelling
    assert new["id"] != failed and new["etag"]


@pytest.mark.parametrize("bad", [-1, 11, 1.5, True, "1"])
def test_bad_retrigger_count_is_refused(bad):
    with pytest.raises(AEPInputError, match="retrigger_failed"):
        AEPRunFlowOperator(task_id="r", flow_name="x", retrigger_failed=bad)


def test_a_resumed_task_waits_for_the_retriggered_run_at_the_capped_interval(emu, monkeypatch):
    """The trigger reports the failed run; the resumed task (a fresh operator, its validate() never
    ran) re-defers for the re-triggered run with the same capped interval as the first deferral,
    not the DAG's 30 s."""
    import asyncio

    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_aep.wait import EMULATOR_POLL_ENV

    monkeypatch.setenv(EMULATOR_POLL_ENV, str(POLL))
    flow = make_once_flow(emu, name="retrig-resumed")
    emu.set_faults(force_run_status="failed", force_run_status_count=1)
    c = ctx()
    with pytest.raises(TaskDeferred) as first:
        op(flow.flow_id, retrigger_failed=1, deferrable=True, poll_interval=30).execute(c)
    trigger = first.value.trigger
    assert trigger.poll_interval == POLL

    async def drain():
        return [e.payload async for e in trigger.run()]

    (event,) = asyncio.run(asyncio.wait_for(drain(), 30))
    resumed = op(flow.flow_id, retrigger_failed=1, deferrable=True, poll_interval=30)
    with pytest.raises(TaskDeferred) as second:
        resumed.execute_complete(c, event)
    assert len(_actions(emu)) == 1, "the failed run was not re-triggered"
    assert second.value.trigger.run_id != trigger.run_id
    assert second.value.trigger.poll_interval == POLL
