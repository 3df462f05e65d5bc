"""IMS: ``POST /ims/token/v3`` (client-credentials grant) issuing opaque bearer tokens."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .errors import ims_error
from .validation import emu

router = APIRouter()


@router.post("/ims/token/v3")
@router.post("/ims/token/v2")
async def token(request: Request) -> JSONResponse:
    """Issue a token for any client id with a non-empty secret (or an allow-listed pair)."""
    state = emu(request)
    form: dict[str, str] = dict(parse_qsl(request.url.query, keep_blank_values=True))
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    raw = await request.body()
    if raw:
        if ctype == "application/x-www-form-urlencoded":
            form.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        elif ctype == "multipart/form-data":
            form.update(await _multipart(request))
        else:
            raise ims_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
    grant = form.get("grant_type", "")
    if grant != "client_credentials":
        raise ims_error(
            400,
            "unsupported_grant_type" if grant else "invalid_request",
            f"Unsupported grant_type [{grant}]." if grant else "Missing grant_type parameter.",
        )
    client_id = form.get("client_id", "")
    secret = form.get("client_secret", "")
    if not client_id:
        raise ims_error(400, "invalid_client", "Missing client_id parameter.")
    allowed = state.config.allowed_clients
    if allowed is not None and client_id not in allowed:
        raise ims_error(400, "invalid_client", "invalid client_id parameter")
    if not secret or (allowed is not None and allowed[client_id] != secret):
        raise ims_error(401, "invalid_client", "invalid client_secret parameter")
    scope = form.get("scope", "")
    if not scope.strip():
        raise ims_error(400, "invalid_scope", "Missing scope parameter.")
    access_token, ttl = state.issue_token(client_id, scope)
    return JSONResponse({"access_token": access_token, "token_type": "bearer", "expires_in": ttl})


async def _multipart(request: Request) -> dict[str, str]:
    try:
        form = await request.form()
    except Exception:  # python-multipart missing or bad body
        raise ims_error(400, "invalid_request", "Malformed form body.") from None
    return {k: v for k, v in form.items() if isinstance(v, str)}
