"""Schema Registry operators: target XDM schema and (legacy) ad-hoc class + schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPInputError, AEPNotFoundError
from airflow_provider_aep.operators._converge import UNKNOWN, Diff
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, differs, first_problem
from airflow_provider_aep.validation import (
    ADHOC_FIELD_TYPES,
    check_name,
    check_xdm_ref,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
ADHOC_CLASS = "https://ns.adobe.com/xdm/data/adhoc"
DEFAULT_FIELD_GROUPS = (
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
)
_COLUMN_TO_ADHOC = {"date-time": "date-time", "date": "date", "number": "number", "integer": "integer"}


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

    def _validate(self) -> tuple[str, str, list[str]]:
        title = check_name("title", self.title, "schemaregistry")
        class_id = check_xdm_ref("class_id", self.class_id)
        groups = self.field_groups
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
        return title, class_id, out

    def execute(self, context: Context) -> str:
        """Create or reuse the schema and return its ``$id``."""
        title, class_id, groups = self._validate()

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

        def apply(found: dict[str, Any], d: Diff) -> dict[str, Any]:
            ops: list[dict[str, Any]] = []
            for change in d.updates:
                if change.field == "field groups (added)":
                    for group in change.want:
                        ops.append({"op": "add", "path": "/meta:extends/-", "value": group})
                        ops.append({"op": "add", "path": "/allOf/-", "value": {"$ref": group}})
                elif change.field == "description":
                    ops.append({"op": "replace", "path": "/description", "value": change.want})
            answer = self.hook.patch_schema(str(found["$id"]), ops)
            self.log.info("Patched schema %s; version %s", found["$id"], answer.get("version"))
            return {"meta:altId": answer.get("meta:altId") or found.get("meta:altId")}

        outcome = self.ensure(
            kind="schema",
            name=title,
            find=lambda: self.hook.find_schema(title),
            find_all=lambda: self.hook.find_all_schemas(title),
            create=create,
            id_of=lambda r: str(r["$id"]),
            mismatch=mismatch,
            delete=self.hook.delete_schema,
            diff=diff,
            apply=apply,
        )
        alt_id = outcome.resource.get("meta:altId")
        if outcome.id == UNKNOWN:
            alt_id = UNKNOWN
        elif not alt_id:
            alt_id = self.hook.get_schema(outcome.id).get("meta:altId")
        self.xcom_push(context, "meta_alt_id", alt_id)
        return outcome.id


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

    def _validate(self) -> tuple[str, dict[str, str]]:
        title = check_name("title", self.title, "schemaregistry")
        fields = self.fields
        out: dict[str, str] = {}
        if isinstance(fields, Mapping):
            items = list(fields.items())
        elif isinstance(fields, (list, tuple)):
            items = []
            for i, f in enumerate(fields):
                if isinstance(f, str):
                    items.append((f, "string"))
                elif isinstance(f, Mapping) and isinstance(f.get("name"), str):
                    ctype = f.get("meta:xdmType") or (f.get("xdm") or {}).get("format") or f.get("type")
                    items.append((f["name"], _COLUMN_TO_ADHOC.get(str(ctype), "string")))
                else:
                    raise AEPInputError(
                        f"fields[{i}]", f"must be a field name or a column dict, got {f!r}.", "Pass names."
                    )
        else:
            raise AEPInputError(
                "fields",
                f"must be a dict of name -> type or a list of names, got {fields!r}.",
                'Pass e.g. {"Id": "string", "CreatedDate": "date-time"}.',
            )
        for name, ftype in items:
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
        return title, out

    def execute(self, context: Context) -> str:
        """Create or reuse the ad-hoc class and schema; return the schema ``$id``."""
        title, fields = self._validate()
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
        self.xcom_push(context, "meta_alt_id", alt_id)
        self.xcom_push(context, "class_id", class_id)
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
