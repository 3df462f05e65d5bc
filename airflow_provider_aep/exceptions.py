"""Exceptions raised by the AEP provider: the whole family, in one module.

:class:`AEPError` is the root. :class:`AEPConfigError` (and :class:`AEPAuthConfigError`) say a
connection setting is unusable; :class:`AEPInputError` is raised *before* any HTTP call when a task
parameter is invalid; :class:`AEPAPIError` (and its status-specific subclasses) describe an answer
from Adobe Experience Platform; :class:`AEPFlowRunError` describes a flow run that ended badly; the
create operators raise :class:`AEPResourceExistsError` and :class:`AEPResourceConflictError`.

Messages are one readable line and never contain tokens or credentials (URL credentials are
redacted; the hook scrubs its secrets from API errors before building them). The errors that carry
data keep it in typed fields, named in ``_fields`` in the order of their constructor's arguments,
and rebuild from those fields when Airflow pickles them (between processes) or serialises them
(:meth:`AEPError.serialize`), so a round trip keeps class, fields and message.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, TypeVar

from airflow.sdk.exceptions import AirflowException, AirflowFailException

_E = TypeVar("_E", bound="AEPError")
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


def _rebuild(cls: type[_E], values: dict[str, Any]) -> _E:
    """Unpickle an error from its fields (see :meth:`AEPError.__reduce__`)."""
    return cls(**values)


class AEPError(AirflowException):
    """Root of every exception this provider raises: one line (whitespace runs, newlines included,
    become one space), URL credentials redacted.

    A subclass with data lists its fields in ``_fields``: its constructor's arguments, in order, each
    kept as a typed attribute; pickling and Airflow's serialisation rebuild the error from them.
    """

    #: Names of the constructor's arguments, each kept as an attribute (empty: just the message).
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any) -> None:
        super().__init__(*(" ".join(a.split()) if isinstance(a, str) else a for a in map(_clean, args)))

    def field_values(self) -> dict[str, Any]:
        """The constructor's keyword arguments that rebuild this error (empty: just the message)."""
        return {name: getattr(self, name) for name in self._fields}

    def __reduce__(self) -> tuple[Any, ...]:
        values = self.field_values()
        if not values:  # a message-only error: rebuilt from its args, as any exception
            return (type(self), self.args, dict(vars(self)))
        return (_rebuild, (type(self), values), dict(vars(self)))

    def serialize(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """``(class path, args, kwargs)`` for Airflow's serialiser, which calls ``cls(*args, **kwargs)``."""
        values = self.field_values()
        if not values:
            return super().serialize()  # type: ignore[no-any-return]
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}", (), values


class AEPConfigError(AEPError):
    """A connection setting (or a retry setting) cannot be used; the message names it and the fix."""


class AEPAuthConfigError(AEPConfigError):
    """The Airflow connection cannot be used to authenticate (missing client id, org id, ...)."""


class AEPInputError(AEPError, AirflowFailException, ValueError):
    """A parameter is invalid; raised before any request is sent.

    The message names the parameter and says how to fix it. It is an ``AirflowFailException``: no
    retry can fix the input, so the task fails on its first try instead of spending its retries.

    :param field: the parameter (task argument, or ``Connection extra 'x'``).
    :param problem: what is wrong with its value.
    :param fix: how to fix it.
    """

    _fields = ("field", "problem", "fix")
    field: str
    problem: str
    fix: str | None

    def __init__(self, field: str, problem: str, fix: str | None = None) -> None:
        self.field = field
        self.problem = _clean(problem)
        self.fix = _clean(fix)
        message = f"{field}: {self.problem}"
        if self.fix:
            message += f" Fix: {self.fix}"
        super().__init__(message)


class AEPResourceExistsError(AEPError, AirflowFailException):
    """A resource with the requested name exists and ``if_exists="fail"`` was given.

    Deterministic, so the task fails without retries.
    """


class AEPResourceConflictError(AEPError, AirflowFailException):
    """A resource with the requested name exists but does not match the request (or AEP forbids
    the change in place). Deterministic, so the task fails without retries."""


class AEPPreconditionError(AEPError, AirflowFailException):
    """A Profile precondition does not hold (checked before any write); the message says the fix."""


class AEPCreateLockTimeoutError(AEPError):
    """Another run holds the create lock, and the resource did not appear in time."""


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
    :param retry_after: seconds the answer's ``Retry-After`` asked to wait (the retries honour it);
        not part of the message.
    """

    _fields = ("method", "path", "status", "code", "title", "detail", "request_id", "retry_after")
    method: str
    path: str
    status: int | None
    code: str | None
    title: str | None
    detail: str | None
    request_id: str | None
    retry_after: float | None

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.title = _clean(title)
        self.detail = _clean(detail)
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self._render())

    def as_class(self, cls: type[_A]) -> _A:
        """The same answer as another class of the family (e.g. an IMS 400 as an authentication error)."""
        return cls(**self.field_values())

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


_A = TypeVar("_A", bound=AEPAPIError)


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
    """A flow run ended in failure (or in a partial success that was configured to fail).

    :param run_id: the run.
    :param status: its final status (``failed``, ``cancelled``, ``partialSuccess``...).
    :param errors: AEP's errors of the run (``[{"code": ..., "message": ...}]``); five are shown.
    :param failed_records: records the run failed to ingest, when known.
    :param flow_id: the run's flow, when known.
    """

    _fields = ("run_id", "status", "errors", "failed_records", "flow_id")
    run_id: str
    status: str
    errors: list[dict[str, Any]]
    failed_records: int | None
    flow_id: str | None

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
