"""Turn AEP (and IMS) error answers into :class:`~airflow_provider_aep.exceptions.AEPAPIError`.

Bodies understood (see the API notes, section 5):

* gateway: ``{"error_code": "403010", "message": "..."}``
* Flow Service: ``{"type": ".../FLOW-1404-412", "title", "status", "report": {"detailed-message",
  "request-id"}, "errorMessage"}``
* Schema Registry: ``{"type": ".../XDM-1012-404", "title", "detail", "report": {"registryRequestId"}}``
* generic problem: ``{"type", "status", "title", "detail"}``
* stale etag: ``{"errorMessage": "..."}``
* IMS: ``{"error": "invalid_client", "error_description": "..."}``
* anything else, including non-JSON bodies (the first characters of the text are kept).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_aep.exceptions import AEPAPIError, error_class_for_status

if TYPE_CHECKING:
    import requests

_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]*-\d+-\d{3}$")
_TEXT_LIMIT = 300


def safe_path(path_or_url: str) -> str:
    """Path part of a URL or path: no scheme, host, query string or fragment."""
    return urlsplit(path_or_url).path or "/"


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return str(value)


def parse_error_body(body: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """Extract ``(code, title, detail, request_id)`` from a decoded error body."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # some services wrap a single error in a list
    if not isinstance(body, dict):
        return None, None, _text(body), None
    report: dict[str, Any] = body["report"] if isinstance(body.get("report"), dict) else {}
    code = _text(body.get("error_code")) or _text(body.get("code"))
    error_type = body.get("type")
    if not code and isinstance(error_type, str):
        last = error_type.rstrip("/").rsplit("/", 1)[-1]
        if _CODE_RE.match(last):
            code = last
    if not code and isinstance(body.get("error"), str):  # IMS
        code = body["error"]
    title = _text(body.get("title"))
    detail = (
        _text(report.get("detailed-message"))
        or _text(body.get("detail"))
        or _text(body.get("errorMessage"))
        or _text(body.get("message"))
        or _text(body.get("error_description"))
    )
    request_id = (
        _text(report.get("request-id"))
        or _text(report.get("registryRequestId"))
        or _text(body.get("request-id"))
        or _text(body.get("requestId"))
    )
    return code, title, detail, request_id


def scrub(text: str | None, secrets: Iterable[str | None]) -> str | None:
    """Replace secrets in ``text`` by ``***``.

    Two layers: the hook's own secrets (client secret, tokens; length >= 4), and every value
    registered with Airflow's secrets masker, which is where operators register source-system
    credentials (passwords, security tokens, client secrets) before sending them. AEP sometimes
    echoes request values in its error messages, so both must be applied before an exception is built.
    """
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return _redact_registered(text)


def _redact_registered(text: str) -> str:
    try:
        from airflow.sdk.log import redact
    except ImportError:  # pragma: no cover - Airflow without the task SDK's masker
        return text
    try:
        redacted = redact(text)
    except Exception:  # the masker must never turn an error report into a crash
        return text
    return redacted if isinstance(redacted, str) else text


def error_from_response(
    method: str,
    path: str,
    response: requests.Response,
    secrets: Iterable[str | None] = (),
    retry_after: float | None = None,
) -> AEPAPIError:
    """Build the :class:`AEPAPIError` subclass matching an error answer.

    ``response`` is a ``requests.Response`` or an ``httpx.Response`` (same attributes used);
    ``retry_after`` is the wait its ``Retry-After`` header asked for, kept for the retries.
    """
    secrets = list(secrets)
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if body is None or body == "":
        code, title, request_id = None, None, None
        raw = " ".join((response.text or "").split())
        detail = raw[:_TEXT_LIMIT] + ("..." if len(raw) > _TEXT_LIMIT else "") if raw else None
        # requests calls it ``reason``, httpx ``reason_phrase``.
        title = getattr(response, "reason", None) or getattr(response, "reason_phrase", None) or None
    else:
        code, title, detail, request_id = parse_error_body(body)
    request_id = response.headers.get("x-request-id") or request_id
    cls = error_class_for_status(response.status_code)
    return cls(
        method.upper(),
        safe_path(path),
        response.status_code,
        code,
        scrub(title, secrets),
        scrub(detail, secrets),
        request_id,
        retry_after,
    )
