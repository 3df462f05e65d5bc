"""A lean asyncio request path under httpx for the trigger's client.

``httpx.AsyncClient.request`` costs about 1 ms of CPU per poll, and a triggerer polling 5,000 waits
every 30 s spends a large share of a core on it. Most of that is not HTTP: the client's request
building, cookie, auth, redirect and event-hook layers, then httpcore's pool (locks, events and
cancellation shields through anyio and sniffio, a socket probe per reuse, bookkeeping that grows
with the square of the pool). :class:`LeanTransport` keeps what does the HTTP work and drops the rest:

* HTTP/1.1 is h11 (the parser httpcore itself uses): request framing, response parsing,
  ``Content-Length`` / chunked bodies, keep-alive decisions;
* connections are plain :class:`asyncio.Protocol` objects: one buffer, one future per read, one
  timer per timeout; an idle connection the server closed or wrote to is dropped before reuse;
* TLS is asyncio's ``start_tls`` with the caller's :class:`ssl.SSLContext` (certificate and host
  name verification stay on);
* it is an ``httpx.AsyncBaseTransport``: the client keeps speaking ``httpx.Request`` /
  ``httpx.Response`` (tests swap in ``httpx.MockTransport``; behind a proxy named by the environment
  the client uses httpx's own transport, see ``_async._new_transport``), and failures are httpx's
  ``TransportError`` family, which the sans-IO core maps like any other transport's.

No rule lives here: what to send and what an answer means stay in :mod:`~airflow_provider_aep.hooks._core`.
"""

from __future__ import annotations

import asyncio
import ssl
import typing

import h11
import httpx

__all__ = ["LeanTransport"]

Origin = tuple[bytes, bytes, int]


class _Protocol(asyncio.Protocol):
    """Buffers what the socket receives and wakes the one reader waiting for it."""

    __slots__ = ("buffer", "closed", "error", "transport", "waiter", "writable")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None
        self.closed = False
        self.error: BaseException | None = None

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self.writable = self.writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _wait(future: asyncio.Future[None], timeout: float | None) -> None:
    """Await ``future``; ``TimeoutError`` after ``timeout`` seconds (one timer, no task)."""
    if timeout is None:
        await future
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, future)
    try:
        await future
    finally:
        timer.cancel()


class _Connection:
    """One keep-alive HTTP/1.1 connection: a socket protocol and its h11 state machine."""

    __slots__ = ("h11", "protocol", "transport")

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self.transport = transport
        self.protocol = protocol
        self.h11 = h11.Connection(h11.CLIENT)

    @property
    def reusable(self) -> bool:
        """Idle and untouched: nothing received (or closed) since the last answer."""
        return not self.protocol.closed and not self.protocol.buffer and not self.transport.is_closing()

    def close(self) -> None:
        self.transport.close()

    async def write(self, data: bytes, timeout: float | None) -> None:
        if self.protocol.closed or self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        self.transport.write(data)
        writable = self.protocol.writable
        if writable is not None:
            try:
                await _wait(writable, timeout)
            except TimeoutError:
                raise httpx.WriteTimeout("timed out sending the request") from None

    async def read(self, timeout: float | None) -> bytes:
        protocol = self.protocol
        if not protocol.buffer and not protocol.closed:
            protocol.waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.waiter, timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out reading the answer") from None
        data = bytes(protocol.buffer)
        protocol.buffer.clear()
        if not data and protocol.error is not None:
            raise httpx.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return data  # b"" = closed by the peer: h11 decides whether the answer was complete


class LeanTransport(httpx.AsyncBaseTransport):
    """``httpx.Request`` in, fully read ``httpx.Response`` out, over pooled asyncio connections.

    :param ssl_context: verifying TLS context (``httpx.create_ssl_context()``).
    :param connections: at most this many connections (and requests in flight).
    """

    def __init__(self, ssl_context: ssl.SSLContext, connections: int) -> None:
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._slots = asyncio.Semaphore(connections)
        self._busy: set[_Connection] = set()
        #: Whether :meth:`aclose` ran (tests check that a channel closes its pools).
        self.is_closed = False

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        hostname = host.decode("ascii")
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(_Protocol, hostname, port), timeout
            )
            if scheme == b"https":
                try:
                    tls = await asyncio.wait_for(
                        loop.start_tls(transport, protocol, self._ssl_context, server_hostname=hostname),
                        timeout,
                    )
                except BaseException:
                    transport.close()
                    raise
                if tls is None:  # pragma: no cover - the transport was closed meanwhile
                    raise ConnectionResetError("connection closed during the TLS handshake")
                protocol.transport = transport = typing.cast(asyncio.Transport, tls)
        except (asyncio.TimeoutError, TimeoutError):
            raise httpx.ConnectTimeout(f"timed out connecting to {hostname}:{port}") from None
        except OSError as exc:  # refused, unreachable, TLS verification (ssl.SSLError is an OSError)
            raise httpx.ConnectError(str(exc)) from None
        return _Connection(transport, protocol)

    def _checkout(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.reusable:
                return connection
            connection.close()  # the server closed it (or wrote to it) while idle
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.is_closed:
            raise httpx.ConnectError("transport closed")
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.raw_scheme == b"https" else 80))
        timeouts = request.extensions.get("timeout") or {}
        async with self._slots:
            connection = self._checkout(origin) or await self._connect(origin, timeouts.get("connect"))
            self._busy.add(connection)
            try:
                status, headers, content = await self._exchange(connection, request, timeouts)
            except BaseException:
                connection.close()  # mid-exchange (error or cancellation): its state is unknown
                raise
            finally:
                self._busy.discard(connection)
            state = connection.h11
            if state.our_state is h11.DONE and state.their_state is h11.DONE and not self.is_closed:
                state.start_next_cycle()
                self._idle.setdefault(origin, []).append(connection)
            else:
                connection.close()
        return httpx.Response(status, headers=headers, content=content, request=request)

    @staticmethod
    async def _exchange(
        connection: _Connection, request: httpx.Request, timeouts: dict[str, typing.Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        state = connection.h11
        body = request.content
        try:
            data = state.send(
                h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw)
            )
            if body:
                data += state.send(h11.Data(data=body))  # type: ignore[operator]
            data += state.send(h11.EndOfMessage())  # type: ignore[operator]
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from None
        try:
            await connection.write(data, timeouts.get("write"))  # type: ignore[arg-type]
            status = 0
            headers: list[tuple[bytes, bytes]] = []
            parts: list[bytes] = []
            while True:
                event = state.next_event()
                if event is h11.NEED_DATA:
                    state.receive_data(await connection.read(timeouts.get("read")))
                elif isinstance(event, h11.Response):
                    status, headers = event.status_code, event.headers.raw_items()
                elif isinstance(event, h11.Data):
                    parts.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return status, headers, b"".join(parts)
                elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    raise httpx.RemoteProtocolError("the server closed the connection before answering")
                # h11.InformationalResponse (1xx): keep reading
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from None

    async def aclose(self) -> None:
        self.is_closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        for connection in list(self._busy):
            connection.close()
