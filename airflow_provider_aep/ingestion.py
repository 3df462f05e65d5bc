"""Ingestion factory: one table's whole AEP ingestion chain as one Airflow task group.

The tutorials' nine steps (source connection, target schema, dataset, target connection, mapping
set, flow spec, dataflow, first-run wait, behind one shared base connection) written once, built
from the provider's operators (never re-implemented), for one table or mapped over many::

    from airflow_provider_aep.ingestion import IngestionSettings, ingest_table, ingest_tables

    settings = IngestionSettings(name_prefix="crm", source_conn_id="salesforce_service_cloud_default",
                                 class_id=PROFILE_CLASS, field_groups=[...], mapping={"Id": "_id"})
    base = settings.base_connection()                       # once per DAG, outside the groups
    ingest_table(settings, base, "Account", prefix_group_id=False)       # the task ids of today's DAGs
    ingest_tables(settings, base, tables=discovered.output)  # one mapped task group, one entry per table

Every resource name derives from ``name_prefix`` and the table (its API name, the explore
``path``) through :data:`NAME_FORMATS`, so a rerun finds and reuses the same resources, and two
runs at once converge on one of each (the operators' concurrency-safe creates).

Per-table overrides are a plain dict, ``{table: {key: value}}`` with the keys of
:data:`OVERRIDE_KEYS` (``mapping`` extends or overrides the mapping entry by entry; the others
replace the DAG-wide setting). They are checked when the DAG is parsed when they are plain values,
and again by the plan task at run time, before any table's resource is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.constants import PROFILE_CLASS
from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.sources import SOURCES
from airflow_provider_aep.validation import check_enum, check_name, is_templated, require_str

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.definitions.taskgroup import TaskGroup

__all__ = [
    "NAME_FORMATS",
    "OVERRIDE_KEYS",
    "PER_TABLE_KEYS",
    "IngestionSettings",
    "ingest_table",
    "ingest_tables",
    "plan_tables",
    "resource_names",
]


#: Default of the settings the source's entry in :data:`~airflow_provider_aep.sources.SOURCES`
#: decides (delta column, its format, flow spec): resolved when the settings are made.
class _FromSource:
    def __repr__(self) -> str:
        return "FROM_SOURCE"


FROM_SOURCE: Any = _FromSource()
SOURCE_DECIDED = ("delta_column", "delta_date_format", "flow_spec_name")
#: Runs of a flow start at its scheduled start time or later, so "the first run started after the
#: epoch" is the flow's first run, also when the flow is reused by a later DAG run.
FLOW_FIRST_RUN = "1970-01-01T00:00:00Z"

#: Resource name of each step, from the prefix and the table. ``schema`` is the schema's title.
NAME_FORMATS: dict[str, str] = {
    "base_connection": "{prefix} base connection",
    "source": "{prefix} {table} source",
    "schema": "{prefix} {table} schema",
    "dataset": "{prefix} {table} dataset",
    "target": "{prefix} {table} target",
    "mapping": "{prefix} {table} mapping",
    "dataflow": "{prefix} {table} dataflow",
    "field_group": "{prefix} {table} columns",
}
#: Keys a per-table override may set.
OVERRIDE_KEYS = (
    "mapping",
    "delta_column",
    "delta_date_format",
    "frequency",
    "interval",
    "start_time",
    "identity_column",
    "identity_namespace",
)
_NAME_KEYS = {
    "source_name": ("source", "flowservice"),
    "schema_title": ("schema", "schemaregistry"),
    "dataset_name": ("dataset", "catalog"),
    "target_name": ("target", "flowservice"),
    "mapping_name": ("mapping", "conversion"),
    "dataflow_name": ("dataflow", "flowservice"),
    "field_group_title": ("field_group", "schemaregistry"),
}
#: Keys of one table's entry in the plan (the arguments of the mapped task group).
PER_TABLE_KEYS = ("table", *_NAME_KEYS, *OVERRIDE_KEYS, "dataset_tags")
SCHEMA_MODES = ("standard", "generated")
#: Settings that go into the plan entries (rendered by the plan task when they are templates).
_PLAN_RENDERED = ("name_prefix", *OVERRIDE_KEYS[:6], "profile", "identity_namespace")
_FORMAT_FIELDS = re.compile(r"\{([^{}]*)\}")


def _fail(fieldname: str, problem: str, fix: str) -> AEPInputError:
    return AEPInputError(fieldname, problem, fix)


def resource_names(prefix: str, table: str, formats: Mapping[str, str] | None = None) -> dict[str, str]:
    """The names of one table's resources: ``{source_name, schema_title, ..., dataflow_name}``.

    ``prefix`` and ``table`` may be Jinja templates (the names are then templates too).
    """
    fmt = {**NAME_FORMATS, **(formats or {})}
    return {key: fmt[step].format(prefix=prefix, table=table) for key, (step, _) in _NAME_KEYS.items()}


def _check_formats(formats: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(formats, Mapping):
        raise _fail("name_formats", f"must be a dict, got {formats!r}.", "Pass {step: format}.")
    unknown = sorted(set(formats) - set(NAME_FORMATS))
    if unknown:
        raise _fail("name_formats", f"unknown steps {unknown}.", f"Use keys among {', '.join(NAME_FORMATS)}.")
    for step, text in formats.items():
        if not isinstance(text, str):
            raise _fail(f"name_formats[{step!r}]", f"must be a string, got {text!r}.", "Pass a format.")
        used = set(_FORMAT_FIELDS.findall(text))
        needed = {"prefix"} if step == "base_connection" else {"prefix", "table"}
        if used != needed:
            raise _fail(
                f"name_formats[{step!r}]",
                f"uses the fields {sorted(used)}; it must use exactly {sorted(needed)}.",
                "Write e.g. '{prefix} {table} " + step + "' (names must differ per table and prefix).",
            )
    return {**NAME_FORMATS, **formats}


def check_overrides(overrides: Any) -> dict[str, dict[str, Any]]:
    """Validate a per-table overrides dict (no request): keys, and the types of plain values."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        fix = "Pass a dict."
        if isinstance(overrides, str):  # a template rendered to text
            fix = (
                "Pass a dict; a template must render to one: give the DAG render_template_as_native_obj=True."
            )
        raise _fail("overrides", f"must be a dict {{table: {{key: value}}}}, got {overrides!r}.", fix)
    out: dict[str, dict[str, Any]] = {}
    for table, entry in overrides.items():
        where = f"overrides[{table!r}]"
        require_str(where, table, "a table name (the explore path, e.g. Account)")
        if not isinstance(entry, Mapping):
            raise _fail(
                where, f"must be a dict of settings, got {entry!r}.", f"Use keys among {OVERRIDE_KEYS}."
            )
        unknown = sorted(set(entry) - set(OVERRIDE_KEYS))
        if unknown:
            raise _fail(where, f"has unknown keys {unknown}.", f"Use keys among {', '.join(OVERRIDE_KEYS)}.")
        mapping = entry.get("mapping")
        if mapping is not None and not is_templated(mapping):
            if not isinstance(mapping, Mapping) or not all(
                isinstance(k, str) and isinstance(v, (str, type(None))) for k, v in mapping.items()
            ):
                raise _fail(
                    f"{where}['mapping']",
                    f"must be a dict {{source column: XDM path, or None to drop it}}, got {mapping!r}.",
                    'Pass e.g. {"BillingCity": "homeAddress.city"}.',
                )
        for key in ("delta_column", "delta_date_format", "identity_column", "identity_namespace"):
            value = entry.get(key)
            if value is not None and not is_templated(value):
                require_str(f"{where}[{key!r}]", value, "a non-empty string")
        frequency = entry.get("frequency")
        if frequency is not None and not is_templated(frequency):
            check_enum(f"{where}['frequency']", frequency, ("once", "minute", "hour", "day", "week"))
        out[str(table)] = dict(entry)
    return out


@dataclass(frozen=True)
class IngestionSettings:
    """What every table of a DAG shares; checked when built (no request).

    :param name_prefix: prefix of every resource name (may be a template, e.g.
        ``"{{ params.name_prefix }}"``).
    :param source_conn_id: Airflow connection of the source system (credentials stay there).
    :param source: a key of :data:`~airflow_provider_aep.operators.connections.SOURCES`.
    :param schema_mode: ``"standard"``: a schema of ``class_id`` + ``field_groups`` and the fixed
        ``mapping``. ``"generated"``: a tenant field group generated from the table's columns
        (``create_field_group``) in a schema of ``class_id`` (+ ``field_groups``), and a mapping
        generated column for column (``mapping`` and the per-table ``mapping`` then override or
        extend it entry by entry; ``None`` drops a column).
    :param class_id: XDM class of the target schemas.
    :param field_groups: standard field groups of the target schemas.
    :param mapping: ``{source column: XDM path}`` (standard mode), or a template rendering to one.
    :param profile: make every table Profile-ready (generated mode): a primary identity descriptor
        on the table's ``identity_column`` (per-table override, required), the schema enabled for
        Profile (union) and the dataset tagged for Profile and Identity. ``True``/``False``, or (with
        :func:`ingest_tables`) a template such as ``"{{ params.profile }}"`` decided per run.
    :param identity_namespace: default namespace code of the identities (per-table override).
    :param unknown_type: source types outside the type map: ``"error"`` or ``"string"``.
    :param aep_conn_id: AEP connection of the plan task's reads (``None``: ``aep_default``; the
        operators keep their own default or the DAG's ``default_args``).
    :param delta_column: incremental column of every table (overridable per table; ``None``: none).
        Default, like ``delta_date_format`` and ``flow_spec_name``: the source's, from
        :data:`~airflow_provider_aep.sources.SOURCES` (Salesforce ``LastModifiedDate``, ServiceNow
        ``sys_updated_on``, OData ``ModifiedDate``).
    :param frequency: dataflow schedule (overridable per table); ``interval`` likewise.
    :param poll_interval: seconds between the deferred wait's polls (30: AEP runs take minutes).
    :param wait_timeout: seconds the wait may take.
    :param wait_for_first_run: end each table's chain with the deferred wait for its dataflow's first
        run (``wait_for_first_run``); ``False`` for a flow whose runs the DAG starts itself (a
        ``once`` flow run on demand by :class:`~airflow_provider_aep.operators.runs.AEPRunFlowOperator`).
    :param name_formats: per-step name formats replacing :data:`NAME_FORMATS` entries.
    :param dataset_alias: asset alias the wait adds the dataset's asset event to (optional).
    :param description: description of the dataflows.
    """

    name_prefix: str
    source_conn_id: str
    source: str = "salesforce_service_cloud"
    schema_mode: str = "standard"
    class_id: str = PROFILE_CLASS
    field_groups: Sequence[str] = ()
    mapping: Mapping[str, str] | str | None = None
    delta_column: str | None = FROM_SOURCE
    delta_date_format: str = FROM_SOURCE
    delta_timezone: str = "UTC"
    frequency: str = "hour"
    interval: int | str | None = 1
    start_time: Any = None
    backfill: bool | None = True
    flow_spec_name: str = FROM_SOURCE
    profile: bool | str = False
    identity_namespace: str = "CRMID"
    unknown_type: str = "error"
    aep_conn_id: str | None = None
    sandbox_name: str | None = None
    poll_interval: float = 30.0
    wait_timeout: float = 3600.0
    wait_for_first_run: bool = True
    name_formats: Mapping[str, str] = field(default_factory=dict)
    dataset_alias: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        require_str("name_prefix", self.name_prefix, "a non-empty resource name prefix")
        require_str("source_conn_id", self.source_conn_id, "an Airflow connection id")
        check_enum("source", self.source, tuple(SOURCES))
        source = SOURCES[self.source]
        for name in SOURCE_DECIDED:
            if getattr(self, name) is FROM_SOURCE:
                object.__setattr__(self, name, getattr(source, name))
        check_enum("schema_mode", self.schema_mode, SCHEMA_MODES)
        if self.profile is not False and self.schema_mode != "generated":
            raise _fail(
                "profile",
                "needs schema_mode='generated' (the identity is a generated field of the table).",
                "Pass schema_mode='generated', or profile=False.",
            )
        if not isinstance(self.profile, bool) and not is_templated(self.profile):
            raise _fail("profile", f"must be True, False or a template, got {self.profile!r}.", "Pass True.")
        if self.unknown_type not in ("error", "string"):
            raise _fail(
                "unknown_type", f"must be 'error' or 'string', got {self.unknown_type!r}.", "Use 'error'."
            )
        if self.schema_mode == "standard" and self.mapping is None:
            raise _fail(
                "mapping",
                "is required with schema_mode='standard' (a fixed class and field groups).",
                "Pass mapping={source column: XDM path}.",
            )
        if isinstance(self.mapping, Mapping):
            check_overrides({"*": {"mapping": self.mapping}})
        if isinstance(self.field_groups, str):
            raise _fail("field_groups", "must be a list of field group $ids.", "Wrap it in a list.")
        object.__setattr__(self, "name_formats", _check_formats(self.name_formats))
        if not isinstance(self.poll_interval, (int, float)) or self.poll_interval <= 0:
            raise _fail(
                "poll_interval", f"must be a positive number, got {self.poll_interval!r}.", "Pass 30."
            )

    @property
    def connection_spec_id(self) -> str:
        """The source's connection spec id."""
        return SOURCES[self.source].connection_spec_id

    def evolve(self, **changes: Any) -> IngestionSettings:
        """A copy with some settings changed (checked again). A new ``source`` brings its own delta
        column, format and flow spec unless they were set to something else or are changed too."""
        new_source = changes.get("source", self.source)
        if new_source != self.source and new_source in SOURCES:
            old = SOURCES[self.source]
            for name in SOURCE_DECIDED:
                if name not in changes and getattr(self, name) == getattr(old, name):
                    changes[name] = FROM_SOURCE
        return replace(self, **changes)

    def names(self, table: str) -> dict[str, str]:
        """Resource names of one table."""
        return resource_names(self.name_prefix, table, self.name_formats)

    def base_connection(self, task_id: str = "create_base_connection", **kwargs: Any) -> BaseOperator:
        """The shared base connection task (create it once per DAG, outside the table groups)."""
        from airflow_provider_aep.operators.connections import AEPCreateBaseConnectionOperator

        return AEPCreateBaseConnectionOperator(
            task_id=task_id,
            name=self.name_formats["base_connection"].format(prefix=self.name_prefix),
            source=self.source,
            source_conn_id=self.source_conn_id,
            **kwargs,
        )

    def flow_spec(self, task_id: str = "get_flow_spec") -> BaseOperator:
        """The flow spec lookup (checks the source's spec is accepted); its output is the spec id."""
        from airflow_provider_aep.operators.flows import AEPGetFlowSpecOperator

        return AEPGetFlowSpecOperator(
            task_id=task_id,
            flow_spec_name=self.flow_spec_name,
            source_connection_spec_id=self.connection_spec_id,
        )

    def table_entry(self, table: str, override: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One table's plan entry: names and settings with its override applied (no request)."""
        require_str("table", table, "a table name (the explore path, e.g. Account)")
        over = check_overrides({table: override or {}})[table]
        mapping = _merged_mapping(self.mapping, over.get("mapping"), table, self.schema_mode == "standard")
        profile = _truthy(self.profile)
        identity = over.get("identity_column")
        if profile is True and not identity:
            raise _fail(
                f"overrides[{table!r}]['identity_column']",
                f"is missing: table {table!r} needs an identity column with profile enabled "
                "(a Profile schema needs a primary identity).",
                f'Add {{"{table}": {{"identity_column": "<column>"}}}} to the overrides, or disable profile.',
            )
        entry: dict[str, Any] = {
            "table": table,
            **self.names(table),
            "mapping": mapping,
            "delta_column": over.get("delta_column", self.delta_column),
            "delta_date_format": over.get("delta_date_format", self.delta_date_format),
            "frequency": over.get("frequency", self.frequency),
            "interval": over.get("interval", self.interval),
            "start_time": over.get("start_time", self.start_time),
            "identity_column": identity if profile is not False else None,
            "identity_namespace": over.get("identity_namespace", self.identity_namespace),
            "dataset_tags": None,
        }
        if profile is True:
            from airflow_provider_aep.operators.profile import PROFILE_DATASET_TAGS

            entry["dataset_tags"] = PROFILE_DATASET_TAGS
        elif profile is None:  # a template: decided by the plan task of each run
            entry["identity_column"] = identity
        for key, (_step, lookup) in _NAME_KEYS.items():
            if not is_templated(entry[key]):
                check_name(key, entry[key], lookup)
        return entry


def _truthy(value: Any) -> bool | None:
    """A profile setting as a bool (``"true"``/``"false"`` strings too); ``None`` for a template."""
    if isinstance(value, str):
        if is_templated(value):
            return None
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _merged_mapping(base: Any, extra: Any, table: str, drop_none: bool) -> Any:
    if extra is None:
        return dict(base) if isinstance(base, Mapping) else base
    if isinstance(base, Mapping) and isinstance(extra, Mapping):
        merged = {**base, **extra}
        return {k: v for k, v in merged.items() if v is not None} if drop_none else merged
    if base is None:
        return extra
    raise _fail(
        f"overrides[{table!r}]['mapping']",
        "cannot be merged with a templated DAG-wide mapping.",
        "Give both as dicts, or put the whole mapping in one template.",
    )


# ------------------------------------------------------------------------------ the chain
def skip_without_identity(context: Any) -> None:
    """``pre_execute`` gate of the Profile steps: skip them for a table without an identity column
    (Profile disabled for this run); the dataset still runs (``trigger_rule="none_failed"``)."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not getattr(context["task"], "identity_column", None):
        raise AirflowSkipException("Profile is not enabled for this table (no identity column)")


def _table_chain(
    settings: IngestionSettings,
    base_connection_id: Any,
    flow_spec_id: Any,
    table: Any,
    source_name: Any,
    schema_title: Any,
    dataset_name: Any,
    target_name: Any,
    mapping_name: Any,
    dataflow_name: Any,
    field_group_title: Any,
    mapping: Any,
    delta_column: Any,
    delta_date_format: Any,
    frequency: Any,
    interval: Any,
    start_time: Any,
    identity_column: Any,
    identity_namespace: Any,
    dataset_tags: Any,
) -> None:
    """The tasks of one table (called inside its task group; values may be mapped arguments)."""
    from airflow.sdk import XComArg

    from airflow_provider_aep.operators.connections import (
        AEPCreateSourceConnectionOperator,
        AEPCreateTargetConnectionOperator,
    )
    from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
    from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator
    from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
    from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator
    from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

    spec_id = settings.connection_spec_id
    generated = settings.schema_mode == "generated"
    source_connection = AEPCreateSourceConnectionOperator(
        task_id="create_source_connection",
        name=source_name,
        base_connection_id=base_connection_id,
        connection_spec_id=spec_id,
        table_name=table,
        data_format="tabular",
    )
    field_groups: list[Any] = list(settings.field_groups)
    if generated:
        from airflow_provider_aep.operators.field_groups import AEPCreateTableFieldGroupOperator

        # The source connection read the table's columns from /explore: reuse them (no second read).
        field_group = AEPCreateTableFieldGroupOperator(
            task_id="create_field_group",
            title=field_group_title,
            class_id=settings.class_id,
            columns=XComArg(source_connection, key=xcom_keys.COLUMNS),
            unknown_type=settings.unknown_type,
            mapping_overrides=mapping,
        )
        field_groups = [field_group.output, *field_groups]
        mapping = XComArg(field_group, key=xcom_keys.MAPPING)
    schema = AEPCreateSchemaOperator(
        task_id="create_target_schema",
        title=schema_title,
        class_id=settings.class_id,
        field_groups=field_groups,
    )
    dataset_kwargs: dict[str, Any] = {}
    profile_done: Any = None
    if generated and settings.profile is not False:
        from airflow_provider_aep.operators.profile import (
            AEPCreateIdentityDescriptorOperator,
            AEPEnableSchemaForProfileOperator,
        )

        identity = AEPCreateIdentityDescriptorOperator(
            task_id="create_identity_descriptor",
            schema_id=schema.output,
            namespace=identity_namespace,
            identity_column=identity_column,
            fields=XComArg(field_group, key=xcom_keys.FIELDS),
            pre_execute=skip_without_identity,
        )
        profile_done = AEPEnableSchemaForProfileOperator(
            task_id="enable_schema_for_profile", schema_id=schema.output
        )
        identity >> profile_done
        # Runs when the Profile steps were skipped (Profile off for this run), not when they failed.
        dataset_kwargs = {"tags": dataset_tags, "trigger_rule": "none_failed"}
    dataset = AEPCreateDatasetOperator(
        task_id="create_dataset", name=dataset_name, schema_id=schema.output, **dataset_kwargs
    )
    if profile_done is not None:
        profile_done >> dataset
    target_connection = AEPCreateTargetConnectionOperator(
        task_id="create_target_connection",
        name=target_name,
        dataset_id=dataset.output,
        schema_id=schema.output,
    )
    mapping_set = AEPCreateMappingSetOperator(
        task_id="create_mapping_set", name=mapping_name, schema_id=schema.output, mapping=mapping
    )
    if flow_spec_id is None:
        flow_spec_id = settings.flow_spec().output
    dataflow = AEPCreateDataflowOperator(
        task_id="create_dataflow",
        name=dataflow_name,
        flow_spec_id=flow_spec_id,
        source_connection_id=source_connection.output,
        target_connection_id=target_connection.output,
        mapping_id=mapping_set.output,
        mapping_version=XComArg(mapping_set, key=xcom_keys.MAPPING_VERSION),
        delta_column=delta_column,
        delta_date_format=delta_date_format,
        delta_timezone=settings.delta_timezone,
        frequency=frequency,
        interval=interval,
        start_time=start_time,
        backfill=settings.backfill,
        description=settings.description,
    )
    if settings.wait_for_first_run:
        AEPFlowRunSensor(
            task_id="wait_for_first_run",
            flow_id=dataflow.output,
            started_after=FLOW_FIRST_RUN,
            deferrable=True,
            poke_interval=settings.poll_interval,
            timeout=settings.wait_timeout,
            dataset_alias=settings.dataset_alias,
        )


def _base_id(base_connection: Any) -> Any:
    """A base connection given as its task (use its output) or as an id / XComArg."""
    from airflow.sdk import BaseOperator

    return base_connection.output if isinstance(base_connection, BaseOperator) else base_connection


def ingest_table(
    settings: IngestionSettings,
    base_connection: Any,
    table: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    group_id: str | None = None,
    prefix_group_id: bool = True,
) -> TaskGroup:
    """One table's chain as a task group (a static table, known when the DAG is parsed).

    :param base_connection: the shared base connection task (or its id / XComArg).
    :param table: the table's API name (a template is accepted, e.g. ``"{{ params.table_name }}"``).
    :param overrides: this table's overrides (keys of :data:`OVERRIDE_KEYS`).
    :param group_id: default ``ingest_<table>`` (``ingest_table`` for a templated table).
    :param prefix_group_id: ``False`` keeps the bare task ids (``create_dataset``...), as in the
        single-table example DAGs.
    """
    from airflow.sdk.definitions.taskgroup import TaskGroup

    if _truthy(settings.profile) is None:
        raise _fail(
            "profile",
            "is a template: a static table decides Profile when the DAG is parsed.",
            "Pass profile=True or False, or use ingest_tables() (its plan task renders it per run).",
        )
    entry = settings.table_entry(table, overrides)
    if group_id is None:
        group_id = "ingest_table" if is_templated(table) else "ingest_" + re.sub(r"\W", "_", table)
    with TaskGroup(group_id=group_id, prefix_group_id=prefix_group_id) as group:
        _table_chain(settings, _base_id(base_connection), None, **entry)
    return group


def plan_tables(
    settings: IngestionSettings,
    tables: Sequence[Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    log: Any = None,
    columns_of: Callable[[str], Sequence[Mapping[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """Plan entries of the selected tables (what :func:`ingest_tables` maps over).

    ``tables`` holds table API names, or explore items ``{name, path}`` (the ``path`` is used).
    Fails, before anything is written, on a duplicate table, an unusable name, a bad override or
    (Profile enabled) a table without an identity column. With ``columns_of`` (a table's
    ``/explore`` columns: reads only), each identity column must also be a column of its table.
    """
    checked = check_overrides(overrides)
    if not isinstance(tables, Sequence) or isinstance(tables, str):
        raise _fail("tables", f"must be a list of tables, got {tables!r}.", "Map over the discovery task.")
    names: list[str] = []
    for i, item in enumerate(tables):
        path = item.get("path") or item.get("name") if isinstance(item, Mapping) else item
        names.append(require_str(f"tables[{i}]", path, "a table API name"))
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise _fail("tables", f"{name!r} is listed twice.", "List every table once.")
        seen.add(name)
    unused = sorted(set(checked) - seen)
    if unused and log is not None:
        log.warning("Overrides for tables that are not selected (ignored): %s", ", ".join(unused))
    entries = [settings.table_entry(name, checked.get(name)) for name in names]
    for entry in entries:
        column = entry["identity_column"]
        if column and columns_of is not None:
            have = [str(c.get("name")) for c in columns_of(entry["table"])]
            if column not in have:
                raise _fail(
                    f"overrides[{entry['table']!r}]['identity_column']",
                    f"{column!r} is not a column of table {entry['table']!r} "
                    f"(its columns: {', '.join(have)}).",
                    "Name one of its columns (the identity must be a field of the generated schema).",
                )
    return entries


def ingest_tables(
    settings: IngestionSettings,
    base_connection: Any,
    tables: Any,
    *,
    overrides: Any = None,
    group_id: str = "ingest_table",
    plan_task_id: str = "plan_tables",
) -> Any:
    """Every selected table's chain, as one mapped task group (one entry per table in the UI).

    :param tables: the tables (an XComArg of the discovery task, or a list).
    :param overrides: ``{table: {key: value}}`` (a dict, or a template such as
        ``"{{ params.overrides }}"``; checked by the plan task, before any table's write).
    Returns the mapped task group; the plan task is ``plan_task_id``, the flow spec lookup
    (shared by every table) ``get_flow_spec``.
    """
    from airflow.sdk import task, task_group

    if overrides is not None and not is_templated(overrides):
        check_overrides(overrides)

    @task(task_id=plan_task_id)
    def plan(
        tables: Any, base_connection_id: Any, overrides: Any = None, rendered: Any = None
    ) -> list[dict[str, Any]]:
        """Names and settings of each selected table (checked before any table's write)."""
        import logging

        from airflow_provider_aep.operators.discovery import read_columns
        from airflow_provider_aep.task import build_hook

        # The mapped tasks get these values as they are (no second rendering): render them here.
        values = dict(rendered or {})
        conn_id, sandbox = values.pop("aep_conn_id", None), values.pop("sandbox_name", None)
        hook = build_hook(conn_id or "aep_default", sandbox)
        return plan_tables(
            settings.evolve(**values),
            tables,
            overrides,
            log=logging.getLogger(__name__),
            columns_of=lambda table: read_columns(hook, str(base_connection_id), table)[1],
        )

    group = task_group(group_id=group_id)(_table_chain)
    base_id = _base_id(base_connection)
    templated = {key: getattr(settings, key) for key in (*_PLAN_RENDERED, "aep_conn_id", "sandbox_name")}
    # One flow spec lookup for every table (the same spec), next to the shared base connection.
    flow_spec = settings.flow_spec()
    partial = group.partial(settings=settings, base_connection_id=base_id, flow_spec_id=flow_spec.output)
    return partial.expand_kwargs(plan(tables, base_id, overrides, templated))
