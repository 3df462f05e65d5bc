"""Flow Service connection operators: base, source, dataset base (legacy) and target connections."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPAPIError, AEPInputError
from airflow_provider_aep.hooks._connection import fetch_airflow_connection
from airflow_provider_aep.operators._converge import Diff
from airflow_provider_aep.operators._diffs import base_connection_diff
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, differs, first_problem
from airflow_provider_aep.validation import (
    DATA_LAKE_CONNECTION_SPEC_ID,
    XED_FULL_NOTEXT_V1,
    XED_FULL_V1,
    check_dataset_id,
    check_enum,
    check_name,
    check_schema_id,
    check_uuid,
    is_schema_alt_id,
    normalize_columns,
    require_str,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

#: Known sources: connection spec id and the auth spec names each accepts.
SOURCES: dict[str, dict[str, Any]] = {
    "salesforce_service_cloud": {
        "connection_spec_id": "cb66ab34-8619-49cb-96d1-39b37ede86ea",
        "auth_specs": ("Basic Authentication", "OAuth2 Client Credential"),
    },
    "servicenow": {
        "connection_spec_id": "eb13cb25-47ab-407f-ba89-c0125281c563",
        "auth_specs": ("Basic Authentication",),
    },
    "generic_odata": {
        "connection_spec_id": "8e6b41a8-d998-4545-ad7d-c6a9fff406c3",
        "auth_specs": ("Anonymous Authentication",),
    },
}
#: auth.params keys of the typed sources that AEP never returns (not compared when converging).
_SECRET_HINTS = ("secret", "password", "token", "key", "credential")
#: Source connection extra listing the ``auth_params`` keys whose values are not secret.
NON_SECRET_AUTH_PARAMS = "non_secret_auth_params"  # noqa: S105 (an extra key)


def _is_secret(key: str) -> bool:
    return any(h in key.lower() for h in _SECRET_HINTS)


def patch_with_etag(
    log: Any,
    kind: str,
    resource_id: str,
    ops: list[dict[str, Any]],
    etag: str | None,
    patch: Any,
    get: Any,
    attempts: int = 3,
) -> dict[str, Any]:
    """PATCH under If-Match; a stale etag (1404-412) re-reads the etag and sends the same ops again.

    Only used with operations that set whole values (replace/add), so a re-send is idempotent.
    """
    for attempt in range(1, attempts + 1):
        current = etag or get(resource_id).get("etag")
        try:
            answer = patch(resource_id, ops, current)
        except AEPAPIError as exc:
            if exc.status != 412 or attempt == attempts:
                raise
            log.warning("%s %s changed since it was read (1404-412); re-reading its etag", kind, resource_id)
            etag = None
            continue
        return {"etag": answer.get("etag") or get(resource_id).get("etag")}
    raise AssertionError("unreachable")  # pragma: no cover


def _description_ops(d: Diff) -> list[dict[str, Any]]:
    return [
        {"op": "add", "path": "/description", "value": c.want} for c in d.updates if c.field == "description"
    ]


def _url(host: str | None, field: str) -> str:
    if not host or not host.strip():
        raise AEPInputError(field, "the source connection has no host (the source URL).", "Set its host.")
    host = host.strip().rstrip("/")
    url = host if "://" in host else f"https://{host}"
    _mask_url_credentials(url)
    return url


def _mask(value: Any) -> None:
    if value:
        from airflow.sdk.log import mask_secret

        mask_secret(value)


def _mask_url_credentials(value: str) -> None:
    """Register the user info of every ``scheme://user:pass@host`` URL in *value* as a secret."""
    for match in re.finditer(r"(?i)\b[a-z][a-z0-9+.\-]*://([^\s/?#'\"<>]*)@", value):
        userinfo = match.group(1)
        _mask(userinfo)
        _mask(userinfo.split(":", 1)[1] if ":" in userinfo else None)


def _mask_leaves(value: Any) -> None:
    """Register every scalar inside *value* (nested dicts and lists included) as a secret."""
    if isinstance(value, dict):
        for item in value.values():
            _mask_leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _mask_leaves(item)
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
                _mask_url_credentials(text)
        else:
            _mask_leaves(value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


class AEPCreateBaseConnectionOperator(AEPCreateOperatorBase):
    """Create (or reuse) a Flow Service base connection to a source system.

    Source credentials are read from the Airflow connection *source_conn_id* at execute time,
    masked in logs and sent only in the create request; they are never templated, logged or
    pushed to XCom.

    * ``salesforce_service_cloud``: host = environment URL, login/password = username/password
      (``auth_type`` "basic", extra ``security_token``) or client id/secret (``auth_type``
      "oauth2"); extra ``api_version`` (required for OAuth2).
    * ``servicenow``: host = endpoint, login/password.
    * ``generic_odata``: host = OData service root URL, anonymous.
    * ``source=None``: give ``connection_spec_id`` and ``auth_spec_name``; the source connection's
      extra ``auth_params`` is sent verbatim as ``auth.params``. Every value of it is masked as a
      secret unless its key is listed in the extra ``non_secret_auth_params`` (e.g. ``["url"]``).

    :param name: connection name (its identity for reuse).
    :param source_conn_id: Airflow connection holding the source credentials.
    :param source: one of :data:`SOURCES`, or ``None`` for a generic spec.
    :param connection_spec_id: override / generic connection spec id.
    :param auth_spec_name: override the auth spec name.
    :param description: optional description.
    :param test_connection: after creating/reusing, call ``GET /connections/{id}/test``.

    Returns the base connection id; pushes ``connection_spec_id``.

    When the connection exists (``if_exists="converge"``, the default), the credentials of
    *source_conn_id* are written in place (``PATCH /connections/{id}``, ``replace /auth/params``
    under If-Match): AEP never returns secrets, so they are re-sent on every run rather than
    compared; non-secret auth params and the description are compared field by field. Its flows
    are untouched and keep their run history.
    """

    resource_kind = "base connection"
    plan_xcom_keys = ("connection_spec_id",)

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "name",
        "source_conn_id",
        "source",
        "connection_spec_id",
        "auth_spec_name",
        "description",
    )

    def __init__(
        self,
        *,
        name: str,
        source_conn_id: str,
        source: str | None = "salesforce_service_cloud",
        connection_spec_id: str | None = None,
        auth_spec_name: str | None = None,
        description: str | None = None,
        test_connection: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.source_conn_id = source_conn_id
        self.source = source
        self.connection_spec_id = connection_spec_id
        self.auth_spec_name = auth_spec_name
        self.description = description
        self.test_connection = test_connection
        self._public_auth_keys: set[str] = set()
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> tuple[str, str | None]:
        check_name("name", self.name, "flowservice")
        require_str("source_conn_id", self.source_conn_id, "an Airflow connection id")
        if self.source is None:
            if not self.connection_spec_id:
                raise AEPInputError(
                    "connection_spec_id",
                    "is required when source=None.",
                    f"Pass connection_spec_id, or source= one of {', '.join(SOURCES)}.",
                )
            spec = check_uuid("connection_spec_id", self.connection_spec_id)
            if not self.auth_spec_name:
                raise AEPInputError(
                    "auth_spec_name", "is required when source=None.", 'Pass e.g. "Basic Authentication".'
                )
            return spec, self.auth_spec_name
        check_enum("source", self.source, tuple(SOURCES))
        spec = check_uuid(
            "connection_spec_id", self.connection_spec_id or SOURCES[self.source]["connection_spec_id"]
        )
        if self.auth_spec_name is not None:
            check_enum("auth_spec_name", self.auth_spec_name, SOURCES[self.source]["auth_specs"])
        return spec, self.auth_spec_name

    def _auth(self, auth_spec_name: str | None) -> dict[str, Any]:
        """Build ``auth`` from the source connection (secrets masked before anything is logged)."""
        conn = fetch_airflow_connection(
            self.source_conn_id, "source_conn_id", "with the source system's credentials"
        )
        extra = conn.extra_dejson or {}
        _mask(conn.password)
        for key in ("security_token", "client_secret"):
            _mask(extra.get(key))
        source = self.source
        if source is None:
            params = extra.get("auth_params")
            if not isinstance(params, dict):
                raise AEPInputError(
                    "source_conn_id",
                    f"connection {self.source_conn_id!r} has no 'auth_params' object in its extra.",
                    'Put {"auth_params": {...}} (sent verbatim as auth.params) in its extra.',
                )
            mask_auth_params(self.source_conn_id, params, extra.get(NON_SECRET_AUTH_PARAMS))
            self._public_auth_keys = set(extra.get(NON_SECRET_AUTH_PARAMS) or [])
            return {"specName": auth_spec_name, "params": dict(params)}
        if source == "salesforce_service_cloud":
            auth_type = str(extra.get("auth_type") or "").lower()
            if auth_spec_name == "Basic Authentication":
                auth_type = "basic"
            elif auth_spec_name == "OAuth2 Client Credential":
                auth_type = "oauth2"
            elif not auth_type:
                auth_type = "basic" if extra.get("security_token") else "oauth2"
            check_enum(f"{self.source_conn_id}.extra.auth_type", auth_type, ("basic", "oauth2"))
            env_url = _url(conn.host, f"{self.source_conn_id}.host")
            if not conn.login or not conn.password:
                raise AEPInputError(
                    "source_conn_id",
                    f"connection {self.source_conn_id!r} needs login and password "
                    f"({'username/password' if auth_type == 'basic' else 'client id/client secret'}).",
                    "Set them on the Airflow connection.",
                )
            api_version = extra.get("api_version")
            if auth_type == "basic":
                params = {
                    "environmentUrl": env_url,
                    "username": conn.login,
                    "password": conn.password,
                    "securityToken": extra.get("security_token") or "",
                }
                if api_version:
                    params["apiVersion"] = str(api_version)
                return {"specName": "Basic Authentication", "params": params}
            if not api_version:
                raise AEPInputError(
                    "source_conn_id",
                    f"connection {self.source_conn_id!r} has no extra 'api_version' (required for OAuth2).",
                    'Add {"api_version": "60.0"} to its extra.',
                )
            return {
                "specName": "OAuth2 Client Credential",
                "params": {
                    "environmentUrl": env_url,
                    "clientId": conn.login,
                    "clientSecret": conn.password,
                    "apiVersion": str(api_version),
                },
            }
        if source == "servicenow":
            if not conn.login or not conn.password:
                raise AEPInputError(
                    "source_conn_id",
                    f"connection {self.source_conn_id!r} needs login and password.",
                    "Set the ServiceNow username and password on it.",
                )
            return {
                "specName": "Basic Authentication",
                "params": {
                    "endpoint": _url(conn.host, f"{self.source_conn_id}.host"),
                    "username": conn.login,
                    "password": conn.password,
                },
            }
        return {
            "specName": "Anonymous Authentication",
            "params": {"url": _url(conn.host, f"{self.source_conn_id}.host")},
        }

    def execute(self, context: Context) -> str:
        """Create or reuse the base connection and return its id."""
        spec_id, auth_spec_name = self._validate()
        name = check_name("name", self.name, "flowservice")
        body_auth = self._auth(auth_spec_name)  # input errors surface before any request

        def create() -> dict[str, Any]:
            body: dict[str, Any] = {
                "name": name,
                "auth": body_auth,
                "connectionSpec": {"id": spec_id, "version": "1.0"},
            }
            if self.description:
                body["description"] = self.description
            return self.hook.create_base_connection(body)

        def mismatch(found: dict[str, Any]) -> str | None:
            return first_problem(
                differs("connection spec", spec_id, (found.get("connectionSpec") or {}).get("id")),
                differs("auth spec", body_auth["specName"], (found.get("auth") or {}).get("specName")),
            )

        def diff(found: dict[str, Any]) -> Diff:
            params = body_auth["params"]
            if self.source is None:  # generic spec: every value is secret unless listed as not
                secret_keys = {k for k in params if k not in self._public_auth_keys}
            else:
                secret_keys = {k for k in params if _is_secret(k)}
            return base_connection_diff(
                found,
                spec_id=spec_id,
                auth=body_auth,
                secret_keys=secret_keys,
                description=self.description,
            )

        def apply(found: dict[str, Any], d: Diff) -> dict[str, Any]:
            ops = _description_ops(d)
            if any(c.field.startswith("auth.params") for c in d.updates):
                ops.append({"op": "replace", "path": "/auth/params", "value": body_auth["params"]})
            result = patch_with_etag(
                self.log,
                "base connection",
                str(found["id"]),
                ops,
                found.get("etag"),
                self.hook.patch_base_connection,
                self.hook.get_base_connection,
            )
            self.log.info(
                "Updated base connection %s in place (%s); its flows are untouched",
                found["id"],
                ", ".join(o["path"] for o in ops),
            )
            return result

        outcome = self.ensure(
            kind="base connection",
            name=name,
            find=lambda: self.hook.find_base_connection(name),
            find_all=lambda: self.hook.find_all_base_connections(name),
            create=create,
            mismatch=mismatch,
            delete=self.hook.delete_base_connection,
            diff=diff,
            apply=apply,
        )
        self.xcom_push(context, "connection_spec_id", spec_id)
        if self.test_connection and not self._plan_only:
            self.hook.test_base_connection(outcome.id)
            self.log.info("Connection test of base connection %s passed", outcome.id)
        return outcome.id


class AEPCreateDatasetBaseConnectionOperator(AEPCreateOperatorBase):
    """Create (or reuse) a Data Lake "dataset base connection" (legacy 2020 tutorials).

    Current workflows do not need it; the legacy ones pass its id as the target connection's
    ``base_connection_id``. Returns the connection id.
    """

    resource_kind = "dataset base connection"
    plan_xcom_keys = ("connection_spec_id",)

    template_fields: Sequence[str] = (*AEPCreateOperatorBase.template_fields, "name", "description")

    def __init__(self, *, name: str, description: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.description = description
        if not self.has_templated_values():
            check_name("name", name, "flowservice")

    def execute(self, context: Context) -> str:
        """Create or reuse the dataset base connection and return its id."""
        name = check_name("name", self.name, "flowservice")

        def create() -> dict[str, Any]:
            body: dict[str, Any] = {
                "name": name,
                "connectionSpec": {"id": DATA_LAKE_CONNECTION_SPEC_ID, "version": "1.0"},
            }
            if self.description:
                body["description"] = self.description
            return self.hook.create_base_connection(body)

        outcome = self.ensure(
            kind="dataset base connection",
            name=name,
            find=lambda: self.hook.find_base_connection(name),
            find_all=lambda: self.hook.find_all_base_connections(name),
            create=create,
            mismatch=lambda f: differs(
                "connection spec", DATA_LAKE_CONNECTION_SPEC_ID, (f.get("connectionSpec") or {}).get("id")
            ),
            delete=self.hook.delete_base_connection,
        )
        self.xcom_push(context, "connection_spec_id", DATA_LAKE_CONNECTION_SPEC_ID)
        return outcome.id


class AEPCreateSourceConnectionOperator(AEPCreateOperatorBase):
    """Create (or reuse) a source connection for one table.

    Two shapes:

    * **tabular** (current): ``table_name`` plus ``columns`` (``/explore`` column dicts or plain
      names). With ``columns=None`` the columns are read from
      ``GET /connections/{base}/explore?objectType=table``.
    * **legacy ad-hoc** (2020 tutorials): ``path`` (the table) plus ``adhoc_schema_id``; sent as
      ``data.schema`` and ``params.path``.

    :param name: source connection name (its identity for reuse).
    :param base_connection_id: base connection id (UUID).
    :param connection_spec_id: the source's connection spec id (UUID).
    :param table_name: table to read (tabular shape).
    :param columns: table columns; ``None`` = read them from ``/explore``.
    :param path: table path (legacy shape).
    :param adhoc_schema_id: ad-hoc schema ``$id`` (legacy shape).
    :param data_format: ``data.format``; ``"tabular"`` for every table-based source.
    :param description: optional description.

    Returns the source connection id; pushes ``columns`` (the column dicts, for the mapping
    operator's ``source_columns``) and ``table_name``.
    """

    resource_kind = "source connection"
    plan_xcom_keys = ("columns", "table_name")

    def plan_lookup(self) -> tuple[str, Any]:
        """Name and finder for plans whose base connection is not created yet."""
        name = check_name("name", self.name, "flowservice")
        return name, lambda: self.hook.find_source_connection(name)

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "name",
        "base_connection_id",
        "connection_spec_id",
        "table_name",
        "columns",
        "path",
        "adhoc_schema_id",
        "data_format",
        "description",
    )
    template_fields_renderers = {"columns": "json"}

    def __init__(
        self,
        *,
        name: str,
        base_connection_id: str | XComArg,
        connection_spec_id: str,
        table_name: str | None = None,
        columns: list[dict[str, Any]] | list[str] | None = None,
        path: str | None = None,
        adhoc_schema_id: str | XComArg | None = None,
        data_format: str = "tabular",
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.base_connection_id = base_connection_id
        self.connection_spec_id = connection_spec_id
        self.table_name = table_name
        self.columns = columns
        self.path = path
        self.adhoc_schema_id = adhoc_schema_id
        self.data_format = data_format
        self.description = description
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": check_name("name", self.name, "flowservice"),
            "base": check_uuid("base_connection_id", self.base_connection_id),
            "spec": check_uuid("connection_spec_id", self.connection_spec_id),
        }
        if self.connection_spec_id == DATA_LAKE_CONNECTION_SPEC_ID:
            raise AEPInputError(
                "connection_spec_id",
                "is the Data Lake (target) spec, not a source spec.",
                "Pass the source's spec, e.g. the base connection task's connection_spec_id XCom.",
            )
        fmt = check_enum(
            "data_format", self.data_format, ("tabular", "parquet_xdm", "delimited", "json", "parquet")
        )
        if self.table_name is not None and self.path is not None:
            raise AEPInputError(
                "table_name",
                "and path are both set.",
                "Use table_name (tabular) or path + adhoc_schema_id (legacy).",
            )
        if self.path is not None:
            out["path"] = require_str("path", self.path, "a table path")
            if self.adhoc_schema_id is None:
                raise AEPInputError(
                    "adhoc_schema_id",
                    "is required with path (legacy ad-hoc shape).",
                    "Pass the ad-hoc schema $id.",
                )
            out["schema"] = check_schema_id("adhoc_schema_id", self.adhoc_schema_id)
            if self.columns is not None:
                raise AEPInputError(
                    "columns",
                    "is not used with path (legacy shape).",
                    "Drop columns, or use table_name instead.",
                )
        else:
            out["table"] = require_str(
                "table_name", self.table_name, "a table name (or path for the legacy shape)"
            )
            if self.adhoc_schema_id is not None:
                raise AEPInputError(
                    "adhoc_schema_id", "is only used with path (legacy shape).", "Drop it, or pass path=."
                )
            if fmt != "tabular":
                raise AEPInputError(
                    "data_format", f"{fmt!r} does not fit a table source.", 'Use data_format="tabular".'
                )
            if self.columns is not None:
                out["columns"] = normalize_columns("columns", self.columns)
        out["format"] = fmt
        return out

    def _explore_columns(self, base_id: str, table: str) -> list[dict[str, Any]]:
        root = self.hook.explore_base_connection(base_id, "root")
        if isinstance(root, dict):
            root = root.get("items", [])
        tables = [item for item in root or [] if isinstance(item, dict)]
        match = next((t for t in tables if table in (t.get("name"), t.get("path"))), None)
        if match is None and tables:
            names = ", ".join(str(t.get("name")) for t in tables[:30])
            raise AEPInputError(
                "table_name",
                f"{table!r} is not a table of base connection {base_id}.",
                f"Use one of: {names}.",
            )
        path = str((match or {}).get("path") or table)
        detail = self.hook.explore_base_connection(base_id, "table", path)
        columns = ((detail or {}).get("schema") or {}).get("columns")
        if not columns:
            raise AEPInputError(
                "columns", f"/explore returned no columns for table {table!r}.", "Pass columns= explicitly."
            )
        self.log.info("Read %d columns of table %r from /explore", len(columns), table)
        return normalize_columns("columns", columns)

    def execute(self, context: Context) -> str:
        """Create or reuse the source connection and return its id."""
        v = self._validate()
        name = v["name"]
        if "table" in v and "columns" not in v:
            v["columns"] = self._explore_columns(v["base"], v["table"])

        def body() -> dict[str, Any]:
            b: dict[str, Any] = {
                "name": name,
                "baseConnectionId": v["base"],
                "connectionSpec": {"id": v["spec"], "version": "1.0"},
            }
            if self.description:
                b["description"] = self.description
            if "path" in v:
                b["data"] = {
                    "format": v["format"],
                    "schema": {"id": v["schema"], "version": XED_FULL_NOTEXT_V1},
                }
                b["params"] = {"path": v["path"]}
            else:
                b["data"] = {"format": "tabular"}
                b["params"] = {"tableName": v["table"], "columns": v["columns"]}
            return b

        def mismatch(found: dict[str, Any]) -> str | None:
            params = found.get("params") or {}
            problems = [
                differs("base connection", v["base"], found.get("baseConnectionId")),
                differs("connection spec", v["spec"], (found.get("connectionSpec") or {}).get("id")),
            ]
            if "path" in v:
                problems.append(differs("path", v["path"], params.get("path")))
                schema = ((found.get("data") or {}).get("schema") or {}).get("id")
                problems.append(differs("ad-hoc schema", v["schema"], schema))
            else:
                problems.append(differs("table", v["table"], params.get("tableName")))
                found_cols = [str(c.get("name")) for c in params.get("columns") or [] if isinstance(c, dict)]
                wanted_cols = [c["name"] for c in v["columns"]]
                if found_cols and sorted(found_cols) != sorted(wanted_cols):
                    problems.append(f"its columns are {found_cols}, not {wanted_cols}")
            return first_problem(*problems)

        rule = "source connection changes do not reach the dataflow (Adobe: new source connection and flow)"
        fix = "create a new source connection and flow under other names, or use if_exists='replace'"

        def diff(found: dict[str, Any]) -> Diff:
            params = found.get("params") or {}
            d = Diff()
            d.add("baseConnectionId", found.get("baseConnectionId"), v["base"], refused=rule, fix=fix)
            d.add(
                "connectionSpec.id",
                (found.get("connectionSpec") or {}).get("id"),
                v["spec"],
                refused="a connection spec cannot be changed (1414-400)",
                fix=fix,
            )
            if "path" in v:
                d.add("params.path", params.get("path"), v["path"], refused=rule, fix=fix)
                schema = ((found.get("data") or {}).get("schema") or {}).get("id")
                d.add("data.schema.id", schema, v["schema"], refused=rule, fix=fix)
            else:
                d.add("params.tableName", params.get("tableName"), v["table"], refused=rule, fix=fix)
                found_cols = sorted(
                    str(c.get("name")) for c in params.get("columns") or [] if isinstance(c, dict)
                )
                if found_cols:
                    d.add(
                        "params.columns",
                        found_cols,
                        sorted(c["name"] for c in v["columns"]),
                        refused=rule,
                        fix=fix,
                    )
            if self.description is not None:
                d.add("description", found.get("description") or "", self.description)
            return d

        def apply(found: dict[str, Any], d: Diff) -> dict[str, Any]:
            return patch_with_etag(
                self.log,
                "source connection",
                str(found["id"]),
                _description_ops(d),
                found.get("etag"),
                self.hook.patch_source_connection,
                self.hook.get_source_connection,
            )

        outcome = self.ensure(
            kind="source connection",
            name=name,
            find=lambda: self.hook.find_source_connection(name),
            find_all=lambda: self.hook.find_all_source_connections(name),
            create=lambda: self.hook.create_source_connection(body()),
            mismatch=mismatch,
            delete=self.hook.delete_source_connection,
            diff=diff,
            apply=apply,
        )
        if "path" in v:
            self.xcom_push(context, "table_name", v["path"])
        else:
            self.xcom_push(context, "table_name", v["table"])
            self.xcom_push(context, "columns", v["columns"])
        return outcome.id


class AEPCreateTargetConnectionOperator(AEPCreateOperatorBase):
    """Create (or reuse) a Data Lake target connection writing into a dataset.

    Always uses the Data Lake connection spec (``c604ff05-…``), ``data.format = parquet_xdm`` and
    schema version ``application/vnd.adobe.xed-full+json;version=1``.

    :param name: target connection name (its identity for reuse).
    :param dataset_id: target dataset id (24 hex).
    :param schema_id: the dataset's XDM schema ``$id`` (an altId is resolved to the ``$id``).
    :param base_connection_id: legacy dataset base connection id (optional).
    :param description: optional description.

    Returns the target connection id.
    """

    resource_kind = "target connection"

    def plan_lookup(self) -> tuple[str, Any]:
        """Name and finder for plans whose dataset is not created yet."""
        name = check_name("name", self.name, "flowservice")
        return name, lambda: self.hook.find_target_connection(name)

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "name",
        "dataset_id",
        "schema_id",
        "base_connection_id",
        "description",
    )

    def __init__(
        self,
        *,
        name: str,
        dataset_id: str | XComArg,
        schema_id: str | XComArg,
        base_connection_id: str | XComArg | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.dataset_id = dataset_id
        self.schema_id = schema_id
        self.base_connection_id = base_connection_id
        self.description = description
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> tuple[str, str, str, str | None]:
        name = check_name("name", self.name, "flowservice")
        dataset = check_dataset_id("dataset_id", self.dataset_id)
        schema = check_schema_id("schema_id", self.schema_id)
        base = None
        if self.base_connection_id is not None:
            base = check_uuid("base_connection_id", self.base_connection_id)
        return name, dataset, schema, base

    def execute(self, context: Context) -> str:
        """Create or reuse the target connection and return its id."""
        name, dataset, schema, base = self._validate()
        if is_schema_alt_id(schema):
            schema = self.hook.get_schema(schema)["$id"]

        def create() -> dict[str, Any]:
            body: dict[str, Any] = {
                "name": name,
                "data": {"format": "parquet_xdm", "schema": {"id": schema, "version": XED_FULL_V1}},
                "params": {"dataSetId": dataset},
                "connectionSpec": {"id": DATA_LAKE_CONNECTION_SPEC_ID, "version": "1.0"},
            }
            if base:
                body["baseConnectionId"] = base
            if self.description:
                body["description"] = self.description
            return self.hook.create_target_connection(body)

        def mismatch(found: dict[str, Any]) -> str | None:
            return first_problem(
                differs("dataset", dataset, (found.get("params") or {}).get("dataSetId")),
                differs("schema", schema, ((found.get("data") or {}).get("schema") or {}).get("id")),
                differs(
                    "connection spec",
                    DATA_LAKE_CONNECTION_SPEC_ID,
                    (found.get("connectionSpec") or {}).get("id"),
                ),
            )

        rule = "target connection changes do not reach the dataflow (Adobe: new target connection and flow)"
        fix = "create a new target connection and flow under other names, or use if_exists='replace'"

        def diff(found: dict[str, Any]) -> Diff:
            d = Diff()
            d.add(
                "params.dataSetId",
                (found.get("params") or {}).get("dataSetId"),
                dataset,
                refused=rule,
                fix=fix,
            )
            d.add(
                "data.schema.id",
                ((found.get("data") or {}).get("schema") or {}).get("id"),
                schema,
                refused=rule,
                fix=fix,
            )
            d.add(
                "connectionSpec.id",
                (found.get("connectionSpec") or {}).get("id"),
                DATA_LAKE_CONNECTION_SPEC_ID,
                refused="a connection spec cannot be changed (1414-400)",
                fix=fix,
            )
            if self.description is not None:
                d.add("description", found.get("description") or "", self.description)
            return d

        def apply(found: dict[str, Any], d: Diff) -> dict[str, Any]:
            return patch_with_etag(
                self.log,
                "target connection",
                str(found["id"]),
                _description_ops(d),
                found.get("etag"),
                self.hook.patch_target_connection,
                self.hook.get_target_connection,
            )

        outcome = self.ensure(
            kind="target connection",
            name=name,
            find=lambda: self.hook.find_target_connection(name),
            find_all=lambda: self.hook.find_all_target_connections(name),
            create=create,
            mismatch=mismatch,
            delete=self.hook.delete_target_connection,
            diff=diff,
            apply=apply,
        )
        return outcome.id
