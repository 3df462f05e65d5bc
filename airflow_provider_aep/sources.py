"""The source systems the provider knows: one table, one entry per source.

Everything the provider knows about a source lives in its :class:`Source` entry: the Flow Service
connection spec id, the flow spec that moves it to the Data Lake, each auth type (the connection
extra ``auth_type`` value, the AEP auth spec name, how it builds ``auth.params`` from an Airflow
connection and which of those params are secret), the delta column the examples use and how the
source's instance is named in lineage. Adding a source means adding one entry to :data:`SOURCES`;
:class:`~airflow_provider_aep.operators.connections.AEPCreateBaseConnectionOperator`, its
validation, secret masking, converge diff and the lineage namespaces all read this table.

Import the entries (or their ids) instead of copying literals::

    from airflow_provider_aep.sources import SALESFORCE_SERVICE_CLOUD

    SALESFORCE_SERVICE_CLOUD.connection_spec_id  # "cb66ab34-..."
    SALESFORCE_SERVICE_CLOUD.flow_spec_name  # "CRMToAEP"

Only the standard library is imported at module level (``airflow.sdk.log`` only when a secret is
masked), so the DAG-parse path pays nothing for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_aep.constants import CRM_TO_AEP_FLOW_SPEC
from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.validation import check_enum

#: Source connection extra listing the ``auth_params`` keys whose values are not secret
#: (generic specs, ``source=None``).
NON_SECRET_AUTH_PARAMS = "non_secret_auth_params"  # noqa: S105 (an extra key)
#: Connection extras masked as secrets for every source (before any auth is built).
SECRET_EXTRAS = ("security_token", "client_secret")


# ----------------------------------------------------------------------------- credentials
@dataclass(frozen=True)
class SourceCredentials:
    """The parts of a source's Airflow connection the auth builders read.

    :param conn_id: the Airflow connection id (named in every error).
    """

    conn_id: str
    host: str | None = None
    login: str | None = None
    password: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_connection(cls, conn_id: str, conn: Any) -> SourceCredentials:
        """From an Airflow ``Connection`` (``host``, ``login``, ``password``, ``extra_dejson``)."""
        extra = conn.extra_dejson or {}
        return cls(conn_id, conn.host, conn.login, conn.password, dict(extra))

    def url(self) -> str:
        """The connection's host as an ``https://`` URL (credentials in it are masked)."""
        host = self.host
        if not host or not host.strip():
            raise AEPInputError(
                f"{self.conn_id}.host", "the source connection has no host (the source URL).", "Set its host."
            )
        host = host.strip().rstrip("/")
        url = host if "://" in host else f"https://{host}"
        mask_url_credentials(url)
        return url

    def login_and_password(self, what: str, fix: str) -> tuple[str, str]:
        """Login and password, both required; *what* says what they hold (``username/password``)."""
        if not self.login or not self.password:
            raise AEPInputError(
                "source_conn_id", f"connection {self.conn_id!r} needs login and password ({what}).", fix
            )
        return self.login, self.password

    def extra_text(self, key: str) -> str | None:
        """The extra *key* as text, ``None`` when absent or empty."""
        value = self.extra.get(key)
        return None if value in (None, "") else str(value)

    def required_extra(self, key: str, why: str, example: str) -> str:
        """The extra *key* as text; an error naming the connection and *example* when absent."""
        value = self.extra_text(key)
        if value is None:
            raise AEPInputError(
                "source_conn_id",
                f"connection {self.conn_id!r} has no extra {key!r} ({why}).",
                f"Add {example} to its extra.",
            )
        return value


# ----------------------------------------------------------------------------- the table's types
AuthBuilder = Callable[[SourceCredentials], dict[str, Any]]


@dataclass(frozen=True)
class AuthType:
    """One way a source authenticates.

    :param name: the value of the source connection's extra ``auth_type`` (``basic``).
    :param spec_name: the AEP auth spec name (``Basic Authentication``).
    :param build: builds ``auth.params`` from the Airflow connection (raises :class:`AEPInputError`
        naming the connection field and the fix).
    :param params: every ``auth.params`` key it may send.
    :param secret_params: the keys whose values are secret: masked in logs, never compared with what
        AEP returns (AEP never returns them), re-sent on every converge.
    """

    name: str
    spec_name: str
    build: AuthBuilder
    params: tuple[str, ...]
    secret_params: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SourceAuth:
    """A built ``auth`` block: what the base connection sends, and which of its params are secret."""

    spec_name: str
    params: Mapping[str, Any]
    secret_keys: frozenset[str]

    def body(self) -> dict[str, Any]:
        """The request's ``auth`` object."""
        return {"specName": self.spec_name, "params": dict(self.params)}


@dataclass(frozen=True)
class Source:
    """Everything the provider knows about one source system (an entry of :data:`SOURCES`).

    :param key: the operators' ``source=`` value.
    :param title: human name, for messages.
    :param connection_spec_id: Flow Service connection spec id.
    :param auth_types: the auth types it accepts (the first is the default).
    :param lineage_scheme: OpenLineage namespace scheme of the source instance (``salesforce://``).
    :param table_kind: what a "table" of this source is called (``object``, ``entity set``).
    :param example_table: a table every instance has, for examples and docs.
    :param delta_column: the usual last-modified column of that table (the dataflow's delta column).
    :param delta_date_format: that column's format, as AEP's Copy transformation reads it.
    :param flow_spec_name: the flow spec that moves the source to the Data Lake.
    :param lineage_keeps_path: the lineage namespace keeps the URL path (an OData service root).
    :param secret_extras: connection extras masked before any auth is built (beyond
        :data:`SECRET_EXTRAS`).
    :param default_auth: picks the auth type name from the extras when ``auth_type`` is not set
        (default: the first auth type).
    """

    key: str
    title: str
    connection_spec_id: str
    auth_types: tuple[AuthType, ...]
    lineage_scheme: str
    table_kind: str
    example_table: str
    delta_column: str | None
    delta_date_format: str = "yyyy-MM-dd HH:mm:ss"
    flow_spec_name: str = CRM_TO_AEP_FLOW_SPEC
    lineage_keeps_path: bool = False
    secret_extras: tuple[str, ...] = ()
    default_auth: Callable[[Mapping[str, Any]], str] | None = None

    @property
    def auth_spec_names(self) -> tuple[str, ...]:
        """The AEP auth spec names it accepts."""
        return tuple(a.spec_name for a in self.auth_types)

    def __getitem__(self, key: str) -> Any:
        """Read an entry like the dicts ``SOURCES`` held before this table (``["connection_spec_id"]``,
        ``["auth_specs"]``), so that code written against them keeps working."""
        legacy = {"connection_spec_id": self.connection_spec_id, "auth_specs": self.auth_spec_names}
        return legacy[key]

    def choose_auth(self, creds: SourceCredentials, auth_spec_name: str | None = None) -> AuthType:
        """The auth type: by *auth_spec_name* if given, else the extra ``auth_type``, else the default."""
        if auth_spec_name is not None:
            wanted = check_enum("auth_spec_name", auth_spec_name, self.auth_spec_names)
            return next(a for a in self.auth_types if a.spec_name == wanted)
        name = str(creds.extra.get("auth_type") or "").lower()
        if not name:
            name = self.default_auth(creds.extra) if self.default_auth else self.auth_types[0].name
        names = tuple(a.name for a in self.auth_types)
        check_enum(f"{creds.conn_id}.extra.auth_type", name, names)
        return self.auth_types[names.index(name)]

    def build_auth(self, creds: SourceCredentials, auth_spec_name: str | None = None) -> SourceAuth:
        """``auth`` for a base connection of this source; every secret is masked before it returns."""
        mask_connection_secrets(creds, (*SECRET_EXTRAS, *self.secret_extras))
        auth = self.choose_auth(creds, auth_spec_name)
        params = auth.build(creds)
        for key in auth.secret_params:
            mask_leaves(params.get(key))
        return SourceAuth(auth.spec_name, params, auth.secret_params & set(params))


def generic_auth(creds: SourceCredentials, spec_name: str) -> SourceAuth:
    """``auth`` of a spec outside the table (``source=None``): the extra ``auth_params`` verbatim.

    Every value is secret unless its key is listed in the extra ``non_secret_auth_params``.
    """
    mask_connection_secrets(creds, SECRET_EXTRAS)
    params = creds.extra.get("auth_params")
    if not isinstance(params, dict):
        raise AEPInputError(
            "source_conn_id",
            f"connection {creds.conn_id!r} has no 'auth_params' object in its extra.",
            'Put {"auth_params": {...}} (sent verbatim as auth.params) in its extra.',
        )
    non_secret = creds.extra.get(NON_SECRET_AUTH_PARAMS)
    mask_auth_params(creds.conn_id, params, non_secret)
    public = set(non_secret or [])
    return SourceAuth(spec_name, dict(params), frozenset(k for k in params if k not in public))


# ----------------------------------------------------------------------------- auth builders
def _salesforce_basic(c: SourceCredentials) -> dict[str, Any]:
    url = c.url()
    login, password = c.login_and_password("username/password", "Set them on the Airflow connection.")
    params: dict[str, Any] = {
        "environmentUrl": url,
        "username": login,
        "password": password,
        "securityToken": c.extra_text("security_token") or "",
    }
    api_version = c.extra_text("api_version")
    if api_version:
        params["apiVersion"] = api_version
    return params


def _salesforce_oauth2(c: SourceCredentials) -> dict[str, Any]:
    url = c.url()
    client_id, secret = c.login_and_password("client id/client secret", "Set them on the Airflow connection.")
    api_version = c.required_extra("api_version", "required for OAuth2", '{"api_version": "60.0"}')
    return {"environmentUrl": url, "clientId": client_id, "clientSecret": secret, "apiVersion": api_version}


def _servicenow_basic(c: SourceCredentials) -> dict[str, Any]:
    login, password = c.login_and_password(
        "username/password", "Set the ServiceNow username and password on it."
    )
    return {"endpoint": c.url(), "username": login, "password": password}


def _odata_anonymous(c: SourceCredentials) -> dict[str, Any]:
    return {"url": c.url()}


# ----------------------------------------------------------------------------- the table
SALESFORCE_SERVICE_CLOUD = Source(
    key="salesforce_service_cloud",
    title="Salesforce Service Cloud",
    connection_spec_id="cb66ab34-8619-49cb-96d1-39b37ede86ea",
    auth_types=(
        AuthType(
            "basic",
            "Basic Authentication",
            _salesforce_basic,
            params=("environmentUrl", "username", "password", "securityToken", "apiVersion"),
            secret_params=frozenset({"password", "securityToken"}),
        ),
        AuthType(
            "oauth2",
            "OAuth2 Client Credential",
            _salesforce_oauth2,
            params=("environmentUrl", "clientId", "clientSecret", "apiVersion"),
            secret_params=frozenset({"clientSecret"}),
        ),
    ),
    lineage_scheme="salesforce",
    table_kind="object",
    example_table="Account",
    delta_column="LastModifiedDate",
    # a security token means username/password; otherwise the login is an OAuth2 client id
    default_auth=lambda extra: "basic" if extra.get("security_token") else "oauth2",
)
SERVICENOW = Source(
    key="servicenow",
    title="ServiceNow",
    connection_spec_id="eb13cb25-47ab-407f-ba89-c0125281c563",
    auth_types=(
        AuthType(
            "basic",
            "Basic Authentication",
            _servicenow_basic,
            params=("endpoint", "username", "password"),
            secret_params=frozenset({"password"}),
        ),
    ),
    lineage_scheme="servicenow",
    table_kind="table",
    example_table="sys_user",
    delta_column="sys_updated_on",
)
GENERIC_ODATA = Source(
    key="generic_odata",
    title="Generic OData",
    connection_spec_id="8e6b41a8-d998-4545-ad7d-c6a9fff406c3",
    auth_types=(AuthType("anonymous", "Anonymous Authentication", _odata_anonymous, params=("url",)),),
    lineage_scheme="odata",
    table_kind="entity set",
    example_table="Orders",
    delta_column="ModifiedDate",
    delta_date_format="yyyy-MM-ddTHH:mm:ssZ",  # the protocols tutorial's format
    lineage_keeps_path=True,
)

#: Every known source by its ``source=`` key. Adding a source = adding an entry here.
SOURCES: dict[str, Source] = {s.key: s for s in (SALESFORCE_SERVICE_CLOUD, SERVICENOW, GENERIC_ODATA)}

#: Connection spec ids of the known sources, for DAGs that need only the id.
SALESFORCE_SERVICE_CLOUD_SPEC_ID = SALESFORCE_SERVICE_CLOUD.connection_spec_id
SERVICENOW_SPEC_ID = SERVICENOW.connection_spec_id
GENERIC_ODATA_SPEC_ID = GENERIC_ODATA.connection_spec_id


def source_for_spec(connection_spec_id: Any) -> Source | None:
    """The entry whose connection spec id is *connection_spec_id* (``None`` for other specs)."""
    return next((s for s in SOURCES.values() if s.connection_spec_id == str(connection_spec_id)), None)


# ----------------------------------------------------------------------------- secret masking
def _mask(value: Any) -> None:
    if value:
        from airflow.sdk.log import mask_secret

        mask_secret(value)


def mask_connection_secrets(creds: SourceCredentials, extras: tuple[str, ...]) -> None:
    """Mask the connection's password and the secret *extras* before anything can log them."""
    _mask(creds.password)
    for key in extras:
        _mask(creds.extra.get(key))


def mask_url_credentials(value: str) -> None:
    """Register the user info of every ``scheme://user:pass@host`` URL in *value* as a secret."""
    for match in re.finditer(r"(?i)\b[a-z][a-z0-9+.\-]*://([^\s/?#'\"<>]*)@", value):
        userinfo = match.group(1)
        _mask(userinfo)
        _mask(userinfo.split(":", 1)[1] if ":" in userinfo else None)


def mask_leaves(value: Any) -> None:
    """Register every scalar inside *value* (nested dicts and lists included) as a secret."""
    if isinstance(value, dict):
        for item in value.values():
            mask_leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            mask_leaves(item)
    elif value is not None and not isinstance(value, bool):
        _mask(str(value))


def mask_auth_params(conn_id: str, params: dict[str, Any], non_secret: Any) -> None:
    """Mask every value of a generic spec's ``auth_params`` except the keys listed as non-secret.

    Key names say nothing reliable about secrecy (``pwd``, ``connectionString`` with a
    ``Password=`` inside...), so every value is secret by default; the source connection's extra
    ``non_secret_auth_params`` (a list of keys) opts values out, e.g. ``["url", "server"]``.
    Credentials inside URLs are masked even then.
    """
    keys = [] if non_secret in (None, "") else non_secret
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise AEPInputError(
            f"{conn_id}.extra.{NON_SECRET_AUTH_PARAMS}",
            f"must be a list of auth_params keys, got {type(non_secret).__name__}.",
            'Use e.g. ["url", "server"], or remove it to mask every value.',
        )
    unknown = sorted(set(keys) - set(params))
    if unknown:
        raise AEPInputError(
            f"{conn_id}.extra.{NON_SECRET_AUTH_PARAMS}",
            f"lists {unknown} which auth_params does not contain.",
            f"List only keys of auth_params ({sorted(params)}).",
        )
    for key, value in params.items():
        if key in keys:
            for text in _strings(value):
                mask_url_credentials(text)
        else:
            mask_leaves(value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []
