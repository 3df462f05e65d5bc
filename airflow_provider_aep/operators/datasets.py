"""Catalog operator: the target dataset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.links import AEPDatasetLink
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, differs
from airflow_provider_aep.validation import (
    XED_FULL_NOTEXT_V1,
    check_name,
    check_schema_id,
    check_tags,
    is_schema_alt_id,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg


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
            check_name("name", name, "catalog")
            check_schema_id("schema_id", schema_id)

    def execute(self, context: Context) -> str:
        """Create or reuse the dataset and return its id."""
        name = check_name("name", self.name, "catalog")
        schema_id = check_schema_id("schema_id", self.schema_id)
        tags = check_tags("tags", self.tags)
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

        outcome = self.ensure(
            kind="dataset",
            name=name,
            find=lambda: self.hook.find_dataset(name),
            create=create,
            mismatch=lambda f: differs("schema", schema_id, (f.get("schemaRef") or {}).get("id")),
            delete=self.hook.delete_dataset,
        )
        self.push_ui_context(context)
        return outcome.id
