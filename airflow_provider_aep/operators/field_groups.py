"""Schema Registry: a custom tenant field group generated from a source table's columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.constants import PROFILE_CLASS
from airflow_provider_aep.exceptions import AEPAPIError, AEPInputError
from airflow_provider_aep.operators._converge import Change, Diff, is_unknown
from airflow_provider_aep.operators._twins import is_name_taken
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, AEPResourceConflictError, first_problem
from airflow_provider_aep.operators.discovery import read_columns, table_path
from airflow_provider_aep.operators.schemas import ensure_by_title
from airflow_provider_aep.validation import (
    check_name,
    check_uuid,
    check_xdm_path,
    check_xdm_ref,
    is_templated,
)
from airflow_provider_aep.xdm_types import (
    TableField,
    check_tenant_id,
    check_type_overrides,
    check_unknown_type,
    field_schema,
    generate_mapping,
    table_fields,
    xdm_type_of_schema,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

#: Name of the definition holding the tenant object in a generated field group.
DEFINITION = "tableColumns"
_BREAKING = "AEP refuses to remove, rename or retype a field of a field group (only adding is allowed)"


def _pointer(parts: Sequence[str]) -> str:
    """RFC 6901 JSON pointer of a key path."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def tenant_object(doc: Any, tenant: str) -> tuple[list[str], dict[str, Any]] | None:
    """``(key path, properties)`` of the ``_{tenant}`` object in a field group document (the first
    found: ``definitions.<def>.properties`` first, then anywhere)."""

    def walk(node: Any, path: list[str]) -> Iterator[tuple[list[str], dict[str, Any]]]:
        if isinstance(node, Mapping):
            obj = node.get(f"_{tenant}")
            if isinstance(obj, Mapping) and isinstance(obj.get("properties"), Mapping):
                yield [*path, f"_{tenant}"], dict(obj["properties"])
            for key, value in node.items():
                if isinstance(key, str) and key != f"_{tenant}":
                    yield from walk(value, [*path, key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, [*path, str(i)])

    return next(walk(doc, []), None)


def intended_classes(doc: Mapping[str, Any]) -> list[str]:
    """``meta:intendedToExtend`` of a field group."""
    value = doc.get("meta:intendedToExtend") or []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class AEPCreateTableFieldGroupOperator(AEPCreateOperatorBase):
    """Create, or converge, a custom tenant field group holding a source table's columns.

    Every column becomes a field under ``_{tenantId}`` (tenant id from ``GET /stats``, read once
    per hook), typed through the provider's type map and named by its field-name rules (both in
    the README, "Any table"); the group is ``meta:intendedToExtend`` the class.

    Give the columns either directly (``columns``: ``/explore`` column dicts or names, e.g. the
    ``columns`` XCom of :class:`~.discovery.AEPGetTableColumnsOperator`) or as
    ``base_connection_id`` + ``table`` (read from ``/explore`` by this task).

    :param title: field group title, its identity for reuse (Schema Registry titles are unique
        across classes, schemas and field groups: use another title than the schema's).
    :param class_id: the class the group extends (default: XDM Individual Profile).
    :param unknown_type: ``"error"`` (default) or ``"string"`` for source types outside the map.
    :param type_overrides: ``{column: XDM type}``.
    :param mapping_overrides: ``{column: XDM path or None}`` applied to the generated mapping
        (``None`` leaves the column unmapped); the field group still holds every column.
    :param tenant_id: skip the ``/stats`` lookup.
    :param description: optional description.

    Returns the field group ``$id``. XComs: ``meta_alt_id``, ``tenant_id``, ``table`` (API name,
    ``None`` with ``columns``), ``fields`` (``[{column, field, type, xdmType, path}]``) and
    ``mapping`` (``{column: "_{tenant}.<field>"}`` plus overrides, for the mapping-set operator).

    Converge (default) is additive: new columns are PATCHed in as new fields (same ``$id``), the
    description is updated; a field whose type changed, or another class, is refused before any
    write (AEP forbids redefining fields). Fields the table no longer has stay (AEP cannot remove
    them) and are logged.
    """

    resource_kind = "field group"
    plan_xcom_keys = ("meta_alt_id", "tenant_id", "table", "fields", "mapping")

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "title",
        "class_id",
        "columns",
        "base_connection_id",
        "table",
        "type_overrides",
        "mapping_overrides",
        "tenant_id",
        "description",
    )
    template_fields_renderers = {"columns": "json", "type_overrides": "json", "mapping_overrides": "json"}

    def __init__(
        self,
        *,
        title: str,
        class_id: str = PROFILE_CLASS,
        columns: Sequence[Mapping[str, Any]] | Sequence[str] | XComArg | None = None,
        base_connection_id: str | XComArg | None = None,
        table: str | Mapping[str, str] | XComArg | None = None,
        unknown_type: str = "error",
        type_overrides: Mapping[str, str] | None = None,
        mapping_overrides: Mapping[str, str | None] | None = None,
        tenant_id: str | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.class_id = class_id
        self.columns = columns
        self.base_connection_id = base_connection_id
        self.table = table
        self.unknown_type = unknown_type
        self.type_overrides = type_overrides
        self.mapping_overrides = mapping_overrides
        self.tenant_id = tenant_id
        self.description = description
        check_unknown_type(unknown_type)
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "title": check_name("title", self.title, "schemaregistry"),
            "class": check_xdm_ref("class_id", self.class_id),
        }
        check_type_overrides(self.type_overrides)
        if self.tenant_id is not None:
            out["tenant"] = check_tenant_id(self.tenant_id)
        if self.columns is not None:
            if self.base_connection_id is not None:
                raise AEPInputError(
                    "columns",
                    "give either columns or base_connection_id + table, not both.",
                    "Drop one of them.",
                )
            out["fields"] = self._fields(self.columns, None)
        else:
            if self.base_connection_id is None or self.table is None:
                raise AEPInputError(
                    "columns",
                    "no columns: give columns, or base_connection_id and table to read /explore.",
                    "Pass columns=<the columns XCom> or base_connection_id=... and table=....",
                )
            out["base"] = check_uuid("base_connection_id", self.base_connection_id)
            out["table"] = table_path(self.table)
        if self.mapping_overrides is not None and not isinstance(self.mapping_overrides, Mapping):
            raise AEPInputError(
                "mapping_overrides",
                f"must be a dict of column -> XDM path or None, got {self.mapping_overrides!r}.",
                'Pass e.g. {"Email": "personalEmail.address"}.',
            )
        for column, path in (self.mapping_overrides or {}).items():
            if path is not None:
                check_xdm_path(f"mapping_overrides[{column!r}]", path)
        return out

    def plan_lookup(self) -> tuple[str, Any] | None:
        """Title and finder for plans whose base connection or columns are not known yet."""
        if is_unknown(self.title) or is_templated(self.title):
            return None
        title = check_name("title", self.title, "schemaregistry")
        return title, lambda: self.hook.find_field_group(title)

    def _fields(self, columns: Any, table: str | None) -> list[TableField]:
        return table_fields(
            columns,
            unknown_type=self.unknown_type,
            type_overrides=self.type_overrides,
            table=table,
            on_fallback=lambda col, t: self.log.warning(
                "Column %r has source type %r outside the type map: stored as string", col, t
            ),
        )

    def execute(self, context: Context) -> str:
        """Create or converge the field group and return its ``$id``."""
        v = self._validate()
        title, class_id = v["title"], v["class"]
        table = v.get("table")
        if "fields" in v:
            fields: list[TableField] = v["fields"]
        else:
            table, columns = read_columns(self.hook, v["base"], v["table"])
            fields = self._fields(columns, table)
        tenant = v.get("tenant") or self.hook.get_tenant_id()
        mapping = generate_mapping(fields, tenant, self.mapping_overrides)
        wanted = {f.field: f for f in fields}
        description = self.description or f"Columns of source table {table or title!r}"

        def create() -> dict[str, Any]:
            try:
                return self.hook.create_field_group(body)
            except AEPAPIError as error:
                if is_name_taken(error) and not self.hook.find_all_field_groups(title):
                    raise AEPResourceConflictError(
                        f"field group title {title!r} is taken by another Schema Registry resource (a "
                        "schema, class or data type: titles are unique across all of them); nothing "
                        "was created. Fix: give the field group its own title, e.g. "
                        f"{title + ' columns'!r}."
                    ) from None
                raise

        body = {
            "title": title,
            "description": description,
            "type": "object",
            "meta:intendedToExtend": [class_id],
            "definitions": {
                DEFINITION: {
                    "properties": {
                        f"_{tenant}": {
                            "type": "object",
                            "properties": {f.field: field_schema(f) for f in fields},
                        }
                    }
                }
            },
            "allOf": [{"$ref": f"#/definitions/{DEFINITION}"}],
        }

        docs: dict[str, dict[str, Any]] = {}

        def doc_of(found: dict[str, Any]) -> dict[str, Any]:
            key = str(found["$id"])
            if key not in docs:
                docs[key] = self.hook.get_field_group(key)
            return docs[key]

        def have_types(doc: dict[str, Any]) -> dict[str, str | None]:
            located = tenant_object(doc, tenant)
            return {k: xdm_type_of_schema(p) for k, p in (located[1] if located else {}).items()}

        def mismatch(found: dict[str, Any]) -> str | None:
            doc = doc_of(found)
            have = have_types(doc)
            missing = [f for f in wanted if f not in have]
            retyped = [
                f"{f} ({have[f]} -> {w.xdm_type})"
                for f, w in wanted.items()
                if f in have and have[f] != w.xdm_type
            ]
            return first_problem(
                f"it does not extend class {class_id}" if class_id not in intended_classes(doc) else None,
                f"its fields have other types: {retyped}" if retyped else None,
                f"it lacks fields {missing}" if missing else None,
            )

        def diff(found: dict[str, Any]) -> Diff:
            doc = doc_of(found)
            d = Diff()
            classes = intended_classes(doc)
            if class_id not in classes:
                d.add(
                    "meta:intendedToExtend",
                    classes,
                    [class_id],
                    refused="a field group's class cannot be changed in place",
                    fix="use another field group title for another class",
                )
            if tenant_object(doc, tenant) is None:
                d.add(
                    f"_{tenant}",
                    None,
                    "(tenant object)",
                    refused=f"the field group has no _{tenant} object to add fields to",
                    fix="use another title (this field group was not made by this operator)",
                )
                return d
            have = have_types(doc)
            for name, item in wanted.items():
                if name in have and have[name] != item.xdm_type:
                    d.add(
                        f"_{tenant}.{name} (column {item.column!r})",
                        have[name],
                        item.xdm_type,
                        refused=_BREAKING,
                        fix=f"pass type_overrides={{{item.column!r}: {have[name]!r}}} to keep the "
                        "field's type, or use another field group title (and schema)",
                    )
            added = [n for n in wanted if n not in have]
            if added:
                d.add("fields (added)", [], added, note="additive: PATCH add, same $id")
            gone = sorted(n for n in have if n not in wanted)
            if gone:
                self.log.warning(
                    "Field group %r keeps field(s) %s the table no longer lists (AEP cannot remove fields)",
                    title,
                    gone,
                )
            if self.description is not None:
                d.add("description", doc.get("description") or "", self.description)
            return d

        def added_fields(found: dict[str, Any], change: Change) -> list[dict[str, Any]]:
            located = tenant_object(doc_of(found), tenant)
            assert located is not None  # refused in diff() otherwise
            base = _pointer(located[0]) + "/properties/"
            return [
                {"op": "add", "path": base + _pointer([n])[1:], "value": field_schema(wanted[n])}
                for n in change.want
            ]

        group_id, alt_id = ensure_by_title(
            self,
            kind="field group",
            noun="field_group",
            title=title,
            create=create,
            mismatch=mismatch,
            diff=diff,
            additions=("fields (added)", added_fields),
        )
        self.xcom_push(context, xcom_keys.META_ALT_ID, alt_id)
        self.xcom_push(context, xcom_keys.TENANT_ID, tenant)
        self.xcom_push(context, xcom_keys.TABLE, table)
        self.xcom_push(context, xcom_keys.FIELDS, [f.as_dict(tenant) for f in fields])
        self.xcom_push(context, xcom_keys.MAPPING, mapping)
        return group_id
