"""AEPFlowRunEventTrigger (AssetWatcher) against the emulator: one event per new successful run,
none for failures, and the same position after a restart (no miss, no repeat)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError, AEPRateLimitError
from airflow_provider_aep.triggers.flow_run_event import AEPFlowRunEventTrigger
from tests.sensors.flowrun_helpers import make_once_flow

POLL = 0.2
QUIET = 1.5  # how long "no further event" is observed


class StateStore:
    """Airflow's per-asset state store accessor, as injected by the triggerer (a dict here)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.writes += 1


class Watcher:
    """Runs a trigger's generator in the background and collects its events."""

    def __init__(self, trigger: AEPFlowRunEventTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        async def consume(gen: AsyncIterator[Any]) -> None:
            async for event in gen:
                self.events.append(event.payload)

        self.task = asyncio.create_task(consume(self.trigger.run()))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.task is not None
        self.task.cancel()  # what a triggerer restart does to a running trigger
        try:
            await self.task
        except asyncio.CancelledError:
            pass

    async def wait_for(self, count: int, limit: float = 15.0) -> None:
        deadline = time.monotonic() + limit
        while len(self.events) < count:
            assert self.task is not None and not self.task.done(), self.task
            assert time.monotonic() < deadline, f"{len(self.events)} events of {count}: {self.events}"
            await asyncio.sleep(0.05)


async def _position_saved(store: StateStore, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not store.writes:
        assert time.monotonic() < deadline, "the watcher never saved its first position"
        await asyncio.sleep(0.05)


def _run(flow: Any, day: int) -> str:
    start = 1767225600 + day * 86400  # 2026-01-01 + day
    run_id = flow.api.create_run(flow.flow_id, (start, start + 86400))
    flow.api.wait_finished(run_id)
    return run_id


def _trigger(flow: Any, store: StateStore) -> AEPFlowRunEventTrigger:
    trigger = AEPFlowRunEventTrigger(flow_id=flow.flow_id, poll_interval=POLL)
    trigger.asset_state_store = store  # type: ignore[assignment]
    return trigger


def test_each_new_successful_run_is_one_event_across_a_restart(
    aep_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    aep_emulator.set_env(monkeypatch)
    aep_emulator.set_config(run_duration_seconds=0.2)
    flow = make_once_flow(aep_emulator, name="watcher")
    before_start = _run(flow, 1)  # finished before the watcher ever started: not reported
    store = StateStore()

    async def scenario() -> None:
        async with Watcher(_trigger(flow, store)) as first:
            await _position_saved(store)  # the first start records its position
            await asyncio.sleep(2 * POLL)
            assert first.events == []
            second = _run(flow, 2)
            await first.wait_for(1)
            aep_emulator.set_faults(force_run_status="failed")
            _run(flow, 3)  # failed: not an ingestion
            aep_emulator.set_faults()
            await asyncio.sleep(QUIET)
            assert [e["run_id"] for e in first.events] == [second]
        # "restart": a run finishes while nothing watches, then a new trigger instance resumes
        third = _run(flow, 4)
        async with Watcher(_trigger(flow, store)) as again:
            await again.wait_for(1)
            fourth = _run(flow, 5)
            await again.wait_for(2)
            await asyncio.sleep(QUIET)
            assert [e["run_id"] for e in again.events] == [third, fourth]
        payload = again.events[0]
        assert payload["flow_id"] == flow.flow_id and payload["status"] == "success"
        assert payload["records_written"] == _written(flow, third) > 0
        assert before_start not in {e["run_id"] for e in [*first.events, *again.events]}

    asyncio.run(asyncio.wait_for(scenario(), 90))


def _written(flow: Any, run_id: str) -> int:
    return int(flow.api.get_run(run_id)["metrics"]["recordSummary"]["outputRecordCount"])


def test_transient_errors_back_off_and_never_stop_the_watcher(
    aep_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    aep_emulator.set_env(monkeypatch)
    flow = make_once_flow(aep_emulator, name="watcher-429")
    trigger = _trigger(flow, StateStore())
    calls: list[float] = []
    real = trigger._finished_runs

    def flaky(hook: Any, since: float | None) -> Any:
        calls.append(time.monotonic())
        if len(calls) <= 3:
            raise AEPRateLimitError("GET", "/runs", 429, title="Too Many Requests")
        return real(hook, since)

    trigger._finished_runs = flaky  # type: ignore[method-assign]

    async def scenario() -> None:
        async with Watcher(trigger) as watcher:
            deadline = time.monotonic() + 20
            while len(calls) < 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert watcher.task is not None and not watcher.task.done()
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        # 1, 2, 4 poll intervals after the three 429s, then the normal interval
        assert gaps[0] >= POLL * 0.9 and gaps[1] >= 2 * POLL * 0.9 and gaps[2] >= 4 * POLL * 0.9, gaps

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_serialises_without_clock_values_and_validates() -> None:
    flow_id = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"
    a = AEPFlowRunEventTrigger(flow_id=flow_id).serialize()
    time.sleep(0.01)
    assert AEPFlowRunEventTrigger(flow_id=flow_id).serialize() == a  # same hash on every DAG parse
    classpath, kwargs = a
    assert classpath == "airflow_provider_aep.triggers.flow_run_event.AEPFlowRunEventTrigger"
    assert AEPFlowRunEventTrigger(**kwargs).serialize() == a
    with pytest.raises(AEPInputError, match="flow_id"):
        AEPFlowRunEventTrigger(flow_id="not-a-flow")
    with pytest.raises(AEPInputError, match="poll_interval"):
        AEPFlowRunEventTrigger(flow_id=flow_id, poll_interval=0)


def test_polls_use_no_worker_thread(aep_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every poll is a coroutine on the loop: once the first poll has set up the loop's pooled
    client (built once per loop and host, in a thread), ``asyncio.to_thread`` fails the test."""
    aep_emulator.set_env(monkeypatch)
    flow = make_once_flow(aep_emulator, name="watcher-nothread")
    store = StateStore()
    trigger = _trigger(flow, store)
    polls: list[float] = []
    real = trigger._finished_runs

    def counted(client: Any, since: float | None) -> Any:
        polls.append(time.monotonic())
        return real(client, since)

    trigger._finished_runs = counted  # type: ignore[method-assign]
    threaded: list[str] = []
    real_to_thread = asyncio.to_thread

    async def no_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        if store.writes:  # the first poll is over: from now on no thread may be used
            threaded.append(getattr(func, "__name__", repr(func)))
            raise AssertionError(f"asyncio.to_thread({func!r}) during a poll")
        return await real_to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", no_thread)

    async def scenario() -> list[dict[str, Any]]:
        async with Watcher(trigger) as watcher:
            await _position_saved(store)
            first = len(polls)
            second = _run(flow, 1)
            await watcher.wait_for(1)
            deadline = time.monotonic() + 20
            while len(polls) < first + 6 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert watcher.task is not None and not watcher.task.done(), watcher.task
            assert len(polls) >= first + 6, polls
            assert [e["run_id"] for e in watcher.events] == [second]
            return watcher.events

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert threaded == []


def test_cancellation_closes_the_client_and_leaves_no_task(
    aep_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watcher's normal end is cancellation (mid-request or between polls): its client leaves
    the loop's channels, its connection pools are closed and no task is left running."""
    from airflow_provider_aep.hooks._async import CHANNELS

    aep_emulator.set_env(monkeypatch)
    flow = make_once_flow(aep_emulator, name="watcher-cancel")
    aep_emulator.set_faults(latency_ms=200)  # a poll takes about one POLL: cancel mid-request too

    async def once(pause: float) -> None:
        before = asyncio.all_tasks()  # this scenario and asyncio.wait_for around it
        store = StateStore()
        trigger = _trigger(flow, store)
        clients: list[Any] = []
        make = trigger._client

        def spy() -> Any:
            clients.append(make())
            return clients[-1]

        trigger._client = spy  # type: ignore[method-assign]
        async with Watcher(trigger):
            await _position_saved(store)
            await asyncio.sleep(pause)
            (client,) = clients
            channel = client._gateway
            assert channel is not None and channel in CHANNELS.open_channels()
        assert client._gateway is None and client.info is None
        assert CHANNELS.open_channels() == []
        assert channel.transports and all(t.is_closed for t in channel.transports)
        assert asyncio.all_tasks() == before

    async def scenario() -> None:
        for pause in (0.0, POLL * 0.5, POLL * 1.3, POLL * 2.7):  # between polls and mid-request
            await once(pause)

    asyncio.run(asyncio.wait_for(scenario(), 60))
