"""The FastAPI application of the AEP emulator (``create_app``)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import GATEWAY_PREFIXES, IMS_PATHS, check_gateway, service_of
from .errors import APIError, current_request_id, flow_error, ims_error, service_error, xdm_error
from .state import EmulatorConfig, EmulatorState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ADMIN_PREFIX = "/_emulator/"
logger = logging.getLogger("airflow_provider_aep.emulator")
_SECRET_QUERY_KEYS = {"client_secret", "password", "access_token", "jwt_token", "code"}


def _redact_query(raw: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in parse_qsl(raw, keep_blank_values=True):
        value = "***" if k.lower() in _SECRET_QUERY_KEYS else v
        if k in out:
            prev = out[k]
            out[k] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[k] = value
    return out


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.lower().encode(), str(v).encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def is_loopback_client(scope: Scope) -> bool:
    """Is the caller on this machine? (``True`` for in-process clients without an IP address.)"""
    client = scope.get("client")
    if not client:
        return True
    try:
        addr = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return True  # no IP address: an in-process test client or a Unix socket
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def normalise_gateway_path(path: str) -> str:
    """One rule for every gateway path: one trailing slash is ignored (``/tenant/schemas/`` is
    ``/tenant/schemas``), as AEP's gateway accepts both spellings."""
    if path.startswith(GATEWAY_PREFIXES) and path.endswith("/") and path not in GATEWAY_PREFIXES:
        return path[:-1]
    return path


def error_for_path(path: str, status: int, detail: str) -> APIError:
    """An error in the shape of the service (or admin API / IMS) that ``path`` belongs to."""
    service = service_of(path)
    if service == "flowservice":
        return flow_error(status, {400: 1100, 404: 1101}.get(status, 1000), detail)
    if service == "schemaregistry":
        return xdm_error(status, {400: 1001, 404: 1012}.get(status, 1000), detail)
    if service == "catalog":
        return service_error("CAT", status, 1000, detail)
    if service == "identity":
        return service_error("IDN", status, 1000, detail)
    if service:
        return service_error("DP", status, 1000, detail)
    if path in IMS_PATHS:
        return ims_error(status, "invalid_request", detail)
    return APIError(
        status, {"title": "Bad Request" if status == 400 else "Error", "status": status, "detail": detail}
    )


async def _read_body(receive: Receive) -> list[Message] | None:
    """Every ``http.request`` message of the request body, or None if the client left first.

    Reading the body up front (it normally arrived with the headers) is what a gateway does: once
    it has the request, the backend processes it even if the client then gives up (a timeout), so
    a slow request still commits instead of failing with ``ClientDisconnect`` inside a route.
    """
    messages: list[Message] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        messages.append(message)
        if not message.get("more_body"):
            return messages


def _replay(messages: list[Message], receive: Receive | None) -> Receive:
    """A ``receive`` that hands out the buffered body, then defers to ``receive`` (or says the
    client is gone when there is none: a replayed request has no client)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


class EmulatorApp(FastAPI):
    """FastAPI app whose outermost layer does what AEP's gateway does before a service sees a call:
    request ids, request log, fault injection, header checks; and drops answers or commits late on
    demand.

    ``admin_remote`` (default ``False``): whether the unauthenticated admin API under
    ``/_emulator/`` answers callers that are not on this machine (403 otherwise).
    """

    admin_remote: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        state: EmulatorState = self.state.emulator
        request_id = str(uuid.uuid4())
        token = current_request_id.set(request_id)
        try:
            await self._handle(state, request_id, scope, receive, send)
        finally:
            current_request_id.reset(token)

    async def _handle(
        self, state: EmulatorState, request_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        original_path: str = scope["path"]
        path = normalise_gateway_path(original_path)
        if path != original_path:
            scope = {**scope, "path": path, "raw_path": path.encode()}
        method: str = scope["method"]
        rid_header = (b"x-request-id", request_id.encode())

        if path.startswith(ADMIN_PREFIX):
            if not self.admin_remote and not is_loopback_client(scope):
                detail = (
                    "The emulator's admin API answers callers on this machine only; start aep-emulator "
                    "with --admin-remote to allow others."
                )
                body = {"title": "Forbidden", "status": 403, "detail": detail}
                await _send_json(send, 403, body, {"x-request-id": request_id})
                return
            admin_started = False

            async def admin_send(message: Message) -> None:
                nonlocal admin_started
                if message["type"] == "http.response.start":
                    admin_started = True
                    message["headers"] = [*message.get("headers", []), rid_header]
                await send(message)

            try:
                await super().__call__(scope, receive, admin_send)
            except Exception:
                if not admin_started:
                    raise
            return

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        entry: dict[str, Any] = {
            "method": method,
            "path": original_path,
            "query": _redact_query(scope.get("query_string", b"").decode("latin-1")),
            "status": None,
            "sandbox": headers.get("x-sandbox-name"),
            "org": headers.get("x-gw-ims-org-id"),
            "ts": time.time(),
            "request_id": request_id,
        }
        log = state.request_log
        log.append(entry)
        if len(log) > state.config.max_request_log:
            del log[: len(log) - state.config.max_request_log]

        is_gateway = path.startswith(GATEWAY_PREFIXES)
        is_ims = path in IMS_PATHS
        request_body = await _read_body(receive)
        if request_body is None:  # the client left before its request was complete: nothing to do
            entry["status"] = 499
            entry["client_gone"] = True
            return
        receive = _replay(request_body, receive)
        injector = state.injector if (is_gateway or is_ims) else None
        if injector is not None:
            fault = await injector.check(method, path)
            if fault is not None:
                status, fheaders, fbody = fault
                entry["status"] = status
                entry["fault"] = True
                await _send_json(send, status, fbody, {**fheaders, "x-request-id": request_id})
                return

        if is_gateway:
            length = headers.get("content-length", "0").strip() or "0"
            has_body = length.strip("0") != "" or "chunked" in headers.get("transfer-encoding", "")
            try:
                ctx = check_gateway(state, method, path, headers, has_body, request_id)
            except APIError as err:
                entry["status"] = err.status
                await _send_json(send, err.status, err.body, {**err.headers, "x-request-id": request_id})
                return
            scope.setdefault("state", {})["aep"] = ctx
            entry["sandbox"], entry["org"] = ctx.sandbox_name, ctx.org

        if is_gateway and injector is not None and injector.take_late_commit(method, path):
            await self._late_commit(state, entry, scope, request_body, send, request_id)
            return

        may_drop = injector is not None and injector.matches_drop_after_commit(method, path)
        buffered: list[Message] = []

        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            if may_drop:
                buffered.append(message)
            else:
                await send(message)

        scope.setdefault("state", {})["aep_log_entry"] = entry
        try:
            await super().__call__(scope, receive, wrapped_send)
        except Exception:
            # The exception handler below has already answered (400, the service's error shape);
            # this is the re-raise of Starlette's outermost middleware: keep it off the server log.
            if entry["status"] is None:
                raise
        if not may_drop:
            return
        committed = entry["status"] is not None and int(entry["status"]) < 400
        if committed and injector is not None and injector.should_drop_after_commit(method, path):
            from .faults import abort_connection

            entry["dropped"] = True
            await abort_connection(send)
            return
        for message in buffered:
            await send(message)

    async def _late_commit(
        self,
        state: EmulatorState,
        entry: dict[str, Any],
        scope: Scope,
        body: list[Message],
        send: Send,
        request_id: str,
    ) -> None:
        """The late-commit fault: answer 504 (now, or after holding the request until the commit)
        while the backend applies the request ``late_commit_seconds`` later."""
        from .faults import gateway_timeout_body

        cfg = state.injector.config
        delay = float(cfg.late_commit_seconds)
        entry["late_commit"] = True
        entry["committed_status"] = None

        async def commit() -> None:
            await asyncio.sleep(delay)
            started: dict[str, Any] = {}

            async def discard(message: Message) -> None:
                if message["type"] == "http.response.start":
                    started["status"] = int(message["status"])

            token = current_request_id.set(request_id)
            try:
                await FastAPI.__call__(self, dict(scope), _replay(body, None), discard)
            except Exception:
                if not started:
                    raise
            finally:
                current_request_id.reset(token)
            entry["committed_status"] = started.get("status")
            entry["committed_at"] = time.time()

        task = asyncio.get_running_loop().create_task(commit())
        state.pending_commits.add(task)
        task.add_done_callback(state.pending_commits.discard)
        if cfg.late_commit_mode == "hold":
            try:
                await asyncio.shield(task)  # no answer until the backend has committed
            except asyncio.CancelledError:  # an admin reset cancelled the pending commit
                pass
        entry["status"] = 504
        await _send_json(
            send, 504, gateway_timeout_body(scope["path"], request_id), {"x-request-id": request_id}
        )


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    if exc.status == 204:
        return JSONResponse(None, status_code=204)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def _unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The generic guard: an exception no route anticipated answers 400 in the service's error
    shape (never a 500 with a traceback); the request log marks it ``unhandled``."""
    path = request.scope.get("path", "")
    entry = (request.scope.get("state") or {}).get("aep_log_entry")
    if isinstance(entry, dict):
        entry["unhandled"] = type(exc).__name__
    logger.warning("%s %s raised %s; answered 400", request.method, path, type(exc).__name__)
    logger.debug("unexpected exception", exc_info=exc)
    detail = (
        f"The request could not be processed ({type(exc).__name__}); check the body and the query "
        "parameters against the API reference."
    )
    err = error_for_path(path, 400, detail)
    return JSONResponse(err.body, status_code=400)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Unknown gateway paths and methods answer in the service's error shape (404/405)."""
    assert isinstance(exc, StarletteHTTPException)
    path = request.scope.get("path", "")
    headers = dict(exc.headers or {})
    if not path.startswith(GATEWAY_PREFIXES):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    what = "path" if exc.status_code == 404 else "method"
    err = error_for_path(path, exc.status_code, f"The {what} of {request.method} {path} is not supported.")
    return JSONResponse(err.body, status_code=exc.status_code, headers=headers)


def create_app(config: EmulatorConfig | None = None, *, admin_remote: bool = False) -> FastAPI:
    """Build a fresh emulator app with its own state (``app.state.emulator``).

    ``admin_remote``: let callers that are not on this machine use the admin API (off by default).
    """
    from . import (
        routes_admin,
        routes_catalog,
        routes_conversion,
        routes_descriptors,
        routes_export,
        routes_fieldgroups,
        routes_flowservice,
        routes_identity,
        routes_ims,
        routes_schemaregistry,
    )

    app = EmulatorApp(
        title="AEP emulator",
        description="Local emulator of Adobe Experience Platform source-ingestion APIs.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.emulator = EmulatorState(config)
    app.admin_remote = admin_remote
    # Trailing slashes follow one rule (normalise_gateway_path), never Starlette's redirects.
    app.router.redirect_slashes = False
    app.add_exception_handler(APIError, _api_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
    app.include_router(routes_ims.router)
    app.include_router(routes_admin.router, prefix="/_emulator")
    app.include_router(routes_flowservice.router, prefix="/data/foundation/flowservice")
    app.include_router(routes_fieldgroups.router, prefix="/data/foundation/schemaregistry")
    app.include_router(routes_descriptors.router, prefix="/data/foundation/schemaregistry")
    app.include_router(routes_schemaregistry.router, prefix="/data/foundation/schemaregistry")
    app.include_router(routes_catalog.router, prefix="/data/foundation/catalog")
    app.include_router(routes_conversion.router, prefix="/data/foundation/conversion")
    app.include_router(routes_export.router, prefix="/data/foundation/export")
    app.include_router(routes_identity.router, prefix="/data/core")
    return app
