"""Fault injection for the AEP emulator: latency, rate limiting, 5xx errors, lost answers.

* :class:`FaultConfig` is the contract's faults JSON as a dataclass (``from_dict`` validates it).
* :class:`FaultInjector` decides, per request, whether to delay it, answer 429, or answer a 5xx
  (seeded, so a given seed and request sequence always fault the same requests), hands out the
  token TTL override, and counts "drop after commit" faults per route.
* "late commit" routes model a gateway that gives up on a request its backend still commits:
  the client gets AEP's 504 gateway-timeout answer at once (``late_commit_mode: "gateway_timeout"``)
  or no answer until the commit (``"hold"``, so a client with a shorter timeout times out), and the
  request is applied ``late_commit_seconds`` later (the app replays it; see ``app.py``).
* :func:`abort_connection` makes an ASGI server close the client connection without writing a
  single byte of response; :class:`DropAfterCommitMiddleware` uses it to let a request run (and
  commit) and then lose its answer, which a client sees as a connection error.

How the drop works under uvicorn (httptools, h11): the request/response cycle object whose bound
``send`` method uvicorn passes to the app owns the asyncio transport. :func:`abort_connection`
finds it (directly or through the closures of Starlette's ``send`` wrappers), aborts the transport
and marks the cycle's response as started and complete, so uvicorn neither writes a 500 nor logs an
error. When no such object can be found (another server or wrapper), it falls back to plain ASGI:
it sends an ``http.response.start`` whose header value is illegal; uvicorn flags the response as
started *before* validating headers, refuses to write it, and closes the connection when the app
returns without a body. In-process transports that accept anything get :class:`ConnectionDropped`
raised instead. In every case the client gets no status line: ``requests`` raises
``requests.exceptions.ConnectionError`` (``RemoteDisconnected``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConnectionDropped",
    "DropAfterCommitMiddleware",
    "FaultConfig",
    "FaultInjector",
    "abort_connection",
    "gateway_timeout_body",
    "route_matches",
]

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

_RUN_STATUSES = ("success", "partialSuccess", "failed")
LATE_COMMIT_MODES = ("gateway_timeout", "hold")
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"}
_ADMIN_PREFIX = "/_emulator"


class ConnectionDropped(ConnectionError):
    """Raised by :func:`abort_connection` when the ASGI server offers no way to drop the connection."""


# --------------------------------------------------------------------------- config


def _check_number(
    key: str, value: Any, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"faults.{key} must be a number, not {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"faults.{key} must be >= {minimum}, not {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"faults.{key} must be <= {maximum}, not {value!r}")
    return value


def _check_int(key: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"faults.{key} must be an integer, not {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"faults.{key} must be >= {minimum}, not {value!r}")
    return value


def _check_routes(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"faults.{key} must be a list of route strings, not {value!r}")
    for entry in value:
        _parse_route(entry, key)
    return list(value)


def _parse_route(entry: str, key: str = "route") -> tuple[str, str]:
    """Split ``"METHOD /path"`` or ``"/path"`` into (METHOD or "*", path)."""
    parts = entry.strip().split(None, 1)
    if len(parts) == 2:
        method, path = parts[0].upper(), parts[1].strip()
    elif len(parts) == 1:
        method, path = "*", parts[0]
    else:
        raise ValueError(f"faults.{key}: empty route")
    if method not in _METHODS:
        raise ValueError(f"faults.{key}: unknown HTTP method {parts[0]!r} in {entry!r}")
    if not path.startswith("/"):
        raise ValueError(f"faults.{key}: path must start with '/' in {entry!r}")
    return method, path


def _segments(path: str) -> list[str]:
    return [s for s in path.split("?", 1)[0].split("/") if s]


def route_matches(entry: str, method: str, path: str, *, prefix: bool = False) -> bool:
    """Whether request ``method path`` matches a route entry.

    ``entry`` is ``"METHOD /path"`` or ``"/path"`` (any method). Segments written ``{name}`` match
    any one segment. The path must match entirely, unless ``prefix`` is true or the entry ends with
    ``*`` (``"POST /data/foundation/flowservice/*"``), in which case the entry's segments need only
    start the request path. Query strings and trailing slashes are ignored.
    """
    want_method, want_path = _parse_route(entry)
    if want_method != "*" and want_method != method.upper():
        return False
    if want_path.endswith("*"):
        prefix, want_path = True, want_path.rstrip("*")
    want, have = _segments(want_path), _segments(path)
    if len(have) < len(want) or (not prefix and len(have) != len(want)):
        return False
    return all(w == h or (w.startswith("{") and w.endswith("}")) for w, h in zip(want, have, strict=False))


@dataclass
class FaultConfig:
    """The faults JSON of the emulator (every key optional; defaults inject nothing)."""

    seed: int = 1
    rate_limit_per_second: float | None = None
    rate_limit_retry_after: bool = True
    error_rate: float = 0.0
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503, 504])
    latency_ms: float = 0
    token_ttl_seconds: int | None = None
    drop_after_commit: list[str] = field(default_factory=list)
    drop_after_commit_count: int = 1
    force_run_status: str | None = None
    force_run_status_count: int | None = None
    force_run_status_flows: list[str] | None = None
    routes: list[str] | None = None
    late_commit: list[str] = field(default_factory=list)
    late_commit_count: int = 1
    late_commit_seconds: float = 2.0
    late_commit_mode: str = "gateway_timeout"

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FaultConfig:
        """Validate a faults JSON object; a ``null`` value means the default.

        Raises ValueError naming the offending key (unknown keys included).
        """
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError(f"faults must be a JSON object, not {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ValueError(f"unknown faults key {key!r} (known: {', '.join(sorted(known))})")
        values = {k: v for k, v in data.items() if v is not None}
        cfg = cls()
        if "seed" in values:
            cfg.seed = _check_int("seed", values["seed"])
        if "rate_limit_per_second" in values:
            rate = _check_number("rate_limit_per_second", values["rate_limit_per_second"])
            if rate <= 0:
                raise ValueError(f"faults.rate_limit_per_second must be > 0, not {rate!r}")
            cfg.rate_limit_per_second = float(rate)
        if "rate_limit_retry_after" in values:
            if not isinstance(values["rate_limit_retry_after"], bool):
                raise ValueError("faults.rate_limit_retry_after must be true or false")
            cfg.rate_limit_retry_after = values["rate_limit_retry_after"]
        if "error_rate" in values:
            cfg.error_rate = float(_check_number("error_rate", values["error_rate"], minimum=0, maximum=1))
        if "error_statuses" in values:
            statuses = values["error_statuses"]
            if not isinstance(statuses, list) or not statuses:
                raise ValueError("faults.error_statuses must be a non-empty list of HTTP statuses")
            cfg.error_statuses = [_check_int("error_statuses", s, minimum=400) for s in statuses]
            if any(s > 599 for s in cfg.error_statuses):
                raise ValueError(f"faults.error_statuses must be 4xx/5xx statuses, not {statuses!r}")
        if "latency_ms" in values:
            cfg.latency_ms = _check_number("latency_ms", values["latency_ms"], minimum=0)
        if "token_ttl_seconds" in values:
            cfg.token_ttl_seconds = _check_int("token_ttl_seconds", values["token_ttl_seconds"], minimum=0)
        if "drop_after_commit" in values:
            cfg.drop_after_commit = _check_routes("drop_after_commit", values["drop_after_commit"])
        if "drop_after_commit_count" in values:
            cfg.drop_after_commit_count = _check_int(
                "drop_after_commit_count", values["drop_after_commit_count"], minimum=0
            )
        if "force_run_status" in values:
            if values["force_run_status"] not in _RUN_STATUSES:
                raise ValueError(
                    f"faults.force_run_status must be one of {', '.join(_RUN_STATUSES)} or null, "
                    f"not {values['force_run_status']!r}"
                )
            cfg.force_run_status = values["force_run_status"]
        if values.get("force_run_status_count") is not None:
            cfg.force_run_status_count = _check_int(
                "force_run_status_count", values["force_run_status_count"], minimum=0
            )
        if "force_run_status_flows" in values:
            flows = values["force_run_status_flows"]
            if not isinstance(flows, list) or not flows or not all(isinstance(f, str) and f for f in flows):
                raise ValueError(
                    "faults.force_run_status_flows must be a non-empty list of flow ids (or null for "
                    f"every flow), not {flows!r}"
                )
            cfg.force_run_status_flows = list(flows)
        if "routes" in values:
            cfg.routes = _check_routes("routes", values["routes"])
        if "late_commit" in values:
            cfg.late_commit = _check_routes("late_commit", values["late_commit"])
        if "late_commit_count" in values:
            cfg.late_commit_count = _check_int("late_commit_count", values["late_commit_count"], minimum=0)
        if "late_commit_seconds" in values:
            cfg.late_commit_seconds = float(
                _check_number("late_commit_seconds", values["late_commit_seconds"], minimum=0, maximum=3600)
            )
        if "late_commit_mode" in values:
            if values["late_commit_mode"] not in LATE_COMMIT_MODES:
                raise ValueError(
                    f"faults.late_commit_mode must be one of {', '.join(LATE_COMMIT_MODES)}, "
                    f"not {values['late_commit_mode']!r}"
                )
            cfg.late_commit_mode = values["late_commit_mode"]
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The configuration as faults JSON (every key present)."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- error bodies

_FS_CODES = {500: ("1102", "Internal Server Error"), 503: ("1103", "Service Unavailable"),
             504: ("1104", "Gateway Timeout")}  # fmt: skip
_TITLES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _service(path: str) -> str:
    segments = _segments(path)
    if segments[:2] == ["data", "foundation"] and len(segments) > 2:
        return segments[2]
    if segments[:1] == ["ims"]:
        return "ims"
    return "gateway"


def _error_body(status: int, path: str, request_id: str) -> dict[str, Any]:
    title = _TITLES.get(status, "Error")
    detail = f"The service could not complete the request ({status} {title}); retry later."
    service = _service(path)
    if service == "flowservice":
        code, title = _FS_CODES.get(status, ("1102", title))
        return {
            "type": f"https://ns.adobe.com/aep/errors/FLOW-{code}-{status}",
            "title": title,
            "status": status,
            "report": {"detailed-message": detail, "request-id": request_id},
        }
    if service == "schemaregistry":
        return {
            "type": f"http://ns.adobe.com/aep/errors/XDM-1000-{status}",
            "title": title,
            "status": status,
            "report": {
                "registryRequestId": request_id,
                "timestamp": time.strftime("%m-%d-%Y %H:%M:%S", time.gmtime()),
                "detailed-message": detail,
                "sub-errors": [],
            },
            "detail": detail,
        }
    if service == "ims":
        return {"error": "server_error", "error_description": detail}
    if service in ("catalog", "conversion"):
        return {
            "type": "/placeholder/type/uri",
            "status": status,
            "title": title.replace(" ", ""),
            "detail": detail,
        }
    return {"error_code": f"{status}000", "message": title}


# --------------------------------------------------------------------------- injector


class FaultInjector:
    """Applies a :class:`FaultConfig` to requests; safe to share between threads and event loops.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        config: FaultConfig | dict[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.config = FaultConfig()
        self._rng = random.Random(1)
        self._id_rng = random.Random(2)
        self._tokens = 0.0
        self._refilled_at = 0.0
        self._drops_left: dict[str, int] = {}
        self._late_left: dict[str, int] = {}
        self.reconfigure(config)

    def reconfigure(self, config: FaultConfig | dict[str, Any] | None) -> None:
        """Install a new configuration; reseeds the generator and resets limiter and drop counters."""
        cfg = config if isinstance(config, FaultConfig) else FaultConfig.from_dict(config)
        with self._lock:
            self.config = cfg
            self._rng = random.Random(cfg.seed)
            self._id_rng = random.Random(f"request-ids-{cfg.seed}")
            self._tokens = max(1.0, cfg.rate_limit_per_second or 0.0)
            self._refilled_at = self._clock()
            self._drops_left = dict.fromkeys(cfg.drop_after_commit, cfg.drop_after_commit_count)
            self._late_left = dict.fromkeys(cfg.late_commit, cfg.late_commit_count)

    # -- queries ---------------------------------------------------------------------------

    def _in_scope(self, method: str, path: str) -> bool:
        routes = self.config.routes
        return routes is None or any(route_matches(r, method, path, prefix=True) for r in routes)

    def token_ttl(self) -> int | None:
        """The IMS token lifetime override in seconds (None = the emulator's default)."""
        return self.config.token_ttl_seconds

    def force_run_status(self) -> str | None:
        """The forced status of finishing runs, if any."""
        return self.config.force_run_status

    async def check(self, method: str, path: str) -> tuple[int, dict[str, str], dict[str, Any]] | None:
        """Apply latency, then the rate limit, then random errors to one request.

        Returns ``(status, headers, body)`` of the fault answer, or None to let the request through.
        Admin paths (``/_emulator/...``) are never faulted; ``routes`` restricts latency and errors
        (not the rate limit) to matching path prefixes.
        """
        if path.startswith(_ADMIN_PREFIX):
            return None
        cfg = self.config
        in_scope = self._in_scope(method, path)
        if in_scope and cfg.latency_ms:
            await self._sleep(cfg.latency_ms / 1000.0)
        with self._lock:
            limited = self._take_token()
            if limited is not None:
                headers = {"Retry-After": str(limited)} if cfg.rate_limit_retry_after else {}
                return 429, headers, {"error_code": "429001", "message": "Too many requests"}
            if in_scope and cfg.error_rate and self._rng.random() < cfg.error_rate:
                status = self._rng.choice(cfg.error_statuses)
                request_id = str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))
                return status, {}, _error_body(status, path, request_id)
        return None

    def _take_token(self) -> int | None:
        """Token bucket (capacity = rate, at least 1). None if allowed, else seconds to wait."""
        rate = self.config.rate_limit_per_second
        if rate is None:
            return None
        now = self._clock()
        capacity = max(1.0, rate)
        self._tokens = min(capacity, self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self._tokens) / rate))

    def _drop_route(self, method: str, path: str) -> str | None:
        for entry, left in self._drops_left.items():
            if left > 0 and route_matches(entry, method, path):
                return entry
        return None

    def matches_drop_after_commit(self, method: str, path: str) -> bool:
        """Whether the next ``method path`` request would be dropped (consumes nothing)."""
        with self._lock:
            return self._drop_route(method, path) is not None

    def should_drop_after_commit(self, method: str, path: str) -> bool:
        """Whether to drop this request's answer; consumes one of the matching route's drops."""
        with self._lock:
            entry = self._drop_route(method, path)
            if entry is None:
                return False
            self._drops_left[entry] -= 1
            return True

    def take_late_commit(self, method: str, path: str) -> bool:
        """Whether this request gets the late-commit fault; consumes one of the route's uses."""
        with self._lock:
            for entry, left in self._late_left.items():
                if left > 0 and route_matches(entry, method, path):
                    self._late_left[entry] -= 1
                    return True
            return False

    def late_commits_left(self) -> dict[str, int]:
        """Remaining late commits per configured route (a copy)."""
        with self._lock:
            return dict(self._late_left)

    def drops_left(self) -> dict[str, int]:
        """Remaining drops per configured route (a copy)."""
        with self._lock:
            return dict(self._drops_left)


def gateway_timeout_body(path: str, request_id: str) -> dict[str, Any]:
    """AEP's 504 answer for ``path`` (Flow Service ``FLOW-1104-504``, other services' 504 shapes)."""
    return _error_body(504, path, request_id)


# --------------------------------------------------------------------------- dropping connections


def _uvicorn_cycle(send: Any, depth: int = 0, seen: set[int] | None = None) -> Any:
    """The server object behind ``send`` that owns the transport (uvicorn's request cycle), if any."""
    seen = set() if seen is None else seen
    if depth > 6 or id(send) in seen:
        return None
    seen.add(id(send))
    owner = getattr(send, "__self__", None)
    if owner is not None and hasattr(owner, "transport") and hasattr(owner, "response_complete"):
        return owner
    for cell in getattr(send, "__closure__", None) or ():
        try:
            inner = cell.cell_contents
        except ValueError:  # empty cell
            continue
        if callable(inner):
            found = _uvicorn_cycle(inner, depth + 1, seen)
            if found is not None:
                return found
    return None


async def abort_connection(send: Send, *, use_transport: bool = True) -> None:
    """Close the client connection without sending any response bytes.

    Call it instead of sending a response, then return from the ASGI app without sending anything
    else. See the module docstring for the mechanism. ``use_transport=False`` skips the transport
    route and uses the pure-ASGI fallback (for tests). Raises :class:`ConnectionDropped` when
    neither mechanism applies (an in-process transport that accepts any header).
    """
    cycle = _uvicorn_cycle(send) if use_transport else None
    transport = getattr(cycle, "transport", None)
    if cycle is not None and transport is not None and not transport.is_closing():
        # Mark the response as finished first so uvicorn neither answers 500 nor logs an error.
        cycle.response_started = True
        cycle.response_complete = True
        transport.abort()
        return
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"x-aep-emulator-drop", b"connection\r\ndropped")],
            }
        )
    except Exception:
        # Expected: the server refused the head after marking the response started, so it will
        # close the connection once the app returns.
        return
    raise ConnectionDropped("the emulator dropped the connection after committing the request")


class DropAfterCommitMiddleware:
    """ASGI middleware: run matching requests fully, then drop the connection instead of answering.

    ``injector`` is a :class:`FaultInjector` or a zero-argument callable returning the current one
    (or None). A request is dropped when its route is listed in ``drop_after_commit`` with drops
    left and the app answered 2xx/3xx (the change was committed); one drop of the route is used.
    Other answers pass through unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        injector: FaultInjector | Callable[[], FaultInjector | None],
        *,
        use_transport: bool = True,
    ) -> None:
        self.app = app
        self._injector = injector
        self._use_transport = use_transport

    def _current(self) -> FaultInjector | None:
        if isinstance(self._injector, FaultInjector):
            return self._injector
        return self._injector()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        injector = self._current() if scope["type"] == "http" else None
        method, path = scope.get("method", ""), scope.get("path", "")
        if injector is None or not injector.matches_drop_after_commit(method, path):
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []

        async def hold(message: Message) -> None:
            buffered.append(message)

        await self.app(scope, receive, hold)
        start = next((m for m in buffered if m["type"] == "http.response.start"), None)
        committed = start is not None and int(start["status"]) < 400
        if committed and injector.should_drop_after_commit(method, path):
            await abort_connection(send, use_transport=self._use_transport)
            return
        for message in buffered:
            await send(message)
