"""The FastAPI application of the AEP emulator (``create_app``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .auth import GATEWAY_PREFIX, IMS_PATHS, check_gateway
from .errors import APIError, current_request_id
from .state import EmulatorConfig, EmulatorState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ADMIN_PREFIX = "/_emulator/"
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


class EmulatorApp(FastAPI):
    """FastAPI app whose outermost layer does what AEP's gateway does before a service sees a call:
    request ids, request log, fault injection, header checks; and drops answers on demand."""

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
        path: str = scope["path"]
        method: str = scope["method"]
        rid_header = (b"x-request-id", request_id.encode())

        if path.startswith(ADMIN_PREFIX):

            async def admin_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), rid_header]
                await send(message)

            await super().__call__(scope, receive, admin_send)
            return

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
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

        is_gateway = path.startswith(GATEWAY_PREFIX)
        is_ims = path in IMS_PATHS
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
            has_body = bool(int(headers.get("content-length", "0") or 0)) or "chunked" in headers.get(
                "transfer-encoding", ""
            )
            try:
                ctx = check_gateway(state, method, path, headers, has_body, request_id)
            except APIError as err:
                entry["status"] = err.status
                await _send_json(send, err.status, err.body, {**err.headers, "x-request-id": request_id})
                return
            scope.setdefault("state", {})["aep"] = ctx
            entry["sandbox"], entry["org"] = ctx.sandbox_name, ctx.org

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

        await super().__call__(scope, receive, wrapped_send)
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


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    if exc.status == 204:
        return JSONResponse(None, status_code=204)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    """Build a fresh emulator app with its own state (``app.state.emulator``)."""
    from . import (
        routes_admin,
        routes_catalog,
        routes_conversion,
        routes_flowservice,
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
    app.add_exception_handler(APIError, _api_error_handler)
    app.include_router(routes_ims.router)
    app.include_router(routes_admin.router, prefix="/_emulator")
    app.include_router(routes_flowservice.router, prefix="/data/foundation/flowservice")
    app.include_router(routes_schemaregistry.router, prefix="/data/foundation/schemaregistry")
    app.include_router(routes_catalog.router, prefix="/data/foundation/catalog")
    app.include_router(routes_conversion.router, prefix="/data/foundation/conversion")
    return app
