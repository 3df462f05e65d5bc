"""The trigger's async transport obeys the SAME rules as the sync hook (one sans-IO core).

Parity: for every scripted answer sequence, the sync hook (requests, via requests-mock) and the async
client (httpx, via ``httpx.MockTransport``) return the same result or raise the same exception class
with the same message, after the same number of attempts and token requests.

Manners: one token fetch for 1,000 coroutines (and for threads and coroutines mixed, without
blocking the loop); a bounded number of requests in flight; a 429's Retry-After pauses every
request of the process to that host; the pooled client is closed when its last user leaves.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests

from airflow_provider_aep.hooks import _async, _auth, _core
from airflow_provider_aep.hooks._async import CHANNELS, AsyncAEPClient
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy
from airflow_provider_aep.runs_status import WaitTarget
from airflow_provider_aep.wait import afetch_run_states, fetch_run_states
from tests.hooks.conftest import CLIENT_SECRET, FS, TOKEN, TOKEN_2, TOKEN_URL

RUN = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"
FLOW = "a57c12ae-a406-4a37-95ac-a8e3455e5a52"
RUN_URL = f"{FS}/runs/{RUN}"
RUN_BODY = {"items": [{"id": RUN, "flowId": FLOW, "metrics": {"statusSummary": {"status": "inProgress"}}}]}
POLICY = RetryPolicy(max_attempts=3, max_total_seconds=60.0)


class Gateway:
    """A scripted AEP for httpx: answers per URL path in order (the last repeats); IMS tokens."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]], latency: float = 0.0) -> None:
        self.answers = answers
        self.latency = latency
        self.seen: list[tuple[str, str, float, str | None]] = []
        self.tokens = [TOKEN, TOKEN_2]
        self.in_flight = 0
        self.max_in_flight = 0
        self.clients: list[httpx.MockTransport] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.seen.append((request.method, path, time.monotonic(), request.headers.get("Authorization")))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if path == "/ims/token/v3":
                token = self.tokens[min(len(self.ims_calls) - 1, len(self.tokens) - 1)]
                return httpx.Response(200, json={"access_token": token, "expires_in": 86399})
            script = self.answers[str(request.url.copy_with(query=None))]
            done = sum(1 for s in self.seen if s[1] == path) - 1
            answer = script[min(done, len(script) - 1)]
            if answer.get("exc"):
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(
                answer.get("status_code", 200),
                headers=answer.get("headers"),
                json=answer.get("json"),
                text=answer.get("text"),
            )
        finally:
            self.in_flight -= 1

    @property
    def ims_calls(self) -> list[Any]:
        return [s for s in self.seen if s[1] == "/ims/token/v3"]

    def gets(self, path: str) -> list[Any]:
        return [s for s in self.seen if s[1] == path]

    def new_transport(self, origin: str, connections: int, timeout: float) -> httpx.MockTransport:
        transport = _ClosingMockTransport(self.handle)
        self.clients.append(transport)
        return transport


class _ClosingMockTransport(httpx.MockTransport):
    """``httpx.MockTransport`` that records being closed."""

    is_closed = False

    async def aclose(self) -> None:
        self.is_closed = True


@pytest.fixture
def async_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits of the async client (recorded, not slept)."""
    recorded: list[float] = []

    async def fake(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_async, "sleep", fake)
    return recorded


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Gateway]]:
    def make(answers: dict[str, list[dict[str, Any]]], latency: float = 0.0) -> Gateway:
        gw = Gateway(answers, latency)
        monkeypatch.setattr(_async, "_new_transport", gw.new_transport)
        return gw

    yield make


def to_requests_mock(answer: dict[str, Any]) -> dict[str, Any]:
    if answer.get("exc"):
        return {"exc": requests.exceptions.ConnectionError("refused")}
    out = {k: v for k, v in answer.items() if k in ("status_code", "headers", "json", "text")}
    return out


def run_async(coro_fn: Callable[[AsyncAEPClient], Any], **client_kw: Any) -> Any:
    async def main() -> Any:
        async with AsyncAEPClient(retry_policy=client_kw.pop("retry_policy", POLICY), **client_kw) as client:
            return await coro_fn(client)

    return asyncio.run(main())


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:
        return type(exc).__name__, str(exc)


FS_404 = {
    "type": "https://ns.adobe.com/aep/errors/FLOW-1404-404",
    "title": "Not Found",
    "status": 404,
    "report": {"detailed-message": "Run not found", "request-id": "req-1"},
}
ECHO = {"title": "Bad Request", "detail": f"client_secret {CLIENT_SECRET} is not accepted"}

SCRIPTS = {
    "ok": [{"json": RUN_BODY}],
    "503-then-ok": [{"status_code": 503, "json": {"title": "busy"}}, {"json": RUN_BODY}],
    "429-retry-after-then-ok": [
        {"status_code": 429, "headers": {"Retry-After": "0.2"}, "json": {"error_code": "429001"}},
        {"json": RUN_BODY},
    ],
    "404-flow-service-body": [{"status_code": 404, "json": FS_404}],
    "500-persistent": [{"status_code": 500, "json": {"title": "Internal Server Error"}}],
    "400-echoes-secret": [{"status_code": 400, "json": ECHO}],
    "401-then-ok": [{"status_code": 401, "json": {"error_code": "401013"}}, {"json": RUN_BODY}],
    "not-json": [{"status_code": 200, "text": "<html>gateway page</html>"}],
    "empty-items": [{"json": {"items": []}}],
    "connection-refused": [{"exc": True}],
    "refused-then-ok": [{"exc": True}, {"json": RUN_BODY}],
}


@pytest.mark.parametrize("script", SCRIPTS, ids=list(SCRIPTS))
def test_async_client_and_sync_hook_agree(
    script: str, set_conn: Any, requests_mock: Any, gateway: Any, sleeps: list, async_sleeps: list
) -> None:
    set_conn()
    answers = SCRIPTS[script]
    # sync hook
    ims = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": TOKEN, "expires_in": 86399}},
            {"json": {"access_token": TOKEN_2, "expires_in": 86399}},
        ],
    )
    runs = requests_mock.get(RUN_URL, [to_requests_mock(a) for a in answers])
    hook = AdobeExperiencePlatformHook(retry_policy=POLICY)
    sync_result = outcome(lambda: hook.get_run(RUN))
    sync_attempts, sync_tokens = runs.call_count, ims.call_count
    # async client, same script, fresh token cache
    _auth.TOKEN_CACHE.clear()
    gw = gateway({RUN_URL: answers})
    async_result = outcome(lambda: run_async(lambda c: c.get_one("flowservice", f"/runs/{RUN}")))
    assert async_result == sync_result
    assert len(gw.gets(f"/data/foundation/flowservice/runs/{RUN}")) == sync_attempts
    assert len(gw.ims_calls) == sync_tokens
    assert len(async_sleeps) == len(sleeps)
    assert CLIENT_SECRET not in str(async_result) and TOKEN not in str(async_result)
    if script.startswith("429"):
        assert async_sleeps[0] >= 0.2 and sleeps[0] >= 0.2  # Retry-After honoured by both


def test_listing_and_run_states_agree(set_conn: Any, requests_mock: Any, gateway: Any) -> None:
    """Pagination (continuationToken, repeated token stops) and run selection: one rule for both."""
    set_conn()
    runs = [
        {
            "id": f"r{i}",
            "flowId": FLOW,
            "params": {"windowStartTime": 100 * i, "windowEndTime": 100 * i + 100},
        }
        for i in range(5)
    ]
    pages = [
        {"items": runs[:2], "_links": {"next": {"href": "/runs?continuationToken=t1"}}},
        {"items": runs[2:4], "_links": {"next": {"href": "/runs?continuationToken=t2"}}},
        {"items": runs[4:], "_links": {"next": {"href": "/runs?continuationToken=t2"}}},  # repeated: stop
    ]
    requests_mock.post(TOKEN_URL, json={"access_token": TOKEN, "expires_in": 86399})
    requests_mock.get(f"{FS}/runs", [{"json": p} for p in pages])
    target = WaitTarget(flow_id=FLOW, window_start=150.0, window_end=400.0)
    sync_states = fetch_run_states(AdobeExperiencePlatformHook(retry_policy=POLICY), target)
    sync_queries = [r.qs for r in requests_mock.request_history if r.method == "GET"]

    gw = gateway({f"{FS}/runs": [{"json": p} for p in pages]})
    async_states = run_async(lambda c: afetch_run_states(c, target))
    assert [s.to_dict() for s in async_states] == [s.to_dict() for s in sync_states]
    assert [s.run_id for s in async_states] == ["r1", "r2", "r3"]
    assert len(gw.gets("/data/foundation/flowservice/runs")) == len(sync_queries) == 3


def test_thousand_coroutines_meet_an_expired_token_one_request(set_conn: Any, gateway: Any) -> None:
    set_conn()
    gw = gateway({RUN_URL: [{"json": RUN_BODY}]}, latency=0.05)

    async def main() -> None:
        async with AsyncAEPClient(retry_policy=POLICY) as opener:
            key = _core.token_key(opener.settings)
            _auth.TOKEN_CACHE._tokens[key] = _auth.CachedToken("expired-token", _auth.monotonic() - 1)
        clients = [AsyncAEPClient(retry_policy=POLICY) for _ in range(1000)]
        for c in clients:
            await c.open()
        try:
            await asyncio.gather(*(c.get_one("flowservice", f"/runs/{RUN}") for c in clients))
        finally:
            for c in clients:
                await c.close()

    asyncio.run(main())
    assert len(gw.ims_calls) == 1
    auths = {s[3] for s in gw.gets(f"/data/foundation/flowservice/runs/{RUN}")}
    assert auths == {f"Bearer {TOKEN}"}  # nobody used the expired token


def test_thread_and_coroutines_share_one_fetch_and_the_loop_never_blocks() -> None:
    """A sync hook thread is fetching; 500 coroutines wait for it without blocking the loop.

    The thread's fetch only returns once the event loop has ticked 10 times while the coroutines
    wait, so a loop blocked on the key's thread lock can never release it: that case ends in the
    thread's 10 s timeout and fails the test, however loaded the machine is (no latency bound).
    """
    cache = _auth.TokenCache()
    key = _auth.token_key("https://ims", "cid", "scopes", "secret")
    fetches: list[str] = []
    thread_started = threading.Event()
    loop_ticked = threading.Event()
    loop_ran_during_fetch: list[bool] = []

    def slow_sync_fetch() -> tuple[str, float]:
        fetches.append("thread")
        thread_started.set()
        loop_ran_during_fetch.append(loop_ticked.wait(10))
        return "from-thread", 3600.0

    async def async_fetch() -> tuple[str, float]:
        fetches.append("coroutine")
        return "from-coroutine", 3600.0

    async def main() -> tuple[set[str], int]:
        worker = threading.Thread(target=lambda: cache.get(key, slow_sync_fetch))
        worker.start()
        assert thread_started.wait(10)
        waiting = asyncio.gather(*(cache.aget(key, async_fetch) for _ in range(500)))
        ticks = 0
        for _ in range(10):  # runs only if aget yields to the loop while the thread holds the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert not waiting.done(), "the coroutines must still be waiting for the thread's token"
        loop_ticked.set()
        tokens = await waiting
        worker.join(10)
        return set(tokens), ticks

    tokens, ticks = asyncio.run(main())
    assert loop_ran_during_fetch == [True], "the event loop was blocked while the thread fetched"
    assert ticks == 10
    assert fetches == ["thread"]
    assert tokens == {"from-thread"}


def test_requests_in_flight_are_bounded_by_the_connection_extra(set_conn: Any, gateway: Any) -> None:
    set_conn(extra={"trigger_max_in_flight": 5})
    gw = gateway({RUN_URL: [{"json": RUN_BODY}]}, latency=0.05)

    async def main() -> None:
        async with AsyncAEPClient(retry_policy=POLICY) as client:
            await client.get_access_token()
            gw.max_in_flight = 0
            await asyncio.gather(*(client.get_one("flowservice", f"/runs/{RUN}") for _ in range(60)))

    asyncio.run(main())
    assert gw.max_in_flight == 5
    assert len(gw.gets(f"/data/foundation/flowservice/runs/{RUN}")) == 60


@pytest.mark.parametrize("value", ["many", 0, -3, 2.5, True])
def test_bad_max_in_flight_extra_is_a_config_error(set_conn: Any, gateway: Any, value: Any) -> None:
    from airflow_provider_aep.exceptions import AEPAuthConfigError, AEPConfigError

    set_conn(extra={"trigger_max_in_flight": value})
    gw = gateway({RUN_URL: [{"json": RUN_BODY}]})
    with pytest.raises(AEPConfigError, match="trigger_max_in_flight") as info:
        run_async(lambda c: c.get_one("flowservice", f"/runs/{RUN}"))
    assert not isinstance(info.value, AEPAuthConfigError)  # a pacing setting, not authentication
    assert gw.seen == []  # before any request


def test_429_retry_after_pauses_every_request_to_the_host(set_conn: Any, gateway: Any) -> None:
    set_conn()
    throttled = {"status_code": 429, "headers": {"Retry-After": "0.6"}, "json": {"error_code": "429001"}}
    gw = gateway({RUN_URL: [throttled, {"json": RUN_BODY}]})
    from airflow_provider_aep.exceptions import AEPRateLimitError

    async def main() -> float:
        async with AsyncAEPClient(retry_policy=RetryPolicy(max_total_seconds=0.0)) as first:
            await first.get_access_token()
            with pytest.raises(AEPRateLimitError):
                await first.get_one("flowservice", f"/runs/{RUN}")
            throttled_at = gw.gets(f"/data/foundation/flowservice/runs/{RUN}")[0][2]
            others = [AsyncAEPClient(retry_policy=POLICY) for _ in range(20)]
            for c in others:
                await c.open()
            await asyncio.gather(*(c.get_one("flowservice", f"/runs/{RUN}") for c in others))
            for c in others:
                await c.close()
            return throttled_at

    throttled_at = asyncio.run(main())
    later = [s[2] for s in gw.gets(f"/data/foundation/flowservice/runs/{RUN}")[1:]]
    assert len(later) == 20
    assert min(later) - throttled_at >= 0.55  # nobody went before the Retry-After had passed


def test_pooled_client_closed_when_the_last_user_leaves(set_conn: Any, gateway: Any) -> None:
    set_conn()
    gw = gateway({RUN_URL: [{"json": RUN_BODY}]})

    async def main() -> tuple[int, bool, int]:
        clients = [AsyncAEPClient(retry_policy=POLICY) for _ in range(3)]
        for c in clients:
            await c.open()
        await asyncio.gather(*(c.get_one("flowservice", f"/runs/{RUN}") for c in clients))
        shared = len({id(c._gateway) for c in clients})
        await clients[0].close()
        still_open = not gw.clients[0].is_closed
        for c in clients[1:]:
            await c.close()
        return shared, still_open, len(CHANNELS.open_channels())

    shared, open_after_first, left = asyncio.run(main())
    assert shared == 1  # one pooled channel per loop and host
    assert open_after_first  # other users still need it
    assert left == 0 and all(c.is_closed for c in gw.clients)


def test_pacing_aims_at_the_rate_aep_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    """First 429: pause all, pace a little below the rate sent; later 429s: re-aim at what AEP accepts."""
    clock = [1000.0]
    monkeypatch.setattr(_async, "monotonic", lambda: clock[0])
    channel = _async.HostChannel("http://aep", 4, [], 5.0)
    for i in range(60):  # 60 sent in the last second, 50 of them accepted so far
        clock[0] = 1000.0 + i / 60
        channel._sent_at.append(clock[0])
        if i < 50:
            channel._observe(200, None)
    channel._observe(429, 1.0)
    first = 60 / (59 / 60) * _async.DECREASE  # 60 sent over the 59/60 s since the first one
    assert channel.rate == pytest.approx(first)
    assert channel.paused_until == pytest.approx(clock[0] + 1.0)
    for _ in range(20):  # the other requests already in flight answer 429 too: no second cut
        channel._observe(429, 1.0)
    assert channel.rate == pytest.approx(first)
    resumed = channel.paused_until
    for i in range(80):  # after the pause AEP accepts 40 req/s for 2 s
        clock[0] = resumed + i / 40
        channel._observe(200, None)
    assert channel.rate > first  # answers that are not 429 raise the rate
    clock[0] = resumed + 2.0
    channel._observe(429, 1.0)
    assert channel.rate == pytest.approx(40 * _async.HEADROOM, rel=0.03)  # at the limit, not below
    aimed = channel.rate
    channel._observe(429, 1.0)  # within ADJUST_EVERY: unchanged
    assert channel.rate == aimed
    assert channel.paused_until == resumed  # a short Retry-After while paced pauses nobody
    channel._observe(429, 30.0)  # a long one pauses everybody
    assert channel.paused_until == pytest.approx(clock[0] + 30.0)
    clock[0] += 30.0 + _async.UNPACED_AFTER + 1
    channel._observe(200, None)
    assert channel.rate is None  # the storm is over: no pacing


def test_gate_releases_paced_requests_in_order_and_closes_clean() -> None:
    """Paced requests leave one by one, 1/rate apart, first come first served; a cancelled one
    leaves its place; closing the channel cancels the timer and whoever still waits."""

    async def main() -> tuple[list[int], list[float], bool, bool]:
        channel = _async.HostChannel("http://aep", 4, [], 5.0)
        channel.rate = 40.0
        order: list[int] = []
        times: list[float] = []

        async def one(i: int) -> None:
            await channel._pace()
            order.append(i)
            times.append(time.monotonic())

        tasks = [asyncio.create_task(one(i)) for i in range(8)]
        await asyncio.sleep(0)
        tasks[3].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        channel.paused_until = _async.monotonic() + 2.0  # the next release is 2 s away
        late = asyncio.create_task(one(99))
        await asyncio.sleep(0.05)
        channel.close()
        await asyncio.sleep(0)
        return order, times, late.cancelled() or late.done(), channel._timer is None

    order, times, late_ended, no_timer = asyncio.run(main())
    assert order == [0, 1, 2, 4, 5, 6, 7]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.02 and sum(gaps) == pytest.approx(6 / 40, abs=0.06)
    assert late_ended and no_timer


def test_a_storm_is_paced_at_the_rate_aep_accepts(set_conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """100 coroutines against a limiter of 80 req/s with a burst of 4 (smaller than AEP's may be):
    nobody fails, and from the first 429 on the accepted rate stays near the limit, not below."""
    set_conn()
    limit, burst = 80.0, 4.0
    bucket = {"tokens": burst, "at": time.monotonic()}
    accepted: list[float] = []
    throttled: list[float] = []

    async def limiter(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ims/token/v3":
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 86399})
        await asyncio.sleep(0.02)  # latency
        now = time.monotonic()
        bucket["tokens"] = min(burst, bucket["tokens"] + (now - bucket["at"]) * limit)
        bucket["at"] = now
        if bucket["tokens"] < 1:
            throttled.append(now)
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"error_code": "429001"})
        bucket["tokens"] -= 1
        accepted.append(now)
        return httpx.Response(200, json=RUN_BODY)

    monkeypatch.setattr(_async, "_new_transport", lambda *a: _ClosingMockTransport(limiter))

    async def main() -> None:
        async with AsyncAEPClient(retry_policy=POLICY) as client:

            async def worker() -> None:
                for _ in range(4):
                    await client.get_one("flowservice", f"/runs/{RUN}")

            await asyncio.gather(*(worker() for _ in range(100)))

    asyncio.run(main())
    assert len(accepted) == 400  # every call succeeded
    assert throttled
    start = throttled[0] + 1.0  # after the first Retry-After pause
    end = accepted[int(0.95 * len(accepted))]  # before the last retries trickle in
    rate = sum(1 for t in accepted if start <= t <= end) / (end - start)
    assert 0.85 * limit <= rate <= 1.1 * limit
    assert len(throttled) < len(accepted)


def test_waits_of_one_loop_share_one_connection_lookup(
    set_conn: Any, gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn()
    gateway({RUN_URL: [{"json": RUN_BODY}]})
    lookups: list[str] = []
    real = _async.load_connection

    async def counting(conn_id: str) -> Any:
        lookups.append(conn_id)
        await asyncio.sleep(0.05)
        return await real(conn_id)

    monkeypatch.setattr(_async, "load_connection", counting)

    async def main() -> None:
        clients = [AsyncAEPClient(retry_policy=POLICY) for _ in range(1000)]
        await asyncio.gather(*(c.open() for c in clients))
        for c in clients:
            await c.close()

    asyncio.run(main())
    assert lookups == ["aep_default"]
    asyncio.run(main())  # another event loop reads the connection again (no cross-loop staleness)
    assert lookups == ["aep_default", "aep_default"]
