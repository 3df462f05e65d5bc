"""OpenLineage and asset events for AEP dataflows: every piece of logic behind the operators' methods.

The operators only carry thin methods (:mod:`airflow_provider_aep.lineage_mixin`) that import this
module when the OpenLineage listener (or a successful run) calls them, so neither the DAG-parse path
nor a machine without ``apache-airflow-providers-openlineage`` pays for it. OpenLineage classes are
imported inside the functions that build events; describing a dataflow and emitting asset events
need only the hook.

Naming (OpenLineage has no convention for these systems; the scheme follows its rule "namespace =
the data source instance, name = the dataset inside it"):

============================  ==============================================  ===================
Dataset                       Namespace                                       Name
============================  ==============================================  ===================
Salesforce Service Cloud      ``salesforce://<environment host>``             object (``Account``)
ServiceNow                    ``servicenow://<instance host>``                table (``sys_user``)
Generic OData                 ``odata://<service root host and path>``        entity set
any other source              ``aep-source://<base connection id>``           table or path
AEP dataset                   ``aep://<org>/<sandbox>``                       ``datasets/<id>``
============================  ==============================================  ===================

Only the URL of the source instance is read from the base connection (``environmentUrl``,
``endpoint``, ``url``...), stripped of user info and query; no other auth parameter is touched.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import assets
from airflow_provider_aep.runs_status import RunState, RunStatus
from airflow_provider_aep.sources import source_for_spec

if TYPE_CHECKING:
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

#: Auth parameters that hold the source instance's URL (never a secret); read in this order.
URL_PARAMS = ("environmentUrl", "endpoint", "server", "url", "host", "serviceRoot")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MAPPING_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PRODUCER_SOURCE = "adobe-experience-platform"


@dataclass
class MappedColumn:
    """One mapping of the mapping set: XDM destination <- source column(s)."""

    destination: str
    sources: list[str]
    source_type: str
    expression: str | None = None


@dataclass
class FlowDescription:
    """What a dataflow reads, writes and how (plain data; no OpenLineage classes)."""

    source_namespace: str
    source_name: str
    source_columns: list[tuple[str, str | None]]
    output_namespace: str | None
    output_name: str | None
    dataset_id: str | None
    dataset_name: str | None
    xdm_fields: list[tuple[str, str | None]]
    mapped: list[MappedColumn] = field(default_factory=list)
    flow_id: str | None = None


# ----------------------------------------------------------------------------- naming
def source_namespace(spec_id: str | None, auth_params: dict[str, Any], base_connection_id: str) -> str:
    """Namespace of the source instance from the base connection's URL parameter (see module doc)."""
    url = next((auth_params[k] for k in URL_PARAMS if isinstance(auth_params.get(k), str)), None)
    source = source_for_spec(spec_id)  # the scheme is each source's lineage_scheme
    if url and source:
        split = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
        host = (split.hostname or "").lower()
        if split.port:
            host = f"{host}:{split.port}"
        path = split.path.rstrip("/") if source.lineage_keeps_path else ""
        if host:
            return f"{source.lineage_scheme}://{host}{path}"
    return f"aep-source://{base_connection_id}"


def _is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


# ----------------------------------------------------------------------------- describing a flow
def _columns(source: dict[str, Any]) -> list[tuple[str, str | None]]:
    out = []
    for col in (source.get("params") or {}).get("columns") or []:
        if isinstance(col, dict) and col.get("name"):
            kind = col.get("type")
            out.append((str(col["name"]), str(kind) if kind else None))
    return out


def _mapped(mapping_set: dict[str, Any], source_columns: list[str]) -> list[MappedColumn]:
    out = []
    known = set(source_columns)
    for m in mapping_set.get("mappings") or []:
        if not isinstance(m, dict):
            continue
        destination = m.get("destination", m.get("destinationXdmPath"))
        source = m.get("source", m.get("sourceAttribute"))
        kind = str(m.get("sourceType") or "ATTRIBUTE").upper()
        if not destination or source in (None, ""):
            continue
        if kind == "ATTRIBUTE":
            out.append(MappedColumn(str(destination), [str(source)], kind))
        elif kind == "EXPRESSION":
            used = [t for t in dict.fromkeys(_IDENT.findall(str(source))) if not known or t in known]
            if used:
                out.append(MappedColumn(str(destination), used, kind, str(source)))
        # STATIC values read no source column: no lineage edge.
    return out


def _flatten_xdm(properties: Any, prefix: str = "") -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    if not isinstance(properties, dict):
        return out
    for name, node in properties.items():
        if not isinstance(node, dict):
            continue
        path = f"{prefix}{name}"
        if isinstance(node.get("properties"), dict):
            out.update(_flatten_xdm(node["properties"], path + "."))
        else:
            kind = node.get("meta:xdmType") or node.get("format") or node.get("type")
            out[path] = str(kind) if kind else None
    return out


def _schema_types(hook: AdobeExperiencePlatformHook, schema_id: str | None) -> dict[str, str | None]:
    if not schema_id:
        return {}
    try:
        return _flatten_xdm(hook.get_schema(schema_id, full=True).get("properties"))
    except Exception:  # types are a nicety; the field names come from the mapping set
        return {}


def describe_flow(
    hook: AdobeExperiencePlatformHook,
    *,
    source_connection_id: str,
    target_connection_id: str,
    mapping_id: str | None,
    mapping_version: Any = None,
    flow_id: str | None = None,
) -> FlowDescription:
    """Read the source, its base connection, the target, the dataset and the mapping set (GETs only)."""
    source = hook.get_source_connection(source_connection_id)
    base_id = str(source.get("baseConnectionId") or "")
    base = hook.get_base_connection(base_id) if base_id else {}
    auth_params = (base.get("auth") or {}).get("params") or {}
    spec_id = (source.get("connectionSpec") or {}).get("id") or (base.get("connectionSpec") or {}).get("id")
    params = source.get("params") or {}
    source_name = str(
        params.get("tableName") or params.get("path") or source.get("name") or source_connection_id
    )
    columns = _columns(source)

    target = hook.get_target_connection(target_connection_id)
    dataset_id = (target.get("params") or {}).get("dataSetId")
    schema_id = ((target.get("data") or {}).get("schema") or {}).get("id")
    settings = hook.conn_settings
    output_namespace = output_name = dataset_name = None
    if dataset_id:
        output_namespace = assets.aep_namespace(settings.org_id, hook.sandbox_name)
        output_name = assets.dataset_name(str(dataset_id))
        try:
            dataset_name = hook.get_dataset(str(dataset_id)).get("name")
        except Exception:
            dataset_name = None

    mapped: list[MappedColumn] = []
    if mapping_id:
        version = None
        if mapping_version not in (None, ""):
            try:
                version = int(mapping_version)
            except (TypeError, ValueError):
                version = None
        mapping_set = hook.get_mapping_set(mapping_id, version)
        mapped = _mapped(mapping_set, [c for c, _ in columns])
        if not columns:  # path-based (2020) sources: the mapping's sources are what is read
            columns = [(c, None) for c in dict.fromkeys(s for m in mapped for s in m.sources)]
    types = _schema_types(hook, schema_id)
    xdm_fields = [(m.destination, types.get(m.destination.lstrip("/").replace("/", "."))) for m in mapped]
    return FlowDescription(
        source_namespace=source_namespace(spec_id, auth_params, base_id or source_connection_id),
        source_name=source_name,
        source_columns=columns,
        output_namespace=output_namespace,
        output_name=output_name,
        dataset_id=str(dataset_id) if dataset_id else None,
        dataset_name=str(dataset_name) if dataset_name else None,
        xdm_fields=xdm_fields,
        mapped=mapped,
        flow_id=flow_id,
    )


def describe_flow_by_id(hook: AdobeExperiencePlatformHook, flow_id: str) -> FlowDescription | None:
    """:func:`describe_flow` for an existing flow (one more GET for the flow itself)."""
    flow = hook.get_flow(flow_id)
    sources = flow.get("sourceConnectionIds") or []
    targets = flow.get("targetConnectionIds") or []
    if not sources or not targets:
        return None
    mapping_id = mapping_version = None
    for t in flow.get("transformations") or []:
        if isinstance(t, dict) and t.get("name") == "Mapping":
            mapping_id = (t.get("params") or {}).get("mappingId")
            mapping_version = (t.get("params") or {}).get("mappingVersion")
    return describe_flow(
        hook,
        source_connection_id=str(sources[0]),
        target_connection_id=str(targets[0]),
        mapping_id=str(mapping_id) if mapping_id else None,
        mapping_version=mapping_version,
        flow_id=flow_id,
    )


def describe_operator(operator: Any) -> FlowDescription | None:
    """The flow behind an operator (cached on it): the dataflow operator's own ids, else its flow."""
    cached = getattr(operator, "_aep_lineage_description", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    description: FlowDescription | None = None
    hook = operator.hook
    if hasattr(operator, "source_connection_id") and hasattr(operator, "mapping_id"):
        source, target = operator.source_connection_id, operator.target_connection_id
        mapping = operator.mapping_id
        if _is_uuid(source) and _is_uuid(target):
            description = describe_flow(
                hook,
                source_connection_id=source,
                target_connection_id=target,
                mapping_id=mapping if isinstance(mapping, str) and _MAPPING_ID.match(mapping) else None,
                mapping_version=operator.mapping_version,
            )
    else:
        flow_id = getattr(operator, "flow_id", None)
        if not _is_uuid(flow_id):
            runs = recorded_runs(operator)
            flow_id = next((r.flow_id for r in runs if r.flow_id), None)
        if _is_uuid(flow_id):
            description = describe_flow_by_id(hook, str(flow_id))
    operator._aep_lineage_description = description
    return description


def recorded_runs(operator: Any) -> list[RunState]:
    """The run states the operator concluded on (recorded by the mixin's ``conclude``)."""
    runs = getattr(operator, "_aep_lineage_runs", None)
    return list(runs) if runs else []


# ----------------------------------------------------------------------------- OpenLineage
def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def build_operator_lineage(
    description: FlowDescription | None, runs: list[RunState], error: str | None = None
) -> Any:
    """An ``OperatorLineage`` from a flow description, the runs it made and an optional error."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import (
        column_lineage_dataset,
        datasource_dataset,
        error_message_run,
        external_query_run,
        input_statistics_input_dataset,
        output_statistics_output_dataset,
        schema_dataset,
        symlinks_dataset,
    )

    run_facets: dict[str, Any] = {}
    if runs:
        run_facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
            externalQueryId=",".join(r.run_id for r in runs), source=PRODUCER_SOURCE
        )
    if error:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    if description is None:
        return OperatorLineage(run_facets=run_facets)

    def schema(fields: list[tuple[str, str | None]]) -> Any:
        return schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields]
        )

    finished = [r for r in runs if r.run_status.is_terminal]
    input_facets: dict[str, Any] = {}
    if finished:
        input_facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
            rowCount=_sum([r.records_read for r in finished]), size=_sum([r.bytes_read for r in finished])
        )
    source = InputDataset(
        namespace=description.source_namespace,
        name=description.source_name,
        facets={
            "schema": schema(description.source_columns),
            "datasource": datasource_dataset.DatasourceDatasetFacet(
                name=description.source_namespace, uri=description.source_namespace
            ),
        },
        inputFacets=input_facets,
    )
    outputs = []
    if description.output_namespace and description.output_name:
        lineage_fields = {
            m.destination: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=description.source_namespace,
                        name=description.source_name,
                        field=column,
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type="DIRECT",
                                subtype="IDENTITY" if m.source_type == "ATTRIBUTE" else "TRANSFORMATION",
                                description=m.expression or "",
                                masking=False,
                            )
                        ],
                    )
                    for column in m.sources
                ],
                transformationType="IDENTITY" if m.source_type == "ATTRIBUTE" else "EXPRESSION",
                transformationDescription=m.expression or f"{m.sources[0]} -> {m.destination}",
            )
            for m in description.mapped
        }
        facets: dict[str, Any] = {
            "schema": schema(description.xdm_fields),
            "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet(fields=lineage_fields),
        }
        if description.dataset_name:
            facets["symlinks"] = symlinks_dataset.SymlinksDatasetFacet(
                identifiers=[
                    symlinks_dataset.Identifier(
                        namespace=description.output_namespace, name=description.dataset_name, type="DATASET"
                    )
                ]
            )
        output_facets: dict[str, Any] = {}
        if finished:
            output_facets["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=_sum([r.records_written for r in finished]),
                    size=_sum([r.bytes_written for r in finished]),
                )
            )
        outputs.append(
            OutputDataset(
                namespace=description.output_namespace,
                name=description.output_name,
                facets=facets,
                outputFacets=output_facets,
            )
        )
    return OperatorLineage(inputs=[source], outputs=outputs, run_facets=run_facets)


def _error_text(operator: Any, runs: list[RunState]) -> str:
    recorded = getattr(operator, "_aep_lineage_error", None)
    if recorded:
        return str(recorded)
    bad = [r for r in runs if r.run_status.is_failure]
    if bad:
        parts = []
        for r in bad:
            errors = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in r.errors[:3])
            parts.append(
                f"AEP run {r.run_id} {r.raw_status or r.status}" + (f" ({errors})" if errors else "")
            )
        return " | ".join(parts)
    return f"task {getattr(operator, 'task_id', '?')} failed"


def facets_on_start(operator: Any) -> Any:
    """START: what the task reads and writes (no statistics yet)."""
    return build_operator_lineage(describe_operator(operator), [])


def facets_on_complete(operator: Any, task_instance: Any = None) -> Any:
    """COMPLETE: datasets, schemas, column lineage and, for runs, the rows and bytes moved."""
    return build_operator_lineage(describe_operator(operator), recorded_runs(operator))


def facets_on_failure(operator: Any, task_instance: Any = None) -> Any:
    """FAIL: as COMPLETE, plus an error-message facet (the failed run's codes and messages)."""
    runs = recorded_runs(operator)
    try:
        description = describe_operator(operator)
    except Exception:  # AEP may be what failed; still report the error
        description = None
    return build_operator_lineage(description, runs, _error_text(operator, runs))


# ----------------------------------------------------------------------------- asset events
def run_summary(run: RunState, description: FlowDescription) -> dict[str, Any]:
    """The extra of an asset event: the run's entry of the run summary (ids, outcome, counts, window;
    :func:`airflow_provider_aep.run_outcome.run_entry`) plus the dataset (JSON values only)."""
    from airflow_provider_aep.run_outcome import run_entry

    return {
        **run_entry(run),
        "flow_id": run.flow_id or description.flow_id,
        "dataset_id": description.dataset_id,
        "dataset_name": description.dataset_name,
    }


def emit_dataset_events(operator: Any, alias_name: str, runs: list[RunState]) -> int:
    """Add one asset event per successful run, for the flow's AEP dataset, through ``alias_name``.

    Called from the task after it concluded successfully; returns the number of events added.
    """
    from airflow.sdk import AssetAlias, get_current_context

    good = [r for r in runs if r.run_status in (RunStatus.SUCCESS, RunStatus.PARTIAL_SUCCESS)]
    if not good:
        return 0
    description = describe_operator(operator)
    if description is None or not description.dataset_id:
        operator.log.warning(
            "No AEP dataset found behind flow %s; no asset event.", getattr(operator, "flow_id", "?")
        )
        return 0
    hook = operator.hook
    asset = assets.dataset_asset(hook.conn_settings.org_id, hook.sandbox_name, description.dataset_id)
    events = get_current_context()["outlet_events"][AssetAlias(alias_name)]
    for run in good:
        events.add(asset, extra=run_summary(run, description))
    operator.log.info(
        "Asset events for %s through alias %r: runs %s",
        asset.uri,
        alias_name,
        ", ".join(r.run_id for r in good),
    )
    return len(good)
