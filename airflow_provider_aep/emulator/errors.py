"""Error bodies in the styles the AEP services use (gateway, Flow Service, Schema Registry...)."""

from __future__ import annotations

import contextvars
import time
import uuid
from typing import Any

#: Request id of the request being handled (set by the app's middleware).
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "aep_emulator_request_id", default=""
)


def request_id() -> str:
    """Return the current request id (or a fresh one outside a request)."""
    return current_request_id.get() or uuid.uuid4().hex


class APIError(Exception):
    """An error answer: raising it anywhere in a handler makes the app answer with ``body``."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


_FLOW_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def flow_error(status: int, code: int | str, detail: str, title: str | None = None) -> APIError:
    """Flow Service error body: ``type`` ends with ``FLOW-<code>-<status>``."""
    rid = request_id()
    return APIError(
        status,
        {
            "type": f"https://ns.adobe.com/aep/errors/FLOW-{code}-{status}",
            "title": title or _FLOW_TITLES.get(status, "Error"),
            "status": status,
            "report": {"detailed-message": detail, "request-id": rid},
            "errorMessage": detail,
            "errorDetails": [],
        },
    )


def not_found(kind: str, resource_id: str) -> APIError:
    """Flow Service 1101-404 for an unknown resource."""
    return flow_error(404, 1101, f"The requested {kind} with id [{resource_id}] was not found.", "Not Found")


def xdm_error(status: int, code: int | str, detail: str, title: str | None = None) -> APIError:
    """Schema Registry error body: ``type`` ends with ``XDM-<code>-<status>``."""
    return APIError(
        status,
        {
            "type": f"http://ns.adobe.com/aep/errors/XDM-{code}-{status}",
            "title": title or _FLOW_TITLES.get(status, "Error"),
            "status": status,
            "report": {
                "registryRequestId": request_id(),
                "timestamp": time.strftime("%m-%d-%Y %H:%M:%S", time.gmtime()),
                "detailed-message": detail,
                "sub-errors": [],
            },
            "detail": detail,
        },
    )


def service_error(
    service: str, status: int, code: int | str, detail: str, title: str | None = None
) -> APIError:
    """Problem-style body for Catalog (``CAT``) and Data Prep (``DP``) errors.

    The specs of these two services document status codes only; the emulator answers with the
    same RFC 7807 layout as the other services so that clients can read a code and a detail.
    """
    return APIError(
        status,
        {
            "type": f"http://ns.adobe.com/aep/errors/{service}-{code}-{status}",
            "title": title or _FLOW_TITLES.get(status, "Error"),
            "status": status,
            "report": {"detailed-message": detail, "request-id": request_id()},
            "detail": detail,
        },
    )


def catalog_error(status: int, code: int | str, detail: str) -> APIError:
    """Catalog error (``CAT-<code>-<status>``)."""
    return service_error("CAT", status, code, detail)


def dataprep_error(status: int, code: int | str, detail: str) -> APIError:
    """Data Prep error (``DP-<code>-<status>``)."""
    return service_error("DP", status, code, detail)


def gateway_error(status: int, error_code: str, message: str) -> APIError:
    """API gateway error body, e.g. ``{"error_code": "403010", "message": "Oauth token is missing."}``."""
    return APIError(status, {"error_code": error_code, "message": message})


def content_type_error() -> APIError:
    """The gateway's answer to a body without a valid Content-Type."""
    return APIError(
        400,
        {
            "type": "/placeholder/type/uri",
            "status": 400,
            "title": "BadRequestError",
            "detail": "A valid content-type must be specified",
        },
    )


def ims_error(status: int, error: str, description: str) -> APIError:
    """IMS token endpoint error body."""
    return APIError(status, {"error": error, "error_description": description})
