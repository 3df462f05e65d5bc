"""Validation of the ``adobe_experience_platform`` Airflow connection, and request-value helpers.

Everything here runs before any HTTP call: a missing client id, org id or secret, or a plain-http
URL to a non-loopback host, raises :class:`~airflow_provider_aep.exceptions.AEPAuthConfigError`
naming the field and the fix.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow_provider_aep.connection_fields import (
    DEFAULT_GATEWAY_URL,
    DEFAULT_IMS_URL,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SANDBOX,
    DEFAULT_SCOPES,
)
from airflow_provider_aep.exceptions import AEPAuthConfigError, AEPInputError

if TYPE_CHECKING:
    from airflow.sdk import Connection

_PLAIN_VALUE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:@/")


def quote_property_value(value: str) -> str:
    """Quote a string for a ``property=<field>==<value>`` filter (``name=="CRMToAEP"``).

    Quoting keeps commas (OR separators) and operators inside the value; embedded backslashes
    and double quotes are backslash-escaped.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sr_property_value(value: str) -> str:
    # Schema Registry documents no quoting: quote only when the value needs it.
    return value if value and set(value) <= _PLAIN_VALUE_CHARS else quote_property_value(value)


def is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def path_segment(field: str, value: str) -> str:
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
        value = ("http://" if is_loopback(host) else "https://") + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _config_error(conn_id, field, f"is not a valid URL ({raw!r}).", "use https://host[:port].")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise _config_error(
            conn_id, field, "must not carry credentials, a query or a fragment.", "use https://host[:port]."
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
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
        gateway_url=_normalise_url(
            conn_id, "host (gateway URL)", conn.host or DEFAULT_GATEWAY_URL, conn.port
        ),
        ims_url=_normalise_url(conn_id, "extra.ims_url", str(opt("ims_url") or DEFAULT_IMS_URL)),
        request_timeout=timeout,
        client_secret=client_secret,
        access_token=access_token or None,
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
        raise AEPInputError(
            field,
            f"no Airflow connection named {conn_id!r}.",
            f"create it ({kind}) in the Airflow UI or CLI, or set the environment variable "
            f"AIRFLOW_CONN_{conn_id.upper()}.",
        ) from None
