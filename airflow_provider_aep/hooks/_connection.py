"""Validation of the ``adobe_experience_platform`` Airflow connection, and request-value helpers.

Everything here runs before any HTTP call and raises naming the field and the fix: a setting that
authenticates (client id, org id, secret, static token, scopes, IMS URL) raises
:class:`~airflow_provider_aep.exceptions.AEPAuthConfigError`; any other unusable setting (gateway or
Identity Service URL, port, sandbox, request timeout) raises its parent
:class:`~airflow_provider_aep.exceptions.AEPConfigError`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow_provider_aep.connection_fields import (
    DEFAULT_GATEWAY_URL,
    DEFAULT_IDENTITY_SERVICE_URL,
    DEFAULT_IMS_URL,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SANDBOX,
    DEFAULT_SCOPES,
)
from airflow_provider_aep.exceptions import (
    AEPAuthConfigError,
    AEPConfigError,
    AEPInputError,
    redact_userinfo,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection


def quote_property_value(value: str) -> str:
    """Quote a string for a Flow Service ``property=<field>==<value>`` filter (``name=="CRMToAEP"``).

    AEP documents double-quoting string values (commas, the OR separator, and operators stay
    inside the value) but no escape character, so values containing ``"`` or ``\\`` are refused
    (see :func:`airflow_provider_aep.hooks._filters.check_lookup_name`).
    """
    from airflow_provider_aep.hooks._filters import flow_service_value

    return flow_service_value("value", value)


def is_loopback(hostname: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1`` (brackets around an IPv6 literal are accepted)."""
    host = hostname.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def path_segment(field: str, value: str) -> str:
    """Validate an id and encode it as exactly one URL path segment.

    Empty or blank ids, ``.`` and ``..`` (which HTTP clients resolve as "this/parent directory"),
    surrounding whitespace and control characters are refused before any request; everything
    else is percent-encoded (``/``, ``?``, ``#``, ``%`` included), so an id can never change the path.
    """
    if not isinstance(value, str) or not value.strip():
        raise AEPInputError(field, f"must be a non-empty id, got {value!r}.", f"pass the {field}.")
    if value.strip() in (".", "..") or value != value.strip() or _CONTROL_RE.search(value):
        raise AEPInputError(
            field,
            f"{value!r} is not a resource id (dot segments, surrounding spaces and control characters "
            "would change or break the request path).",
            f"pass the {field} exactly as AEP returned it.",
        )
    return quote(value, safe="")


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SANDBOX_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,255}")

#: Bounds of the numeric connection extras (field, minimum, maximum).
REQUEST_TIMEOUT_BOUNDS = (0.0, 3600.0)


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
    #: Identity Service host (extra ``identity_service_url``); empty: see :func:`identity_service_url`.
    identity_service_url: str = ""

    def __repr__(self) -> str:
        return (
            f"AEPConnectionSettings(conn_id={self.conn_id!r}, client_id={self.client_id!r}, "
            f"org_id={self.org_id!r}, sandbox_name={self.sandbox_name!r}, gateway_url={self.gateway_url!r}, "
            f"ims_url={self.ims_url!r}, identity_service_url={self.identity_service_url!r}, "
            f"static_token={self.access_token is not None})"
        )

    def base_url(self, service: str) -> str:
        """The host a service is called on: Identity Service on its own (regional) host, every
        other service on the gateway."""
        if service == "identity":
            return self.identity_service_url or self.gateway_url
        return self.gateway_url


#: The connection fields that authenticate: a problem with one is an AEPAuthConfigError.
AUTH_FIELDS = frozenset(
    {
        "login (client id)",
        "password (client secret)",
        "extra.ims_org_id",
        "extra.access_token",
        "extra.scopes",
        "extra.ims_url",
    }
)


def _config_error(conn_id: str, field: str, problem: str, fix: str) -> AEPConfigError:
    """The error for an unusable setting: AEPAuthConfigError for :data:`AUTH_FIELDS`, else
    AEPConfigError (its parent, so ``except AEPConfigError`` catches both)."""
    kind = AEPAuthConfigError if field in AUTH_FIELDS else AEPConfigError
    return kind(f"Connection {conn_id!r}: {field} {problem} Fix: {fix}")


def _host_of(value: str) -> str | None:
    """Host of ``host[:port][/path]`` without a scheme (``[::1]:8080`` gives ``::1``)."""
    try:
        return urlsplit("//" + value).hostname
    except ValueError:
        return None


def _normalise_url(conn_id: str, field: str, raw: Any, port: Any = None) -> str:
    if not isinstance(raw, str):
        raise _config_error(
            conn_id, field, f"must be a URL string, got {type(raw).__name__}.", "use https://host."
        )
    if _CONTROL_RE.search(raw):
        raise _config_error(
            conn_id, field, "contains a control character (line break, tab...).", "use https://host[:port]."
        )
    value = raw.strip()
    if "://" not in value:
        try:  # a bare IPv6 literal (``::1``) gets its brackets
            if ipaddress.ip_address(value).version == 6:
                value = f"[{value}]"
        except ValueError:
            pass
        host = _host_of(value) or ""
        value = ("http://" if is_loopback(host) else "https://") + value
    try:
        parts = urlsplit(value)
        parsed_port = parts.port
    except ValueError:
        parts, parsed_port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _config_error(
            conn_id,
            field,
            f"is not a valid http(s) URL ({redact_userinfo(raw)!r}).",
            "use https://host[:port].",
        )
    if parts.username or parts.password or parts.query or parts.fragment or "@" in parts.netloc:
        raise _config_error(
            conn_id,
            field,
            "must not carry credentials, a query or a fragment.",
            "use https://host[:port] (credentials belong in Login/Password).",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise _config_error(
            conn_id,
            field,
            f"uses plain http for non-loopback host {parts.hostname!r}; "
            "credentials would travel unencrypted.",
            "use https:// (plain http is only accepted for 127.0.0.0/8, ::1 and localhost).",
        )
    if port not in (None, ""):
        if isinstance(port, bool) or not isinstance(port, (int, str)) or not str(port).isdigit():
            raise _config_error(
                conn_id, "port", f"must be a TCP port, got {port!r}.", "use 1-65535 or leave it empty."
            )
        port = int(port)
        if not 1 <= port <= 65535:
            raise _config_error(
                conn_id, "port", f"must be a TCP port, got {port!r}.", "use 1-65535 or leave it empty."
            )
    if port and parsed_port is None:
        netloc = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        value = f"{parts.scheme}://{netloc}:{port}{parts.path}"
    return value.rstrip("/")


def _header_text(conn_id: str, field: str, value: Any, fix: str, *, secret: bool = False) -> str:
    """A string sent in an HTTP header: no control characters (header injection), trimmed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not secret:
        value = str(value)
    if not isinstance(value, str):
        raise _config_error(conn_id, field, f"must be a string, got {type(value).__name__}.", fix)
    if _CONTROL_RE.search(value):
        shown = "" if secret else f" ({value!r})"
        raise _config_error(conn_id, field, f"contains a control character (line break, tab...){shown}.", fix)
    return value.strip()


def _scopes(conn_id: str, raw: Any) -> str:
    fix = 'use a comma-separated string or a list of strings, e.g. "openid,AdobeID".'
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(s, str) for s in items):
        raise _config_error(
            conn_id, "extra.scopes", f"must be a string or a list of strings, got {raw!r}.", fix
        )
    scopes = ",".join(_header_text(conn_id, "extra.scopes", s, fix) for s in items)
    scopes = ",".join(s.strip() for s in scopes.split(",") if s.strip())
    if not scopes:
        raise _config_error(conn_id, "extra.scopes", "is empty.", fix)
    return scopes


def _request_timeout(conn_id: str, raw: Any) -> float:
    from airflow_provider_aep.validation import check_number

    if raw is None:
        return DEFAULT_REQUEST_TIMEOUT
    low, high = REQUEST_TIMEOUT_BOUNDS
    try:
        return check_number(
            "extra.request_timeout", raw, minimum=low, maximum=high, min_exclusive=True, fix=""
        )
    except AEPInputError as exc:
        raise _config_error(
            conn_id, "extra.request_timeout", f"{exc.problem}", f"use seconds, e.g. 60 (at most {high:g})."
        ) from None


def identity_service_url(conn_id: str, raw: Any, gateway_url: str) -> str:
    """The extra ``identity_service_url``, validated like the other URLs; empty: Adobe's North
    America host when the gateway is Adobe's, else the gateway (an emulator or proxy)."""
    if raw is not None:
        return _normalise_url(conn_id, "extra.identity_service_url", raw)
    return DEFAULT_IDENTITY_SERVICE_URL if gateway_url == DEFAULT_GATEWAY_URL else gateway_url


def settings_from_connection(conn: Connection, conn_id: str) -> AEPConnectionSettings:
    """Validate an Airflow connection for AEP; raises :class:`AEPConfigError` (its subclass
    :class:`AEPAuthConfigError` for a setting that authenticates) naming the field.

    Every value is checked before any request: header values (client id, org id, sandbox, static
    token) carry no control characters, numbers are finite and in range, URLs are http(s) without
    credentials (plain http only to loopback), and the ``retry_*`` extras form a valid policy.
    """
    from airflow_provider_aep.hooks._retry import RetryPolicy

    extra = dict(conn.extra_dejson or {})

    def opt(key: str) -> Any:
        value = extra.get(key)
        if value in (None, ""):
            value = extra.get(f"extra__adobe_experience_platform__{key}")
        return None if value in (None, "") else value

    client_id = _header_text(
        conn_id, "login (client id)", conn.login or "", "set Login to the Developer Console client ID."
    )
    if not client_id:
        raise _config_error(
            conn_id, "login (client id)", "is empty.", "set Login to the Developer Console client ID."
        )
    org_fix = 'add "ims_org_id": "<ORG>@AdobeOrg" to the connection extra.'
    org_id = _header_text(conn_id, "extra.ims_org_id", opt("ims_org_id") or "", org_fix)
    if not org_id:
        raise _config_error(conn_id, "extra.ims_org_id", "is missing.", org_fix)
    if not org_id.endswith("@AdobeOrg") or " " in org_id:
        raise _config_error(
            conn_id,
            "extra.ims_org_id",
            f"({org_id!r}) does not end with '@AdobeOrg'.",
            "copy the full organization ID from Developer Console, e.g. 0123ABCD@AdobeOrg.",
        )
    access_token = opt("access_token")
    if access_token is not None:
        access_token = _header_text(
            conn_id, "extra.access_token", access_token, "paste the bearer token alone.", secret=True
        )
    client_secret = conn.password or None
    if not access_token and not client_secret:
        raise _config_error(
            conn_id,
            "password (client secret)",
            "is empty and no static access_token is set.",
            'set Password to the client secret, or add "access_token" to the extra.',
        )
    sandbox_fix = "use the sandbox's technical name, e.g. 'prod' or 'dev-2'."
    sandbox = _header_text(conn_id, "extra.sandbox_name", opt("sandbox_name") or DEFAULT_SANDBOX, sandbox_fix)
    if not _SANDBOX_NAME.fullmatch(sandbox):
        raise _config_error(
            conn_id,
            "extra.sandbox_name",
            f"{sandbox!r} is not an AEP sandbox name (lowercase letters, digits and hyphens).",
            sandbox_fix,
        )
    scopes = _scopes(conn_id, opt("scopes") or DEFAULT_SCOPES)
    timeout = _request_timeout(conn_id, opt("request_timeout"))
    RetryPolicy.from_extra(extra)  # raises naming the extra when a retry_* value is unusable
    gateway_url = _normalise_url(conn_id, "host (gateway URL)", conn.host or DEFAULT_GATEWAY_URL, conn.port)
    return AEPConnectionSettings(
        conn_id=conn_id,
        client_id=client_id,
        org_id=org_id,
        sandbox_name=sandbox,
        scopes=scopes,
        gateway_url=gateway_url,
        ims_url=_normalise_url(conn_id, "extra.ims_url", opt("ims_url") or DEFAULT_IMS_URL),
        request_timeout=timeout,
        client_secret=client_secret,
        access_token=access_token or None,
        identity_service_url=identity_service_url(conn_id, opt("identity_service_url"), gateway_url),
    )


def fetch_airflow_connection(conn_id: str, field: str, kind: str) -> Connection:
    """Fetch an Airflow connection, turning "not defined" into an error that says how to fix it.

    :param conn_id: the Airflow connection id.
    :param field: the operator/hook parameter that named it (``aep_conn_id``, ``source_conn_id``).
    :param kind: what the connection should hold, for the message.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise connection_not_found(conn_id, field, kind) from None


async def afetch_airflow_connection(conn_id: str, field: str, kind: str) -> Connection:
    """:func:`fetch_airflow_connection` for the event loop (``BaseHook.aget_connection``)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return await BaseHook.aget_connection(conn_id)
    except AirflowNotFoundException:
        raise connection_not_found(conn_id, field, kind) from None


def connection_not_found(conn_id: str, field: str, kind: str) -> AEPInputError:
    """The error for a connection id that names no Airflow connection."""
    return AEPInputError(
        field,
        f"no Airflow connection named {conn_id!r}.",
        f"create it ({kind}) in the Airflow UI or CLI, or set the environment variable "
        f"AIRFLOW_CONN_{conn_id.upper()}.",
    )
