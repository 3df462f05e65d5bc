"""Flow Service connection operators: base, source, dataset base (legacy) and target connections.

What each source needs (spec id, auth types, secret params) is read from the table in
:mod:`airflow_provider_aep.sources`; each operator validates its arguments into a small frozen
request (:class:`BaseConnectionRequest`, :class:`SourceConnectionRequest`,
:class:`TargetConnectionRequest`) before any request is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.constants import DATA_LAKE_CONNECTION_SPEC_ID, XED_FULL_NOTEXT_V1, XED_FULL_V1
from airflow_provider_aep.exceptions import AEPAPIError, AEPInputError
from airflow_provider_aep.hooks._connection import fetch_airflow_connection
from airflow_provider_aep.operators._converge import Diff
from airflow_provider_aep.operators._diffs import base_connection_diff
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, differs, first_problem
from airflow_provider_aep.sources import NON_SECRET_AUTH_PARAMS as NON_SECRET_AUTH_PARAMS
from airflow_provider_aep.sources import SOURCES as SOURCES
from airflow_provider_aep.sources import Source, SourceAuth, SourceCredentials, generic_auth, source_for_spec
from airflow_provider_aep.sources import mask_auth_params as mask_auth_params
from airflow_provider_aep.validation import (
    Rule,
    check_dataset_id,
    check_enum,
    check_name,
    check_rules,
    check_schema_id,
    check_uuid,
    is_schema_alt_id,
    normalize_columns,
    require_str,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

SOURCE_DATA_FORMATS = ("tabular", "parquet_xdm", "delimited", "json", "parquet")


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


def _dig(doc: Any, *keys: str) -> Any:
    """``doc[k1][k2]...``; a missing level, or one that is not an object, reads as ``None``."""
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


@dataclass(frozen=True)
class Pinned:
    """A field of a source/target connection that cannot change in place (the flow would not see it).

    :param path: the field in the diff (``params.tableName``).
    :param label: the field in a reuse mismatch message (``table``).
    :param have: what AEP has.
    :param want: what the task declares.
    :param refused: the AEP rule (default: the connection kind's rule).
    """

    path: str
    label: str
    have: Any
    want: Any
    refused: str | None = None


_SPEC_IMMUTABLE = "a connection spec cannot be changed (1414-400)"


def _ensure_flow_connection(
    op: AEPCreateOperatorBase,
    *,
    kind: str,
    name: str,
    pins: Callable[[dict[str, Any]], list[Pinned]],
    description: str | None,
    create: Callable[[], dict[str, Any]],
    hook_noun: str,
) -> str:
    """Create, reuse or converge a source or target connection: only the description changes in
    place; every pinned field is refused with Adobe's rule (new connection and new flow).

    :param hook_noun: the hook's method suffix (``source_connection``: ``find_source_connection``...).
    """
    hook = op.hook
    rule = f"{kind} changes do not reach the dataflow (Adobe: new {kind} and flow)"
    fix = f"create a new {kind} and flow under other names, or use if_exists='replace'"

    def mismatch(found: dict[str, Any]) -> str | None:
        return first_problem(*(differs(p.label, p.want, p.have) for p in pins(found)))

    def diff(found: dict[str, Any]) -> Diff:
        d = Diff()
        for p in pins(found):
            d.add(p.path, p.have, p.want, refused=p.refused or rule, fix=fix)
        if description is not None:
            d.add("description", found.get("description") or "", description)
        return d

    def apply(found: dict[str, Any], d: Diff) -> dict[str, Any]:
        return patch_with_etag(
            op.log,
            kind,
            str(found["id"]),
            _description_ops(d),
            found.get("etag"),
            getattr(hook, f"patch_{hook_noun}"),
            getattr(hook, f"get_{hook_noun}"),
        )

    outcome = op.ensure(
        kind=kind,
        name=name,
        find=lambda: getattr(hook, f"find_{hook_noun}")(name),
        find_all=lambda: getattr(hook, f"find_all_{hook_noun}s")(name),
        create=create,
        mismatch=mismatch,
        delete=getattr(hook, f"delete_{hook_noun}"),
        diff=diff,
        apply=apply,
    )
    return outcome.id


# ----------------------------------------------------------------------------- base connection
@dataclass(frozen=True)
class BaseConnectionRequest:
    """A validated base connection: what :class:`AEPCreateBaseConnectionOperator` sends.

    :param source: the source's table entry, ``None`` for a generic spec (``auth_params`` verbatim).
    :param auth_spec_name: the auth spec asked for (``None``: the source connection decides).
    """

    name: str
    spec_id: str
    source: Source | None
    auth_spec_name: str | None

    def build_auth(self, creds: SourceCredentials) -> SourceAuth:
        """``auth`` from the source connection; every secret is masked before it returns."""
        if self.source is None:
            return generic_auth(creds, str(self.auth_spec_name))
        return self.source.build_auth(creds, self.auth_spec_name)


def _generic_spec(op: AEPCreateBaseConnectionOperator) -> tuple[str, str]:
    """``source=None``: the spec id and auth spec name, both required."""
    if not op.connection_spec_id:
        raise AEPInputError(
            "connection_spec_id",
            "is required when source=None.",
            f"Pass connection_spec_id, or source= one of {', '.join(SOURCES)}.",
        )
    spec = check_uuid("connection_spec_id", op.connection_spec_id)
    if not op.auth_spec_name:
        raise AEPInputError(
            "auth_spec_name", "is required when source=None.", 'Pass e.g. "Basic Authentication".'
        )
    return spec, str(op.auth_spec_name)


class AEPCreateBaseConnectionOperator(AEPCreateOperatorBase):
    """Create (or reuse) a Flow Service base connection to a source system.

    Source credentials are read from the Airflow connection *source_conn_id* at execute time,
    masked in logs and sent only in the create request; they are never templated, logged or
    pushed to XCom. Each source of :data:`~airflow_provider_aep.sources.SOURCES` says how its
    ``auth.params`` are built:

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
    :param source: a key of :data:`~airflow_provider_aep.sources.SOURCES`, or ``None`` for a
        generic spec.
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
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> BaseConnectionRequest:
        name = check_name("name", self.name, "flowservice")
        require_str("source_conn_id", self.source_conn_id, "an Airflow connection id")
        if self.source is None:
            spec, auth_spec_name = _generic_spec(self)
            return BaseConnectionRequest(name, spec, None, auth_spec_name)
        source = SOURCES[check_enum("source", self.source, tuple(SOURCES))]
        spec = check_uuid("connection_spec_id", self.connection_spec_id or source.connection_spec_id)
        if self.auth_spec_name is not None:
            check_enum("auth_spec_name", self.auth_spec_name, source.auth_spec_names)
        return BaseConnectionRequest(name, spec, source, self.auth_spec_name)

    def _auth(self, request: BaseConnectionRequest) -> SourceAuth:
        """``auth`` from the source connection (secrets masked before anything is logged)."""
        conn = fetch_airflow_connection(
            self.source_conn_id, "source_conn_id", "with the source system's credentials"
        )
        return request.build_auth(SourceCredentials.from_connection(self.source_conn_id, conn))

    def execute(self, context: Context) -> str:
        """Create or reuse the base connection and return its id."""
        req = self._validate()
        auth = self._auth(req)  # input errors surface before any request
        body_auth = auth.body()

        def create() -> dict[str, Any]:
            body: dict[str, Any] = {
                "name": req.name,
                "auth": body_auth,
                "connectionSpec": {"id": req.spec_id, "version": "1.0"},
            }
            if self.description:
                body["description"] = self.description
            return self.hook.create_base_connection(body)

        def mismatch(found: dict[str, Any]) -> str | None:
            return first_problem(
                differs("connection spec", req.spec_id, _dig(found, "connectionSpec", "id")),
                differs("auth spec", auth.spec_name, _dig(found, "auth", "specName")),
            )

        def diff(found: dict[str, Any]) -> Diff:
            return base_connection_diff(
                found,
                spec_id=req.spec_id,
                auth=body_auth,
                secret_keys=set(auth.secret_keys),
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
            name=req.name,
            find=lambda: self.hook.find_base_connection(req.name),
            find_all=lambda: self.hook.find_all_base_connections(req.name),
            create=create,
            mismatch=mismatch,
            delete=self.hook.delete_base_connection,
            diff=diff,
            apply=apply,
        )
        self.xcom_push(context, xcom_keys.CONNECTION_SPEC_ID, req.spec_id)
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
                "connection spec", DATA_LAKE_CONNECTION_SPEC_ID, _dig(f, "connectionSpec", "id")
            ),
            delete=self.hook.delete_base_connection,
        )
        self.xcom_push(context, xcom_keys.CONNECTION_SPEC_ID, DATA_LAKE_CONNECTION_SPEC_ID)
        return outcome.id


# ----------------------------------------------------------------------------- source connection
@dataclass(frozen=True)
class TabularShape:
    """The current source connection shape: a table and its columns.

    :param columns: the normalised column dicts; ``None`` until read from ``/explore``.
    """

    table: str
    columns: tuple[dict[str, Any], ...] | None = None

    @property
    def table_name(self) -> str:
        """The table, as pushed to XCom."""
        return self.table

    def body(self) -> dict[str, Any]:
        """``data`` and ``params`` of the create request."""
        return {
            "data": {"format": "tabular"},
            "params": {"tableName": self.table, "columns": self.column_list},
        }

    @property
    def column_list(self) -> list[dict[str, Any]]:
        """The columns as a list (empty until known)."""
        return list(self.columns or ())

    def pins(self, found: dict[str, Any]) -> list[Pinned]:
        """The fields of *found* that must equal this shape."""
        params = found.get("params") or {}
        out = [Pinned("params.tableName", "table", params.get("tableName"), self.table)]
        have = sorted(str(c.get("name")) for c in params.get("columns") or [] if isinstance(c, dict))
        if have:  # AEP may not return the columns
            out.append(Pinned("params.columns", "columns", have, sorted(c["name"] for c in self.column_list)))
        return out


@dataclass(frozen=True)
class AdHocShape:
    """The legacy (2020) source connection shape: a table path described by an ad-hoc schema."""

    path: str
    schema_id: str
    data_format: str

    @property
    def table_name(self) -> str:
        """The table, as pushed to XCom."""
        return self.path

    def body(self) -> dict[str, Any]:
        """``data`` and ``params`` of the create request."""
        return {
            "data": {
                "format": self.data_format,
                "schema": {"id": self.schema_id, "version": XED_FULL_NOTEXT_V1},
            },
            "params": {"path": self.path},
        }

    def pins(self, found: dict[str, Any]) -> list[Pinned]:
        """The fields of *found* that must equal this shape."""
        return [
            Pinned("params.path", "path", _dig(found, "params", "path"), self.path),
            Pinned("data.schema.id", "ad-hoc schema", _dig(found, "data", "schema", "id"), self.schema_id),
        ]


@dataclass(frozen=True)
class SourceConnectionRequest:
    """A validated source connection: what :class:`AEPCreateSourceConnectionOperator` sends."""

    name: str
    base_id: str
    spec_id: str
    shape: TabularShape | AdHocShape

    def body(self, description: str | None) -> dict[str, Any]:
        """The create request."""
        body: dict[str, Any] = {
            "name": self.name,
            "baseConnectionId": self.base_id,
            "connectionSpec": {"id": self.spec_id, "version": "1.0"},
        }
        if description:
            body["description"] = description
        return {**body, **self.shape.body()}

    def pins(self, found: dict[str, Any]) -> list[Pinned]:
        """The fields of *found* that must equal this request."""
        return [
            Pinned("baseConnectionId", "base connection", found.get("baseConnectionId"), self.base_id),
            Pinned(
                "connectionSpec.id",
                "connection spec",
                _dig(found, "connectionSpec", "id"),
                self.spec_id,
                refused=_SPEC_IMMUTABLE,
            ),
            *self.shape.pins(found),
        ]


_NOT_DATA_LAKE = Rule(
    "connection_spec_id",
    lambda o: o.connection_spec_id == DATA_LAKE_CONNECTION_SPEC_ID,
    "is the Data Lake (target) spec, not a source spec.",
    "Pass the source's spec, e.g. the base connection task's connection_spec_id XCom.",
)
#: Cross-field rules of the two source connection shapes (checked before the values).
_SOURCE_SHAPE_RULES = (
    Rule(
        "table_name",
        lambda o: o.table_name is not None and o.path is not None,
        "and path are both set.",
        "Use table_name (tabular) or path + adhoc_schema_id (legacy).",
    ),
    Rule(
        "adhoc_schema_id",
        lambda o: o.path is not None and o.adhoc_schema_id is None,
        "is required with path (legacy ad-hoc shape).",
        "Pass the ad-hoc schema $id.",
    ),
    Rule(
        "columns",
        lambda o: o.path is not None and o.columns is not None,
        "is not used with path (legacy shape).",
        "Drop columns, or use table_name instead.",
    ),
    Rule(
        "adhoc_schema_id",
        lambda o: o.path is None and o.adhoc_schema_id is not None,
        "is only used with path (legacy shape).",
        "Drop it, or pass path=.",
    ),
    Rule(
        "data_format",
        lambda o: o.path is None and o.data_format != "tabular",
        lambda o: f"{o.data_format!r} does not fit a table source.",
        'Use data_format="tabular".',
    ),
)


def _source_shape(op: AEPCreateSourceConnectionOperator) -> TabularShape | AdHocShape:
    if op.path is not None:
        return AdHocShape(
            path=require_str("path", op.path, "a table path"),
            schema_id=check_schema_id("adhoc_schema_id", op.adhoc_schema_id),
            data_format=op.data_format,
        )
    table = require_str("table_name", op.table_name, "a table name (or path for the legacy shape)")
    columns = None if op.columns is None else tuple(normalize_columns("columns", op.columns))
    return TabularShape(table, columns)


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
    :param table_name: table to read (tabular shape): its API name, or with ``columns=None`` also
        its label (``/explore`` resolves it to the API name, which AEP's ``tableName`` needs).
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

    def _validate(self) -> SourceConnectionRequest:
        name = check_name("name", self.name, "flowservice")
        base = check_uuid("base_connection_id", self.base_connection_id)
        spec = check_uuid("connection_spec_id", self.connection_spec_id)
        _NOT_DATA_LAKE.check(self)
        check_enum("data_format", self.data_format, SOURCE_DATA_FORMATS)
        check_rules(self, _SOURCE_SHAPE_RULES)
        return SourceConnectionRequest(name, base, spec, _source_shape(self))

    def _explore(self, base_id: str, spec_id: str, table: str) -> TabularShape:
        """*table* (its API name or its label) with its columns, from ``/explore``: a label becomes
        the API name, which is what AEP's ``params.tableName`` needs."""
        source = source_for_spec(spec_id)
        kind = source.table_kind if source else "table"
        tables = self.hook.list_source_tables(base_id)
        match = next((t for t in tables if table in (t["name"], t["path"])), None)
        if match is None and tables:
            names = ", ".join(t["name"] for t in tables[:30])
            raise AEPInputError(
                "table_name",
                f"{table!r} is not a table ({kind}) of base connection {base_id}.",
                f"Use one of: {names}.",
            )
        path = match["path"] if match else table
        columns = self.hook.get_table_columns(base_id, path)
        if not columns:
            raise AEPInputError(
                "columns", f"/explore returned no columns for {kind} {table!r}.", "Pass columns= explicitly."
            )
        self.log.info("Read %d columns of %s %r from /explore", len(columns), kind, path)
        return TabularShape(path, tuple(normalize_columns("columns", columns)))

    def execute(self, context: Context) -> str:
        """Create or reuse the source connection and return its id."""
        req = self._validate()
        shape = req.shape
        if isinstance(shape, TabularShape) and shape.columns is None:
            req = replace(req, shape=self._explore(req.base_id, req.spec_id, shape.table))
        connection_id = _ensure_flow_connection(
            self,
            kind="source connection",
            name=req.name,
            pins=req.pins,
            description=self.description,
            create=lambda: self.hook.create_source_connection(req.body(self.description)),
            hook_noun="source_connection",
        )
        self.xcom_push(context, xcom_keys.TABLE_NAME, req.shape.table_name)
        if isinstance(req.shape, TabularShape):
            self.xcom_push(context, xcom_keys.COLUMNS, req.shape.column_list)
        return connection_id


# ----------------------------------------------------------------------------- target connection
@dataclass(frozen=True)
class TargetConnectionRequest:
    """A validated Data Lake target connection: what :class:`AEPCreateTargetConnectionOperator` sends.

    :param schema_id: the schema ``$id``, or a ``meta:altId`` still to resolve.
    :param base_id: the legacy dataset base connection, if any.
    """

    name: str
    dataset_id: str
    schema_id: str
    base_id: str | None

    def body(self, description: str | None) -> dict[str, Any]:
        """The create request."""
        body: dict[str, Any] = {
            "name": self.name,
            "data": {"format": "parquet_xdm", "schema": {"id": self.schema_id, "version": XED_FULL_V1}},
            "params": {"dataSetId": self.dataset_id},
            "connectionSpec": {"id": DATA_LAKE_CONNECTION_SPEC_ID, "version": "1.0"},
        }
        if self.base_id:
            body["baseConnectionId"] = self.base_id
        if description:
            body["description"] = description
        return body

    def pins(self, found: dict[str, Any]) -> list[Pinned]:
        """The fields of *found* that must equal this request."""
        return [
            Pinned("params.dataSetId", "dataset", _dig(found, "params", "dataSetId"), self.dataset_id),
            Pinned("data.schema.id", "schema", _dig(found, "data", "schema", "id"), self.schema_id),
            Pinned(
                "connectionSpec.id",
                "connection spec",
                _dig(found, "connectionSpec", "id"),
                DATA_LAKE_CONNECTION_SPEC_ID,
                refused=_SPEC_IMMUTABLE,
            ),
        ]


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

    def _validate(self) -> TargetConnectionRequest:
        return TargetConnectionRequest(
            name=check_name("name", self.name, "flowservice"),
            dataset_id=check_dataset_id("dataset_id", self.dataset_id),
            schema_id=check_schema_id("schema_id", self.schema_id),
            base_id=None
            if self.base_connection_id is None
            else check_uuid("base_connection_id", self.base_connection_id),
        )

    def execute(self, context: Context) -> str:
        """Create or reuse the target connection and return its id."""
        req = self._validate()
        if is_schema_alt_id(req.schema_id):
            req = replace(req, schema_id=self.hook.get_schema(req.schema_id)["$id"])
        return _ensure_flow_connection(
            self,
            kind="target connection",
            name=req.name,
            pins=req.pins,
            description=self.description,
            create=lambda: self.hook.create_target_connection(req.body(self.description)),
            hook_noun="target_connection",
        )
