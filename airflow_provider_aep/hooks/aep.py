"""Hook for the Adobe Experience Platform APIs used by source ingestion.

Flow Service, Schema Registry, Catalog and Data Prep behind one authenticated ``requests.Session``:
IMS token cache (``_auth``), retries (``_retry``), pagination (``_pagination``) and error parsing
(``_errors``) live in small helper modules next to this one.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import tenacity
from airflow.sdk import BaseHook

from airflow_provider_aep.connection_fields import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_aep.exceptions import AEPError
from airflow_provider_aep.hooks import _auth, _core, _retry
from airflow_provider_aep.hooks._calls import SERVICE_BASE_PATHS
from airflow_provider_aep.hooks._connection import (
    REQUEST_TIMEOUT_BOUNDS,
    AEPConnectionSettings,
    fetch_airflow_connection,
    quote_property_value,
    settings_from_connection,
)
from airflow_provider_aep.hooks._errors import scrub
from airflow_provider_aep.hooks._flow_service import FlowServiceMixin
from airflow_provider_aep.hooks._platform import PlatformMixin
from airflow_provider_aep.hooks._retry import RetryPolicy
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

IMS_TOKEN_PATH = _core.IMS_TOKEN_PATH
_mask = _core.mask


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
        import requests

        return _core.user_agent(f"python-requests/{requests.__version__}")

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
        return _core.secrets_of(self.__dict__.get("conn_settings"))

    # ------------------------------------------------------------------ auth
    @property
    def _token_key(self) -> _auth.TokenKey:
        return _core.token_key(self.conn_settings)

    def get_access_token(self) -> str:
        """A valid bearer token: the static one, or one from the process-wide IMS cache."""
        settings = self.conn_settings
        if settings.access_token:
            return settings.access_token
        return _auth.TOKEN_CACHE.get(self._token_key, self._fetch_token)

    def _retrying(self, call: _core.Call) -> tenacity.Retrying:
        return tenacity.Retrying(
            **_core.retry_kwargs(self.retry_policy, call, self.log),
            sleep=lambda seconds: _retry.sleep(seconds),
        )

    def _fetch_token(self) -> tuple[str, float]:
        settings = self.conn_settings
        call = _core.token_call(settings)

        def attempt() -> requests.Response:
            response = self._send(call)
            _core.judge(call, response, self._secrets(), may_refresh=False)
            return response

        response = self._retrying(call)(attempt)
        return _core.token_from_answer(response, self.log, settings.client_id)

    # ------------------------------------------------------------------ HTTP core
    def _send(self, call: _core.Call, token: str | None = None) -> requests.Response:
        """The only place the sync hook touches the network."""
        from requests.exceptions import ChunkedEncodingError, ConnectionError, Timeout

        try:
            return self.session.request(
                call.method,
                call.url,
                timeout=self.timeout,
                params=call.params,
                json=call.json,
                data=call.data,
                headers=_core.with_token(call, token) if token else call.headers,
            )
        except (ConnectionError, Timeout, ChunkedEncodingError) as exc:
            raise _core.no_answer(call, exc) from None

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
        _core.check_target(service, path)  # before the connection is read: bad input costs no I/O
        sandbox = _core.check_sandbox(sandbox_name if sandbox_name is not None else self.sandbox_name)
        call = _core.build_call(
            self.conn_settings,
            sandbox,
            method,
            service,
            path,
            params=params,
            json=json,
            headers=headers,
            if_match=if_match,
            accept=accept,
        )
        static = bool(self.conn_settings.access_token)
        refreshed = False

        def attempt() -> requests.Response:
            nonlocal refreshed
            while True:
                token = self.get_access_token()
                response = self._send(call, token)
                verdict = _core.judge(
                    call, response, self._secrets(), may_refresh=not static and not refreshed
                )
                if verdict == _core.OK:
                    return response
                # The token may have been revoked or expired early: one new token, one replay.
                refreshed = True
                self.log.info(
                    "AEP %s %s: HTTP 401; refreshing the access token once", call.method, call.error_path
                )
                _auth.TOKEN_CACHE.invalidate(self._token_key, token)

        return self._retrying(call)(attempt)

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
