"""The trigger client's lean asyncio path (``hooks/_aionet.py``) against real sockets.

HTTP/1.1 keep-alive reuse, chunked answers, a server that closes after answering, read timeouts and
refused connections (as the AEP errors the core maps them to), TLS with certificate and host name
verification on, and httpx's own transport when the environment names a proxy.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_aep.exceptions import AEPConnectionError
from airflow_provider_aep.hooks import _async, _core
from airflow_provider_aep.hooks._aionet import LeanTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> str:
    head = await reader.readuntil(b"\r\n\r\n")
    return head.decode("latin-1")


async def serve(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
    return server, server.sockets[0].getsockname()[1]


def call(url: str) -> _core.Call:
    return _core.Call(method="GET", url=url, error_path="/x", headers={"Accept": "application/json"})


def request(url: str) -> httpx.Request:
    return httpx.Request(
        "GET", url, extensions={"timeout": {"connect": 2, "read": 0.5, "write": 2, "pool": None}}
    )


def test_keep_alive_chunked_and_server_close() -> None:
    """Sequential requests reuse one connection; chunked bodies decode; after a ``Connection:
    close`` answer the next request opens a new connection."""
    connections: list[list[str]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen: list[str] = []
        connections.append(seen)
        while True:
            try:
                head = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            seen.append(head.split(" ")[1])
            if "/chunked" in head:
                writer.write(
                    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
                )
            elif "/close" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                await writer.drain()
                writer.close()
                return
            else:
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nRetry-After: 3\r\n\r\n{"b": 2}')
            await writer.drain()
        writer.close()

    async def main() -> list[Any]:
        server, port = await serve(handler)
        transport = LeanTransport(ssl.create_default_context(), 1)
        base = f"http://127.0.0.1:{port}"
        try:
            first = await transport.handle_async_request(request(base + "/plain"))
            second = await transport.handle_async_request(request(base + "/chunked"))
            third = await transport.handle_async_request(request(base + "/close"))
            fourth = await transport.handle_async_request(request(base + "/plain"))
        finally:
            await transport.aclose()
            await asyncio.sleep(0.05)  # the server's handler sees the close and closes its side
            server.close()
            await server.wait_closed()
        return [first.json(), first.headers.get("retry-after"), second.json(), third.json(), fourth.json()]

    assert asyncio.run(main()) == [{"b": 2}, "3", {"a": 1}, {}, {"b": 2}]
    assert connections == [["/plain", "/chunked", "/close"], ["/plain"]]


def test_read_timeout_and_refused_connection_are_aep_connection_errors() -> None:
    finished = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_request(reader)
            await finished.wait()  # never answers within the 0.5 s read timeout
        finally:
            writer.close()
            await writer.wait_closed()

    async def main() -> list[BaseException]:
        server, port = await serve(silent)
        channel = _async.HostChannel(
            "http://127.0.0.1", 1, [(LeanTransport(ssl.create_default_context(), 1), 1)], 0.5
        )
        errors: list[BaseException] = []
        for url in (f"http://127.0.0.1:{port}/slow", f"http://127.0.0.1:{_closed_port()}/refused"):
            try:
                await channel.send(call(url), {})
            except AEPConnectionError as exc:
                errors.append(exc)
        finished.set()
        server.close()
        await server.wait_closed()
        channel.close()
        for transport in channel.transports:
            await transport.aclose()
        await asyncio.sleep(0.05)  # the server's handler closes its side
        return errors

    timeout, refused = asyncio.run(main())
    assert "Timeout" in str(timeout)
    assert "ConnectionError" in str(refused)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_tls_verifies_the_certificate_and_the_host_name(tmp_path: Path) -> None:
    """An untrusted certificate, or a trusted one for another name, is refused; a trusted one works."""
    cert_file, key_file = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client refused the certificate
        finally:
            writer.close()

    trusting = ssl.create_default_context(cafile=str(cert_file))

    async def attempt(context: ssl.SSLContext, host: str, port: int) -> str:
        transport = LeanTransport(context, 1)
        try:
            answer = await transport.handle_async_request(request(f"https://{host}:{port}/x"))
            return f"ok {answer.status_code}"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            await transport.aclose()

    async def main() -> list[str]:
        server, port = await serve(handler, server_context)
        try:
            return [
                await attempt(ssl.create_default_context(), "localhost", port),  # system CAs only
                await attempt(trusting, str(ipaddress.ip_address("127.0.0.1")), port),  # wrong name
                await attempt(trusting, "localhost", port),
            ]
        finally:
            server.close()
            await server.wait_closed()

    untrusted, wrong_name, trusted = asyncio.run(main())
    assert untrusted.startswith("ConnectError") and "CERTIFICATE_VERIFY_FAILED" in untrusted
    assert wrong_name.startswith("ConnectError") and "CERTIFICATE_VERIFY_FAILED" in wrong_name
    assert trusted == "ok 200"


def test_a_proxy_from_the_environment_gets_httpx_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    origin = "https://platform.adobe.io"
    assert isinstance(_async._new_transport(origin, 2, 5.0), LeanTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert _async._env_proxy(origin) == "http://proxy.internal:3128"
    assert isinstance(_async._new_transport(origin, 2, 5.0), httpx.AsyncHTTPTransport)
    monkeypatch.setenv("NO_PROXY", ".adobe.io")
    assert _async._env_proxy(origin) is None
