"""Catalog operator: the target dataset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.constants import XED_FULL_NOTEXT_V1
from airflow_provider_aep.links import AEPDatasetLink
from airflow_provider_aep.operators._converge import Diff
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, differs
from airflow_provider_aep.validation import (
    check_name,
    check_schema_id,
    check_tags,
    is_schema_alt_id,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg


@dataclass(frozen=True)
class DatasetRequest:
    """A validated dataset: what :class:`AEPCreateDatasetOperator` sends.

    :param schema_id: the schema ``$id``, or a ``meta:altId`` still to resolve.
    :param tags: Catalog tags, ``None`` for none.
    """

    name: str
    schema_id: str
    tags: dict[str, list[str]] | None


class AEPCreateDatasetOperator(AEPCreateOperatorBase):
    """Create (or reuse) a dataset for an XDM schema.

    :param name: dataset name (its identity for reuse).
    :param schema_id: schema ``$id`` (an altId is resolved to the ``$id``).
    :param description: optional description.
    :param tags: optional Catalog tags (``{name: [values]}``).

    Returns the bare dataset id (24 hex); extra link "AEP Dataset".
    """

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "name",
        "schema_id",
        "description",
        "tags",
    )
    template_fields_renderers = {"tags": "json"}
    operator_extra_links = (AEPDatasetLink(),)
    resource_kind = "dataset"
    plan_xcom_keys = ("aep_ui_org", "aep_ui_sandbox")

    def plan_lookup(self) -> tuple[str, Any]:
        """Name and finder for plans whose schema is not created yet."""
        name = check_name("name", self.name, "catalog")
        return name, lambda: self.hook.find_dataset(name)

    def __init__(
        self,
        *,
        name: str,
        schema_id: str | XComArg,
        description: str | None = None,
        tags: dict[str, list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.schema_id = schema_id
        self.description = description
        self.tags = tags
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> DatasetRequest:
        return DatasetRequest(
            name=check_name("name", self.name, "catalog"),
            schema_id=check_schema_id("schema_id", self.schema_id),
            tags=check_tags("tags", self.tags),
        )

    def execute(self, context: Context) -> str:
        """Create or reuse the dataset and return its id."""
        req = self._validate()
        name, schema_id, tags = req.name, req.schema_id, req.tags
        if is_schema_alt_id(schema_id):
            schema_id = self.hook.get_schema(schema_id)["$id"]

        def create() -> dict[str, Any]:
            body: dict[str, Any] = {
                "name": name,
                "schemaRef": {"id": schema_id, "contentType": XED_FULL_NOTEXT_V1},
            }
            if self.description:
                body["description"] = self.description
            if tags:
                body["tags"] = tags
            return {"id": self.hook.create_dataset(body)}

        def diff(found: dict[str, Any]) -> Diff:
            d = Diff()
            d.add(
                "schemaRef.id",
                (found.get("schemaRef") or {}).get("id"),
                schema_id,
                refused="a dataset's schema is a link Catalog PATCH cannot change",
                fix="create a dataset under another name (or if_exists='replace': loses its data)",
            )
            if self.description is not None:
                d.add("description", found.get("description") or "", self.description)
            if tags is not None:
                have = {k: v for k, v in (found.get("tags") or {}).items() if k in tags}
                d.add("tags", have, dict(tags))
            return d

        def apply(found: dict[str, Any], d: Diff) -> dict[str, Any]:
            fields: dict[str, Any] = {}
            for change in d.updates:
                if change.field == "tags":
                    fields["tags"] = {**(found.get("tags") or {}), **change.want}
                else:
                    fields[change.field] = change.want
            self.hook.patch_dataset(str(found["id"]), fields)
            self.log.info("Patched dataset %s: %s", found["id"], ", ".join(sorted(fields)))
            return fields

        outcome = self.ensure(
            kind="dataset",
            name=name,
            find=lambda: self.hook.find_dataset(name),
            find_all=lambda: self.hook.find_all_datasets(name),
            create=create,
            mismatch=lambda f: differs("schema", schema_id, (f.get("schemaRef") or {}).get("id")),
            delete=self.hook.delete_dataset,
            diff=diff,
            apply=apply,
        )
        if not (self._plan_only and outcome.id == "(known after create)"):
            self.push_ui_context(context, outcome.id)
        return outcome.id
