"""Thin OpenLineage methods and asset-event hooks for the AEP operators.

Every method delegates to :mod:`airflow_provider_aep.lineage`, imported inside the method: the
OpenLineage listener calls them only when the OpenLineage provider is installed and enabled, so the
DAG-parse path imports nothing more than this module, and the provider runs unchanged without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_aep.runs_status import RunState, WaitTarget


class AEPLineageMixin:
    """``get_openlineage_facets_on_start/_on_complete/_on_failure`` for an AEP operator."""

    def get_openlineage_facets_on_start(self) -> Any:
        """Inputs, outputs, schemas and column lineage, as known before the task runs."""
        from airflow_provider_aep import lineage

        return lineage.facets_on_start(self)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """As on start, plus the rows and bytes the AEP runs moved."""
        from airflow_provider_aep import lineage

        return lineage.facets_on_complete(self, task_instance)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """As on complete, plus an error-message facet."""
        from airflow_provider_aep import lineage

        return lineage.facets_on_failure(self, task_instance)


class AEPRunLineageMixin(AEPLineageMixin):
    """For tasks that wait for flow runs: record the runs, emit asset events on success.

    Put it before ``FlowRunWaitMixin`` in the bases; it wraps ``conclude``. ``dataset_alias`` (an
    asset alias name) makes every successful run add an asset event for the flow's AEP dataset
    (``aep://<org>/<sandbox>/datasets/<id>``) through that alias, with the run summary as extra.
    """

    dataset_alias: str | None = None
    outlets: Any

    def declare_dataset_alias(self, dataset_alias: str | None) -> None:
        """Validate the alias name and add it to the task's outlets (at DAG-parse time)."""
        self.dataset_alias = dataset_alias
        if dataset_alias is None:
            return
        if not isinstance(dataset_alias, str) or not dataset_alias.strip():
            from airflow_provider_aep.exceptions import AEPInputError

            raise AEPInputError(
                "dataset_alias",
                f"must be a non-empty asset alias name, got {dataset_alias!r}.",
                "Pass a fixed name such as 'aep-dataset:accounts' (it cannot be templated).",
            )
        from airflow.sdk import AssetAlias

        self.outlets = [*(self.outlets or []), AssetAlias(dataset_alias)]

    def conclude(self, target: WaitTarget, states: list[RunState]) -> Any:
        """Record the runs (for lineage), conclude, then emit the asset events on success."""
        self._aep_lineage_runs = list(states)
        try:
            result = super().conclude(target, states)  # type: ignore[misc]
        except Exception as exc:
            self._aep_lineage_error = str(exc)
            raise
        if self.dataset_alias:
            from airflow_provider_aep import lineage

            lineage.emit_dataset_events(self, self.dataset_alias, states)
        return result
