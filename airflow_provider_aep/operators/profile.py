"""Profile-ready ingestion: identity descriptor, schema union tag, dataset Profile/Identity tags.

Order in a DAG: field group -> schema -> :class:`AEPCreateIdentityDescriptorOperator` ->
:class:`AEPEnableSchemaForProfileOperator` -> dataset (``tags=PROFILE_DATASET_TAGS``) or
:class:`AEPEnableDatasetForProfileOperator`. Each checks its preconditions with reads before it
writes anything, and a rerun writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import (  # AEPPreconditionError: re-exported, it lived here
    AEPAPIError,
    AEPInputError,
    AEPPreconditionError,
)
from airflow_provider_aep.operators._converge import Diff, PlanRecord
from airflow_provider_aep.operators.base import (
    AEPBaseOperator,
    AEPCreateOperatorBase,
    Outcome,
    first_problem,
)
from airflow_provider_aep.validation import check_schema_id, check_xdm_path, is_schema_alt_id, require_str
from airflow_provider_aep.xdm_types import xdm_field_names

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

IDENTITY_DESCRIPTOR = "xdm:descriptorIdentity"
UNION_TAG = "union"
#: Catalog tags that enable a dataset for Real-Time Customer Profile and Identity Service (pass
#: them as the dataset operator's ``tags`` at creation, or use AEPEnableDatasetForProfileOperator).
PROFILE_DATASET_TAGS: dict[str, list[str]] = {
    "unifiedProfile": ["enabled:true"],
    "unifiedIdentity": ["enabled:true"],
}


def _source_property(path: str) -> str:
    """``_tenant.a.b`` -> ``/_tenant/a/b`` (``xdm:sourceProperty`` omits ``properties``)."""
    return "/" + path.replace(".", "/")


def schema_field(doc: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    """The property at dotted *path* of a full (resolved) schema document, or ``None``."""
    node: Any = doc
    for part in path.split("."):
        props = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(props, Mapping) or not isinstance(props.get(part), Mapping):
            return None
        node = props[part]
    return node


def tenant_fields(doc: Mapping[str, Any], tenant: str) -> dict[str, Mapping[str, Any]]:
    """The ``_{tenant}`` fields of a full schema document."""
    obj = schema_field(doc, f"_{tenant}")
    props = obj.get("properties") if obj else None
    return dict(props) if isinstance(props, Mapping) else {}


def _tags(schema: Mapping[str, Any]) -> list[str]:
    tags = schema.get("meta:immutableTags") or []
    return [str(t) for t in tags] if isinstance(tags, list) else [str(tags)]


class AEPCreateIdentityDescriptorOperator(AEPCreateOperatorBase):
    """Create (or reuse) an identity descriptor: a schema field as (primary) identity.

    The field is named either as a source column (``identity_column``, resolved to its generated
    ``_{tenant}.<field>``) or as an XDM path (``identity_field``, e.g. ``_acme.Email`` or
    ``personalEmail.address``).

    :param schema_id: schema ``$id`` or ``meta:altId`` (XCom of the schema task).
    :param namespace: identity namespace code (``Email``, ``CRMID``, ``ECID``...).
    :param identity_column: source column holding the identity.
    :param identity_field: XDM path of the identity field (instead of ``identity_column``).
    :param fields: the ``fields`` XCom of the field-group task: with it, a column that is not in
        the table fails locally, before any request.
    :param primary: primary identity (default; a schema has at most one).
    :param lookup_namespace: check the code against ``GET /data/core/idnamespace/identities``
        (and use AEP's spelling of it); ``False`` sends it as given.

    Preconditions, checked before any write: the column is a column of the table, the field exists
    in the schema, the namespace exists. Returns the descriptor ``@id``; pushes
    ``source_property`` and ``namespace``. An existing primary identity on another field or
    namespace is refused (a schema has one primary identity): ``if_exists="replace"`` deletes
    and recreates it.
    """

    resource_kind = "identity descriptor"
    plan_xcom_keys = ("source_property", "namespace")
    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "schema_id",
        "namespace",
        "identity_column",
        "identity_field",
        "fields",
    )
    template_fields_renderers = {"fields": "json"}

    def __init__(
        self,
        *,
        schema_id: str | XComArg,
        namespace: str,
        identity_column: str | None = None,
        identity_field: str | None = None,
        fields: Sequence[Mapping[str, Any]] | XComArg | None = None,
        primary: bool = True,
        lookup_namespace: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schema_id = schema_id
        self.namespace = namespace
        self.identity_column = identity_column
        self.identity_field = identity_field
        self.fields = fields
        self.primary = primary
        self.lookup_namespace = lookup_namespace
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> dict[str, Any]:
        schema_id = check_schema_id("schema_id", self.schema_id)
        namespace = require_str("namespace", self.namespace, "an identity namespace code such as Email")
        if (self.identity_column is None) == (self.identity_field is None):
            raise AEPInputError(
                "identity_column",
                "give exactly one of identity_column (a source column) and identity_field (an XDM path).",
                'Pass e.g. identity_column="Email".',
            )
        out: dict[str, Any] = {"schema": schema_id, "namespace": namespace}
        if self.identity_field is not None:
            out["path"] = check_xdm_path("identity_field", self.identity_field)
            return out
        column = require_str("identity_column", self.identity_column, "a source column name")
        out["column"] = column
        if self.fields is not None:
            entries = self.fields
            if isinstance(entries, (str, Mapping)) or not isinstance(entries, Sequence):
                raise AEPInputError(
                    "fields",
                    f"must be the field group task's 'fields' XCom (a list), got {entries!r}.",
                    "Pass it.",
                )
            by_column = {e.get("column"): e for e in entries if isinstance(e, Mapping)}
            entry = by_column.get(column)
            if entry is None:
                listed = ", ".join(str(c) for c in list(by_column)[:40]) or "(none)"
                raise AEPInputError(
                    "identity_column",
                    f"{column!r} is not a column of the source table, so it cannot be the "
                    f"{'primary ' if self.primary else ''}identity; the table's columns are: {listed}.",
                    "Pass identity_column=<one of them> (the column holding e.g. the e-mail or CRM id), "
                    "or leave Profile disabled for this table.",
                )
            if entry.get("xdmType", "string") != "string":
                raise AEPInputError(
                    "identity_column",
                    f"column {column!r} is typed {entry.get('xdmType')!r}; AEP identity fields "
                    "must be strings.",
                    f"Pass type_overrides={{{column!r}: 'string'}} to the field group task, or pick a "
                    "string column.",
                )
            if isinstance(entry.get("path"), str):
                out["path"] = check_xdm_path("fields", entry["path"])
            else:
                out["field"] = str(entry.get("field"))
        return out

    def _resolve_path(self, v: dict[str, Any], doc: Mapping[str, Any]) -> str:
        """The identity's XDM path, checked against the full schema (a read, before any write)."""
        tenant = str(doc.get("meta:tenantNamespace") or "").lstrip("_") or self.hook.get_tenant_id()
        if "path" in v:
            path = v["path"]
        else:
            column = v["column"]
            have = tenant_fields(doc, tenant)
            name = v.get("field") or next(
                (k for k, p in have.items() if isinstance(p, Mapping) and p.get("title") == column), None
            )
            path = f"_{tenant}.{name or xdm_field_names([column])[column]}"
        if doc.get("properties") is None:
            self.log.warning(
                "Schema %s answered without resolved properties: not checking %s", v["schema"], path
            )
        else:
            found = schema_field(doc, path)
            what = f"column {v['column']!r} (field {path})" if "column" in v else f"field {path!r}"
            if found is None:
                raise AEPPreconditionError(
                    f"identity_column: {what} is not in schema {v['schema']}; nothing was written. Fix: "
                    "pass a column of the table (its field group must be in the schema), or add the "
                    "field group holding it to the schema first."
                )
            kind = found.get("format") if found.get("format") in ("date", "date-time") else found.get("type")
            if kind != "string":
                raise AEPPreconditionError(
                    f"identity_column: {what} is of type {kind!r} in schema {v['schema']}; "
                    "AEP identity fields must be strings; nothing was written. Fix: pick a string "
                    "column, or type it as string with the field group's type_overrides."
                )
        return path

    def _namespace(self, code: str) -> str:
        if not self.lookup_namespace:
            return code
        namespaces = self.hook.list_identity_namespaces()
        codes = [str(n.get("code")) for n in namespaces if n.get("code")]
        for candidate in (code, code.lower()):
            for known in codes:
                if known == candidate or known.lower() == candidate:
                    return known
        raise AEPInputError(
            "namespace",
            f"{code!r} is not an identity namespace of this organization.",
            f"Use one of: {', '.join(sorted(codes)[:40]) or '(none listed)'}, or create the namespace first.",
        )

    def execute(self, context: Context) -> str:
        """Create or reuse the descriptor and return its ``@id``."""
        v = self._validate()
        schema_id = v["schema"]
        if is_schema_alt_id(schema_id):
            schema_id = self.hook.get_schema(schema_id)["$id"]
        doc = self.hook.get_schema(schema_id, full=True)
        path = self._resolve_path({**v, "schema": schema_id}, doc)
        prop = _source_property(path)
        namespace = self._namespace(v["namespace"])
        primary = bool(self.primary)

        def find_all() -> list[dict[str, Any]]:
            found = self.hook.list_descriptors(IDENTITY_DESCRIPTOR, schema_id)
            if primary:
                return [d for d in found if d.get("xdm:isPrimary") is True]
            return [d for d in found if d.get("xdm:sourceProperty") == prop]

        def find() -> dict[str, Any] | None:
            found = find_all()
            return min(found, key=lambda d: str(d.get("@id"))) if found else None

        def mismatch(found: dict[str, Any]) -> str | None:
            return first_problem(
                f"its field is {found.get('xdm:sourceProperty')!r}, not {prop!r}"
                if found.get("xdm:sourceProperty") != prop
                else None,
                f"its namespace is {found.get('xdm:namespace')!r}, not {namespace!r}"
                if str(found.get("xdm:namespace", "")).lower() != namespace.lower()
                else None,
            )

        def diff(found: dict[str, Any]) -> Diff:
            d = Diff()
            fix = (
                f"delete descriptor {found.get('@id')} first, or use if_exists='replace' (a schema has "
                "one primary identity; AEP refuses the change once the schema is enabled for Profile)"
            )
            d.add(
                "xdm:sourceProperty",
                found.get("xdm:sourceProperty"),
                prop,
                refused="another identity field",
                fix=fix,
            )
            if str(found.get("xdm:namespace", "")).lower() != namespace.lower():
                d.add(
                    "xdm:namespace",
                    found.get("xdm:namespace"),
                    namespace,
                    refused="another namespace",
                    fix=fix,
                )
            return d

        def create() -> dict[str, Any] | Outcome:
            body = {
                "@type": IDENTITY_DESCRIPTOR,
                "xdm:sourceSchema": schema_id,
                "xdm:sourceVersion": 1,
                "xdm:sourceProperty": prop,
                "xdm:namespace": namespace,
                "xdm:property": "xdm:code",
                "xdm:isPrimary": primary,
            }
            try:
                return self.hook.create_descriptor(body)
            except AEPAPIError as error:
                # A concurrent run may have created the schema's primary identity since the lookup:
                # AEP refuses a second one (400). Adopt it when it is there; ensure() checks it.
                if error.status != 400:
                    raise
                found = find()
                if found is None:
                    raise
                self.log.warning(
                    "AEP refused the descriptor (%s); another run created it a moment earlier: adopting "
                    "@id=%s",
                    error.code or error.status,
                    found.get("@id"),
                )
                return Outcome(str(found["@id"]), "adopted", found)

        outcome = self.ensure(
            kind="identity descriptor",
            name=f"{'primary ' if primary else ''}identity {prop} of {schema_id}",
            find=find,
            find_all=find_all,
            create=create,
            id_of=lambda r: str(r["@id"]),
            mismatch=mismatch,
            delete=self.hook.delete_descriptor,
            diff=diff,
        )
        self.xcom_push(context, xcom_keys.SOURCE_PROPERTY, prop)
        self.xcom_push(context, xcom_keys.NAMESPACE, namespace)
        return outcome.id


class AEPEnableSchemaForProfileOperator(AEPBaseOperator):
    """Enable a schema for Real-Time Customer Profile (``meta:immutableTags: ["union"]``).

    Irreversible in AEP: a Profile-enabled schema cannot be disabled or deleted, and fields can no
    longer be removed. Checked first (reads only): the schema has a primary identity descriptor or
    the Identity Map field group (AEP's ``XDM-1528-400`` otherwise). Already enabled: nothing is
    written.

    :param schema_id: schema ``$id`` or ``meta:altId``.

    Returns the schema ``$id``; pushes ``changed`` (``True`` when this task added the tag).
    """

    template_fields: Sequence[str] = (*AEPBaseOperator.template_fields, "schema_id")
    plan_xcom_keys = ("changed",)

    def __init__(self, *, schema_id: str | XComArg, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema_id = schema_id
        if not self.has_templated_values():
            check_schema_id("schema_id", schema_id)

    def execute(self, context: Context) -> str:
        """Add the union tag unless present."""
        schema_id = check_schema_id("schema_id", self.schema_id)
        doc = self.hook.get_schema(schema_id)
        schema_id = str(doc.get("$id") or schema_id)
        tags = _tags(doc)
        if UNION_TAG in tags:
            self.log.info("Schema %s is already enabled for Profile (union tag): unchanged", schema_id)
            if self._plan_only:
                self.plan(PlanRecord("schema", schema_id, "unchanged", schema_id, detail="union tag present"))
            self.xcom_push(context, xcom_keys.CHANGED, False)
            return schema_id
        refs = [str(r) for r in doc.get("meta:extends") or []] + [
            str(p.get("$ref")) for p in doc.get("allOf") or [] if isinstance(p, Mapping)
        ]
        has_identity_map = any("identitymap" in r.lower().replace("-", "") for r in refs)
        primaries = [
            d
            for d in self.hook.list_descriptors(IDENTITY_DESCRIPTOR, schema_id)
            if d.get("xdm:isPrimary") is True
        ]
        if not primaries and not has_identity_map:
            raise AEPPreconditionError(
                f"schema {schema_id} has no primary identity descriptor and no Identity Map field group, "
                "so AEP would refuse to enable it for Profile (XDM-1528-400); nothing was written. Fix: "
                "run AEPCreateIdentityDescriptorOperator (identity_column=<the column holding e.g. the "
                "e-mail or CRM id>) before this task."
            )
        if self.plan_write("schema", schema_id, "update", schema_id, "add meta:immutableTags union"):
            self.xcom_push(context, xcom_keys.CHANGED, True)
            return schema_id
        try:
            answer = self.hook.patch_schema(
                schema_id, [{"op": "add", "path": "/meta:immutableTags", "value": [*tags, UNION_TAG]}]
            )
        except AEPAPIError as error:
            if "1413" not in str(error.code or ""):
                raise
            raise AEPPreconditionError(
                f"AEP refused to enable schema {schema_id} for Profile: a field of it has another type "
                f"in a Profile-enabled schema of the same class (XDM-1413-400 Merge Schema Error: "
                f"{error.detail}); nothing was changed. Fix: give the column the other schema's type "
                "with the field group's type_overrides, or leave this table out of Profile."
            ) from None
        self.log.info(
            "Enabled schema %s for Profile (union tag); version %s (irreversible in AEP)",
            schema_id,
            answer.get("version"),
        )
        self.xcom_push(context, xcom_keys.CHANGED, True)
        return schema_id


class AEPEnableDatasetForProfileOperator(AEPBaseOperator):
    """Enable a dataset for Profile and Identity (Catalog tags ``unifiedProfile`` and
    ``unifiedIdentity`` = ``["enabled:true"]``, by JSON Patch).

    Checked first (reads only): the dataset's schema is enabled for Profile (union tag); tags
    already set are not written again. To enable at creation instead, pass
    :data:`PROFILE_DATASET_TAGS` as the dataset operator's ``tags``.

    :param dataset_id: dataset id (XCom of the dataset task).
    :param check_schema: verify the schema's union tag first (default ``True``).

    Returns the dataset id; pushes ``changed``.
    """

    template_fields: Sequence[str] = (*AEPBaseOperator.template_fields, "dataset_id")
    plan_xcom_keys = ("changed",)

    def __init__(self, *, dataset_id: str | XComArg, check_schema: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataset_id = dataset_id
        self.check_schema = check_schema
        if not self.has_templated_values():
            require_str("dataset_id", dataset_id, "a dataset id")

    def execute(self, context: Context) -> str:
        """Add the missing Profile/Identity tags."""
        dataset_id = require_str("dataset_id", self.dataset_id, "a dataset id")
        dataset = self.hook.get_dataset(dataset_id)
        have = dataset.get("tags") or {}
        ops: list[dict[str, Any]] = []
        for tag, value in PROFILE_DATASET_TAGS.items():
            current = [str(v).replace(" ", "") for v in have.get(tag) or []]
            if "enabled:true" not in current:
                ops.append({"op": "add", "path": f"/tags/{tag}", "value": list(value)})
        if not ops:
            self.log.info("Dataset %s is already enabled for Profile and Identity: unchanged", dataset_id)
            self.xcom_push(context, xcom_keys.CHANGED, False)
            return dataset_id
        schema_id = (dataset.get("schemaRef") or {}).get("id")
        if self.check_schema and schema_id:
            if UNION_TAG not in _tags(self.hook.get_schema(str(schema_id))):
                raise AEPPreconditionError(
                    f"dataset {dataset_id}: its schema {schema_id} is not enabled for Profile (no union "
                    "tag), so AEP would not use the dataset for Profile; nothing was written. Fix: run "
                    "AEPEnableSchemaForProfileOperator on the schema before this task."
                )
        if self.plan_write(
            "dataset", dataset_id, "update", dataset_id, f"add tags {[o['path'] for o in ops]}"
        ):
            self.xcom_push(context, xcom_keys.CHANGED, True)
            return dataset_id
        self.hook.patch_dataset_operations(dataset_id, ops)
        self.log.info(
            "Enabled dataset %s for Profile and Identity (%s)",
            dataset_id,
            ", ".join(str(o["path"]) for o in ops),
        )
        self.xcom_push(context, xcom_keys.CHANGED, True)
        return dataset_id


__all__ = [
    "PROFILE_DATASET_TAGS",
    "AEPCreateIdentityDescriptorOperator",
    "AEPEnableDatasetForProfileOperator",
    "AEPEnableSchemaForProfileOperator",
    "AEPPreconditionError",
]
