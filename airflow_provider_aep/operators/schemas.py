"""Schema Registry operators: target XDM schema and (legacy) ad-hoc class + schema."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.constants import ADHOC_CLASS as ADHOC_CLASS
from airflow_provider_aep.constants import DEFAULT_FIELD_GROUPS as DEFAULT_FIELD_GROUPS
from airflow_provider_aep.constants import PROFILE_CLASS as PROFILE_CLASS
from airflow_provider_aep.exceptions import AEPInputError, AEPNotFoundError
from airflow_provider_aep.operators._converge import UNKNOWN, Change, Diff
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, differs, first_problem
from airflow_provider_aep.validation import (
    ADHOC_FIELD_TYPES,
    check_name,
    check_xdm_ref,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

_COLUMN_TO_ADHOC = {"date-time": "date-time", "date": "date", "number": "number", "integer": "integer"}


@dataclass(frozen=True)
class SchemaRequest:
    """A validated XDM schema: what :class:`AEPCreateSchemaOperator` sends."""

    title: str
    class_id: str
    field_groups: tuple[str, ...]


@dataclass(frozen=True)
class AdHocSchemaRequest:
    """A validated ad-hoc class and schema: what :class:`AEPCreateAdHocSchemaOperator` sends.

    :param fields: ``(name, type)`` pairs, types from :data:`ADHOC_FIELD_TYPES`.
    """

    title: str
    fields: tuple[tuple[str, str], ...]

    @property
    def field_types(self) -> dict[str, str]:
        """The fields as ``{name: type}``."""
        return dict(self.fields)


def _field_groups(groups: Any, class_id: str) -> tuple[str, ...]:
    """Field group refs: a list, each a valid ref, listed once, not the class itself."""
    if isinstance(groups, str) or not isinstance(groups, (list, tuple)):
        raise AEPInputError(
            "field_groups",
            f"must be a list of field group $ids, got {groups!r}.",
            "Pass a list (may be empty).",
        )
    out: list[str] = []
    for i, group in enumerate(groups):
        ref = check_xdm_ref(f"field_groups[{i}]", group)
        if ref in out:
            raise AEPInputError("field_groups", f"{ref} is listed twice.", "List every field group once.")
        if ref == class_id:
            raise AEPInputError("field_groups", f"{ref} is the class, not a field group.", "Remove it.")
        out.append(ref)
    return tuple(out)


def _adhoc_item(i: int, item: Any) -> tuple[Any, str]:
    """One entry of a list of fields: a name (a string field) or an ``/explore`` column dict."""
    if isinstance(item, str):
        return item, "string"
    if isinstance(item, Mapping) and isinstance(item.get("name"), str):
        ctype = item.get("meta:xdmType") or (item.get("xdm") or {}).get("format") or item.get("type")
        return item["name"], _COLUMN_TO_ADHOC.get(str(ctype), "string")
    raise AEPInputError(
        f"fields[{i}]", f"must be a field name or a column dict, got {item!r}.", "Pass names."
    )


def _adhoc_items(fields: Any) -> list[tuple[Any, Any]]:
    """``(name, type)`` pairs of a ``{name: type}`` dict or of a list of names / column dicts."""
    if isinstance(fields, Mapping):
        return list(fields.items())
    if isinstance(fields, (list, tuple)):
        return [_adhoc_item(i, f) for i, f in enumerate(fields)]
    raise AEPInputError(
        "fields",
        f"must be a dict of name -> type or a list of names, got {fields!r}.",
        'Pass e.g. {"Id": "string", "CreatedDate": "date-time"}.',
    )


def _adhoc_fields(fields: Any) -> tuple[tuple[str, str], ...]:
    """Validated ad-hoc fields: well-formed names, known types, each listed once, at least one."""
    out: dict[str, str] = {}
    for name, ftype in _adhoc_items(fields):
        if not isinstance(name, str) or not name.strip() or "." in name or name != name.strip():
            raise AEPInputError(
                "fields", f"field name {name!r} is empty or malformed.", "Use the source column names."
            )
        if ftype not in ADHOC_FIELD_TYPES:
            raise AEPInputError(
                "fields",
                f"field {name!r} has unknown type {ftype!r}.",
                f"Use one of: {', '.join(ADHOC_FIELD_TYPES)}.",
            )
        if name in out:
            raise AEPInputError("fields", f"field {name!r} is listed twice.", "List every field once.")
        out[name] = ftype
    if not out:
        raise AEPInputError("fields", "is empty.", "List every field of the source table.")
    return tuple(out.items())


def _refs(doc: Mapping[str, Any]) -> list[str]:
    return [str(p["$ref"]) for p in doc.get("allOf") or [] if isinstance(p, Mapping) and "$ref" in p]


def _adhoc_properties(doc: Any) -> dict[str, Any] | None:
    """The ad-hoc field dict of a class: ``{_<hex or adhoc>: {type: object, properties: {...}}}``."""
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            if (
                isinstance(key, str)
                and key.startswith("_")
                and isinstance(value, Mapping)
                and isinstance(value.get("properties"), Mapping)
            ):
                return dict(value["properties"])
        for value in doc.values():
            found = _adhoc_properties(value)
            if found is not None:
                return found
    elif isinstance(doc, list):
        for value in doc:
            found = _adhoc_properties(value)
            if found is not None:
                return found
    return None


def ensure_by_title(
    op: AEPCreateOperatorBase,
    *,
    kind: str,
    noun: str,
    title: str,
    create: Callable[[], dict[str, Any]],
    mismatch: Callable[[dict[str, Any]], str | None],
    diff: Callable[[dict[str, Any]], Diff],
    additions: tuple[str, Callable[[dict[str, Any], Change], list[dict[str, Any]]]],
) -> tuple[str, Any]:
    """Create, reuse or converge a Schema Registry resource found by title; ``($id, meta:altId)``.

    Converging is additive: the diff's change called ``additions[0]`` becomes the JSON Patch
    operations ``additions[1]`` returns, and a new description replaces the old one.

    :param noun: the hook's method suffix (``schema``: ``find_schema``, ``find_all_schemas``,
        ``patch_schema``, ``get_schema``, ``delete_schema``).
    """
    hook = op.hook
    added, ops_of = additions

    def apply(found: dict[str, Any], d: Diff) -> dict[str, Any]:
        ops: list[dict[str, Any]] = []
        for change in d.updates:
            if change.field == added:
                ops.extend(ops_of(found, change))
            elif change.field == "description":
                ops.append({"op": "replace", "path": "/description", "value": change.want})
        answer = getattr(hook, f"patch_{noun}")(str(found["$id"]), ops)
        op.log.info("Patched %s %s; version %s", kind, found["$id"], answer.get("version"))
        return {"meta:altId": answer.get("meta:altId") or found.get("meta:altId")}

    outcome = op.ensure(
        kind=kind,
        name=title,
        find=lambda: getattr(hook, f"find_{noun}")(title),
        find_all=lambda: getattr(hook, f"find_all_{noun}s")(title),
        create=create,
        id_of=lambda r: str(r["$id"]),
        mismatch=mismatch,
        delete=getattr(hook, f"delete_{noun}"),
        diff=diff,
        apply=apply,
    )
    alt_id = outcome.resource.get("meta:altId")
    if outcome.id == UNKNOWN:
        alt_id = UNKNOWN
    elif not alt_id:
        alt_id = getattr(hook, f"get_{noun}")(outcome.id).get("meta:altId")
    return outcome.id, alt_id


class AEPCreateSchemaOperator(AEPCreateOperatorBase):
    """Create (or reuse) a tenant XDM schema from a class and field groups.

    :param title: schema title (its identity for reuse).
    :param class_id: the class ``$id`` (default: XDM Individual Profile).
    :param field_groups: field group ``$id``s (default: person details and personal details).
    :param description: optional description.

    Returns the schema ``$id``; pushes ``meta_alt_id``. An existing schema converges additively:
    field groups the task adds are PATCHed in (``/meta:extends/-`` and ``/allOf/-``) and the
    description is updated; another class or a removed field group is a breaking change AEP
    refuses once a dataset uses the schema, so it fails before any write.
    """

    resource_kind = "schema"
    plan_xcom_keys = ("meta_alt_id",)

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "title",
        "class_id",
        "field_groups",
        "description",
    )

    def __init__(
        self,
        *,
        title: str,
        class_id: str = PROFILE_CLASS,
        field_groups: Sequence[str] = DEFAULT_FIELD_GROUPS,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.class_id = class_id
        self.field_groups = field_groups
        self.description = description
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> SchemaRequest:
        title = check_name("title", self.title, "schemaregistry")
        class_id = check_xdm_ref("class_id", self.class_id)
        return SchemaRequest(title, class_id, _field_groups(self.field_groups, class_id))

    def execute(self, context: Context) -> str:
        """Create or reuse the schema and return its ``$id``."""
        req = self._validate()
        title, class_id, groups = req.title, req.class_id, list(req.field_groups)

        def create() -> dict[str, Any]:
            body: dict[str, Any] = {
                "type": "object",
                "title": title,
                "description": self.description or title,
                "allOf": [{"$ref": class_id}, *({"$ref": g} for g in groups)],
                "meta:class": class_id,
            }
            return self.hook.create_schema(body)

        def mismatch(found: dict[str, Any]) -> str | None:
            doc = self.hook.get_schema(found["$id"])
            refs = _refs(doc)
            found_class = doc.get("meta:class") or (refs[0] if refs else None)
            missing = [g for g in groups if g not in refs]
            return first_problem(
                differs("class", class_id, found_class) if class_id.startswith("https://") else None,
                f"it lacks field groups {missing}" if missing else None,
            )

        docs: dict[str, dict[str, Any]] = {}

        def doc_of(found: dict[str, Any]) -> dict[str, Any]:
            key = str(found["$id"])
            if key not in docs:
                docs[key] = self.hook.get_schema(key)
            return docs[key]

        breaking = "a breaking schema change (AEP allows only additive changes once the schema is used)"

        def diff(found: dict[str, Any]) -> Diff:
            doc = doc_of(found)
            refs = _refs(doc)
            found_class = doc.get("meta:class") or (refs[0] if refs else None)
            d = Diff()
            d.add(
                "meta:class",
                found_class,
                class_id,
                refused=breaking,
                fix="create a schema under another title (and a new dataset)",
            )
            have_groups = [r for r in refs if r != found_class]
            missing = [g for g in groups if g not in have_groups]
            extra = [g for g in have_groups if g not in groups]
            if missing:
                d.add("field groups (added)", [], missing, note="additive: PATCH /meta:extends and /allOf")
            if extra:
                d.add(
                    "field groups (removed)",
                    extra,
                    [],
                    refused=breaking,
                    fix="keep these field groups in field_groups (fields cannot be removed)",
                )
            if self.description is not None:
                d.add("description", doc.get("description") or "", self.description)
            return d

        def ops_of(found: dict[str, Any], change: Change) -> list[dict[str, Any]]:
            return [
                op
                for group in change.want
                for op in (
                    {"op": "add", "path": "/meta:extends/-", "value": group},
                    {"op": "add", "path": "/allOf/-", "value": {"$ref": group}},
                )
            ]

        schema_id, alt_id = ensure_by_title(
            self,
            kind="schema",
            noun="schema",
            title=title,
            create=create,
            mismatch=mismatch,
            diff=diff,
            additions=("field groups (added)", ops_of),
        )
        self.xcom_push(context, xcom_keys.META_ALT_ID, alt_id)
        return schema_id


class AEPCreateAdHocSchemaOperator(AEPCreateOperatorBase):
    """Create (or reuse) an ad-hoc class and a schema on it (legacy 2020 tutorials).

    The class (``allOf`` ad-hoc + ``_adhoc`` properties) and the schema both carry *title*.

    :param title: title of the class and of the schema (their identity for reuse).
    :param fields: source fields: ``{name: type}`` (types: string, number, integer, boolean,
        date, date-time), a list of names (all strings), or ``/explore`` column dicts.
    :param description: optional description.

    Returns the schema ``$id``; pushes ``meta_alt_id`` (schema) and ``class_id`` (class ``$id``).
    """

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "title",
        "fields",
        "description",
    )
    template_fields_renderers = {"fields": "json"}

    def __init__(
        self,
        *,
        title: str,
        fields: Mapping[str, str] | Sequence[str] | Sequence[Mapping[str, Any]],
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.fields = fields
        self.description = description
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> AdHocSchemaRequest:
        title = check_name("title", self.title, "schemaregistry")
        return AdHocSchemaRequest(title, _adhoc_fields(self.fields))

    def execute(self, context: Context) -> str:
        """Create or reuse the ad-hoc class and schema; return the schema ``$id``."""
        req = self._validate()
        title, fields = req.title, req.field_types
        if_exists = self.check_if_exists()
        if if_exists == "replace":
            self._delete_existing(title)

        def create_class() -> dict[str, Any]:
            return self.hook.create_class(
                {
                    "title": title,
                    "description": self.description or f"Ad-hoc class for {title}",
                    "type": "object",
                    "allOf": [
                        {"$ref": ADHOC_CLASS},
                        {
                            "properties": {
                                "_adhoc": {
                                    "type": "object",
                                    "properties": {n: dict(ADHOC_FIELD_TYPES[t]) for n, t in fields.items()},
                                }
                            }
                        },
                    ],
                }
            )

        def class_mismatch(found: dict[str, Any]) -> str | None:
            doc = self.hook.get_class(found["$id"])
            props = _adhoc_properties(doc)
            if props is None:
                return "it is not an ad-hoc class"
            wanted = {n: ADHOC_FIELD_TYPES[t]["type"] for n, t in fields.items()}
            have = {n: (p or {}).get("type") for n, p in props.items()}
            if have != wanted:
                return f"its fields are {sorted(have)}, not {sorted(wanted)} (or types differ)"
            return None

        cls = self.ensure(
            kind="ad-hoc class",
            name=title,
            find=lambda: self.hook.find_class(title),
            find_all=lambda: self.hook.find_all_classes(title),
            create=create_class,
            id_of=lambda r: str(r["$id"]),
            mismatch=class_mismatch,
            if_exists="reuse" if if_exists == "replace" else if_exists,
        )
        class_id = cls.id

        def schema_mismatch(found: dict[str, Any]) -> str | None:
            doc = self.hook.get_schema(found["$id"])
            refs = _refs(doc)
            found_class = doc.get("meta:class") or (refs[0] if refs else None)
            return differs("class", class_id, found_class)

        schema = self.ensure(
            kind="ad-hoc schema",
            name=title,
            find=lambda: self.hook.find_schema(title),
            find_all=lambda: self.hook.find_all_schemas(title),
            create=lambda: self.hook.create_schema(
                {
                    "type": "object",
                    "title": title,
                    "description": self.description or f"Ad-hoc schema for {title}",
                    "allOf": [{"$ref": class_id}],
                    "meta:class": class_id,
                }
            ),
            id_of=lambda r: str(r["$id"]),
            mismatch=schema_mismatch,
            if_exists="reuse" if if_exists == "replace" else if_exists,
        )
        alt_id = schema.resource.get("meta:altId") or self.hook.get_schema(schema.id).get("meta:altId")
        self.xcom_push(context, xcom_keys.META_ALT_ID, alt_id)
        self.xcom_push(context, xcom_keys.CLASS_ID, class_id)
        return schema.id

    def _delete_existing(self, title: str) -> None:
        """``if_exists="replace"``: delete the schema first, then its class."""
        schema = self.hook.find_schema(title)
        if schema is not None:
            self.log.info("Deleting existing ad-hoc schema %r (%s) to replace it", title, schema["$id"])
            try:
                self.hook.delete_schema(schema["$id"])
            except AEPNotFoundError:
                pass
        cls = self.hook.find_class(title)
        if cls is not None:
            self.log.info("Deleting existing ad-hoc class %r (%s) to replace it", title, cls["$id"])
            try:
                self.hook.delete_class(cls["$id"])
            except AEPNotFoundError:
                pass
