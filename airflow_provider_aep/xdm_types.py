"""Source columns to XDM: the type map, field-name rules and the generated mapping.

Used by the generated-schema operators (:mod:`~airflow_provider_aep.operators.field_groups`,
:mod:`~airflow_provider_aep.operators.discovery`, :mod:`~airflow_provider_aep.operators.profile`).
Everything here is pure (no HTTP), deterministic and documented in the README ("Any table").

**Type of a column.** The first of these that is present decides:

1. ``type_overrides[column]`` (an XDM type name, given by the DAG);
2. the column's ``meta:xdmType`` from ``/explore`` (or ``xdmType``, as the columns operator returns
   it) when it is an XDM scalar type;
3. its ``xdm`` JSON Schema (``{type, format?, minimum?, maximum?}``);
4. its source ``type`` through :data:`SOURCE_TYPES` (case-insensitive).

A type none of these knows is an error naming the column (``unknown_type="error"``, the default)
or becomes ``string`` with a warning (``unknown_type="string"``).

**Field names.** XDM field names here are ``[A-Za-z][A-Za-z0-9_]*`` (what the provider's XDM path
check and Data Prep destinations accept). A column name that already is one, and is not reserved,
is kept as is. Any other is rewritten: accents are dropped (``é`` -> ``e``), every run of other
characters becomes one ``_``, leading and trailing ``_`` are stripped, a leading digit gets ``f_``
in front, an empty result becomes ``field``, and a reserved name (:data:`RESERVED_NAMES`, compared
case-insensitively) gets ``_field`` appended. Names that then collide (compared case-insensitively)
are told apart by code: the column whose name was already valid keeps the plain name, else the
smallest original name (by code point) does; every other one gets ``_`` plus the first 8 hex digits
of the SHA-256 of its original name. The result depends only on the set of column names, never on
their order.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_aep.exceptions import AEPInputError

#: XDM scalar types and the JSON Schema a field of that type gets in a field group.
XDM_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "long": {"type": "integer", "minimum": -9007199254740992, "maximum": 9007199254740992},
    "int": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
    "short": {"type": "integer", "minimum": -32768, "maximum": 32767},
    "byte": {"type": "integer", "minimum": -128, "maximum": 127},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
}
XDM_TYPES = tuple(XDM_FIELD_SCHEMAS)

#: Aliases of XDM type names accepted in ``type_overrides`` and ``meta:xdmType``.
_XDM_ALIASES = {"integer": "int", "double": "number", "datetime": "date-time"}

#: Source (``/explore``) column types -> XDM type, lower-case keys. Salesforce field types, ServiceNow
#: internal types, OData ``Edm.*`` types and JSON Schema types.
SOURCE_TYPES: dict[str, str] = {
    # text
    "string": "string",
    "text": "string",
    "varchar": "string",
    "char": "string",
    "id": "string",
    "reference": "string",
    "picklist": "string",
    "multipicklist": "string",
    "combobox": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "url": "string",
    "encryptedstring": "string",
    "guid": "string",
    "uuid": "string",
    "sys_id": "string",
    "time": "string",
    "edm.string": "string",
    "edm.guid": "string",
    "edm.timeofday": "string",
    "edm.duration": "string",
    # integers
    "integer": "int",
    "int": "int",
    "int32": "int",
    "edm.int32": "int",
    "long": "long",
    "bigint": "long",
    "int64": "long",
    "edm.int64": "long",
    "short": "short",
    "smallint": "short",
    "int16": "short",
    "edm.int16": "short",
    "byte": "byte",
    "tinyint": "byte",
    "edm.byte": "byte",
    "edm.sbyte": "byte",
    # numbers
    "number": "number",
    "double": "number",
    "float": "number",
    "decimal": "number",
    "numeric": "number",
    "real": "number",
    "currency": "number",
    "percent": "number",
    "edm.double": "number",
    "edm.single": "number",
    "edm.decimal": "number",
    # booleans
    "boolean": "boolean",
    "bool": "boolean",
    "edm.boolean": "boolean",
    # dates
    "date": "date",
    "edm.date": "date",
    "date-time": "date-time",
    "datetime": "date-time",
    "timestamp": "date-time",
    "glide_date_time": "date-time",
    "edm.datetimeoffset": "date-time",
    "edm.datetime": "date-time",
}

#: Field names never used as is (case-insensitive): JSON Schema keywords that structure a field
#: group, which a schema walker could read as structure rather than as a field.
RESERVED_NAMES = frozenset({"properties", "items", "definitions", "allof", "anyof", "oneof"})
UNKNOWN_TYPE_CHOICES = ("error", "string")
_VALID_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_INVALID_RUN = re.compile(r"[^A-Za-z0-9_]+")
_TENANT_RE = re.compile(r"^[a-z0-9_]{1,64}$")


@dataclass(frozen=True)
class TableField:
    """One source column and the XDM field it becomes under ``_{tenant}``."""

    column: str
    field: str
    source_type: str
    xdm_type: str

    def as_dict(self, tenant_id: str | None = None) -> dict[str, Any]:
        """JSON-ready form (the operators' ``fields`` XCom): ``{column, field, type, xdmType[, path]}``."""
        out: dict[str, Any] = {
            "column": self.column,
            "field": self.field,
            "type": self.source_type,
            "xdmType": self.xdm_type,
        }
        if tenant_id is not None:
            out["path"] = f"_{tenant_id}.{self.field}"
        return out


def _plain_xdm_type(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    name = _XDM_ALIASES.get(name, name)
    return name if name in XDM_FIELD_SCHEMAS else None


def xdm_type_of_schema(schema: Any) -> str | None:
    """The XDM type of a JSON Schema fragment (``{type, format?, minimum?, maximum?}``), or ``None``.

    Integers are typed by their range (``int`` without one, as the ``/explore`` integer columns).
    """
    if not isinstance(schema, Mapping):
        return None
    declared = _plain_xdm_type(schema.get("meta:xdmType"))
    if declared:
        return declared
    jtype = schema.get("type")
    if jtype == "string":
        fmt = schema.get("format")
        return fmt if fmt in ("date", "date-time") else "string"
    if jtype in ("number", "boolean"):
        return str(jtype)
    if jtype == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        for name in ("byte", "short", "int", "long"):
            bounds = XDM_FIELD_SCHEMAS[name]
            if low == bounds["minimum"] and high == bounds["maximum"]:
                return name
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            return "int" if -(2**31) <= low and high < 2**31 else "long"
        return "int"
    return None


def check_unknown_type(value: Any) -> str:
    """Validate the ``unknown_type`` policy."""
    if value not in UNKNOWN_TYPE_CHOICES:
        raise AEPInputError(
            "unknown_type", f"must be one of {list(UNKNOWN_TYPE_CHOICES)}, got {value!r}.", "Use 'error'."
        )
    return str(value)


def check_type_overrides(value: Any) -> dict[str, str]:
    """Validate ``type_overrides`` (``{column: XDM type}``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AEPInputError(
            "type_overrides",
            f"must be a dict of column -> XDM type, got {value!r}.",
            'Pass e.g. {"Age": "int"}.',
        )
    out: dict[str, str] = {}
    for column, xdm in value.items():
        name = _plain_xdm_type(xdm)
        if not isinstance(column, str) or name is None:
            raise AEPInputError(
                f"type_overrides[{column!r}]",
                f"{xdm!r} is not an XDM type.",
                f"Use one of: {', '.join(XDM_TYPES)}.",
            )
        out[column] = name
    return out


def column_xdm_type(
    column: Mapping[str, Any],
    *,
    unknown_type: str = "error",
    override: str | None = None,
    field: str = "columns",
    table: str | None = None,
) -> tuple[str, bool]:
    """``(XDM type, fell back)`` of one ``/explore`` column; see the module docstring for the order."""
    if override:
        return override, False
    found = (
        _plain_xdm_type(column.get("meta:xdmType"))
        or _plain_xdm_type(column.get("xdmType"))  # AEPGetTableColumnsOperator's own answer
        or xdm_type_of_schema(column.get("xdm"))
    )
    source_type = column.get("type")
    if found is None and isinstance(source_type, str):
        found = SOURCE_TYPES.get(source_type.strip().lower())
    if found is not None:
        return found, False
    if unknown_type == "string":
        return "string", True
    where = f" of table {table!r}" if table else ""
    raise AEPInputError(
        field,
        f"column {column.get('name')!r}{where} has source type {source_type!r}, which has no XDM type "
        "in the provider's type map.",
        f"Pass type_overrides={{{column.get('name')!r}: '<one of {', '.join(XDM_TYPES)}>'}}, or "
        "unknown_type='string' to store such columns as strings.",
    )


def _ascii_fold(text: str) -> str:
    """Accented letters -> their ASCII letter; a character without one -> ``_``."""
    out = []
    for char in text:
        folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
        out.append(folded or ("" if unicodedata.combining(char) else "_"))
    return "".join(out)


def is_valid_field_name(name: str) -> bool:
    """Whether *name* is used unchanged as an XDM field name."""
    return bool(_VALID_NAME.match(name)) and name.lower() not in RESERVED_NAMES


def base_field_name(column: str) -> str:
    """The field name of one column before collisions are resolved (see the module docstring)."""
    if is_valid_field_name(column):
        return column
    text = _INVALID_RUN.sub("_", _ascii_fold(column)).strip("_")
    if not text:
        text = "field"
    if text[0].isdigit():
        text = f"f_{text}"
    if text.lower() in RESERVED_NAMES:
        text = f"{text}_field"
    return text


def _suffix(column: str) -> str:
    return hashlib.sha256(column.encode("utf-8")).hexdigest()[:8]


def xdm_field_names(columns: Iterable[str]) -> dict[str, str]:
    """``{column: XDM field name}`` for every column (order-independent, collision-free).

    Raises :class:`AEPInputError` for a duplicate or empty column name.
    """
    names = list(columns)
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name:
            raise AEPInputError("columns", f"column name {name!r} is empty.", "Name every column.")
        if name in seen:
            raise AEPInputError("columns", f"column {name!r} is listed twice.", "List every column once.")
        seen.add(name)
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(base_field_name(name).lower(), []).append(name)
    out: dict[str, str] = {}
    taken: set[str] = set()
    for members in groups.values():
        valid = [m for m in members if is_valid_field_name(m)]
        owner = valid[0] if valid else min(members)
        out[owner] = base_field_name(owner)
        taken.add(out[owner].lower())
    for members in groups.values():
        for name in sorted(members):
            if name in out:
                continue
            candidate = f"{base_field_name(name)}_{_suffix(name)}"
            while candidate.lower() in taken:  # pragma: no cover - needs a SHA-256 prefix clash
                candidate = f"{candidate}_{_suffix(candidate)}"
            out[name] = candidate
            taken.add(candidate.lower())
    return {name: out[name] for name in names}


def _column_dicts(columns: Any, field: str) -> list[dict[str, Any]]:
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence) or not columns:
        raise AEPInputError(
            field,
            f"must be a non-empty list of /explore column dicts or names, got {str(columns)[:200]}.",
            'Pass e.g. [{"name": "Id", "type": "string"}], or base_connection_id and table to read /explore.',
        )
    out = []
    for i, col in enumerate(columns):
        if isinstance(col, str):
            col = {"name": col, "type": "string"}
        if not isinstance(col, Mapping) or not isinstance(col.get("name"), str) or not col["name"]:
            raise AEPInputError(
                f"{field}[{i}]",
                f"must be a column dict with a 'name', got {str(col)[:200]}.",
                "Pass {name, type}.",
            )
        out.append(dict(col))
    return out


def table_fields(
    columns: Any,
    *,
    unknown_type: str = "error",
    type_overrides: Mapping[str, str] | None = None,
    field: str = "columns",
    table: str | None = None,
    on_fallback: Any = None,
) -> list[TableField]:
    """The XDM field of every column, in column order.

    :param columns: ``/explore`` column dicts (``{name, type, meta:xdmType?, xdm?}``) or names
        (strings).
    :param unknown_type: ``"error"`` (default) or ``"string"``.
    :param type_overrides: ``{column: XDM type}``; every key must be a column.
    :param on_fallback: called with ``(column name, source type)`` when a type fell back to string.
    """
    policy = check_unknown_type(unknown_type)
    overrides = check_type_overrides(type_overrides)
    cols = _column_dicts(columns, field)
    names = xdm_field_names(c["name"] for c in cols)
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise AEPInputError(
            "type_overrides",
            f"{unknown} {'is not a column' if len(unknown) == 1 else 'are not columns'} of the table.",
            f"Use column names: {', '.join(list(names)[:40])}.",
        )
    out = []
    for col in cols:
        name = col["name"]
        xdm, fell_back = column_xdm_type(
            col, unknown_type=policy, override=overrides.get(name), field=field, table=table
        )
        if fell_back and on_fallback is not None:
            on_fallback(name, col.get("type"))
        out.append(TableField(name, names[name], str(col.get("type") or xdm), xdm))
    return out


def check_tenant_id(value: Any) -> str:
    """A Schema Registry tenant id (``emulatortenant``, no leading underscore)."""
    text = value[1:] if isinstance(value, str) and value.startswith("_") else value
    if not isinstance(text, str) or not _TENANT_RE.match(text):
        raise AEPInputError(
            "tenant_id",
            f"{value!r} is not a tenant id (lower-case letters, digits and '_').",
            "Leave tenant_id unset to read it from GET /stats.",
        )
    return text


def field_schema(item: TableField) -> dict[str, Any]:
    """The JSON Schema of one field in the field group (title = the source column name)."""
    return {
        **XDM_FIELD_SCHEMAS[item.xdm_type],
        "title": item.column,
        "description": f"Source column {item.column!r} ({item.source_type})",
    }


def generate_mapping(
    fields: Sequence[TableField] | Sequence[Mapping[str, Any]],
    tenant_id: str,
    overrides: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """``{source column: "_{tenant}.<field>"}`` for every field, then *overrides* applied.

    An override maps a column to another XDM path (e.g. ``{"Email": "personalEmail.address"}``),
    adds a column (or an expression's source) the table did not list, or drops a column (``None``).
    """
    tenant = check_tenant_id(tenant_id)
    out: dict[str, str] = {}
    for item in fields:
        if isinstance(item, TableField):
            column, name = item.column, item.field
        elif (
            isinstance(item, Mapping)
            and isinstance(item.get("column"), str)
            and isinstance(item.get("field"), str)
        ):
            column, name = item["column"], item["field"]
        else:
            raise AEPInputError(
                "fields", f"{item!r} is not a field entry.", "Pass the 'fields' XCom of the field group task."
            )
        out[column] = f"_{tenant}.{name}"
    if overrides is None:
        return out
    if not isinstance(overrides, Mapping):
        raise AEPInputError(
            "mapping_overrides",
            f"must be a dict of source column -> XDM path (or None to drop it), got {overrides!r}.",
            'Pass e.g. {"Email": "personalEmail.address", "Fax": None}.',
        )
    for column, destination in overrides.items():
        if not isinstance(column, str) or not column:
            raise AEPInputError(
                "mapping_overrides", f"key {column!r} is not a column name.", "Use column names."
            )
        if destination is None:
            out.pop(column, None)
        elif isinstance(destination, str) and destination:
            out[column] = destination
        else:
            raise AEPInputError(
                f"mapping_overrides[{column!r}]",
                f"must be an XDM path or None, got {destination!r}.",
                'Use e.g. "personalEmail.address", or None to leave the column unmapped.',
            )
    if not out:
        raise AEPInputError("mapping_overrides", "leaves no column mapped.", "Keep at least one column.")
    return out
