"""Discovery: the tables behind a base connection and the columns of one table (``/explore``).

Both operators only read (GET); they create nothing and are safe to rerun.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPBadRequestError, AEPInputError, AEPNotFoundError
from airflow_provider_aep.operators.base import AEPBaseOperator
from airflow_provider_aep.validation import check_uuid, require_str
from airflow_provider_aep.xdm_types import check_type_overrides, check_unknown_type, table_fields

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

REGEX_PREFIX = "re:"


def _patterns(field: str, value: Any) -> list[tuple[str, re.Pattern[str]]]:
    """``[(pattern as given, compiled)]``; globs and ``re:`` regexes, both case-insensitive."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise AEPInputError(
            field,
            f"must be a pattern or a list of patterns, got {value!r}.",
            'Pass e.g. ["Account*", "re:^Case$"].',
        )
    out = []
    for i, item in enumerate(items):
        where = f"{field}[{i}]" if not isinstance(value, str) else field
        if not isinstance(item, str) or not item:
            raise AEPInputError(where, f"must be a non-empty string, got {item!r}.", 'Use e.g. "Account*".')
        if item.startswith(REGEX_PREFIX):
            try:
                compiled = re.compile(item[len(REGEX_PREFIX) :], re.IGNORECASE)
            except re.error as exc:
                raise AEPInputError(
                    where,
                    f"{item!r} is not a valid regular expression ({exc}).",
                    "Fix the regex after 're:'.",
                ) from None
        else:
            compiled = re.compile(fnmatch.translate(item), re.IGNORECASE)
        out.append((item, compiled))
    return out


def _matches(table: Mapping[str, str], patterns: list[tuple[str, re.Pattern[str]]]) -> bool:
    return any(p.fullmatch(table["path"]) or p.fullmatch(table["name"]) for _, p in patterns)


def select_tables(
    tables: Sequence[Mapping[str, str]], include: Any = None, exclude: Any = None
) -> list[dict[str, str]]:
    """The tables matching *include* (all when ``None``) and no *exclude* pattern, sorted by path.

    A pattern is a glob (``*``, ``?``, ``[...]``) or, prefixed with ``re:``, a regular expression;
    both must match the whole API name (``path``) or the whole label (``name``), case-insensitively.
    """
    inc = _patterns("include", include)
    exc = _patterns("exclude", exclude)
    seen: dict[str, dict[str, str]] = {}
    for table in tables:
        if (not inc or _matches(table, inc)) and not _matches(table, exc):
            seen.setdefault(table["path"], {"name": table["name"], "path": table["path"]})
    return [seen[path] for path in sorted(seen)]


class AEPListSourceTablesOperator(AEPBaseOperator):
    """List the tables of a base connection (``/explore?objectType=root``), filtered by patterns.

    :param base_connection_id: base connection id (UUID; XCom of the base-connection task).
    :param include: glob(s) or ``re:``-prefixed regex(es); a table is kept when one matches its API
        name (``path``) or its label (``name``), whole and case-insensitively. ``None``: all tables.
    :param exclude: same syntax; a matching table is dropped (exclude wins over include).
    :param return_paths: return the API names only (``["Account", ...]``) instead of dicts.
    :param allow_empty: return ``[]`` when nothing matches instead of failing.

    Returns a JSON list sorted by API name, ready for ``.expand()``:
    ``[{"name": "<label>", "path": "<API name>"}, ...]`` (or just the paths). Pushes ``count`` and
    ``all_tables`` (how many tables the source has).
    """

    template_fields: Sequence[str] = (
        *AEPBaseOperator.template_fields,
        "base_connection_id",
        "include",
        "exclude",
    )
    template_fields_renderers = {"include": "json", "exclude": "json"}
    plan_xcom_keys = ("count", "all_tables")

    def __init__(
        self,
        *,
        base_connection_id: str | XComArg,
        include: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        return_paths: bool = False,
        allow_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.base_connection_id = base_connection_id
        self.include = include
        self.exclude = exclude
        self.return_paths = return_paths
        self.allow_empty = allow_empty
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> str:
        base = check_uuid("base_connection_id", self.base_connection_id)
        _patterns("include", self.include)
        _patterns("exclude", self.exclude)
        return base

    def plan_with_unknown_inputs(self, context: Context, fields: list[str]) -> Any:
        """Plan mode before the base connection exists: no table can be listed yet; ``[]`` (not the
        unknown-id marker) keeps a downstream ``.expand()`` valid (it maps over nothing)."""
        super().plan_with_unknown_inputs(context, fields)
        self.log.info("PLAN: the base connection does not exist yet, so its tables cannot be listed")
        return []

    def execute(self, context: Context) -> list[Any]:
        """List, filter and return the tables."""
        base = self._validate()
        tables = self.hook.list_source_tables(base)
        selected = select_tables(tables, self.include, self.exclude)
        self.log.info(
            "Base connection %s: %d table(s), %d selected%s",
            base,
            len(tables),
            len(selected),
            f": {', '.join(t['path'] for t in selected[:50])}" if selected else "",
        )
        if not selected and not self.allow_empty:
            listed = ", ".join(t["path"] for t in tables[:30]) or "(none)"
            raise AEPInputError(
                "include",
                f"no table of base connection {base} matches include={self.include!r} "
                f"exclude={self.exclude!r}; its tables are: {listed}.",
                "Fix the patterns (globs match the whole API name or label; 're:' for a regex), "
                "or pass allow_empty=True.",
            )
        self.xcom_push(context, xcom_keys.COUNT, len(selected))
        self.xcom_push(context, xcom_keys.ALL_TABLES, len(tables))
        return [t["path"] for t in selected] if self.return_paths else selected


def resolve_table(hook: AdobeExperiencePlatformHook, base: str, table: str) -> str:
    """The API name (path) of *table*, given as its path or its label; a clear error otherwise."""
    tables = hook.list_source_tables(base)
    for key in ("path", "name"):
        for t in tables:
            if t[key] == table:
                return t["path"]
    listed = ", ".join(t["path"] for t in tables[:30]) or "(none)"
    raise AEPInputError(
        "table", f"{table!r} is not a table of base connection {base}.", f"Use one of: {listed}."
    )


def read_columns(
    hook: AdobeExperiencePlatformHook, base: str, table: str
) -> tuple[str, list[dict[str, Any]]]:
    """``(table path, /explore columns)`` of *table* (API name; a label is resolved via root)."""
    try:
        return table, hook.get_table_columns(base, table)
    except (AEPNotFoundError, AEPBadRequestError):
        # 404, or 1330-400 "no columns found": a label or an unknown name; root says which
        path = resolve_table(hook, base, table)
        if path == table:
            raise
        return path, hook.get_table_columns(base, path)


class AEPGetTableColumnsOperator(AEPBaseOperator):
    """Read one table's columns (``/explore?objectType=table``) with their XDM type and field name.

    :param base_connection_id: base connection id (UUID).
    :param table: the table's API name (``path`` of :class:`AEPListSourceTablesOperator`; a label
        or a ``{name, path}`` dict from that operator is accepted too).
    :param unknown_type: ``"error"`` (default: a source type outside the type map fails, naming the
        column) or ``"string"`` (stored as a string, with a warning).
    :param type_overrides: ``{column: XDM type}`` to force a column's type.

    Returns ``[{"name", "type", "xdmType", "field"}, ...]`` in column order (``type``: the source
    type; ``field``: the XDM field name under ``_{tenant}``, see the README's name rules). Pushes
    ``columns`` (the raw ``/explore`` column dicts, for the source-connection operator) and
    ``table`` (the API name).
    """

    template_fields: Sequence[str] = (
        *AEPBaseOperator.template_fields,
        "base_connection_id",
        "table",
        "type_overrides",
    )
    template_fields_renderers = {"type_overrides": "json"}
    plan_xcom_keys = ("columns", "table")

    def __init__(
        self,
        *,
        base_connection_id: str | XComArg,
        table: str | Mapping[str, str] | XComArg,
        unknown_type: str = "error",
        type_overrides: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.base_connection_id = base_connection_id
        self.table = table
        self.unknown_type = unknown_type
        self.type_overrides = type_overrides
        check_unknown_type(unknown_type)
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> tuple[str, str]:
        base = check_uuid("base_connection_id", self.base_connection_id)
        check_type_overrides(self.type_overrides)
        return base, table_path(self.table)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Read the columns and return them with their XDM types."""
        base, table = self._validate()
        path, columns = read_columns(self.hook, base, table)
        fields = table_fields(
            columns,
            unknown_type=self.unknown_type,
            type_overrides=self.type_overrides,
            table=path,
            on_fallback=lambda col, t: self.log.warning(
                "Column %r of %r has source type %r outside the type map: stored as string", col, path, t
            ),
        )
        self.log.info("Table %r: %d column(s)", path, len(fields))
        self.xcom_push(context, xcom_keys.COLUMNS, columns)
        self.xcom_push(context, xcom_keys.TABLE, path)
        return [
            {"name": f.column, "type": f.source_type, "xdmType": f.xdm_type, "field": f.field} for f in fields
        ]


def table_path(value: Any, field: str = "table") -> str:
    """A table given as its API name or as a ``{name, path}`` dict of the list operator."""
    if isinstance(value, Mapping):
        value = value.get("path") or value.get("name")
    return require_str(field, value, "a table API name (or a {name, path} dict)")
