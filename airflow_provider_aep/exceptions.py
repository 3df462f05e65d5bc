"""Exceptions raised by the AEP provider.

One family: :class:`AEPError` is the root. :class:`AEPAPIError` (and its status-specific
subclasses) describe an answer from Adobe Experience Platform; :class:`AEPInputError` is raised
*before* any HTTP call when a parameter is invalid; :class:`AEPFlowRunError` describes a flow run
that ended badly. Messages are one readable line and never contain tokens or credentials.
"""

from __future__ import annotations

import re
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

# ``scheme://user:password@host`` (also ``scheme://token@host``): everything between ``://`` and the
# last ``@`` of the authority is credentials.
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#'\"<>]*@")


def redact_userinfo(text: str) -> str:
    """Replace the credentials of every ``scheme://user:pass@host`` URL in *text* by ``***``."""
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO_RE.sub(r"\1***@", text)


def _clean(value: Any) -> Any:
    return redact_userinfo(value) if isinstance(value, str) else value


class AEPError(AirflowException):
    """Root of every exception this provider raises (URL credentials are redacted from messages)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(_clean(a) for a in args))


class AEPInputError(AEPError, AirflowFailException, ValueError):
    """A parameter is invalid; raised before any request is sent.

    The message names the parameter and says how to fix it. It is an ``AirflowFailException``: no
    retry can fix the input, so the task fails on its first try instead of spending its retries.
    """

    def __init__(self, field: str, problem: str, fix: str | None = None) -> None:
        self.field = field
        self.problem = _clean(problem)
        self.fix = _clean(fix)
        message = f"{field}: {problem}"
        if fix:
            message += f" Fix: {fix}"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.field, self.problem, self.fix))


class AEPAuthConfigError(AEPError):
    """The Airflow connection cannot be used to authenticate (missing client id, org id, ...)."""


class AEPAPIError(AEPError):
    """An error answer from an AEP API (or the IMS token endpoint).

    :param method: HTTP method of the failed request.
    :param path: request path (no query string, no host, never a token).
    :param status: HTTP status code, or ``None`` when no answer arrived.
    :param code: AEP error code: gateway ``403010``, Flow Service ``FLOW-1404-412``,
        Schema Registry ``XDM-1012-404``... or ``None`` when the body carried none.
    :param title: short title from the error body.
    :param detail: the detailed message from the error body.
    :param request_id: AEP request id (``x-request-id`` header or ``report.request-id``).
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.title = _clean(title)
        self.detail = _clean(detail)
        self.request_id = request_id
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [f"AEP {self.method} {self.path} failed"]
        if self.status is not None:
            parts.append(f"with HTTP {self.status}")
        line = " ".join(parts)
        extras = []
        if self.code:
            extras.append(f"code={self.code}")
        if self.title:
            extras.append(f"title={_one_line(self.title)!r}")
        if self.detail:
            extras.append(f"detail={_one_line(self.detail)!r}")
        if self.request_id:
            extras.append(f"request_id={self.request_id}")
        if extras:
            line += ": " + ", ".join(extras)
        return line

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            self.__class__,
            (self.method, self.path, self.status, self.code, self.title, self.detail, self.request_id),
        )


class AEPBadRequestError(AEPAPIError):
    """HTTP 400: AEP rejected the request as invalid."""


class AEPAuthenticationError(AEPAPIError):
    """HTTP 401/403: the token, API key, org or permissions were refused."""


class AEPNotFoundError(AEPAPIError):
    """HTTP 404: the resource (or sandbox) does not exist."""


class AEPPreconditionFailedError(AEPAPIError):
    """HTTP 412: the ``If-Match`` etag is stale; re-read the resource and retry."""


class AEPRateLimitError(AEPAPIError):
    """HTTP 429: throttled, still failing after the configured retries."""


class AEPServerError(AEPAPIError):
    """HTTP 5xx: AEP failed, still failing after the configured retries."""


class AEPConnectionError(AEPAPIError):
    """No HTTP answer: connection refused or reset, or the request timed out."""


class AEPResponseLostError(AEPConnectionError):
    """A create (POST) got no usable answer; it may or may not have been committed.

    Operators recover from this by looking the resource up by name, never by a blind re-POST.
    """


class AEPMalformedAnswerError(AEPAPIError):
    """AEP answered with a success status but the body is unusable (not JSON, wrong shape, missing
    ids), or a list never ends (page cap reached, or pages that bring nothing new)."""


class AEPFlowRunError(AEPError):
    """A flow run ended in failure (or in a partial success that was configured to fail)."""

    def __init__(
        self,
        run_id: str,
        status: str,
        errors: list[dict[str, Any]] | None = None,
        failed_records: int | None = None,
        flow_id: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.status = status
        self.errors = list(errors or [])
        self.failed_records = failed_records
        self.flow_id = flow_id
        super().__init__(self._render())

    def _render(self) -> str:
        line = f"AEP flow run {self.run_id}"
        if self.flow_id:
            line += f" of flow {self.flow_id}"
        line += f" ended with status {self.status}"
        if self.failed_records is not None:
            line += f", {self.failed_records} failed records"
        if self.errors:
            rendered = "; ".join(
                f"{e.get('code', '?')}: {_one_line(str(e.get('message', '')))}" for e in self.errors[:5]
            )
            line += f"; errors: {rendered}"
            if len(self.errors) > 5:
                line += f" (+{len(self.errors) - 5} more)"
        return line

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            self.__class__,
            (self.run_id, self.status, self.errors, self.failed_records, self.flow_id),
        )


class AEPQualityGateError(AEPError, AirflowFailException):
    """A finished run broke a quality gate (``max_failed_records``, ``max_failed_ratio``,
    ``min_records_written``); a retry would not change the figures, so the task fails without retries."""


class AEPFlowRunTimeoutError(AEPError):
    """Waiting for a flow run exceeded its timeout (AEP cannot cancel the run itself)."""


_STATUS_CLASSES: dict[int, type[AEPAPIError]] = {
    400: AEPBadRequestError,
    401: AEPAuthenticationError,
    403: AEPAuthenticationError,
    404: AEPNotFoundError,
    412: AEPPreconditionFailedError,
    429: AEPRateLimitError,
}


def error_class_for_status(status: int | None) -> type[AEPAPIError]:
    """Pick the most specific :class:`AEPAPIError` subclass for an HTTP status."""
    if status is None:
        return AEPConnectionError
    if status >= 500:
        return AEPServerError
    return _STATUS_CLASSES.get(status, AEPAPIError)


def _one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
