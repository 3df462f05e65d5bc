"""The sans-IO core of the AEP client: every rule, no socket.

Two thin transports drive it: the synchronous hook (``requests``, for operators) and the
asynchronous client (``httpx``, for the flow-run trigger). Each transport only sends bytes and
sleeps; everything that decides *what* to send and *what an answer means* lives here, once:

* :func:`build_call`: service base path, sandbox check, URL, headers (``Accept``, API key, org,
  sandbox, ``If-Match``, ``Content-Type``) and the path shown in errors (no host, no query);
* :func:`token_call` / :func:`token_from_answer`: the IMS client-credentials exchange;
* :func:`judge`: an answer is a success, a 401 to refresh the token for, or an
  :class:`~airflow_provider_aep.exceptions.AEPAPIError` (mapped by status, scrubbed of secrets,
  ``Retry-After`` attached; a 5xx on a non-replayable call becomes ``AEPResponseLostError``);
* :func:`no_answer`: a connection error or timeout as ``AEPConnectionError`` (or
  ``AEPResponseLostError`` when the request may have been committed);
* :func:`retry_kwargs`: tenacity arguments (stop, wait, retry predicate, logging) used verbatim by
  ``tenacity.Retrying`` (sync) and ``tenacity.AsyncRetrying`` (async);
* decoding a success: :func:`~airflow_provider_aep.hooks._calls.decode_answer` (and
  :func:`~airflow_provider_aep.hooks._calls.one_item`), shared the same way.

Answers are duck-typed (:class:`Answer`): ``requests.Response`` and ``httpx.Response`` both fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import tenacity

from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPAuthenticationError,
    AEPConnectionError,
    AEPInputError,
    AEPResponseLostError,
)
from airflow_provider_aep.hooks import _auth, _retry
from airflow_provider_aep.hooks._calls import SERVICE_BASE_PATHS
from airflow_provider_aep.hooks._connection import AEPConnectionSettings
from airflow_provider_aep.hooks._errors import error_from_response, safe_path
from airflow_provider_aep.hooks._platform import XED_ACCEPT

IMS_TOKEN_PATH = "/ims/token/v3"  # noqa: S105 (a path, not a secret)
JSON = "application/json"
_SANDBOX_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,255}")  # fullmatch: no trailing newline slips by


class Answer(Protocol):
    """What the core reads from an HTTP answer (``requests`` and ``httpx`` responses both fit)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


@dataclass(frozen=True)
class Call:
    """One prepared request, transport-independent (no ``Authorization`` yet)."""

    method: str
    url: str
    error_path: str
    headers: dict[str, str]
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = None
    if_match: bool = False
    #: Overrides the method rule of the retry predicate (the IMS token POST is idempotent).
    idempotent: bool | None = None
    #: Send a bearer token (False for the IMS call itself).
    authenticated: bool = True
    replay_safe: bool = field(init=False)

    def __post_init__(self) -> None:
        safe = _retry.replay_safe(self.method, if_match=self.if_match)
        object.__setattr__(self, "replay_safe", safe if self.idempotent is None else self.idempotent)


def check_target(service: Any, path: Any) -> str:
    """The base path of ``service``; raises :class:`AEPInputError` for an unknown service or bad path."""
    base = SERVICE_BASE_PATHS.get(service) if isinstance(service, str) else None
    if base is None:
        raise AEPInputError(
            "service", f"unknown service {service!r}.", f"use one of {sorted(SERVICE_BASE_PATHS)}."
        )
    if not isinstance(path, str) or not path.startswith("/"):
        raise AEPInputError("path", f"must start with '/', got {path!r}.", "pass e.g. '/flows'.")
    return base


def check_sandbox(sandbox: Any) -> str:
    """``sandbox`` if it is an AEP sandbox name, else :class:`AEPInputError`."""
    if not isinstance(sandbox, str) or not _SANDBOX_NAME.fullmatch(sandbox):
        raise AEPInputError(
            "sandbox_name",
            f"{sandbox!r} is not an AEP sandbox name (lowercase letters, digits and hyphens).",
            "Use the sandbox's technical name as shown in the AEP UI, e.g. 'prod' or 'dev-2'.",
        )
    return sandbox


def build_call(
    settings: AEPConnectionSettings,
    sandbox: Any,
    method: str,
    service: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
    if_match: str | None = None,
    accept: str | None = None,
) -> Call:
    """Validate and prepare an AEP call (raises :class:`AEPInputError` before any I/O)."""
    method = method.upper()
    base = check_target(service, path)
    check_sandbox(sandbox)
    if accept is None:
        accept = XED_ACCEPT if service == "schemaregistry" and method == "GET" else JSON
    all_headers = {
        "Accept": accept,
        "x-api-key": settings.client_id,
        "x-gw-ims-org-id": settings.org_id,
        "x-sandbox-name": sandbox,
    }
    if json is not None:
        all_headers["Content-Type"] = JSON
    if if_match:
        all_headers["If-Match"] = if_match
    all_headers.update(headers or {})
    return Call(
        method=method,
        url=settings.base_url(service) + base + path,
        error_path=base + safe_path(path),
        headers=all_headers,
        params=params,
        json=json,
        if_match=bool(if_match),
    )


def token_call(settings: AEPConnectionSettings) -> Call:
    """The IMS client-credentials request (retried like an idempotent call: no state changes)."""
    return Call(
        method="POST",
        url=settings.ims_url + IMS_TOKEN_PATH,
        error_path=IMS_TOKEN_PATH,
        headers={"Accept": JSON},
        data={
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret or "",
            "scope": settings.scopes,
        },
        idempotent=True,
        authenticated=False,
    )


def with_token(call: Call, token: str) -> dict[str, str]:
    """Headers of ``call`` plus the bearer token."""
    return {**call.headers, "Authorization": f"Bearer {token}"} if call.authenticated else call.headers


def api_error(call: Call, answer: Answer, secrets: Iterable[str | None]) -> AEPAPIError:
    """The :class:`AEPAPIError` of an error answer, scrubbed, with its ``retry_after``."""
    retry_after = _retry.parse_retry_after(answer.headers.get("Retry-After"))
    return error_from_response(call.method, call.error_path, answer, secrets, retry_after)  # type: ignore[arg-type]


#: :func:`judge` verdicts that are not errors.
OK = "ok"
REFRESH = "refresh"


def judge(call: Call, answer: Answer, secrets: Iterable[str | None], *, may_refresh: bool) -> str:
    """``OK``, ``REFRESH`` (a 401 worth one new token) or raise the mapped error.

    :param may_refresh: the token came from IMS (not a static one) and was not refreshed yet.
    """
    status = answer.status_code
    if status == 401 and call.authenticated and may_refresh:
        return REFRESH
    if status < 400:
        return OK
    error = api_error(call, answer, secrets)
    if not call.authenticated and status < 500 and status != 429:
        # IMS answers 400 invalid_client / invalid_scope: a credential problem.
        raise error.as_class(AEPAuthenticationError) from None
    if status >= 500 and not call.replay_safe:
        raise error.as_class(AEPResponseLostError) from None
    raise error


def no_answer(call: Call, exc: BaseException) -> AEPAPIError:
    """A transport failure (refused, reset, timed out) as the error callers and retries know."""
    lost = not call.replay_safe
    cls = AEPResponseLostError if lost else AEPConnectionError
    # One vocabulary whatever the HTTP library calls it (requests: ConnectionError, ReadTimeout,
    # ChunkedEncodingError; httpx: ConnectError, ReadTimeout, RemoteProtocolError...).
    title = "Timeout" if "timeout" in type(exc).__name__.lower() else "ConnectionError"
    return cls(
        call.method,
        call.error_path,
        None,
        title=title,
        detail="no answer (connection refused or reset, or timed out)"
        + ("; the request may have been committed" if lost else ""),
    )


def token_from_answer(answer: Answer, log: Any = None, client_id: str = "") -> tuple[str, float]:
    """``(token, lifetime_seconds)`` from a successful IMS answer.

    The token is not registered with the secrets masker (every registration is one more copy in a
    supervisor DEBUG log); the transports scrub it from their own errors instead.
    """
    try:
        body = answer.json()
    except ValueError:
        body = None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not token or not isinstance(token, str) or any(ord(c) < 0x21 or ord(c) == 0x7F for c in token):
        raise AEPAuthenticationError(
            "POST",
            IMS_TOKEN_PATH,
            answer.status_code,
            title="IMS answer carries no access_token (or an unusable one)",
        )
    assert isinstance(body, dict)
    lifetime = _auth.token_lifetime(body.get("expires_in"))
    if log is not None:
        log.info("Fetched an IMS access token for client id %s (valid %d s)", client_id, lifetime)
    return token, lifetime


def retry_kwargs(policy: _retry.RetryPolicy, call: Call, log: Any) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` and ``tenacity.AsyncRetrying`` alike (one rule set)."""

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        seconds = _retry.backoff_seconds(
            policy, state.attempt_number, error.retry_after if isinstance(error, AEPAPIError) else None
        )
        remaining = policy.max_total_seconds - (state.seconds_since_start or 0.0)
        return max(0.0, min(seconds, remaining))

    def log_retry(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        status = getattr(error, "status", None)
        log.warning(
            "AEP %s %s: %s (attempt %d, at most %d unless throttled); retrying in %.1f s",
            call.method,
            call.error_path,
            f"HTTP {status}" if status else (getattr(error, "title", None) or "no answer"),
            state.attempt_number,
            policy.max_attempts,
            state.next_action.sleep if state.next_action else 0.0,
        )

    return {
        "stop": lambda state: _retry.should_stop(
            policy,
            state.attempt_number,
            state.seconds_since_start or 0.0,
            state.outcome.exception() if state.outcome else None,
        ),
        "wait": wait,
        "retry": tenacity.retry_if_exception(
            lambda e: _retry.is_retryable(call.method, e, if_match=call.if_match, idempotent=call.idempotent)
        ),
        "before_sleep": log_retry,
        "reraise": True,
    }


def user_agent(http_library: str) -> str:
    """``airflow-provider-aep/<v> apache-airflow/<v> <http_library>``."""
    import airflow

    from airflow_provider_aep import __version__

    return (
        f"airflow-provider-aep/{__version__} apache-airflow/{getattr(airflow, '__version__', 'unknown')} "
        f"{http_library}"
    )


def mask(value: str | None) -> None:
    """Register a secret with Airflow's log masker."""
    if not value:
        return
    from airflow.sdk.log import mask_secret

    mask_secret(value)


def secrets_of(settings: AEPConnectionSettings | None) -> list[str | None]:
    """Values to scrub from error texts: client secret, static token, cached IMS token."""
    if settings is None:
        return []
    return [settings.client_secret, settings.access_token, _auth.TOKEN_CACHE.peek(token_key(settings))]


def token_key(settings: AEPConnectionSettings) -> _auth.TokenKey:
    """The process-wide token cache key of a connection."""
    return _auth.token_key(settings.ims_url, settings.client_id, settings.scopes, settings.client_secret)
