"""AEPFlowRunTrigger against a scripted async client: events, deadlines, transient errors, serialisation."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

import pytest

from airflow_provider_aep.exceptions import (
    AEPAuthenticationError,
    AEPConnectionError,
    AEPRateLimitError,
    AEPServerError,
)
from airflow_provider_aep.triggers import flow_run as flow_run_module
from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger
from airflow_provider_aep.wait import ASYNC_TRIGGER_RETRY

RUN = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"
FLOW = "a57c12ae-a406-4a37-95ac-a8e3455e5a52"


def run_obj(status: str, failed: int = 0) -> dict:
    return {
        "id": RUN,
        "flowId": FLOW,
        "metrics": {
            "statusSummary": {"status": status, "errors": [{"code": "CONNECTOR-2001-500", "message": "boom"}]}
            if status == "failed"
            else {"status": status},
            "recordSummary": {
                "inputRecordCount": 5,
                "outputRecordCount": 5 - failed,
                "failedRecordCount": failed,
            },
        },
    }


class ScriptedClient:
    """Answers (or raises) the scripted GET /runs/{id} results in order; the last one repeats.

    Records the threads it ran on (the trigger must not use any worker thread) and whether the
    trigger closed it.
    """

    def __init__(self, script: list, delay: float = 0.0) -> None:
        self.script = list(script)
        self.delay = delay
        self.calls = 0
        self.threads: set[str] = set()
        self.closed = 0

    async def open(self) -> None:
        self.threads.add(threading.current_thread().name)

    async def close(self) -> None:
        self.closed += 1

    async def get_one(self, service: str, path: str) -> dict:
        self.threads.add(threading.current_thread().name)
        assert (service, path) == ("flowservice", f"/runs/{RUN}")
        if self.delay:
            await asyncio.sleep(self.delay)
        item = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(item, BaseException):
            raise item
        return item


def install(monkeypatch, client) -> None:
    monkeypatch.setattr(AEPFlowRunTrigger, "_client", lambda self: client)


_REAL_SLEEP = asyncio.sleep


class VirtualTime:
    """The trigger module's clock and sleeps, virtual: what the trigger schedules is observed
    exactly, whatever the load of the machine (a descheduled process fires every due timer at once,
    so real timestamps of polls say little about the schedule the trigger asked for).

    ``advance`` is true for one trigger (a sleep moves the clock on); false when many triggers
    share the clock (the clock stands still and each sleep is only recorded).
    """

    def __init__(self, *, advance: bool) -> None:
        self.now = 1_800_000_000.0
        self.advance = advance
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds
        await _REAL_SLEEP(0)


class _ModuleWith:
    """A module as the trigger module sees it, with some of its attributes replaced."""

    def __init__(self, module: Any, **replaced: Any) -> None:
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def virtual_time(monkeypatch, *, advance: bool = True) -> VirtualTime:
    clock = VirtualTime(advance=advance)
    monkeypatch.setattr(flow_run_module, "time", _ModuleWith(time, time=clock.time))
    monkeypatch.setattr(flow_run_module, "asyncio", _ModuleWith(asyncio, sleep=clock.sleep))
    return clock


async def collect(trigger: AEPFlowRunTrigger, limit: float = 10.0) -> list[dict]:
    events = []

    async def drain():
        async for ev in trigger.run():
            events.append(ev.payload)

    await asyncio.wait_for(drain(), limit)
    return events


def api_error(cls, status):
    return cls("GET", "/runs/x", status, code=f"E-{status}")


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        ("success", "success"),
        ("partialSuccess", "partial_success"),
        ("PARTIAL_SUCCESS", "partial_success"),
        ("failed", "failed"),
        ("CANCELLED", "cancelled"),
    ],
)
def test_one_event_with_terminal_status(monkeypatch, final, expected):
    hook = ScriptedClient([run_obj("inProgress"), run_obj("IN_PROGRESS"), run_obj(final, failed=1)])
    install(monkeypatch, hook)
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01)))
    assert len(events) == 1
    assert events[0]["status"] == expected
    assert events[0]["runs"][0]["run_id"] == RUN
    assert hook.calls == 3
    assert hook.threads == {"MainThread"}  # every call is a coroutine on the loop: no worker thread
    assert hook.closed == 1  # the client is closed before the event is handed over


def test_deadline_emits_timeout_event(monkeypatch):
    install(monkeypatch, ScriptedClient([run_obj("inProgress")]))
    start = time.time()
    trigger = AEPFlowRunTrigger(
        run_id=RUN, poll_interval=0.05, end_time=start + 0.3, timeout_reason="timeout"
    )
    # A trigger that ignored its deadline would poll the in-progress run forever: collect's hang
    # guard fails it (no upper bound on wall time: a loaded machine may be late by seconds).
    events = asyncio.run(collect(trigger, limit=30))
    assert [e["status"] for e in events] == ["timeout"]
    assert events[0]["reason"] == "timeout"
    assert "AEP cannot cancel" in events[0]["message"]
    assert time.time() - start >= 0.25  # not before the deadline


def test_deadline_in_the_past_times_out_immediately(monkeypatch):
    hook = ScriptedClient([run_obj("inProgress")])
    install(monkeypatch, hook)
    trigger = AEPFlowRunTrigger(run_id=RUN, end_time=time.time() - 1, timeout_reason="execution_timeout")
    events = asyncio.run(collect(trigger))
    assert events[0]["status"] == "timeout" and events[0]["reason"] == "execution_timeout"
    assert hook.calls == 0


def test_slow_call_does_not_overrun_deadline(monkeypatch):
    """A call still in flight at the deadline is cut: the first poll starts at once and takes an
    hour, the event comes at the deadline (a trigger that waited for the call would trip the 30 s
    hang guard)."""
    started: list[float] = []

    class Slow(ScriptedClient):
        async def get_one(self, service, path):
            started.append(time.time())
            return await super().get_one(service, path)

    client = Slow([run_obj("inProgress")], delay=3600.0)
    install(monkeypatch, client)
    start = time.time()
    trigger = AEPFlowRunTrigger(run_id=RUN, end_time=start + 1.5, next_poll_at=start + 0.01)

    async def first_event():
        async for ev in trigger.run():
            return ev.payload
        return None

    event = asyncio.run(asyncio.wait_for(first_event(), 30))
    assert event["status"] == "timeout"
    assert len(started) == 1  # the poll was in flight at the deadline...
    assert client.calls == 0  # ...and was cancelled there: it never answered
    assert client.closed == 1


@pytest.mark.parametrize(
    "exc_cls,status", [(AEPRateLimitError, 429), (AEPServerError, 503), (AEPConnectionError, None)]
)
def test_transient_errors_tolerated(monkeypatch, exc_cls, status):
    err = api_error(exc_cls, status)
    hook = ScriptedClient([err, err, run_obj("inProgress"), err, run_obj("success")])
    install(monkeypatch, hook)
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01, max_transient_errors=2)))
    assert [e["status"] for e in events] == ["success"]


def test_persistent_transient_errors_give_up(monkeypatch):
    hook = ScriptedClient([api_error(AEPServerError, 502)])
    install(monkeypatch, hook)
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01, max_transient_errors=3)))
    assert [e["status"] for e in events] == ["error"]
    assert "4 consecutive transient" in events[0]["message"]
    assert hook.calls == 4


@pytest.mark.parametrize("exc", [api_error(AEPAuthenticationError, 403), RuntimeError("bug")])
def test_non_transient_error_is_one_error_event(monkeypatch, exc):
    install(monkeypatch, ScriptedClient([exc]))
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01)))
    assert [e["status"] for e in events] == ["error"]


def test_serialize_is_json_safe_and_round_trips():
    trigger = AEPFlowRunTrigger(
        flow_id=FLOW,
        window_start=1_767_225_600,
        window_end=1_767_229_200,
        aep_conn_id="c",
        sandbox_name="dev",
        poll_interval=0.5,
        end_time=1_900_000_000.25,
        timeout_reason="execution_timeout",
        max_transient_errors=4,
        retry_policy={"max_attempts": 2},
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_aep.triggers.flow_run.AEPFlowRunTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or type(value) in (str, int, float, bool)

    assert plain(kwargs)
    again = AEPFlowRunTrigger(**json.loads(json.dumps(kwargs)))
    assert again.serialize() == (classpath, kwargs)
    # the deadline is absolute: a re-created trigger (triggerer restart) keeps it
    assert again.end_time == 1_900_000_000.25


def test_recreated_trigger_continues_the_clock(monkeypatch):
    """The triggerer is down past the deadline: the re-created trigger times out without a poll
    (one that granted itself a fresh 0.4 s would poll every 0.05 s until then)."""
    hook = ScriptedClient([run_obj("inProgress")])
    install(monkeypatch, hook)
    first = AEPFlowRunTrigger(run_id=RUN, poll_interval=0.05, end_time=time.time() + 0.4)
    _, kwargs = first.serialize()
    time.sleep(0.5)  # "triggerer restart": down past the deadline
    events = asyncio.run(collect(AEPFlowRunTrigger(**json.loads(json.dumps(kwargs)))))
    assert events[0]["status"] == "timeout"
    assert hook.calls == 0


@pytest.mark.parametrize(
    ("policy", "attempts"),
    [(None, ASYNC_TRIGGER_RETRY["max_attempts"]), ({"max_attempts": 1}, 1), ({"max_attempts": 4}, 4)],
)
def test_retry_policy_of_the_trigger_client(policy, attempts):
    client = AEPFlowRunTrigger(run_id=RUN, retry_policy=policy)._client()
    assert client.retry_policy.max_attempts == attempts


def test_cancellation_closes_the_client_and_leaves_no_task(monkeypatch):
    class Counting(ScriptedClient):
        """Says when the trigger has polled twice (cancelled after that: mid-request or asleep)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.polled_twice = asyncio.Event()

        async def get_one(self, service, path):
            answer = await super().get_one(service, path)
            if self.calls >= 2:
                self.polled_twice.set()
            return answer

    client = Counting([run_obj("inProgress")], delay=0.05)
    install(monkeypatch, client)

    async def main() -> set:
        task = asyncio.create_task(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01), limit=60))
        await asyncio.wait_for(client.polled_twice.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(main()) == set()
    assert client.closed == 1 and client.calls >= 2


def test_polls_keep_an_absolute_schedule_despite_latency(monkeypatch):
    """Answers take 0.15 s; polls still start every 0.3 s (not 0.45 s). In virtual time: each
    answer moves the clock on by its latency, each sleep by what the trigger asked for."""
    clock = virtual_time(monkeypatch)
    starts: list[float] = []

    class Timed(ScriptedClient):
        async def get_one(self, service, path):
            starts.append(clock.now)
            clock.now += 0.15  # the answer's latency
            return await super().get_one(service, path)

    install(monkeypatch, Timed([run_obj("inProgress")] * 6 + [run_obj("success")]))
    first = clock.now + 0.3
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.3, next_poll_at=first)))
    assert [e["status"] for e in events] == ["success"]
    assert starts == pytest.approx([first + 0.3 * k for k in range(7)]), starts
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.3] * 6), gaps  # 0.45 each if latency pushed polls back


@pytest.mark.parametrize("next_poll_at", [None, "past"])
def test_overdue_first_polls_are_spread_over_one_interval(next_poll_at):
    """Re-created after a restart (first poll overdue) or unset: first polls spread, no burst."""
    now = time.time()
    due = None if next_poll_at is None else now - 60
    firsts = [
        AEPFlowRunTrigger(run_id=RUN, poll_interval=30.0, next_poll_at=due)._first_poll_at(now) - now
        for _ in range(3000)
    ]
    assert 0.0 <= min(firsts) and max(firsts) <= 30.0
    per_tenth = [sum(1 for f in firsts if k * 3 <= f < (k + 1) * 3) for k in range(10)]
    assert max(per_tenth) < 450, per_tenth  # uniform: ~300 per tenth; a burst would put 3000 in one


def test_future_first_poll_is_kept():
    now = time.time()
    trigger = AEPFlowRunTrigger(run_id=RUN, poll_interval=30.0, next_poll_at=now + 12.5)
    assert trigger._first_poll_at(now) == now + 12.5


def test_spread_first_polls_really_run_apart(monkeypatch):
    """100 overdue re-created waits: each one sleeps its own share of the interval before its first
    poll. The sleeps the triggers ask for are observed (in virtual time), not when the timers fire:
    a process descheduled for a second fires them all at once whatever was asked."""
    clock = virtual_time(monkeypatch, advance=False)
    polled: list[int] = []  # sleeps asked for (by all waits) before each first poll

    class First(ScriptedClient):
        async def get_one(self, service, path):
            polled.append(len(clock.sleeps))
            return run_obj("success")

    install(monkeypatch, First([]))

    async def main() -> None:
        triggers = [
            AEPFlowRunTrigger(run_id=RUN, poll_interval=1.0, next_poll_at=clock.now - 5) for _ in range(100)
        ]
        await asyncio.gather(*(collect(t) for t in triggers))

    asyncio.run(main())
    assert len(polled) == 100
    assert len(clock.sleeps) == 100 and min(polled) >= 1  # each wait slept once, before polling
    assert all(0.0 <= s <= 1.0 for s in clock.sleeps), clock.sleeps
    assert max(clock.sleeps) - min(clock.sleeps) > 0.5  # spread over the interval, not all at once
