"""Gateway header checks (token, API key, org, sandbox, Content-Type) and IMS token issuing."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import APIError, content_type_error, flow_error, gateway_error, service_error, xdm_error

if TYPE_CHECKING:
    from .state import EmulatorState, SandboxState

GATEWAY_PREFIX = "/data/foundation/"
#: Identity Service (``/data/core/idnamespace/...``) sits behind the same gateway checks.
CORE_PREFIX = "/data/core/"
GATEWAY_PREFIXES = (GATEWAY_PREFIX, CORE_PREFIX)
IMS_PATHS = ("/ims/token/v3", "/ims/token/v2", "/ims/exchange/jwt")
_SANDBOX_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass
class RequestContext:
    """Who is calling and in which sandbox (attached to ``request.state.aep``)."""

    request_id: str
    service: str
    client_id: str
    org: str
    sandbox_name: str
    sandbox: SandboxState

    @property
    def user(self) -> str:
        """The Adobe ID recorded as createdBy/updatedBy."""
        return f"{self.client_id}@AdobeID"


def service_of(path: str) -> str:
    """``flowservice`` / ``schemaregistry`` / ``catalog`` / ``conversion`` / ``identity`` (or ``""``)."""
    if path.startswith(CORE_PREFIX):
        return "identity"
    if not path.startswith(GATEWAY_PREFIX):
        return ""
    return path[len(GATEWAY_PREFIX) :].split("/", 1)[0]


def _service_error(service: str, status: int, code: int, detail: str) -> APIError:
    if service == "flowservice":
        return flow_error(status, code, detail)
    if service == "schemaregistry":
        return xdm_error(status, code, detail)
    if service == "identity":
        return service_error("IDN", status, code, detail)
    return service_error("CAT" if service == "catalog" else "DP", status, code, detail)


def check_gateway(
    state: EmulatorState,
    method: str,
    path: str,
    headers: dict[str, str],
    has_body: bool,
    request_id: str,
) -> RequestContext:
    """Validate the headers of a gateway call like AEP's gateway and services do.

    Raises ``APIError`` with the gateway/service body; returns the request context otherwise.
    """
    service = service_of(path)
    auth = headers.get("authorization", "")
    if not auth.strip():
        raise gateway_error(403, "403010", "Oauth token is missing.")
    scheme, _, token = auth.strip().partition(" ")
    tok = state.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
    if tok is None or tok.expires_at <= time.time():
        raise gateway_error(401, "401013", "Oauth token is not valid")
    api_key = headers.get("x-api-key", "")
    if not api_key:
        raise gateway_error(403, "403000", "Api Key is required")
    if api_key != tok.client_id:
        raise gateway_error(403, "403003", "Api Key is invalid")
    org = headers.get("x-gw-ims-org-id", "")
    if not org:
        raise gateway_error(400, "400003", "Missing required header x-gw-ims-org-id")
    sandbox_name = headers.get("x-sandbox-name", "")
    if not sandbox_name:
        raise _service_error(service, 400, 2105, "The header x-sandbox-name is missing from the request.")
    known = state.config.sandboxes
    if not _SANDBOX_RE.match(sandbox_name) or (known is not None and sandbox_name not in known):
        raise _service_error(service, 404, 2100, f"The sandbox [{sandbox_name}] was not found.")
    if has_body and method in ("POST", "PUT", "PATCH"):
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        allowed = {"application/json"}
        if service == "catalog" and method == "PATCH":
            allowed.add("application/json-patch+json")
        if ctype not in allowed:
            raise content_type_error()
    return RequestContext(
        request_id=request_id,
        service=service,
        client_id=tok.client_id,
        org=org,
        sandbox_name=sandbox_name,
        sandbox=state.sandbox(org, sandbox_name),
    )
