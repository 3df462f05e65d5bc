"""AEPFlowRunTrigger against a scripted async client: events, deadlines, transient errors, serialisation."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time

import pytest

from airflow_provider_aep.exceptions import (
    AEPAuthenticationError,
    AEPConnectionError,
    AEPRateLimitError,
    AEPServerError,
)
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
    events = asyncio.run(collect(trigger))
    assert [e["status"] for e in events] == ["timeout"]
    assert events[0]["reason"] == "timeout"
    assert "AEP cannot cancel" in events[0]["message"]
    assert 0.25 <= time.time() - start < 2


def test_deadline_in_the_past_times_out_immediately(monkeypatch):
    hook = ScriptedClient([run_obj("inProgress")])
    install(monkeypatch, hook)
    trigger = AEPFlowRunTrigger(run_id=RUN, end_time=time.time() - 1, timeout_reason="execution_timeout")
    events = asyncio.run(collect(trigger))
    assert events[0]["status"] == "timeout" and events[0]["reason"] == "execution_timeout"
    assert hook.calls == 0


def test_slow_call_does_not_overrun_deadline(monkeypatch):
    install(monkeypatch, ScriptedClient([run_obj("inProgress")], delay=2.0))
    start = time.time()
    received: list[float] = []

    async def first_event():
        async for ev in AEPFlowRunTrigger(run_id=RUN, end_time=start + 0.3).run():
            received.append(time.time())
            return ev.payload
        return None

    event = asyncio.run(first_event())
    assert event["status"] == "timeout"
    assert received[0] - start < 1.0  # emitted at the deadline, not after the 2 s call


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
    install(monkeypatch, ScriptedClient([run_obj("inProgress")]))
    first = AEPFlowRunTrigger(run_id=RUN, poll_interval=0.05, end_time=time.time() + 0.4)
    _, kwargs = first.serialize()
    time.sleep(0.3)  # "triggerer restart" after 0.3 s
    start = time.time()
    events = asyncio.run(collect(AEPFlowRunTrigger(**kwargs)))
    assert events[0]["status"] == "timeout"
    assert time.time() - start < 0.3  # not a fresh 0.4 s


@pytest.mark.parametrize(
    ("policy", "attempts"),
    [(None, ASYNC_TRIGGER_RETRY["max_attempts"]), ({"max_attempts": 1}, 1), ({"max_attempts": 4}, 4)],
)
def test_retry_policy_of_the_trigger_client(policy, attempts):
    client = AEPFlowRunTrigger(run_id=RUN, retry_policy=policy)._client()
    assert client.retry_policy.max_attempts == attempts


def test_cancellation_closes_the_client_and_leaves_no_task(monkeypatch):
    client = ScriptedClient([run_obj("inProgress")], delay=0.05)
    install(monkeypatch, client)

    async def main() -> set:
        task = asyncio.create_task(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01)))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(main()) == set()
    assert client.closed == 1 and client.calls >= 2


def test_polls_keep_an_absolute_schedule_despite_latency(monkeypatch):
    """Answers take 0.15 s; polls still start every 0.3 s (not 0.45 s)."""
    starts: list[float] = []

    class Timed(ScriptedClient):
        async def get_one(self, service, path):
            starts.append(time.monotonic())
            return await super().get_one(service, path)

    install(monkeypatch, Timed([run_obj("inProgress")] * 6 + [run_obj("success")], delay=0.15))
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.3, next_poll_at=time.time())))
    assert [e["status"] for e in events] == ["success"]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 6
    assert sum(gaps) / len(gaps) < 0.3 * 1.25, gaps  # would be >= 0.45 if latency pushed polls back


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
    firsts: list[float] = []

    class First(ScriptedClient):
        async def get_one(self, service, path):
            firsts.append(time.monotonic())
            return run_obj("success")

    install(monkeypatch, First([]))

    async def main() -> None:
        triggers = [
            AEPFlowRunTrigger(run_id=RUN, poll_interval=1.0, next_poll_at=time.time() - 5) for _ in range(100)
        ]
        await asyncio.gather(*(collect(t) for t in triggers))

    asyncio.run(main())
    assert len(firsts) == 100
    assert max(firsts) - min(firsts) > 0.5  # spread over the interval, not all at once
