"""AEPFlowRunTrigger against a scripted fake hook: events, deadlines, transient errors, serialisation."""

from __future__ import annotations

import asyncio
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


class ScriptedHook:
    """Returns (or raises) the scripted answers of get_run in order; the last one repeats."""

    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.calls = 0
        self.threads: set[str] = set()

    def get_access_token(self) -> str:
        self.threads.add(threading.current_thread().name)
        return "tok"

    def get_run(self, run_id: str) -> dict:
        self.threads.add(threading.current_thread().name)
        item = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(item, BaseException):
            raise item
        return item


def install(monkeypatch, hook) -> None:
    monkeypatch.setattr(AEPFlowRunTrigger, "_make_hook", lambda self: (hook.get_access_token(), hook)[1])


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
    hook = ScriptedHook([run_obj("inProgress"), run_obj("IN_PROGRESS"), run_obj(final, failed=1)])
    install(monkeypatch, hook)
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01)))
    assert len(events) == 1
    assert events[0]["status"] == expected
    assert events[0]["runs"][0]["run_id"] == RUN
    assert hook.calls == 3
    assert "MainThread" not in hook.threads  # every hook call ran in a worker thread


def test_deadline_emits_timeout_event(monkeypatch):
    install(monkeypatch, ScriptedHook([run_obj("inProgress")]))
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
    hook = ScriptedHook([run_obj("inProgress")])
    install(monkeypatch, hook)
    trigger = AEPFlowRunTrigger(run_id=RUN, end_time=time.time() - 1, timeout_reason="execution_timeout")
    events = asyncio.run(collect(trigger))
    assert events[0]["status"] == "timeout" and events[0]["reason"] == "execution_timeout"
    assert hook.calls == 0


def test_slow_call_does_not_overrun_deadline(monkeypatch):
    class SlowHook(ScriptedHook):
        def get_run(self, run_id):
            time.sleep(2)
            return run_obj("inProgress")

    install(monkeypatch, SlowHook([]))
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
    hook = ScriptedHook([err, err, run_obj("inProgress"), err, run_obj("success")])
    install(monkeypatch, hook)
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01, max_transient_errors=2)))
    assert [e["status"] for e in events] == ["success"]


def test_persistent_transient_errors_give_up(monkeypatch):
    hook = ScriptedHook([api_error(AEPServerError, 502)])
    install(monkeypatch, hook)
    events = asyncio.run(collect(AEPFlowRunTrigger(run_id=RUN, poll_interval=0.01, max_transient_errors=3)))
    assert [e["status"] for e in events] == ["error"]
    assert "4 consecutive transient" in events[0]["message"]
    assert hook.calls == 4


@pytest.mark.parametrize("exc", [api_error(AEPAuthenticationError, 403), RuntimeError("bug")])
def test_non_transient_error_is_one_error_event(monkeypatch, exc):
    install(monkeypatch, ScriptedHook([exc]))
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
    install(monkeypatch, ScriptedHook([run_obj("inProgress")]))
    first = AEPFlowRunTrigger(run_id=RUN, poll_interval=0.05, end_time=time.time() + 0.4)
    _, kwargs = first.serialize()
    time.sleep(0.3)  # "triggerer restart" after 0.3 s
    start = time.time()
    events = asyncio.run(collect(AEPFlowRunTrigger(**kwargs)))
    assert events[0]["status"] == "timeout"
    assert time.time() - start < 0.3  # not a fresh 0.4 s


@pytest.mark.parametrize(
    ("policy", "attempts"),
    [(None, 2), ({"max_attempts": 1}, 1), ({"max_attempts": 4, "max_total_seconds": 30.0}, 4)],
)
def test_hook_retry_policy_in_the_trigger_is_short_by_default(monkeypatch, policy, attempts):
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    monkeypatch.setattr(AdobeExperiencePlatformHook, "get_access_token", lambda self: "tok")
    hook = AEPFlowRunTrigger(run_id=RUN, retry_policy=policy)._make_hook()
    assert hook.retry_policy.max_attempts == attempts
    if policy is None:  # a poll never holds a shared worker thread for long
        assert hook.retry_policy.max_total_seconds <= 10
