"""Hook for the Adobe Experience Platform APIs used by source ingestion.

Flow Service, Schema Registry, Catalog and Data Prep behind one authenticated ``requests.Session``:
IMS token cache (``_auth``), retries (``_retry``), pagination (``_pagination``) and error parsing
(``_errors``) live in small helper modules next to this one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests
import tenacity
from airflow.sdk import BaseHook

from airflow_provider_aep import __version__
from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPAuthConfigError,
    AEPAuthenticationError,
    AEPConnectionError,
    AEPError,
    AEPInputError,
    AEPNotFoundError,
    AEPResponseLostError,
)
from airflow_provider_aep.hooks import _auth, _pagination, _retry
from airflow_provider_aep.hooks._connection_form import (
    CONN_FIELDS,
    DEFAULT_HOST,
    DEFAULT_IMS_URL,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SANDBOX,
    DEFAULT_SCOPES,
    UI_FIELD_BEHAVIOUR,
)
from airflow_provider_aep.hooks._errors import error_from_response, safe_path, scrub
from airflow_provider_aep.hooks._retry import RetryPolicy, is_retryable

if TYPE_CHECKING:
    from airflow.sdk import Connection

__all__ = ["SERVICE_BASE_PATHS", "AdobeExperiencePlatformHook", "RetryPolicy", "quote_property_value"]

SERVICE_BASE_PATHS = {
    "flowservice": "/data/foundation/flowservice",
    "schemaregistry": "/data/foundation/schemaregistry",
    "catalog": "/data/foundation/catalog",
    "conversion": "/data/foundation/conversion",
}
IMS_TOKEN_PATH = "/ims/token/v3"  # noqa: S105 (a path, not a secret)

XED_ACCEPT = "application/vnd.adobe.xed+json; version=1"
XED_FULL_ACCEPT = "application/vnd.adobe.xed-full+json; version=1"
XED_ID_ACCEPT = "application/vnd.adobe.xed-id+json"
JSON = "application/json"

DATASET_REF_PREFIX = "@/dataSets/"
_NO_ANSWER = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_PLAIN_VALUE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:@/")


def quote_property_value(value: str) -> str:
    """Quote a string for a ``property=<field>==<value>`` filter (``name=="CRMToAEP"``).

    Quoting keeps commas (OR separators) and operators inside the value; embedded backslashes
    and double quotes are backslash-escaped.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sr_property_value(value: str) -> str:
    # Schema Registry documents no quoting: quote only when the value needs it.
    return value if value and set(value) <= _PLAIN_VALUE_CHARS else quote_property_value(value)


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _segment(field: str, value: str) -> str:
    """Validate an id and encode it as one path segment."""
    if not isinstance(value, str) or not value.strip():
        raise AEPInputError(field, f"must be a non-empty string, got {value!r}.", f"pass the {field}.")
    return quote(value, safe="")


@dataclass(frozen=True)
class AEPConnectionSettings:
    """Validated contents of the Airflow connection (secrets excluded from ``repr``)."""

    conn_id: str
    client_id: str
    org_id: str
    sandbox_name: str
    scopes: str
    gateway_url: str
    ims_url: str
    request_timeout: float
    client_secret: str | None = None
    access_token: str | None = None

    def __repr__(self) -> str:
        return (
            f"AEPConnectionSettings(conn_id={self.conn_id!r}, client_id={self.client_id!r}, "
            f"org_id={self.org_id!r}, sandbox_name={self.sandbox_name!r}, gateway_url={self.gateway_url!r}, "
            f"ims_url={self.ims_url!r}, static_token={self.access_token is not None})"
        )


def _config_error(conn_id: str, field: str, problem: str, fix: str) -> AEPAuthConfigError:
    return AEPAuthConfigError(f"Connection {conn_id!r}: {field} {problem} Fix: {fix}")


def _normalise_url(conn_id: str, field: str, raw: str, port: int | None = None) -> str:
    value = raw.strip()
    if "://" not in value:
        host = value.split("/", 1)[0].split(":", 1)[0].strip("[]")
        value = ("http://" if _is_loopback(host) else "https://") + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _config_error(conn_id, field, f"is not a valid URL ({raw!r}).", "use https://host[:port].")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise _config_error(
            conn_id, field, "must not carry credentials, a query or a fragment.", "use https://host[:port]."
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise _config_error(
            conn_id,
            field,
            f"uses plain http for non-loopback host {parts.hostname!r}; "
            "credentials would travel unencrypted.",
            "use https:// (plain http is only accepted for 127.0.0.0/8, ::1 and localhost).",
        )
    if port and parts.port is None:
        netloc = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        value = f"{parts.scheme}://{netloc}:{port}{parts.path}"
    return value.rstrip("/")


def settings_from_connection(conn: Connection, conn_id: str) -> AEPConnectionSettings:
    """Validate an Airflow connection for AEP; raises :class:`AEPAuthConfigError` naming the field."""
    extra = dict(conn.extra_dejson or {})

    def opt(key: str) -> Any:
        value = extra.get(key)
        if value in (None, ""):
            value = extra.get(f"extra__adobe_experience_platform__{key}")
        return None if value in (None, "") else value

    client_id = (conn.login or "").strip()
    if not client_id:
        raise _config_error(
            conn_id, "login (client id)", "is empty.", "set Login to the Developer Console client ID."
        )
    org_id = str(opt("ims_org_id") or "").strip()
    if not org_id:
        raise _config_error(
            conn_id,
            "extra.ims_org_id",
            "is missing.",
            'add "ims_org_id": "<ORG>@AdobeOrg" to the connection extra.',
        )
    if not org_id.endswith("@AdobeOrg"):
        raise _config_error(
            conn_id,
            "extra.ims_org_id",
            f"({org_id!r}) does not end with '@AdobeOrg'.",
            "copy the full organization ID from Developer Console, e.g. 0123ABCD@AdobeOrg.",
        )
    access_token = opt("access_token")
    access_token = str(access_token).strip() if access_token else None
    client_secret = conn.password or None
    if not access_token and not client_secret:
        raise _config_error(
            conn_id,
            "password (client secret)",
            "is empty and no static access_token is set.",
            'set Password to the client secret, or add "access_token" to the extra.',
        )
    sandbox = str(opt("sandbox_name") or DEFAULT_SANDBOX).strip()
    scopes_raw = opt("scopes") or DEFAULT_SCOPES
    scopes = ",".join(s.strip() for s in (scopes_raw if isinstance(scopes_raw, list) else [scopes_raw]))
    scopes = ",".join(s.strip() for s in scopes.split(",") if s.strip())
    timeout_raw = opt("request_timeout")
    try:
        timeout = float(timeout_raw) if timeout_raw is not None else DEFAULT_REQUEST_TIMEOUT
    except (TypeError, ValueError):
        timeout = -1.0
    if timeout <= 0:
        raise _config_error(
            conn_id, "extra.request_timeout", f"must be a positive number, got {timeout_raw!r}.", "e.g. 60."
        )
    return AEPConnectionSettings(
        conn_id=conn_id,
        client_id=client_id,
        org_id=org_id,
        sandbox_name=sandbox,
        scopes=scopes,
        gateway_url=_normalise_url(conn_id, "host (gateway URL)", conn.host or DEFAULT_HOST, conn.port),
        ims_url=_normalise_url(conn_id, "extra.ims_url", str(opt("ims_url") or DEFAULT_IMS_URL)),
        request_timeout=timeout,
        client_secret=client_secret,
        access_token=access_token or None,
    )


def _mask(value: str | None) -> None:
    if not value:
        return
    from airflow.sdk.log import mask_secret

    mask_secret(value)


class AdobeExperiencePlatformHook(BaseHook):
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

        def text(key: str) -> Any:
            spec = CONN_FIELDS[key]
            return StringField(
                lazy_gettext(spec["label"]),
                widget=BS3TextFieldWidget(),
                description=spec.get("description"),
                default=spec["schema"].get("default"),
            )

        return {
            "ims_org_id": text("ims_org_id"),
            "sandbox_name": text("sandbox_name"),
            "scopes": text("scopes"),
            "ims_url": text("ims_url"),
            "access_token": PasswordField(
                lazy_gettext(CONN_FIELDS["access_token"]["label"]),
                widget=BS3PasswordFieldWidget(),
                description=CONN_FIELDS["access_token"]["description"],
            ),
            "request_timeout": FloatField(
                lazy_gettext(CONN_FIELDS["request_timeout"]["label"]),
                validators=[Optional(), NumberRange(min=0.001)],
                widget=BS3TextFieldWidget(),
                default=DEFAULT_REQUEST_TIMEOUT,
            ),
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form."""
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    # ------------------------------------------------------------------ lazy state
    @cached_property
    def connection(self) -> Connection:
        """The Airflow connection, fetched on first use."""
        return self.get_connection(self.aep_conn_id)

    @cached_property
    def conn_settings(self) -> AEPConnectionSettings:
        """Validated connection settings; raises before any HTTP call when unusable."""
        settings = settings_from_connection(self.connection, self.aep_conn_id)
        _mask(settings.client_secret)
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
        return float(self._timeout) if self._timeout is not None else self.conn_settings.request_timeout

    @cached_property
    def user_agent(self) -> str:
        """``airflow-provider-aep/<v> apache-airflow/<v> python-requests/<v>``."""
        import airflow

        return (
            f"airflow-provider-aep/{__version__} apache-airflow/{getattr(airflow, '__version__', 'unknown')} "
            f"python-requests/{requests.__version__}"
        )

    @cached_property
    def session(self) -> requests.Session:
        """One ``requests.Session`` per hook (TLS verification always on)."""
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
                "AEP %s %s: %s (attempt %d of %d); retrying in %.1f s",
                method,
                path,
                f"HTTP {status}" if status else (getattr(error, "title", None) or "no answer"),
                state.attempt_number,
                policy.max_attempts,
                state.next_action.sleep if state.next_action else 0.0,
            )

        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts)
            | tenacity.stop_after_delay(policy.max_total_seconds),
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
                raise self._error(response, "POST", IMS_TOKEN_PATH)
            return response

        response = self._retrying("POST", IMS_TOKEN_PATH, False, idempotent=True)(attempt)
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token or not isinstance(token, str):
            raise AEPAuthenticationError(
                "POST", IMS_TOKEN_PATH, response.status_code, title="IMS answer carries no access_token"
            )
        _mask(token)
        try:
            lifetime = float(body.get("expires_in") or _auth.DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = _auth.DEFAULT_TOKEN_LIFETIME
        if lifetime > 7 * 86400:  # legacy JWT exchange answered in milliseconds
            lifetime /= 1000.0
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
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except _NO_ANSWER as exc:
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
        if not isinstance(sandbox, str) or not sandbox.strip():
            raise AEPInputError("sandbox_name", "must be a non-empty string.", "pass e.g. 'prod'.")
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

    def _call(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request` and decode the JSON answer (``None`` for an empty body)."""
        response = self.request(method, service, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AEPAPIError(
                method.upper(),
                SERVICE_BASE_PATHS[service] + safe_path(path),
                response.status_code,
                title="Answer is not JSON",
                detail=scrub(" ".join(response.text.split())[:200], self._secrets()),
            ) from None

    @staticmethod
    def _first_item(body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            return body["items"][0] if body["items"] else None
        return body

    def _get_one(self, service: str, path: str, **kwargs: Any) -> dict:
        body = self._call("GET", service, path, **kwargs)
        item = self._first_item(body)
        if not isinstance(item, dict):
            raise AEPNotFoundError("GET", SERVICE_BASE_PATHS[service] + path, 404, title="Empty answer")
        return item

    def _create(self, service: str, path: str, body: dict, **kwargs: Any) -> dict:
        if not isinstance(body, dict):
            raise AEPInputError("body", f"must be a dict, got {type(body).__name__}.", "pass a JSON object.")
        result = self._first_item(self._call("POST", service, path, json=body, **kwargs))
        return result if isinstance(result, dict) else {"result": result}

    def _fs_list(
        self,
        path: str,
        properties: list[str] | None = None,
        orderby: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict]:
        params: dict[str, Any] = {}
        if properties:
            params["property"] = list(properties)
        if orderby:
            params["orderby"] = orderby
        if limit:
            params["limit"] = int(limit)
        return _pagination.iter_flow_service(
            lambda p: self._call("GET", "flowservice", path, params=p), params
        )

    def _fs_find(self, path: str, name: str) -> dict | None:
        if not isinstance(name, str) or not name:
            raise AEPInputError("name", "must be a non-empty string.", "pass the resource name.")
        for item in self._fs_list(path, [f"name=={quote_property_value(name)}"]):
            if item.get("name") == name:
                return item
        return None

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

    # ------------------------------------------------------------------ specs
    def list_connection_specs(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Connection specs (``property`` filters such as ``name=="service-now"``)."""
        return self._fs_list("/connectionSpecs", properties)

    def get_connection_spec(self, spec_id: str) -> dict:
        """One connection spec."""
        return self._get_one("flowservice", f"/connectionSpecs/{_segment('spec_id', spec_id)}")

    def list_flow_specs(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Flow specs."""
        return self._fs_list("/flowSpecs", properties)

    def get_flow_spec_by_name(self, name: str = "CRMToAEP") -> dict:
        """The flow spec called ``name``; :class:`AEPNotFoundError` when there is none."""
        spec = self._fs_find("/flowSpecs", name)
        if spec is None:
            raise AEPNotFoundError(
                "GET",
                SERVICE_BASE_PATHS["flowservice"] + "/flowSpecs",
                404,
                title="Flow spec not found",
                detail=f"no flow spec named {name!r} in sandbox {self.sandbox_name!r}",
            )
        return spec

    # ------------------------------------------------------------------ base connections
    def create_base_connection(self, body: dict) -> dict:
        """``POST /connections``; returns ``{id, etag}``."""
        return self._create("flowservice", "/connections", body)

    def get_base_connection(self, connection_id: str) -> dict:
        """``GET /connections/{id}`` (unwrapped)."""
        return self._get_one("flowservice", f"/connections/{_segment('connection_id', connection_id)}")

    def list_base_connections(
        self, properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
    ) -> Iterator[dict]:
        """Base connections, lazily paged."""
        return self._fs_list("/connections", properties, orderby, limit)

    def delete_base_connection(self, connection_id: str) -> None:
        """``DELETE /connections/{id}``."""
        self._call("DELETE", "flowservice", f"/connections/{_segment('connection_id', connection_id)}")

    def test_base_connection(self, connection_id: str) -> dict:
        """``GET /connections/{id}/test``: connectivity check of the source credentials."""
        body = self._call(
            "GET", "flowservice", f"/connections/{_segment('connection_id', connection_id)}/test"
        )
        return body if isinstance(body, dict) else {"result": body}

    def explore_base_connection(
        self, connection_id: str, object_type: str = "root", object_path: str | None = None
    ) -> Any:
        """``GET /connections/{id}/explore?objectType=...&object=...`` (tables or a table schema)."""
        params = {"objectType": object_type}
        if object_path is not None:
            params["object"] = object_path
        return self._call(
            "GET",
            "flowservice",
            f"/connections/{_segment('connection_id', connection_id)}/explore",
            params=params,
        )

    def find_base_connection(self, name: str) -> dict | None:
        """Base connection called ``name`` or ``None``."""
        return self._fs_find("/connections", name)

    # ------------------------------------------------------------------ source / target connections
    def create_source_connection(self, body: dict) -> dict:
        """``POST /sourceConnections``; returns ``{id, etag}``."""
        return self._create("flowservice", "/sourceConnections", body)

    def get_source_connection(self, source_connection_id: str) -> dict:
        """``GET /sourceConnections/{id}`` (unwrapped)."""
        return self._get_one(
            "flowservice", f"/sourceConnections/{_segment('source_connection_id', source_connection_id)}"
        )

    def list_source_connections(
        self, properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
    ) -> Iterator[dict]:
        """Source connections, lazily paged."""
        return self._fs_list("/sourceConnections", properties, orderby, limit)

    def delete_source_connection(self, source_connection_id: str) -> None:
        """``DELETE /sourceConnections/{id}``."""
        self._call(
            "DELETE",
            "flowservice",
            f"/sourceConnections/{_segment('source_connection_id', source_connection_id)}",
        )

    def find_source_connection(self, name: str) -> dict | None:
        """Source connection called ``name`` or ``None``."""
        return self._fs_find("/sourceConnections", name)

    def create_target_connection(self, body: dict) -> dict:
        """``POST /targetConnections``; returns ``{id, etag}``."""
        return self._create("flowservice", "/targetConnections", body)

    def get_target_connection(self, target_connection_id: str) -> dict:
        """``GET /targetConnections/{id}`` (unwrapped)."""
        return self._get_one(
            "flowservice", f"/targetConnections/{_segment('target_connection_id', target_connection_id)}"
        )

    def list_target_connections(
        self, properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
    ) -> Iterator[dict]:
        """Target connections, lazily paged."""
        return self._fs_list("/targetConnections", properties, orderby, limit)

    def delete_target_connection(self, target_connection_id: str) -> None:
        """``DELETE /targetConnections/{id}``."""
        self._call(
            "DELETE",
            "flowservice",
            f"/targetConnections/{_segment('target_connection_id', target_connection_id)}",
        )

    def find_target_connection(self, name: str) -> dict | None:
        """Target connection called ``name`` or ``None``."""
        return self._fs_find("/targetConnections", name)

    # ------------------------------------------------------------------ Schema Registry
    def _sr_list(self, path: str, properties: list[str] | None) -> Iterator[dict]:
        params: dict[str, Any] = {"property": list(properties)} if properties else {}
        return _pagination.iter_schema_registry(
            lambda p: self._call("GET", "schemaregistry", path, params=p, accept=XED_ID_ACCEPT), params
        )

    def _sr_find(self, path: str, title: str) -> dict | None:
        if not isinstance(title, str) or not title:
            raise AEPInputError("title", "must be a non-empty string.", "pass the title.")
        for item in self._sr_list(path, [f"title=={_sr_property_value(title)}"]):
            if item.get("title") == title:
                return item
        return None

    def create_class(self, body: dict) -> dict:
        """``POST /tenant/classes``; returns the class (``$id``, ``meta:altId``...)."""
        return self._create("schemaregistry", "/tenant/classes", body)

    def list_classes(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Tenant classes (``{$id, meta:altId, version, title}``), lazily paged."""
        return self._sr_list("/tenant/classes", properties)

    def get_class(self, class_id: str) -> dict:
        """One tenant class by ``meta:altId`` or ``$id``."""
        return self._get_one(
            "schemaregistry", f"/tenant/classes/{_segment('class_id', class_id)}", accept=XED_ACCEPT
        )

    def delete_class(self, class_id: str) -> None:
        """``DELETE /tenant/classes/{id}``."""
        self._call("DELETE", "schemaregistry", f"/tenant/classes/{_segment('class_id', class_id)}")

    def find_class(self, title: str) -> dict | None:
        """Tenant class with this title or ``None``."""
        return self._sr_find("/tenant/classes", title)

    def create_schema(self, body: dict) -> dict:
        """``POST /tenant/schemas``; returns the schema (``$id``, ``meta:altId``...)."""
        return self._create("schemaregistry", "/tenant/schemas", body)

    def get_schema(self, schema_id: str, full: bool = False) -> dict:
        """One tenant schema by ``meta:altId`` or ``$id``; ``full`` resolves every reference."""
        return self._get_one(
            "schemaregistry",
            f"/tenant/schemas/{_segment('schema_id', schema_id)}",
            accept=XED_FULL_ACCEPT if full else XED_ACCEPT,
        )

    def list_schemas(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Tenant schemas (``{$id, meta:altId, version, title}``), lazily paged."""
        return self._sr_list("/tenant/schemas", properties)

    def delete_schema(self, schema_id: str) -> None:
        """``DELETE /tenant/schemas/{id}``."""
        self._call("DELETE", "schemaregistry", f"/tenant/schemas/{_segment('schema_id', schema_id)}")

    def find_schema(self, title: str) -> dict | None:
        """Tenant schema with this title or ``None``."""
        return self._sr_find("/tenant/schemas", title)

    # ------------------------------------------------------------------ Catalog
    def create_dataset(self, body: dict) -> str:
        """``POST /dataSets``; returns the bare dataset id (``@/dataSets/<id>`` stripped)."""
        if not isinstance(body, dict):
            raise AEPInputError("body", f"must be a dict, got {type(body).__name__}.", "pass a JSON object.")
        result = self._call("POST", "catalog", "/dataSets", json=body)
        ref = result[0] if isinstance(result, list) and len(result) == 1 else None
        if not isinstance(ref, str) or not ref.lower().startswith(DATASET_REF_PREFIX.lower()):
            raise AEPAPIError(
                "POST",
                SERVICE_BASE_PATHS["catalog"] + "/dataSets",
                None,
                title="Unexpected dataset create answer",
                detail=f"expected ['@/dataSets/<id>'], got {str(result)[:200]}",
            )
        dataset_id = ref[len(DATASET_REF_PREFIX) :]
        if not dataset_id or "/" in dataset_id:
            raise AEPAPIError(
                "POST",
                SERVICE_BASE_PATHS["catalog"] + "/dataSets",
                None,
                title="Unexpected dataset create answer",
                detail=f"malformed dataset reference {ref!r}",
            )
        return dataset_id

    def get_dataset(self, dataset_id: str) -> dict:
        """``GET /dataSets/{id}``: the dataset object, with ``id`` added."""
        body = self._call("GET", "catalog", f"/dataSets/{_segment('dataset_id', dataset_id)}")
        if isinstance(body, dict):
            obj = body.get(dataset_id)
            if obj is None and len(body) == 1:
                obj = next(iter(body.values()))
            if isinstance(obj, dict):
                return {**obj, "id": obj.get("id", dataset_id)}
        raise AEPNotFoundError(
            "GET", SERVICE_BASE_PATHS["catalog"] + f"/dataSets/{dataset_id}", 404, title="Empty answer"
        )

    def list_datasets(self, name: str | None = None, properties: list[str] | None = None) -> Iterator[dict]:
        """Datasets (each with ``id``); ``name`` filters server-side, ``properties`` picks fields."""
        params: dict[str, Any] = {}
        if name:
            params["name"] = name
        if properties:
            params["properties"] = ",".join(properties)
        return _pagination.iter_catalog(lambda p: self._call("GET", "catalog", "/dataSets", params=p), params)

    def delete_dataset(self, dataset_id: str) -> None:
        """``DELETE /dataSets/{id}``."""
        self._call("DELETE", "catalog", f"/dataSets/{_segment('dataset_id', dataset_id)}")

    def find_dataset(self, name: str) -> dict | None:
        """Dataset called ``name`` or ``None``."""
        if not isinstance(name, str) or not name:
            raise AEPInputError("name", "must be a non-empty string.", "pass the dataset name.")
        return next((d for d in self.list_datasets(name=name) if d.get("name") == name), None)

    # ------------------------------------------------------------------ Data Prep
    def create_mapping_set(self, body: dict) -> dict:
        """``POST /mappingSets``; returns ``{id, version, ...}``."""
        return self._create("conversion", "/mappingSets", body)

    def get_mapping_set(self, mapping_set_id: str, version: int | None = None) -> dict:
        """``GET /mappingSets/{id}[?version=]``."""
        params = {"version": int(version)} if version is not None else None
        return self._get_one(
            "conversion", f"/mappingSets/{_segment('mapping_set_id', mapping_set_id)}", params=params
        )

    def list_mapping_sets(self, name: str | None = None) -> Iterator[dict]:
        """Mapping sets, lazily paged; ``name`` filters server-side."""
        params: dict[str, Any] = {"name": name} if name else {}
        return _pagination.iter_data_prep(
            lambda p: self._call("GET", "conversion", "/mappingSets", params=p), params
        )

    def find_mapping_set(self, name: str) -> dict | None:
        """Mapping set called ``name`` or ``None``."""
        if not isinstance(name, str) or not name:
            raise AEPInputError("name", "must be a non-empty string.", "pass the mapping set name.")
        return next((m for m in self.list_mapping_sets(name=name) if m.get("name") == name), None)

    # ------------------------------------------------------------------ flows
    def create_flow(self, body: dict) -> dict:
        """``POST /flows``; returns ``{id, etag}``."""
        return self._create("flowservice", "/flows", body)

    def get_flow(self, flow_id: str) -> dict:
        """``GET /flows/{id}`` (unwrapped)."""
        return self._get_one("flowservice", f"/flows/{_segment('flow_id', flow_id)}")

    def list_flows(
        self, properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
    ) -> Iterator[dict]:
        """Flows, lazily paged."""
        return self._fs_list("/flows", properties, orderby, limit)

    def find_flow(self, name: str) -> dict | None:
        """Flow called ``name`` or ``None``."""
        return self._fs_find("/flows", name)

    def patch_flow(self, flow_id: str, operations: list[dict], etag: str | None = None) -> dict:
        """JSON-Patch a flow with ``If-Match`` (the current etag is fetched when not given)."""
        if not isinstance(operations, list) or not operations:
            raise AEPInputError(
                "operations",
                "must be a non-empty list of JSON Patch operations.",
                "pass [{op, path, value}].",
            )
        segment = _segment("flow_id", flow_id)
        if etag is None:
            etag = self.get_flow(flow_id).get("etag")
            if not etag:
                raise AEPAPIError(
                    "GET",
                    SERVICE_BASE_PATHS["flowservice"] + f"/flows/{segment}",
                    200,
                    title="Flow has no etag",
                )
        body = self._call("PATCH", "flowservice", f"/flows/{segment}", json=operations, if_match=etag)
        result = self._first_item(body)
        return result if isinstance(result, dict) else {}

    def set_flow_state(self, flow_id: str, enabled: bool) -> dict:
        """``POST /flows/{id}/action?op=enable|disable``; returns ``{id, etag}``."""
        body = self._call(
            "POST",
            "flowservice",
            f"/flows/{_segment('flow_id', flow_id)}/action",
            params={"op": "enable" if enabled else "disable"},
        )
        result = self._first_item(body)
        return result if isinstance(result, dict) else {}

    def delete_flow(self, flow_id: str) -> None:
        """``DELETE /flows/{id}``."""
        self._call("DELETE", "flowservice", f"/flows/{_segment('flow_id', flow_id)}")

    # ------------------------------------------------------------------ runs
    def create_run(self, flow_id: str, params: dict) -> dict:
        """``POST /runs`` with ``{flowId, params}``; returns ``{id, etag}``."""
        _segment("flow_id", flow_id)
        return self._create("flowservice", "/runs", {"flowId": flow_id, "params": dict(params or {})})

    def get_run(self, run_id: str) -> dict:
        """``GET /runs/{id}`` (unwrapped)."""
        return self._get_one("flowservice", f"/runs/{_segment('run_id', run_id)}")

    def list_runs(
        self, flow_id: str, properties: list[str] | None = None, orderby: str | None = None
    ) -> Iterator[dict]:
        """Runs of a flow (``property=flowId==<id>`` plus ``properties``), lazily paged."""
        _segment("flow_id", flow_id)
        return self._fs_list("/runs", [f"flowId=={flow_id}", *(properties or [])], orderby)
