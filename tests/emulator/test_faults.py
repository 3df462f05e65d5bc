"""Tests of the emulator's fault injection, including dropping answers on a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_provider_aep.emulator.faults import (
    ConnectionDropped,
    DropAfterCommitMiddleware,
    FaultConfig,
    FaultInjector,
    abort_connection,
    route_matches,
)

FLOWS = "/data/foundation/flowservice/flows"
SCHEMAS = "/data/foundation/schemaregistry/tenant/schemas"
DATASETS = "/data/foundation/catalog/dataSets"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def check(injector: FaultInjector, method: str = "GET", path: str = FLOWS):
    return asyncio.run(injector.check(method, path))


# --------------------------------------------------------------------------- config


def test_defaults_and_round_trip():
    cfg = FaultConfig.from_dict({})
    assert cfg.to_dict() == {
        "seed": 1,
        "rate_limit_per_second": None,
        "rate_limit_retry_after": True,
        "error_rate": 0.0,
        "error_statuses": [500, 502, 503, 504],
        "latency_ms": 0,
        "token_ttl_seconds": None,
        "drop_after_commit": [],
        "drop_after_commit_count": 1,
        "force_run_status": None,
        "force_run_status_count": None,
        "force_run_status_flows": None,
        "routes": None,
        "late_commit": [],
        "late_commit_count": 1,
        "late_commit_seconds": 2.0,
        "late_commit_mode": "gateway_timeout",
    }
    full = {
        "seed": 7,
        "rate_limit_per_second": 2.5,
        "rate_limit_retry_after": False,
        "error_rate": 0.25,
        "error_statuses": [503],
        "latency_ms": 20,
        "token_ttl_seconds": 5,
        "drop_after_commit": ["POST " + FLOWS, "/data/foundation/flowservice/flows/{id}"],
        "drop_after_commit_count": 2,
        "force_run_status": "partialSuccess",
        "force_run_status_count": 3,
        "force_run_status_flows": ["3d17a4ff-0000-4000-8000-000000000001"],
        "routes": ["/data/foundation/flowservice"],
        "late_commit": ["POST /data/foundation/catalog/dataSets"],
        "late_commit_count": 3,
        "late_commit_seconds": 1.5,
        "late_commit_mode": "hold",
    }
    assert FaultConfig.from_dict(full).to_dict() == full
    assert FaultConfig.from_dict(FaultConfig.from_dict(full).to_dict()) == FaultConfig.from_dict(full)
    assert FaultConfig.from_dict({"seed": None, "error_rate": None}) == FaultConfig()
    assert FaultConfig.from_dict({"drop_after_commit": "POST " + FLOWS}).drop_after_commit == [
        "POST " + FLOWS
    ]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"error_rte": 0.1}, "error_rte"),
        ({"seed": "1"}, "seed"),
        ({"seed": True}, "seed"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"rate_limit_per_second": "5"}, "rate_limit_per_second"),
        ({"rate_limit_retry_after": "yes"}, "rate_limit_retry_after"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": -0.1}, "error_rate"),
        ({"error_statuses": []}, "error_statuses"),
        ({"error_statuses": [200]}, "error_statuses"),
        ({"error_statuses": [700]}, "error_statuses"),
        ({"error_statuses": ["500"]}, "error_statuses"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"token_ttl_seconds": 1.5}, "token_ttl_seconds"),
        ({"drop_after_commit": [1]}, "drop_after_commit"),
        ({"drop_after_commit": ["FETCH /x"]}, "drop_after_commit"),
        ({"drop_after_commit": ["POST flows"]}, "drop_after_commit"),
        ({"drop_after_commit_count": -1}, "drop_after_commit_count"),
        ({"force_run_status": "cancelled"}, "force_run_status"),
        ({"routes": "flowservice"}, "routes"),
    ],
)
def test_invalid_config_names_the_key(data, needle):
    with pytest.raises(ValueError, match=needle):
        FaultConfig.from_dict(data)


def test_config_must_be_an_object():
    with pytest.raises(ValueError, match="JSON object"):
        FaultConfig.from_dict([1])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- errors


def _sequence(seed: int, n: int = 300, rate: float = 0.3) -> list[int | None]:
    injector = FaultInjector({"seed": seed, "error_rate": rate})

    async def many() -> list[int | None]:
        faults = [await injector.check("GET", FLOWS) for _ in range(n)]
        return [None if fault is None else fault[0] for fault in faults]

    return asyncio.run(many())


def test_error_rate_is_seeded_and_deterministic():
    first, again, other = _sequence(11), _sequence(11), _sequence(12)
    assert first == again
    assert first != other
    faulted = [s for s in first if s is not None]
    assert 0.2 * 300 < len(faulted) < 0.4 * 300
    assert set(faulted) <= {500, 502, 503, 504}
    assert len(set(faulted)) > 1


def test_reconfigure_restarts_the_sequence():
    injector = FaultInjector({"seed": 5, "error_rate": 0.5})
    first = [check(injector) for _ in range(40)]
    injector.reconfigure({"seed": 5, "error_rate": 0.5})
    assert [check(injector) for _ in range(40)] == first
    injector.reconfigure(FaultConfig())
    assert all(check(injector) is None for _ in range(20))


@pytest.mark.parametrize(
    ("path", "status", "expected"),
    [
        (FLOWS, 503, {"type": "https://ns.adobe.com/aep/errors/FLOW-1103-503", "status": 503}),
        (FLOWS, 500, {"type": "https://ns.adobe.com/aep/errors/FLOW-1102-500", "status": 500}),
        (FLOWS + "/abc", 504, {"type": "https://ns.adobe.com/aep/errors/FLOW-1104-504", "status": 504}),
        (SCHEMAS, 500, {"type": "http://ns.adobe.com/aep/errors/XDM-1000-500", "status": 500}),
        (DATASETS, 502, {"status": 502, "title": "BadGateway"}),
        ("/ims/token/v3", 503, {"error": "server_error"}),
    ],
)
def test_error_bodies_follow_the_service_style(path, status, expected):
    injector = FaultInjector({"error_rate": 1.0, "error_statuses": [status]})
    got_status, headers, body = check(injector, "POST", path)
    assert got_status == status
    assert headers == {}
    assert expected.items() <= body.items()
    if "report" in body:
        assert body["title"] and body["report"]["detailed-message"]


def test_routes_restrict_errors_and_latency_but_not_admin_or_other_paths():
    sleep = FakeSleep()
    injector = FaultInjector(
        {"error_rate": 1.0, "latency_ms": 250, "routes": ["/data/foundation/catalog"]}, sleep=sleep
    )
    assert asyncio.run(injector.check("GET", FLOWS)) is None
    assert sleep.calls == []
    assert asyncio.run(injector.check("GET", DATASETS + "/5ed18e0f4f90b719196f44a9")) is not None
    assert sleep.calls == [0.25]
    everything = FaultInjector({"error_rate": 1.0, "latency_ms": 250}, sleep=sleep)
    assert asyncio.run(everything.check("POST", "/_emulator/reset")) is None
    assert sleep.calls == [0.25]


def test_latency_really_sleeps():
    injector = FaultInjector({"latency_ms": 60})
    started = time.perf_counter()
    assert check(injector) is None
    assert time.perf_counter() - started >= 0.055


# --------------------------------------------------------------------------- rate limit


@pytest.mark.parametrize(
    ("retry_after", "rate", "expected_headers"),
    [(True, 2.0, {"Retry-After": "1"}), (True, 0.5, {"Retry-After": "2"}), (False, 2.0, {})],
)
def test_rate_limit(retry_after, rate, expected_headers):
    clock = FakeClock()
    injector = FaultInjector(
        {"rate_limit_per_second": rate, "rate_limit_retry_after": retry_after}, clock=clock
    )
    allowed = max(1, int(rate))
    for _ in range(allowed):
        assert check(injector) is None
    status, headers, body = check(injector)
    assert (status, headers) == (429, expected_headers)
    assert body == {"error_code": "429001", "message": "Too many requests"}
    clock.now += 1.0 / rate
    assert check(injector) is None
    assert check(injector)[0] == 429


def test_rate_limit_applies_outside_routes_and_before_errors():
    clock = FakeClock()
    injector = FaultInjector(
        {"rate_limit_per_second": 1, "error_rate": 1.0, "routes": ["/data/foundation/catalog"]}, clock=clock
    )
    assert check(injector, "GET", FLOWS) is None  # not in routes: no error, but uses the token
    assert check(injector, "GET", FLOWS)[0] == 429
    clock.now += 1
    assert check(injector, "GET", DATASETS)[0] in (500, 502, 503, 504)


def test_token_ttl_and_force_run_status():
    assert FaultInjector().token_ttl() is None
    injector = FaultInjector({"token_ttl_seconds": 3, "force_run_status": "failed"})
    assert injector.token_ttl() == 3
    assert injector.force_run_status() == "failed"


# --------------------------------------------------------------------------- drop routes


@pytest.mark.parametrize(
    ("entry", "method", "path", "matches"),
    [
        ("POST " + FLOWS, "POST", FLOWS, True),
        ("POST " + FLOWS, "post", FLOWS + "/", True),
        ("POST " + FLOWS, "GET", FLOWS, False),
        ("POST " + FLOWS, "POST", FLOWS + "/abc/action", False),
        (FLOWS, "DELETE", FLOWS, True),
        ("* " + FLOWS, "PATCH", FLOWS, True),
        ("PATCH " + FLOWS + "/{id}", "PATCH", FLOWS + "/3d17a4ff", True),
        ("PATCH " + FLOWS + "/{id}", "PATCH", FLOWS, False),
        ("POST " + FLOWS + "/{id}/action", "POST", FLOWS + "/3d17/action", True),
        ("POST /data/foundation/flowservice/*", "POST", FLOWS + "/3d17/action", True),
        ("POST /data/foundation/flowservice/*", "POST", DATASETS, False),
        ("POST " + DATASETS, "POST", DATASETS + "?requestDataSource=true", True),
    ],
)
def test_route_matches(entry, method, path, matches):
    assert route_matches(entry, method, path) is matches


def test_drop_counter_per_route():
    injector = FaultInjector(
        {"drop_after_commit": ["POST " + FLOWS, "DELETE " + FLOWS + "/{id}"], "drop_after_commit_count": 2}
    )
    assert not injector.should_drop_after_commit("GET", FLOWS)
    assert injector.matches_drop_after_commit("POST", FLOWS)
    assert injector.should_drop_after_commit("POST", FLOWS)
    assert injector.should_drop_after_commit("POST", FLOWS)
    assert not injector.matches_drop_after_commit("POST", FLOWS)
    assert not injector.should_drop_after_commit("POST", FLOWS)
    assert injector.drops_left() == {"POST " + FLOWS: 0, "DELETE " + FLOWS + "/{id}": 2}
    assert injector.should_drop_after_commit("DELETE", FLOWS + "/a")
    injector.reconfigure(injector.config)
    assert injector.drops_left() == {"POST " + FLOWS: 2, "DELETE " + FLOWS + "/{id}": 2}


def test_drop_counter_is_thread_safe():
    injector = FaultInjector({"drop_after_commit": ["POST " + FLOWS], "drop_after_commit_count": 50})
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        got = [injector.should_drop_after_commit("POST", FLOWS) for _ in range(40)]
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 50


# --------------------------------------------------------------------------- middleware in-process


def _asgi_app(status: int):
    async def app(scope, receive, send):
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _scope(method: str = "POST", path: str = FLOWS) -> dict:
    return {"type": "http", "method": method, "path": path, "headers": []}


async def _noop_receive():
    return {"type": "http.request", "body": b"", "more_body": False}


def test_middleware_passes_error_answers_through_without_using_a_drop():
    injector = FaultInjector({"drop_after_commit": ["POST " + FLOWS]})
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    asyncio.run(DropAfterCommitMiddleware(_asgi_app(400), injector)(_scope(), _noop_receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 400
    assert injector.drops_left() == {"POST " + FLOWS: 1}


def test_middleware_raises_connection_dropped_without_a_real_server():
    injector = FaultInjector({"drop_after_commit": ["POST " + FLOWS]})
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    middleware = DropAfterCommitMiddleware(_asgi_app(201), lambda: injector)
    with pytest.raises(ConnectionDropped):
        asyncio.run(middleware(_scope(), _noop_receive, send))
    assert all(m["status"] != 201 for m in sent if m["type"] == "http.response.start")
    assert injector.drops_left() == {"POST " + FLOWS: 0}
    sent.clear()
    asyncio.run(middleware(_scope(), _noop_receive, send))  # drop used up: normal answer
    assert sent[0]["status"] == 201


def test_middleware_ignores_other_routes_and_missing_injector():
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    injector = FaultInjector({"drop_after_commit": ["POST " + FLOWS]})
    asyncio.run(DropAfterCommitMiddleware(_asgi_app(200), injector)(_scope("GET"), _noop_receive, send))
    asyncio.run(DropAfterCommitMiddleware(_asgi_app(200), lambda: None)(_scope(), _noop_receive, send))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200, 200]


def test_abort_connection_returns_when_the_server_refuses_the_head():
    async def refusing_send(message):
        raise RuntimeError("Invalid HTTP header value.")

    asyncio.run(abort_connection(refusing_send))  # no exception: the server closes the connection


# --------------------------------------------------------------------------- real server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(app, http: str) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=http, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a hang guard
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _tiny_app(calls: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post(FLOWS)
    async def create_flow(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append(body["name"])
        return JSONResponse({"id": f"flow-{len(calls)}", "etag": '"1"'}, status_code=201)

    @app.get(FLOWS + "/{flow_id}")
    async def get_flow(flow_id: str) -> dict:
        return {"items": [{"id": flow_id, "calls": list(calls)}]}

    return app


@pytest.mark.parametrize("http", ["httptools", "h11"])
@pytest.mark.parametrize("placement", ["outermost", "add_middleware", "asgi_fallback"])
def test_drop_after_commit_on_a_real_uvicorn_server(http, placement, caplog):
    calls: list[str] = []
    injector = FaultInjector({"drop_after_commit": ["POST " + FLOWS], "drop_after_commit_count": 1})
    app = _tiny_app(calls)
    served: object
    if placement == "outermost":
        served = DropAfterCommitMiddleware(app, injector)
    elif placement == "add_middleware":
        app.add_middleware(DropAfterCommitMiddleware, injector=injector)
        served = app
    else:
        served = DropAfterCommitMiddleware(app, injector, use_transport=False)

    caplog.set_level(logging.INFO, logger="uvicorn.error")
    with serve(served, http) as url, requests.Session() as session:
        # Warm the keep-alive connection first, so the drop happens on a reused connection.
        assert session.get(f"{url}{FLOWS}/warm", timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError) as raised:
            session.post(f"{url}{FLOWS}", json={"name": "first"}, timeout=5)
        assert not isinstance(raised.value, requests.exceptions.ReadTimeout)
        assert calls == ["first"]  # the handler ran: the create was committed
        assert injector.drops_left() == {"POST " + FLOWS: 0}

        # The server keeps serving, on the same session and on a new connection.
        again = session.post(f"{url}{FLOWS}", json={"name": "second"}, timeout=5)
        assert again.status_code == 201
        assert again.json()["id"] == "flow-2"
        fresh = requests.get(f"{url}{FLOWS}/x", timeout=5)
        assert fresh.json() == {"items": [{"id": "x", "calls": ["first", "second"]}]}

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("uvicorn")]
    if placement != "asgi_fallback":
        assert errors == []  # the transport route is silent: no 500, no "Exception in ASGI application"
    assert not any("Exception in ASGI application" in r.getMessage() for r in errors)


def test_raw_socket_sees_no_status_line():
    calls: list[str] = []
    injector = FaultInjector({"drop_after_commit": ["POST " + FLOWS]})
    with serve(DropAfterCommitMiddleware(_tiny_app(calls), injector), "httptools") as url:
        port = int(url.rsplit(":", 1)[1])
        body = b'{"name": "raw"}'
        request = (
            f"POST {FLOWS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            received = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(4096):
                    received += chunk
        assert received == b""
        assert calls == ["raw"]
