"""Hook for the Adobe Experience Platform APIs used by source ingestion.

Flow Service, Schema Registry, Catalog and Data Prep behind one authenticated ``requests.Session``:
IMS token cache (``_auth``), retries (``_retry``), pagination (``_pagination``) and error parsing
(``_errors``) live in small helper modules next to this one.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import TYPE_CHECKING, Any

import tenacity
from airflow.sdk import BaseHook

from airflow_provider_aep import __version__
from airflow_provider_aep.connection_fields import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPAuthenticationError,
    AEPConnectionError,
    AEPError,
    AEPInputError,
    AEPResponseLostError,
)
from airflow_provider_aep.hooks import _auth, _retry
from airflow_provider_aep.hooks._calls import SERVICE_BASE_PATHS
from airflow_provider_aep.hooks._connection import (
    REQUEST_TIMEOUT_BOUNDS,
    AEPConnectionSettings,
    fetch_airflow_connection,
    quote_property_value,
    settings_from_connection,
)
from airflow_provider_aep.hooks._errors import error_from_response, safe_path, scrub
from airflow_provider_aep.hooks._flow_service import FlowServiceMixin
from airflow_provider_aep.hooks._platform import XED_ACCEPT, PlatformMixin
from airflow_provider_aep.hooks._retry import RetryPolicy, is_retryable
from airflow_provider_aep.validation import check_number

if TYPE_CHECKING:
    import requests
    from airflow.sdk import Connection

__all__ = [
    "SERVICE_BASE_PATHS",
    "AEPConnectionSettings",
    "AdobeExperiencePlatformHook",
    "RetryPolicy",
    "quote_property_value",
]

_SANDBOX_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,255}")
IMS_TOKEN_PATH = "/ims/token/v3"  # noqa: S105 (a path, not a secret)
JSON = "application/json"


def _mask(value: str | None) -> None:
    if not value:
        return
    from airflow.sdk.log import mask_secret

    mask_secret(value)


class AdobeExperiencePlatformHook(FlowServiceMixin, PlatformMixin, BaseHook):
    """Talk to Adobe Experience Platform (Flow Service, Schema Registry, Catalog, Data Prep).

    :param aep_conn_id: Airflow connection of type ``adobe_experience_platform``.
    :param sandbox_name: sandbox for every call of this hook (default: the connection's).
    :param retry_policy: retry settings (default: connection ``retry_*`` extras, then
        :class:`RetryPolicy` defaults).
    :param timeout: per-request timeout in seconds (default: connection ``request_timeout``).
    """

    conn_name_attr = "aep_conn_id"
    default_conn_name = "aep_default"
    conn_type = "adobe_experience_platform"
    hook_name = "Adobe Experience Platform"

    def __init__(
        self,
        aep_conn_id: str = default_conn_name,
        sandbox_name: str | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self._sandbox_name = sandbox_name
        self._retry_policy = retry_policy
        self._timeout = timeout

    # ------------------------------------------------------------------ connection form
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (Airflow also reads them from provider info)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import FloatField, PasswordField, StringField
        from wtforms.validators import NumberRange, Optional

        widgets: dict[str, Any] = {}
        for name, spec in EXTRA_FIELDS.items():
            label = lazy_gettext(spec["label"])
            if spec["secret"]:
                widgets[name] = PasswordField(
                    label, widget=BS3PasswordFieldWidget(), description=spec["description"]
                )
            elif spec["type"] == "number":
                widgets[name] = FloatField(
                    label,
                    validators=[Optional(), NumberRange(min=0.001)],
                    widget=BS3TextFieldWidget(),
                    description=spec["description"],
                    default=spec["default"],
                )
            else:
                widgets[name] = StringField(
                    label,
                    widget=BS3TextFieldWidget(),
                    description=spec["description"],
                    default=spec["default"],
                )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form."""
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden_fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    # ------------------------------------------------------------------ lazy state
    @cached_property
    def connection(self) -> Connection:
        """The Airflow connection, fetched on first use."""
        return fetch_airflow_connection(
            self.aep_conn_id, "aep_conn_id", "type adobe_experience_platform, see the README"
        )

    @cached_property
    def conn_settings(self) -> AEPConnectionSettings:
        """Validated connection settings; raises before any HTTP call when unusable."""
        settings = settings_from_connection(self.connection, self.aep_conn_id)
        # Airflow's task runner already registers the connection's password with the masker; the
        # static token (an extra) is registered here. IMS tokens are not registered at all: the
        # hook scrubs them from its own errors, and every registration is one more copy in a
        # supervisor DEBUG log (see the README's Reliability section).
        _mask(settings.access_token)
        return settings

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """Effective retry policy (constructor argument wins over connection extras)."""
        if self._retry_policy is not None:
            return self._retry_policy
        return RetryPolicy.from_extra(dict(self.connection.extra_dejson or {}))

    @property
    def sandbox_name(self) -> str:
        """Sandbox used when a call does not name one."""
        return self._sandbox_name or self.conn_settings.sandbox_name

    @property
    def timeout(self) -> float:
        """Per-request timeout in seconds."""
        if self._timeout is None:
            return self.conn_settings.request_timeout
        low, high = REQUEST_TIMEOUT_BOUNDS
        return check_number(
            "timeout",
            self._timeout,
            minimum=low,
            maximum=high,
            min_exclusive=True,
            fix="Pass seconds, e.g. 60.",
        )

    @cached_property
    def user_agent(self) -> str:
        """``airflow-provider-aep/<v> apache-airflow/<v> python-requests/<v>``."""
        import airflow
        import requests

        return (
            f"airflow-provider-aep/{__version__} apache-airflow/{getattr(airflow, '__version__', 'unknown')} "
            f"python-requests/{requests.__version__}"
        )

    @cached_property
    def session(self) -> requests.Session:
        """One ``requests.Session`` per hook (TLS verification always on)."""
        import requests  # deferred: keeps the hook module cheap to import at DAG-parse time

        session = requests.Session()
        session.verify = True
        session.headers["User-Agent"] = self.user_agent
        return session

    def get_conn(self) -> requests.Session:
        """Return the hook's HTTP session."""
        return self.session

    def _secrets(self) -> list[str | None]:
        settings = self.__dict__.get("conn_settings")
        if settings is None:
            return []
        return [settings.client_secret, settings.access_token, _auth.TOKEN_CACHE.peek(self._token_key)]

    # ------------------------------------------------------------------ auth
    @property
    def _token_key(self) -> _auth.TokenKey:
        s = self.conn_settings
        return _auth.token_key(s.ims_url, s.client_id, s.scopes, s.client_secret)

    def get_access_token(self) -> str:
        """A valid bearer token: the static one, or one from the process-wide IMS cache."""
        settings = self.conn_settings
        if settings.access_token:
            return settings.access_token
        return _auth.TOKEN_CACHE.get(self._token_key, self._fetch_token)

    def _retrying(self, method: str, path: str, if_match: bool, idempotent: bool | None) -> tenacity.Retrying:
        policy = self.retry_policy

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            seconds = _retry.backoff_seconds(
                policy, state.attempt_number, getattr(error, "retry_after", None)
            )
            remaining = policy.max_total_seconds - (state.seconds_since_start or 0.0)
            return max(0.0, min(seconds, remaining))

        def log_retry(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            status = getattr(error, "status", None)
            self.log.warning(
                "AEP %s %s: %s (attempt %d, at most %d unless throttled); retrying in %.1f s",
                method,
                path,
                f"HTTP {status}" if status else (getattr(error, "title", None) or "no answer"),
                state.attempt_number,
                policy.max_attempts,
                state.next_action.sleep if state.next_action else 0.0,
            )

        return tenacity.Retrying(
            stop=lambda state: _retry.should_stop(
                policy,
                state.attempt_number,
                state.seconds_since_start or 0.0,
                state.outcome.exception() if state.outcome else None,
            ),
            wait=wait,
            retry=tenacity.retry_if_exception(
                lambda e: is_retryable(method, e, if_match=if_match, idempotent=idempotent)
            ),
            before_sleep=log_retry,
            sleep=lambda seconds: _retry.sleep(seconds),
            reraise=True,
        )

    def _fetch_token(self) -> tuple[str, float]:
        settings = self.conn_settings
        url = settings.ims_url + IMS_TOKEN_PATH
        data = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret or "",
            "scope": settings.scopes,
        }

        def attempt() -> requests.Response:
            response = self._send("POST", url, IMS_TOKEN_PATH, data=data, headers={"Accept": JSON})
            if response.status_code >= 400:
                error = self._error(response, "POST", IMS_TOKEN_PATH)
                if response.status_code < 500 and response.status_code != 429:
                    # IMS answers 400 invalid_client / invalid_scope: a credential problem.
                    raise AEPAuthenticationError(*error.__reduce__()[1]) from None
                raise error
            return response

        response = self._retrying("POST", IMS_TOKEN_PATH, False, idempotent=True)(attempt)
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token or not isinstance(token, str) or any(ord(c) < 0x21 or ord(c) == 0x7F for c in token):
            raise AEPAuthenticationError(
                "POST",
                IMS_TOKEN_PATH,
                response.status_code,
                title="IMS answer carries no access_token (or an unusable one)",
            )
        assert isinstance(body, dict)
        lifetime = _auth.token_lifetime(body.get("expires_in"))
        self.log.info(
            "Fetched an IMS access token for client id %s (valid %d s)", settings.client_id, lifetime
        )
        return token, lifetime

    # ------------------------------------------------------------------ HTTP core
    def _send(
        self,
        method: str,
        url: str,
        error_path: str,
        *,
        lost_is_committed: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        from requests.exceptions import ChunkedEncodingError, ConnectionError, Timeout

        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except (ConnectionError, Timeout, ChunkedEncodingError) as exc:
            cls = AEPResponseLostError if lost_is_committed else AEPConnectionError
            raise cls(
                method,
                error_path,
                None,
                title=type(exc).__name__,
                detail="no answer (connection refused or reset, or timed out)"
                + ("; the request may have been committed" if lost_is_committed else ""),
            ) from None

    def _error(self, response: requests.Response, method: str, path: str) -> AEPAPIError:
        error = error_from_response(method, path, response, self._secrets())
        retry_after = _retry.parse_retry_after(response.headers.get("Retry-After"))
        error.retry_after = retry_after  # type: ignore[attr-defined]
        return error

    def request(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        sandbox_name: str | None = None,
        if_match: str | None = None,
        accept: str | None = None,
    ) -> requests.Response:
        """Send one authenticated request to an AEP service, with retries and error mapping.

        :param method: HTTP method.
        :param service: ``flowservice``, ``schemaregistry``, ``catalog`` or ``conversion``.
        :param path: path below the service base, starting with ``/``.
        :param params: query parameters (a list value repeats the parameter).
        :param json: JSON body (sets ``Content-Type: application/json``).
        :param headers: extra headers (override the computed ones).
        :param sandbox_name: sandbox for this call only.
        :param if_match: etag for ``If-Match`` (makes a PATCH retryable).
        :param accept: ``Accept`` header (default: XDM for Schema Registry GETs, else JSON).
        :return: the successful ``requests.Response``.
        """
        method = method.upper()
        base = SERVICE_BASE_PATHS.get(service)
        if base is None:
            raise AEPInputError(
                "service", f"unknown service {service!r}.", f"use one of {sorted(SERVICE_BASE_PATHS)}."
            )
        if not isinstance(path, str) or not path.startswith("/"):
            raise AEPInputError("path", f"must start with '/', got {path!r}.", "pass e.g. '/flows'.")
        sandbox = sandbox_name if sandbox_name is not None else self.sandbox_name
        if not isinstance(sandbox, str) or not _SANDBOX_NAME.fullmatch(sandbox):
            raise AEPInputError(
                "sandbox_name",
                f"{sandbox!r} is not an AEP sandbox name (lowercase letters, digits and hyphens).",
                "Use the sandbox's technical name as shown in the AEP UI, e.g. 'prod' or 'dev-2'.",
            )
        settings = self.conn_settings
        url = settings.gateway_url + base + path
        error_path = base + safe_path(path)
        if accept is None:
            accept = XED_ACCEPT if service == "schemaregistry" and method == "GET" else JSON
        base_headers = {
            "Accept": accept,
            "x-api-key": settings.client_id,
            "x-gw-ims-org-id": settings.org_id,
            "x-sandbox-name": sandbox,
        }
        if json is not None:
            base_headers["Content-Type"] = JSON
        if if_match:
            base_headers["If-Match"] = if_match
        base_headers.update(headers or {})
        replay_safe = _retry.replay_safe(method, if_match=bool(if_match))
        refreshed = False

        def attempt() -> requests.Response:
            nonlocal refreshed
            while True:
                token = self.get_access_token()
                response = self._send(
                    method,
                    url,
                    error_path,
                    lost_is_committed=not replay_safe,
                    params=params,
                    json=json,
                    headers={**base_headers, "Authorization": f"Bearer {token}"},
                )
                if response.status_code == 401 and not settings.access_token and not refreshed:
                    # The token may have been revoked or expired early: one new token, one replay.
                    refreshed = True
                    self.log.info("AEP %s %s: HTTP 401; refreshing the access token once", method, error_path)
                    _auth.TOKEN_CACHE.invalidate(self._token_key, token)
                    continue
                if response.status_code < 400:
                    return response
                error = self._error(response, method, error_path)
                if response.status_code >= 500 and not replay_safe:
                    lost = AEPResponseLostError(
                        method,
                        error_path,
                        error.status,
                        error.code,
                        error.title,
                        error.detail,
                        error.request_id,
                    )
                    raise lost from None
                raise error

        return self._retrying(method, error_path, bool(if_match), None)(attempt)

    # ------------------------------------------------------------------ connection test
    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call; returns ``(ok, message)`` without secrets."""
        try:
            settings = self.conn_settings
            specs = list(self._fs_list("/flowSpecs", [f"name=={quote_property_value('CRMToAEP')}"], limit=1))
            return True, (
                f"Connected to Adobe Experience Platform (org {settings.org_id}, sandbox "
                f"{self.sandbox_name}); flow spec CRMToAEP {'found' if specs else 'not visible'}."
            )
        except AEPError as exc:
            return False, str(exc)
        except Exception as exc:
            return False, scrub(f"{type(exc).__name__}: {exc}", self._secrets()) or type(exc).__name__
