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
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import tenacity

from airflow_provider_aep.connection_fields import CONN_TYPE, DEFAULT_TRIGGER_MAX_IN_FLIGHT
from airflow_provider_aep.exceptions import AEPAuthConfigError
from airflow_provider_aep.hooks import _auth, _core, _pagination, _retry
from airflow_provider_aep.hooks._calls import SERVICE_BASE_PATHS, decode_answer, one_item
from airflow_provider_aep.hooks._connection import (
    AEPConnectionSettings,
    afetch_airflow_connection,
    settings_from_connection,
)

#: Connection extra bounding the requests in flight per triggerer process and host.
MAX_IN_FLIGHT_EXTRA = "trigger_max_in_flight"
#: Pacing after a 429: never slower than this (requests per second) ...
MIN_RATE = 1.0
#: ... cut to this share of the current rate on a 429 (once per throttling episode) ...
DECREASE = 0.9
#: ... and raised by about this many requests per second every second while answers are not 429.
INCREASE_PER_SECOND = 1.0


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
        raise AEPAuthConfigError(
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
#: Connections per pooled client. httpcore's pool does O(connections^2) bookkeeping on every
#: request (each idle connection re-counts the idle ones, and probes its socket); 64 connections
#: in one pool cost ~15 ms of CPU per request, so a channel shares its bound over small pools.
SHARD_CONNECTIONS = 2


def _new_client(max_in_flight: int, timeout: float) -> httpx.AsyncClient:
    """A pooled client (built in a worker thread: loading CA certificates takes ~0.2 s)."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = httpx.create_ssl_context()  # TLS verification always on
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight),
        # The channel's semaphore queues requests; the pool never makes a request wait for a socket.
        timeout=httpx.Timeout(timeout, pool=None),
        headers={"User-Agent": _core.user_agent(f"python-httpx/{httpx.__version__}")},
        verify=_SSL_CONTEXT,
    )


def _new_clients(max_in_flight: int, timeout: float) -> list[tuple[httpx.AsyncClient, int]]:
    """``(client, connections)`` shards whose connections add up to ``max_in_flight``."""
    sizes = [SHARD_CONNECTIONS] * (max_in_flight // SHARD_CONNECTIONS)
    if max_in_flight % SHARD_CONNECTIONS:
        sizes.append(max_in_flight % SHARD_CONNECTIONS)
    return [(_new_client(size, timeout), size) for size in sizes]


class _Shard:
    """One small connection pool of a channel and its free connections."""

    def __init__(self, client: httpx.AsyncClient, size: int) -> None:
        self.client = client
        self.free = size


class HostChannel:
    """One event loop's traffic to one AEP host: pooled clients, in-flight bound, shared throttle."""

    def __init__(self, origin: str, max_in_flight: int, clients: list[tuple[httpx.AsyncClient, int]]) -> None:
        self.origin = origin
        self.max_in_flight = max_in_flight
        self.shards = [_Shard(client, size) for client, size in clients]
        self.clients = [shard.client for shard in self.shards]
        #: The in-flight bound of the whole channel; a holder always finds a shard with a free slot.
        self.slots = asyncio.Semaphore(sum(size for _, size in clients))
        self.users = 0
        #: No request leaves before this monotonic time (set by a 429's Retry-After).
        self.paused_until = 0.0
        #: Requests per second allowed since the last 429 (None = not throttled yet).
        self.rate: float | None = None
        self._next_slot = 0.0
        #: 429s before this monotonic time belong to the episode already answered by a cut.
        self._last_decrease = float("-inf")
        self._accepted: collections.deque[float] = collections.deque(maxlen=4096)
        self.sent = 0
        self.throttled = 0

    async def _pace(self) -> None:
        """Wait for this request's turn: after any pause, and spaced by the current rate."""
        while True:
            now = monotonic()
            slot = max(now, self.paused_until)
            if self.rate is not None:
                slot = max(slot, self._next_slot)
                self._next_slot = slot + 1.0 / self.rate
            if slot <= now:
                return
            await asyncio.sleep(slot - now)
            if monotonic() >= self.paused_until:
                return

    def _observe(self, status: int, retry_after: float | None) -> None:
        now = monotonic()
        if status != 429:
            self._accepted.append(now)
            if self.rate is not None:
                self.rate += INCREASE_PER_SECOND / self.rate
            return
        self.throttled += 1
        pause = retry_after if retry_after is not None else 1.0
        episode = now < self._last_decrease  # requests sent before the last cut answer 429 too
        self.paused_until = max(self.paused_until, now + pause)
        if not episode:
            # First 429: start from the rate AEP accepted over the last second; later: cut the
            # current rate. Never from the (paused, near-zero) recent count, or the rate collapses.
            recent = sum(1 for t in self._accepted if t > now - 1.0)
            base = float(max(recent, MIN_RATE)) if self.rate is None else self.rate
            self.rate = max(MIN_RATE, base * DECREASE)
            self._last_decrease = self.paused_until + 1.0
            self._next_slot = self.paused_until

    async def send(self, call: _core.Call, headers: dict[str, str]) -> httpx.Response:
        """Send ``call`` once (no retries here); transport failures become AEP errors."""
        await self._pace()
        async with self.slots:
            shard = max(self.shards, key=lambda s: s.free)  # the least busy pool; never a full one
            shard.free -= 1
            self.sent += 1
            try:
                response = await shard.client.request(
                    call.method, call.url, params=call.params, json=call.json, data=call.data, headers=headers
                )
            except httpx.TransportError as exc:
                raise _core.no_answer(call, exc) from None
            finally:
                shard.free += 1
        self._observe(response.status_code, _retry.parse_retry_after(response.headers.get("Retry-After")))
        return response


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
                    clients = await asyncio.to_thread(_new_clients, max_in_flight, timeout)
                    channel = channels[origin] = HostChannel(origin, max_in_flight, clients)
        channel.users += 1
        return channel

    async def release(self, channel: HostChannel) -> None:
        channel.users -= 1
        if channel.users > 0:
            return
        channels = self._by_loop.get(asyncio.get_running_loop(), {})
        if channels.get(channel.origin) is channel:
            del channels[channel.origin]
        for client in channel.clients:
            await client.aclose()

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

    def _secrets(self) -> list[str | None]:
        return _core.secrets_of(self.info.settings if self.info else None)

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
        return await _auth.TOKEN_CACHE.aget(_core.token_key(settings), self._fetch_token)

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
                    _auth.TOKEN_CACHE.invalidate(_core.token_key(settings), token)
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


def _default_log() -> Any:
    import logging

    return logging.getLogger(__name__)
