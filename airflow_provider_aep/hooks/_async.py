"""The asynchronous transport of the AEP client, for the flow-run trigger (``httpx.AsyncClient``).

Why httpx next to requests: the triggerer runs thousands of waits on ONE event loop. Running the
``requests`` hook in ``asyncio.to_thread`` holds one of the loop's few default threads for every
round trip (hundreds of milliseconds at AEP's real latency), so polls fall behind and every other
trigger's ``to_thread`` call queues behind ours. httpx is installed by Airflow 3 itself (its task SDK
talks to the API server with it), so this costs no new dependency. Operators keep ``requests``.

This module only moves bytes: every rule (URLs, headers, error mapping and scrubbing, retry
decisions, token parsing, pagination) comes from :mod:`~airflow_provider_aep.hooks._core`,
:mod:`~airflow_provider_aep.hooks._retry` and :mod:`~airflow_provider_aep.hooks._pagination`, the
same functions the sync hook drives. The IMS token comes from the same process-wide cache
(:meth:`~airflow_provider_aep.hooks._auth.TokenCache.aget`).

Manners towards AEP, per event loop (one triggerer process) and AEP host, in :class:`HostChannel`:

* pooled ``httpx.AsyncClient`` connections shared by every wait (keep-alive connections are
  reused; spread over small pools, see :data:`SHARD_CONNECTIONS`);
* at most ``trigger_max_in_flight`` requests in flight (connection extra, default
  :data:`~airflow_provider_aep.connection_fields.DEFAULT_TRIGGER_MAX_IN_FLIGHT`); more wait in line;
* a ``429`` pauses *every* request of the process to that host for its ``Retry-After`` and from
  then on paces requests (additive increase, multiplicative decrease around the rate AEP accepts);
* the channel is closed (``aclose``) when its last user leaves, so cancelled waits leave no open
  client and no task behind.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
import urllib.request
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import tenacity

from airflow_provider_aep.connection_fields import CONN_TYPE, DEFAULT_TRIGGER_MAX_IN_FLIGHT
from airflow_provider_aep.exceptions import AEPConfigError
from airflow_provider_aep.hooks import _auth, _core, _pagination, _retry
from airflow_provider_aep.hooks._aionet import LeanTransport
from airflow_provider_aep.hooks._calls import SERVICE_BASE_PATHS, decode_answer, one_item
from airflow_provider_aep.hooks._connection import (
    AEPConnectionSettings,
    afetch_airflow_connection,
    settings_from_connection,
)

#: Connection extra bounding the requests in flight per triggerer process and host.
MAX_IN_FLIGHT_EXTRA = "trigger_max_in_flight"
#: Pacing after a 429 (see :class:`HostChannel`): never slower than this (requests per second) ...
MIN_RATE = 1.0
#: ... the first 429 starts at this share of the rate sent over the last second ...
DECREASE = 0.9
#: ... a later 429 aims at this multiple of the rate accepted since the pause (at the limit, not below) ...
HEADROOM = 1.05
#: ... at most once per this many seconds ...
ADJUST_EVERY = 0.5
#: ... answers that are not 429 raise the rate every second by this many requests per second, or
#: by this share of the rate when that is more ...
INCREASE_PER_SECOND = 2.0
GROWTH_PER_SECOND = 0.05
#: ... (the rate sent before the first 429 is counted over at least this many seconds) ...
MIN_WINDOW = 0.25
#: ... a Retry-After this long (seconds) pauses every request again, even while paced ...
LONG_PAUSE = 5.0
#: ... and with no 429 for this many seconds pacing stops.
UNPACED_AFTER = 60.0


def monotonic() -> float:
    """Clock of the pacing (a module function so tests can move time)."""
    return time.monotonic()


async def sleep(seconds: float) -> None:
    """Sleep between retry attempts (a module function so tests can record instead of waiting)."""
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class ConnectionInfo:
    """What the async path needs from the Airflow connection."""

    settings: AEPConnectionSettings
    retry_policy: _retry.RetryPolicy
    max_in_flight: int


def max_in_flight_from_extra(extra: dict[str, Any], conn_id: str) -> int:
    """``trigger_max_in_flight`` from the connection extra (a positive integer), or the default."""
    raw = extra.get(MAX_IN_FLIGHT_EXTRA)
    if raw in (None, ""):
        raw = extra.get(f"extra__{CONN_TYPE}__{MAX_IN_FLIGHT_EXTRA}")
    if raw in (None, ""):
        return DEFAULT_TRIGGER_MAX_IN_FLIGHT
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = 0.0
    if isinstance(raw, bool) or value < 1 or value != int(value):
        raise AEPConfigError(
            f"Connection {conn_id!r}: extra.{MAX_IN_FLIGHT_EXTRA} must be a positive whole number, got "
            f"{raw!r}. Fix: e.g. {DEFAULT_TRIGGER_MAX_IN_FLIGHT}, or remove it for the default."
        )
    return int(value)


async def load_connection(conn_id: str) -> ConnectionInfo:
    """Read and validate the Airflow connection without blocking the loop (``aget_connection``)."""
    conn = await afetch_airflow_connection(
        conn_id, "aep_conn_id", "type adobe_experience_platform, see the README"
    )
    extra = dict(conn.extra_dejson or {})
    settings = settings_from_connection(conn, conn_id)
    # aget_connection registered the password with the masker; the static token is an extra.
    _core.mask(settings.access_token)
    return ConnectionInfo(
        settings=settings,
        retry_policy=_retry.RetryPolicy.from_extra(extra),
        max_in_flight=max_in_flight_from_extra(extra, conn_id),
    )


#: How long an event loop reuses a connection it read (seconds): 1,000 waits starting together
#: make one ``aget_connection`` call, and an edited connection reaches running waits this fast.
CONNECTION_REUSE_SECONDS = 30.0


class _LoopConnections:
    """Connections read in one event loop: one lookup at a time per id, reused briefly."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, ConnectionInfo]] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    async def get(self, conn_id: str) -> ConnectionInfo:
        entry = self.entries.get(conn_id)
        if entry is None or monotonic() - entry[0] >= CONNECTION_REUSE_SECONDS:
            async with self.locks.setdefault(conn_id, asyncio.Lock()):
                entry = self.entries.get(conn_id)
                if entry is None or monotonic() - entry[0] >= CONNECTION_REUSE_SECONDS:
                    entry = self.entries[conn_id] = (monotonic(), await load_connection(conn_id))
        return entry[1]


_CONNECTIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConnections]
_CONNECTIONS = weakref.WeakKeyDictionary()


async def connection_info(conn_id: str) -> ConnectionInfo:
    """The connection for ``conn_id`` as this event loop last read it (see CONNECTION_REUSE_SECONDS)."""
    loop = asyncio.get_running_loop()
    cache = _CONNECTIONS.get(loop)
    if cache is None:
        cache = _CONNECTIONS[loop] = _LoopConnections()
    return await cache.get(conn_id)


_SSL_CONTEXT: ssl.SSLContext | None = None
#: Connections per pool of httpx's own transport (behind a proxy). httpcore's pool does
#: O(connections^2) bookkeeping on every request; 64 connections in one pool cost ~15 ms of CPU per
#: request, so a channel shares its bound over small pools. The lean transport has no such cost.
SHARD_CONNECTIONS = 2


def _ssl_context() -> ssl.SSLContext:
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = httpx.create_ssl_context()  # TLS verification always on
    return _SSL_CONTEXT


def _env_proxy(origin: str) -> str | None:
    """The proxy the environment names for ``origin`` (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``)."""
    proxies = urllib.request.getproxies()
    parts = urlsplit(origin)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.netloc):
        return None
    return proxy


def _new_transport(origin: str, connections: int, timeout: float) -> httpx.AsyncBaseTransport:
    """A pool of ``connections`` to ``origin`` (built in a worker thread: CA loading takes ~0.2 s).

    Direct connections take the lean asyncio path
    (:class:`~airflow_provider_aep.hooks._aionet.LeanTransport`); behind a proxy named by the
    environment, httpx's own transport (what ``httpx.AsyncClient`` would use).
    """
    proxy = _env_proxy(origin)
    if proxy:
        return httpx.AsyncHTTPTransport(
            verify=_ssl_context(),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            proxy=proxy,
        )
    return LeanTransport(_ssl_context(), connections)


def _new_transports(
    origin: str, max_in_flight: int, timeout: float
) -> list[tuple[httpx.AsyncBaseTransport, int]]:
    """``(transport, connections)`` pools whose connections add up to ``max_in_flight``: one lean
    pool, or small pools of httpx's transport behind a proxy (see :data:`SHARD_CONNECTIONS`)."""
    if not _env_proxy(origin):
        return [(_new_transport(origin, max_in_flight, timeout), max_in_flight)]
    sizes = [SHARD_CONNECTIONS] * (max_in_flight // SHARD_CONNECTIONS)
    if max_in_flight % SHARD_CONNECTIONS:
        sizes.append(max_in_flight % SHARD_CONNECTIONS)
    return [(_new_transport(origin, size, timeout), size) for size in sizes]


class _Shard:
    """One small connection pool of a channel and its free connections."""

    __slots__ = ("free", "transport")

    def __init__(self, transport: httpx.AsyncBaseTransport, size: int) -> None:
        self.transport = transport
        self.free = size


class HostChannel:
    """One event loop's traffic to one AEP host: pooled connections, in-flight bound, shared pacing.

    Pacing (after the first 429): requests leave one by one from a FIFO gate, ``1 / rate`` seconds
    apart, released by one timer (no task). The first 429 of an episode pauses every request for its
    ``Retry-After`` and starts pacing a little below the rate the process sent at; while paced, a
    429 re-aims the rate at :data:`HEADROOM` times the rate AEP accepted since the pause (at most
    every :data:`ADJUST_EVERY` seconds), and answers that are not 429 raise it by
    :data:`GROWTH_PER_SECOND` (at least :data:`INCREASE_PER_SECOND` requests/s) per second. So
    the process keeps sending at the rate AEP accepts, not below it, and the 429 answered
    requests retry after their own ``Retry-After``. A
    ``Retry-After`` of :data:`LONG_PAUSE` seconds or more pauses everyone again. With no 429 for
    :data:`UNPACED_AFTER` seconds the gate opens.
    """

    def __init__(
        self,
        origin: str,
        max_in_flight: int,
        transports: list[tuple[httpx.AsyncBaseTransport, int]],
        timeout: float,
    ) -> None:
        self.origin = origin
        self.max_in_flight = max_in_flight
        self.shards = [_Shard(transport, size) for transport, size in transports]
        self.transports = [shard.transport for shard in self.shards]
        #: The in-flight bound of the whole channel; a holder always finds a shard with a free slot.
        self.slots = asyncio.Semaphore(sum(size for _, size in transports))
        self.users = 0
        self.extensions = {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": None}}
        self.base_headers = {
            "User-Agent": _core.user_agent(f"python-httpx/{httpx.__version__}"),
            "Accept-Encoding": "gzip, deflate",
        }
        self._urls: dict[str, httpx.URL] = {}
        #: No request leaves before this monotonic time (set by a 429's Retry-After).
        self.paused_until = 0.0
        #: Requests per second allowed since the last 429 (None = not paced).
        self.rate: float | None = None
        self._gate: collections.deque[asyncio.Future[None]] = collections.deque()
        self._timer: asyncio.Handle | None = None
        self._next_release = 0.0
        self._last_adjust = float("-inf")
        self._last_429 = float("-inf")
        self._accepted: collections.deque[float] = collections.deque(maxlen=8192)
        self._sent_at: collections.deque[float] = collections.deque(maxlen=8192)
        self.sent = 0
        self.throttled = 0

    # ------------------------------------------------------------------ pacing
    async def _pace(self) -> None:
        """Wait for this request's turn (returns at once when not paused nor paced)."""
        if self.rate is None and not self._gate and monotonic() >= self.paused_until:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._gate.append(waiter)
        self._arm()
        await waiter

    def _arm(self) -> None:
        """Schedule the next release of the gate (one timer at a time)."""
        if self._timer is not None or not self._gate:
            return
        now = monotonic()
        delay = max(self.paused_until, self._next_release) - now
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, self._release) if delay > 0 else loop.call_soon(self._release)

    def _release(self) -> None:
        self._timer = None
        now = monotonic()
        if now < self.paused_until:
            self._arm()
            return
        gate = self._gate
        while gate:
            waiter = gate.popleft()
            if not waiter.done():  # a cancelled wait left its place
                waiter.set_result(None)
                if self.rate is not None:
                    self._next_release = max(now, self._next_release) + 1.0 / self.rate
                    break
        self._arm()

    def _accepted_rate(self, now: float, since: float) -> float | None:
        """Answers that were not 429 per second over ``[max(since, now - 2), now]`` (None: too short)."""
        start = max(since, now - 2.0)
        if now - start < 0.5:
            return None
        return sum(1 for t in self._accepted if t > start) / (now - start)

    def _observe(self, status: int, retry_after: float | None) -> None:
        now = monotonic()
        if status != 429:
            self._accepted.append(now)
            if self.rate is not None:
                if now - self._last_429 > UNPACED_AFTER:
                    self.rate = None  # the storm is over: the gate opens
                else:  # per answer: per second, that is about max(INCREASE, GROWTH x rate)
                    self.rate += max(INCREASE_PER_SECOND, GROWTH_PER_SECOND * self.rate) / self.rate
            return
        self.throttled += 1
        self._last_429 = now
        pause = retry_after if retry_after is not None else 1.0
        if self.rate is None:
            # First 429 of an episode: everybody waits for Retry-After, then paced a little below
            # the rate this process sent at over the last second (at least MIN_RATE). That starts
            # at or above AEP's limit whatever its burst allowance; the 429s that follow bring the
            # rate down to what AEP accepts, measured over at least ADJUST_EVERY seconds.
            recent = [t for t in self._sent_at if t > now - 1.0]
            window = max(now - recent[0], MIN_WINDOW) if recent else 1.0
            self.rate = max(MIN_RATE, len(recent) / window * DECREASE)
            self.paused_until = max(self.paused_until, now + pause)
            self._next_release = self.paused_until
            self._last_adjust = self.paused_until
            return
        if pause >= LONG_PAUSE:
            self.paused_until = max(self.paused_until, now + pause)
            self._next_release = max(self._next_release, self.paused_until)
        if now - self._last_adjust >= ADJUST_EVERY:
            measured = self._accepted_rate(now, self.paused_until)
            if measured is not None:
                self.rate = max(MIN_RATE, min(self.rate, measured * HEADROOM))
                self._last_adjust = now

    # ------------------------------------------------------------------ sending
    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= 20000:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def send(self, call: _core.Call, headers: dict[str, str]) -> httpx.Response:
        """Send ``call`` once (no retries here); transport failures become AEP errors."""
        await self._pace()
        request = httpx.Request(
            call.method,
            self._url(call.url),
            params=call.params,
            headers={**self.base_headers, **headers},
            json=call.json,
            data=call.data,
            extensions=self.extensions,
        )
        async with self.slots:
            shard = self.shards[0]
            for candidate in self.shards:  # the least busy pool; never a full one
                if candidate.free > shard.free:
                    shard = candidate
            shard.free -= 1
            self.sent += 1
            self._sent_at.append(monotonic())
            try:
                response = await shard.transport.handle_async_request(request)
                if not response.is_closed:  # a streamed answer (proxy transport): read it whole
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
            except httpx.TransportError as exc:
                raise _core.no_answer(call, exc) from None
            finally:
                shard.free += 1
        status = response.status_code
        self._observe(
            status, _retry.parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
        )
        return response

    def close(self) -> None:
        """Stop the gate's timer; requests still waiting at the gate are cancelled."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._gate:
            self._gate.popleft().cancel()


class _Channels:
    """The :class:`HostChannel` of each (event loop, origin), reference-counted."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, HostChannel]]
        self._by_loop = weakref.WeakKeyDictionary()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._locks = weakref.WeakKeyDictionary()

    async def acquire(self, url: str, max_in_flight: int, timeout: float) -> HostChannel:
        """Join the channel of ``url``'s origin in the running loop (created on first use)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        loop = asyncio.get_running_loop()
        channels = self._by_loop.setdefault(loop, {})
        channel = channels.get(origin)
        if channel is None:
            async with self._locks.setdefault(loop, asyncio.Lock()):
                channel = channels.get(origin)
                if channel is None:
                    transports = await asyncio.to_thread(_new_transports, origin, max_in_flight, timeout)
                    channel = channels[origin] = HostChannel(origin, max_in_flight, transports, timeout)
        channel.users += 1
        return channel

    async def release(self, channel: HostChannel) -> None:
        channel.users -= 1
        if channel.users > 0:
            return
        channels = self._by_loop.get(asyncio.get_running_loop(), {})
        if channels.get(channel.origin) is channel:
            del channels[channel.origin]
        channel.close()
        for transport in channel.transports:
            await transport.aclose()

    def open_channels(self) -> list[HostChannel]:
        """Channels of the running loop (tests: all closed once every wait has ended)."""
        return list(self._by_loop.get(asyncio.get_running_loop(), {}).values())


CHANNELS = _Channels()


class AsyncAEPClient:
    """Async AEP calls for the flow-run trigger, driven by the same core as the sync hook.

    Use as ``async with AsyncAEPClient(conn_id) as client: await client.get_one(...)``. Opening
    reads the connection (``aget_connection``, shared by the loop's waits for
    :data:`CONNECTION_REUSE_SECONDS`) and joins the loop's channel to the gateway; closing
    leaves the channels (the last user closes the pooled client).

    :param aep_conn_id: Airflow connection of type ``adobe_experience_platform``.
    :param sandbox_name: sandbox for every call (default: the connection's).
    :param retry_policy: retry settings (default: the connection's ``retry_*`` extras).
    :param log: logger for retries and token fetches.
    """

    def __init__(
        self,
        aep_conn_id: str = "aep_default",
        sandbox_name: str | None = None,
        retry_policy: _retry.RetryPolicy | None = None,
        log: Any = None,
    ) -> None:
        self.aep_conn_id = aep_conn_id
        self._sandbox_name = sandbox_name
        self._retry_policy = retry_policy
        self.log = log if log is not None else _default_log()
        self.info: ConnectionInfo | None = None
        self._gateway: HostChannel | None = None
        self._ims: HostChannel | None = None
        self._key: tuple[AEPConnectionSettings, _auth.TokenKey] | None = None

    async def __aenter__(self) -> AsyncAEPClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Read the connection and join this loop's channel to the gateway."""
        if self.info is not None:
            return
        info = await connection_info(self.aep_conn_id)
        s = info.settings
        self._gateway = await CHANNELS.acquire(s.gateway_url, info.max_in_flight, s.request_timeout)
        self.info = info

    async def close(self) -> None:
        """Leave the channels (the last user of a channel closes its pooled client)."""
        channels, self._gateway, self._ims = [self._gateway, self._ims], None, None
        self.info = None
        for channel in channels:
            if channel is not None:
                await CHANNELS.release(channel)

    @property
    def settings(self) -> AEPConnectionSettings:
        """The validated connection settings (after :meth:`open`)."""
        if self.info is None:
            raise RuntimeError("AsyncAEPClient is not open; use 'async with'.")
        return self.info.settings

    @property
    def retry_policy(self) -> _retry.RetryPolicy:
        """Constructor policy, else the connection's ``retry_*`` extras."""
        if self._retry_policy is not None:
            return self._retry_policy
        assert self.info is not None
        return self.info.retry_policy

    def _secrets(self) -> Iterable[str | None]:
        """The values to scrub, read only when an error text is built (not on every answer)."""
        return _LazySecrets(self)

    @property
    def _token_key(self) -> _auth.TokenKey:
        """The process-wide token cache key of this connection (hashed once per opened client)."""
        key = self._key
        if key is None or key[0] is not self.settings:
            key = self._key = (self.settings, _core.token_key(self.settings))
        return key[1]

    def _retrying(self, call: _core.Call) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(
            **_core.retry_kwargs(self.retry_policy, call, self.log), sleep=lambda seconds: sleep(seconds)
        )

    # ------------------------------------------------------------------ auth
    async def get_access_token(self) -> str:
        """The static token, or the process-wide IMS token (one fetch however many waits ask)."""
        settings = self.settings
        if settings.access_token:
            return settings.access_token
        return await _auth.TOKEN_CACHE.aget(self._token_key, self._fetch_token)

    async def _fetch_token(self) -> tuple[str, float]:
        settings = self.settings
        call = _core.token_call(settings)
        if self._ims is None:
            assert self.info is not None
            self._ims = await CHANNELS.acquire(
                settings.ims_url, self.info.max_in_flight, settings.request_timeout
            )
        channel = self._ims
        async for attempt in self._retrying(call):
            with attempt:
                response = await channel.send(call, call.headers)
                _core.judge(call, response, self._secrets(), may_refresh=False)
        return _core.token_from_answer(response, self.log, settings.client_id)

    # ------------------------------------------------------------------ HTTP
    async def request(
        self, method: str, service: str, path: str, *, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """One authenticated request with the hook's retries, error mapping and 401 refresh."""
        _core.check_target(service, path)
        settings = self.settings
        sandbox = _core.check_sandbox(self._sandbox_name or settings.sandbox_name)
        call = _core.build_call(settings, sandbox, method, service, path, params=params)
        assert self._gateway is not None
        channel = self._gateway
        static = bool(settings.access_token)
        refreshed = False
        async for attempt in self._retrying(call):
            with attempt:
                while True:
                    token = await self.get_access_token()
                    response = await channel.send(call, _core.with_token(call, token))
                    verdict = _core.judge(
                        call, response, self._secrets(), may_refresh=not static and not refreshed
                    )
                    if verdict == _core.OK:
                        break
                    refreshed = True
                    self.log.info(
                        "AEP %s %s: HTTP 401; refreshing the access token once", call.method, call.error_path
                    )
                    _auth.TOKEN_CACHE.invalidate(self._token_key, token)
        return response

    async def get_json(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET and decode the JSON answer."""
        response = await self.request("GET", service, path, params=params)
        return decode_answer("GET", service, path, response, self._secrets())

    async def get_one(self, service: str, path: str) -> dict:
        """GET one resource (``{items: [x]}`` unwrapped; empty is not found), like the hook."""
        return one_item(await self.get_json(service, path), service, path)

    async def iter_flow_service(self, path: str, params: dict[str, Any]) -> AsyncIterator[dict]:
        """A Flow Service listing, page by page (the hook's paging rule)."""
        pages = _pagination.FlowServicePages(params, where=SERVICE_BASE_PATHS["flowservice"] + path)
        while (page_params := pages.next_params()) is not None:
            for item in pages.take(await self.get_json("flowservice", path, page_params)):
                yield item


class _LazySecrets:
    """The client's secrets as an iterable computed at each iteration (see ``_core.secrets_of``)."""

    __slots__ = ("client",)

    def __init__(self, client: AsyncAEPClient) -> None:
        self.client = client

    def __iter__(self) -> Iterator[str | None]:
        return iter(_core.secrets_of(self.client.info.settings if self.client.info else None))


def _default_log() -> Any:
    import logging

    return logging.getLogger(__name__)
