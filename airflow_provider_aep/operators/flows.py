"""Flow Service operators: flow spec lookup, dataflow creation, enable/disable."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.constants import CRM_TO_AEP_FLOW_SPEC
from airflow_provider_aep.exceptions import AEPAPIError, AEPError, AEPInputError
from airflow_provider_aep.lineage_mixin import AEPLineageMixin
from airflow_provider_aep.links import AEPDataflowLink
from airflow_provider_aep.operators._converge import UNKNOWN, Diff, refusal_message
from airflow_provider_aep.operators._create_lock import create_exclusively
from airflow_provider_aep.operators._diffs import flow_diff, flow_patch_ops
from airflow_provider_aep.operators.base import (
    AEPBaseOperator,
    AEPCreateOperatorBase,
    AEPResourceConflictError,
    Outcome,
    differs,
    first_problem,
)
from airflow_provider_aep.validation import (
    build_schedule,
    check_date_format,
    check_mapping_id,
    check_mapping_version,
    check_name,
    check_number,
    check_uuid,
    is_templated,
    require_str,
    to_epoch_seconds,
    validate_against_json_schema,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg


@dataclass(frozen=True)
class DataflowRequest:
    """A validated dataflow declaration (before the flow spec and connections are read).

    :param copy: the ``Copy`` transformation's params (``{"deltaColumn": {...}}``), or ``None``.
    :param schedule: ``scheduleParams``.
    :param options: ``options`` (error diagnostics, partial ingestion), or ``None``.
    """

    name: str
    flow_spec: str
    source: str
    target: str
    mapping: str
    mapping_version: str
    copy: dict[str, Any] | None
    schedule: dict[str, Any]
    options: dict[str, Any] | None

    @property
    def delta_column(self) -> str | None:
        """The Copy transformation's delta column, if any."""
        return self.copy["deltaColumn"]["name"] if self.copy is not None else None


DEFAULT_FLOW_SPEC_NAME = CRM_TO_AEP_FLOW_SPEC
OPTION_KEYS = ("errorDiagnosticsEnabled", "partialIngestionPercent")


def _spec_part(spec: Mapping[str, Any], key: str) -> Any:
    part = spec.get(key)
    return part.get("spec") if isinstance(part, Mapping) else None


def _transformation_spec(spec: Mapping[str, Any], name: str) -> Any:
    for t in spec.get("transformationSpecs") or spec.get("transformationSpec") or []:
        if isinstance(t, Mapping) and t.get("name") == name:
            return t.get("spec")
    return None


class AEPGetFlowSpecOperator(AEPBaseOperator):
    """Look up a flow spec by name (default ``CRMToAEP``) and return its id.

    :param flow_spec_name: flow spec name.
    :param source_connection_spec_id: when given, fail clearly if the flow spec does not accept
        this source connection spec (it is not in ``sourceConnectionSpecIds``).

    Pushes ``flow_spec_version``.
    """

    template_fields: Sequence[str] = (
        *AEPBaseOperator.template_fields,
        "flow_spec_name",
        "source_connection_spec_id",
    )

    def __init__(
        self,
        *,
        flow_spec_name: str = DEFAULT_FLOW_SPEC_NAME,
        source_connection_spec_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.flow_spec_name = flow_spec_name
        self.source_connection_spec_id = source_connection_spec_id
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> tuple[str, str | None]:
        name = require_str("flow_spec_name", self.flow_spec_name, "a flow spec name such as CRMToAEP")
        spec_id = None
        if self.source_connection_spec_id is not None:
            spec_id = check_uuid("source_connection_spec_id", self.source_connection_spec_id)
        return name, spec_id

    def execute(self, context: Context) -> str:
        """Return the flow spec id."""
        name, source_spec = self._validate()
        spec = self.hook.get_flow_spec_by_name(name)
        accepted = [str(s) for s in spec.get("sourceConnectionSpecIds") or []]
        if source_spec is not None and source_spec not in accepted:
            raise AEPInputError(
                "source_connection_spec_id",
                f"{source_spec} is not a source of flow spec {name!r} ({spec.get('id')}), which accepts "
                f"{len(accepted)} source connection specs.",
                "Check the source's connection spec id, or use the flow spec made for that source.",
            )
        self.log.info("Flow spec %r: id=%s version=%s", name, spec.get("id"), spec.get("version"))
        self.xcom_push(context, xcom_keys.FLOW_SPEC_VERSION, str(spec.get("version") or "1.0"))
        return str(spec["id"])


class AEPCreateDataflowOperator(AEPLineageMixin, AEPCreateOperatorBase):
    """Create (or reuse) a dataflow: source connection -> Copy + Mapping -> target connection.

    Validated before the create: ids, schedule rules (``once`` takes no interval/backfill,
    ``minute`` needs interval >= 15, others >= 1), then the schedule, Copy params and options
    against the flow spec's own JSON Schemas; the source/target connection specs must be accepted
    by the flow spec and the delta column must be a column of the source table (when known).

    :param name: dataflow name (its identity for reuse).
    :param flow_spec_id: flow spec id (from :class:`AEPGetFlowSpecOperator`).
    :param source_connection_id: source connection id.
    :param target_connection_id: target connection id.
    :param mapping_id: mapping set id (32 hex).
    :param mapping_version: mapping set version (sent as a string).
    :param delta_column: incremental column (e.g. ``LastModifiedDate``).
    :param delta_date_format: its date format (``yyyy-MM-dd HH:mm:ss``; OData:
        ``yyyy-MM-ddTHH:mm:ssZ``).
    :param delta_timezone: its timezone (table sources must be ``UTC``).
    :param frequency: ``once``, ``minute``, ``hour``, ``day`` or ``week``.
    :param interval: schedule interval (``None``: 1, or 15 for ``minute``; must be omitted for
        ``once``).
    :param start_time: datetime, epoch seconds, ISO string (e.g. ``"{{ data_interval_start }}"``)
        or ``None`` (now). Sent as epoch seconds.
    :param backfill: ingest existing data on the first run (``None``: true; omitted for ``once``).
    :param options: flow options (``partialIngestionPercent``, ``errorDiagnosticsEnabled``).
    :param description: optional description.

    Returns the flow id; pushes ``etag``; extra link "AEP Dataflow".
    """

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "name",
        "flow_spec_id",
        "source_connection_id",
        "target_connection_id",
        "mapping_id",
        "mapping_version",
        "delta_column",
        "delta_date_format",
        "delta_timezone",
        "frequency",
        "interval",
        "start_time",
        "backfill",
        "options",
        "description",
    )
    template_fields_renderers = {"options": "json"}
    operator_extra_links = (AEPDataflowLink(),)
    resource_kind = "dataflow"
    plan_xcom_keys = ("etag",)
    #: Attempts of a PATCH whose etag went stale (1404-412) before giving up.
    patch_attempts = 3

    def __init__(
        self,
        *,
        name: str,
        flow_spec_id: str | XComArg,
        source_connection_id: str | XComArg,
        target_connection_id: str | XComArg,
        mapping_id: str | XComArg,
        mapping_version: str | int | XComArg = "0",
        delta_column: str | None = None,
        delta_date_format: str = "yyyy-MM-dd HH:mm:ss",
        delta_timezone: str = "UTC",
        frequency: str = "hour",
        interval: int | str | None = None,
        start_time: datetime | int | str | None = None,
        backfill: bool | None = None,
        options: dict[str, Any] | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.flow_spec_id = flow_spec_id
        self.source_connection_id = source_connection_id
        self.target_connection_id = target_connection_id
        self.mapping_id = mapping_id
        self.mapping_version = mapping_version
        self.delta_column = delta_column
        self.delta_date_format = delta_date_format
        self.delta_timezone = delta_timezone
        self.frequency = frequency
        self.interval = interval
        self.start_time = start_time
        self.backfill = backfill
        self.options = options
        self.description = description
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> DataflowRequest:
        name = check_name("name", self.name, "flowservice")
        flow_spec = check_uuid("flow_spec_id", self.flow_spec_id)
        source = check_uuid("source_connection_id", self.source_connection_id)
        target = check_uuid("target_connection_id", self.target_connection_id)
        mapping = check_mapping_id("mapping_id", self.mapping_id)
        mapping_version = check_mapping_version("mapping_version", self.mapping_version)
        if source == target:
            raise AEPInputError(
                "target_connection_id",
                "is the same id as source_connection_id.",
                "Pass the target connection id.",
            )
        copy: dict[str, Any] | None = None
        if self.delta_column is not None:
            copy = {
                "deltaColumn": {
                    "name": require_str("delta_column", self.delta_column, "a column name"),
                    "dateFormat": check_date_format("delta_date_format", self.delta_date_format),
                    "timezone": require_str("delta_timezone", self.delta_timezone, "a timezone such as UTC"),
                }
            }
        start = to_epoch_seconds("start_time", self.start_time)
        schedule = build_schedule(self.frequency, self.interval, self.backfill, start)
        if self.options is not None:
            if not isinstance(self.options, Mapping):
                raise AEPInputError("options", f"must be a dict, got {self.options!r}.", "Pass e.g. {}.")
            unknown = [k for k in self.options if k not in OPTION_KEYS]
            if unknown:
                raise AEPInputError(
                    "options", f"unknown option(s) {unknown}.", f"Use only: {', '.join(OPTION_KEYS)}."
                )
            _check_options(self.options)
        return DataflowRequest(
            name=name,
            flow_spec=flow_spec,
            source=source,
            target=target,
            mapping=mapping,
            mapping_version=mapping_version,
            copy=copy,
            schedule=schedule,
            options=dict(self.options) if self.options else None,
        )

    def _check_against_spec(self, v: DataflowRequest) -> str:
        """Validate against the flow spec and the connections (GETs only, before the create);
        return the flow spec's version."""
        wanted = v.flow_spec
        spec = next(
            (s for s in self.hook.list_flow_specs(properties=[f"id=={wanted}"]) if s.get("id") == wanted),
            None,
        )
        if spec is None:  # a gateway that ignores the filter: scan the (short) list
            spec = next((s for s in self.hook.list_flow_specs() if s.get("id") == wanted), None)
        if spec is None:
            raise AEPInputError(
                "flow_spec_id",
                f"no flow spec has id {v.flow_spec}.",
                "Use AEPGetFlowSpecOperator's return value.",
            )
        version = str(spec.get("version") or "1.0")
        validate_against_json_schema("scheduleParams", v.schedule, _spec_part(spec, "scheduleSpec"))
        copy_schema = _transformation_spec(spec, "Copy")
        if copy_schema is not None:
            if v.copy is None and "deltaColumn" in (copy_schema.get("required") or []):
                raise AEPInputError(
                    "delta_column",
                    f"is required by flow spec {spec.get('name')!r}.",
                    "Pass the source's last-modified column, e.g. delta_column='LastModifiedDate'.",
                )
            validate_against_json_schema("transformations.Copy", v.copy or {}, copy_schema)
        if v.options is not None:
            validate_against_json_schema("options", v.options, _spec_part(spec, "optionSpec"))

        source = self.hook.get_source_connection(v.source)
        source_spec = (source.get("connectionSpec") or {}).get("id")
        accepted = spec.get("sourceConnectionSpecIds")
        if accepted and source_spec not in accepted:
            raise AEPInputError(
                "source_connection_id",
                f"its connection spec {source_spec} is not accepted by flow spec {spec.get('name')!r}.",
                "Use a flow spec whose sourceConnectionSpecIds contain it.",
            )
        columns = [
            c.get("name") for c in (source.get("params") or {}).get("columns") or [] if isinstance(c, dict)
        ]
        if v.delta_column is not None and columns and v.delta_column not in columns:
            raise AEPInputError(
                "delta_column",
                f"{v.delta_column!r} is not a column of the source table.",
                f"Use one of: {', '.join(str(c) for c in columns[:40])}.",
            )
        target = self.hook.get_target_connection(v.target)
        target_spec = (target.get("connectionSpec") or {}).get("id")
        accepted_targets = spec.get("targetConnectionSpecIds")
        if accepted_targets and target_spec not in accepted_targets:
            raise AEPInputError(
                "target_connection_id",
                f"its connection spec {target_spec} is not accepted by flow spec {spec.get('name')!r}.",
                "Create the target connection with AEPCreateTargetConnectionOperator (Data Lake spec).",
            )
        return version

    def plan_lookup(self) -> tuple[str, Callable[[], dict[str, Any] | None]]:
        """Name and finder for plans whose inputs are not created yet."""
        name = check_name("name", self.name, "flowservice")
        return name, lambda: self.hook.find_flow(name)

    def _diff(self, v: DataflowRequest, found: dict[str, Any]) -> Diff:
        return flow_diff(
            found,
            flow_spec=v.flow_spec,
            source=v.source,
            target=v.target,
            copy=v.copy,
            mapping_id=v.mapping,
            mapping_version=v.mapping_version,
            schedule=v.schedule,
            start_pinned=self.start_time is not None,
            options=v.options if self.options is not None else None,
            description=self.description,
            now=time.time(),
        )

    def _apply(self, v: DataflowRequest, found: dict[str, Any], diff: Diff) -> dict[str, Any]:
        """PATCH the allowed changes under If-Match; a stale etag (1404-412) re-reads and retries."""
        flow_id = str(found["id"])
        current = found
        for attempt in range(1, self.patch_attempts + 1):
            ops = flow_patch_ops(current, diff, v.mapping, v.mapping_version)
            etag = current.get("etag") or self.hook.get_flow(flow_id).get("etag")
            try:
                answer = self.hook.patch_flow(flow_id, ops, etag=etag)
            except AEPAPIError as exc:
                if exc.status != 412 or attempt == self.patch_attempts:
                    raise
                self.log.warning(
                    "Flow %s changed since it was read (stale etag, 1404-412); re-reading and retrying "
                    "(attempt %d of %d)",
                    flow_id,
                    attempt + 1,
                    self.patch_attempts,
                )
                current = self.hook.get_flow(flow_id)
                diff = self._diff(v, current)
                if diff.refusals:
                    raise AEPResourceConflictError(
                        refusal_message("dataflow", v.name, flow_id, diff)
                    ) from None
                if not diff:
                    return {"etag": current.get("etag")}
                continue
            new_etag = answer.get("etag") or self.hook.get_flow(flow_id).get("etag")
            self.log.info(
                "Patched flow %s (%s); new etag %s", flow_id, ", ".join(o["path"] for o in ops), new_etag
            )
            return {"etag": new_etag}
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_under_lock(self, name: str, body: Callable[[], dict[str, Any]]) -> dict[str, Any] | Outcome:
        """POST the flow under the create lock, so that two runs never both create it (a twin flow
        could start a run, and ingest its rows a second time, before twin convergence deletes it)."""
        resource, created = create_exclusively(
            self,
            "dataflow",
            name,
            lambda: self.hook.find_all_flows(name),
            lambda: self.hook.create_flow(body()),
            wait_seconds=max(60.0, 2 * self.late_commit_window()),
        )
        if created:
            return resource
        return Outcome(str(resource["id"]), "adopted", resource)

    def _runs_of_twin(self, flow_id: str) -> str | None:
        """Before a losing twin flow is deleted: name the runs it already started (AEP cannot cancel
        a run, so such a run may still ingest its window a second time)."""
        try:
            runs = [str(r.get("id")) for r in self.hook.list_runs(flow_id)]
        except AEPError as error:
            return f"Its runs could not be listed ({error})."
        if not runs:
            return "It had not started any run."
        return (
            f"It had already started run(s) {', '.join(runs)}: AEP cannot cancel a run, so if one "
            "completes, the rows it read may be ingested twice into the target dataset. Check them in "
            "the AEP UI."
        )

    def execute(self, context: Context) -> str:
        """Create, converge or reuse the dataflow and return its id."""
        v = self._validate()
        if v.copy is not None and v.copy["deltaColumn"]["timezone"].upper() != "UTC":
            self.log.warning(
                "Table-based batch sources must run in UTC; delta_timezone=%r", self.delta_timezone
            )
        flow_spec_version = self._check_against_spec(v)
        name = v.name

        def body() -> dict[str, Any]:
            transformations: list[dict[str, Any]] = []
            if v.copy is not None:
                transformations.append({"name": "Copy", "params": v.copy})
            transformations.append(
                {
                    "name": "Mapping",
                    "params": {"mappingId": v.mapping, "mappingVersion": v.mapping_version},
                }
            )
            b: dict[str, Any] = {
                "name": name,
                "flowSpec": {"id": v.flow_spec, "version": flow_spec_version},
                "sourceConnectionIds": [v.source],
                "targetConnectionIds": [v.target],
                "transformations": transformations,
                "scheduleParams": v.schedule,
            }
            if self.description:
                b["description"] = self.description
            if v.options:
                b["options"] = v.options
            return b

        def mismatch(found: dict[str, Any]) -> str | None:
            mapping_params: dict[str, Any] = {}
            copy_params: dict[str, Any] = {}
            for t in found.get("transformations") or []:
                if isinstance(t, dict) and t.get("name") == "Mapping":
                    mapping_params = t.get("params") or {}
                if isinstance(t, dict) and t.get("name") == "Copy":
                    copy_params = t.get("params") or {}
            found_delta = (copy_params.get("deltaColumn") or {}).get("name")
            wanted_delta = v.delta_column
            found_freq = (found.get("scheduleParams") or {}).get("frequency")
            return first_problem(
                differs("flow spec", v.flow_spec, (found.get("flowSpec") or {}).get("id")),
                differs("source connections", [v.source], found.get("sourceConnectionIds")),
                differs("target connections", [v.target], found.get("targetConnectionIds")),
                differs("mapping set", v.mapping, mapping_params.get("mappingId")),
                differs("mapping version", v.mapping_version, str(mapping_params.get("mappingVersion"))),
                differs("delta column", wanted_delta, found_delta),
                differs("frequency", v.schedule["frequency"], found_freq) if found_freq else None,
            )

        outcome = self.ensure(
            kind="dataflow",
            name=name,
            find=lambda: self.hook.find_flow(name),
            find_all=lambda: self.hook.find_all_flows(name),
            create=lambda: self._create_under_lock(name, body),
            mismatch=mismatch,
            delete=self.hook.delete_flow,
            diff=lambda found: self._diff(v, found),
            apply=lambda found, d: self._apply(v, found, d),
            twin_note=self._runs_of_twin,
        )
        etag = outcome.resource.get("etag")
        if outcome.id == UNKNOWN:
            etag = UNKNOWN
        elif not etag:
            etag = self.hook.get_flow(outcome.id).get("etag")
        self.xcom_push(context, xcom_keys.ETAG, etag)
        self.push_ui_context(context, outcome.id)
        return outcome.id


class AEPSetFlowStateOperator(AEPBaseOperator):
    """Enable or disable a dataflow (no-op when it is already in that state).

    :param flow_id: the flow id.
    :param flow_name: or the flow's exact name (templated), resolved at execute time to exactly one
        flow; pass one of the two.
    :param enabled: ``True`` to enable, ``False`` to disable.

    Returns the flow id; pushes ``etag`` and ``state``.
    """

    template_fields: Sequence[str] = (*AEPBaseOperator.template_fields, "flow_id", "flow_name", "enabled")

    def __init__(
        self, *, flow_id: str | None = None, flow_name: str | None = None, enabled: bool = True, **kwargs: Any
    ) -> None:
        from airflow_provider_aep.flow_ref import check_flow_ref

        super().__init__(**kwargs)
        self.flow_id = flow_id
        self.flow_name = flow_name
        self.enabled = enabled
        check_flow_ref(flow_id, flow_name)
        if not is_templated(enabled):
            self._enabled()

    def _enabled(self) -> bool:
        value = self.enabled
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise AEPInputError(
                "enabled", f"must be true or false, got {value!r}.", "Pass enabled=True or False."
            )
        return value

    def execute(self, context: Context) -> str:
        """Set the flow state and return the flow id."""
        from airflow_provider_aep.flow_ref import check_flow_name, resolve_flow_id

        if self.flow_name is None:
            check_uuid("flow_id", self.flow_id)
        else:
            check_flow_name(self.flow_name)
        enabled = self._enabled()
        flow_id = resolve_flow_id(self.hook, self.flow_id, self.flow_name, self.log)
        assert flow_id is not None
        wanted = "enabled" if enabled else "disabled"
        flow = self.hook.get_flow(flow_id)
        if str(flow.get("state", "")).lower() == wanted:
            self.log.info("Flow %s is already %s; nothing to do", flow_id, wanted)
            etag = flow.get("etag")
        elif self.plan_write("flow state", str(flow.get("name")), "update", flow_id, f"would be {wanted}"):
            etag = flow.get("etag")
        else:
            answer = self.hook.set_flow_state(flow_id, enabled)
            etag = answer.get("etag") or self.hook.get_flow(flow_id).get("etag")
            self.log.info("Flow %s is now %s", flow_id, wanted)
        self.xcom_push(context, xcom_keys.ETAG, etag)
        self.xcom_push(context, xcom_keys.STATE, wanted)
        return flow_id


def _check_options(options: Mapping[str, Any]) -> None:
    """Flow options with finite values (a NaN would be sent as invalid JSON); the range of
    ``partialIngestionPercent`` is the flow spec's ``optionSpec`` to check, before the create."""
    pct = options.get("partialIngestionPercent")
    if pct is not None:
        check_number(
            "options.partialIngestionPercent",
            pct,
            minimum=-1e9,
            maximum=1e9,
            fix="Use a percentage above 0, e.g. 5.",
        )
    diagnostics = options.get("errorDiagnosticsEnabled")
    if diagnostics is not None and not isinstance(diagnostics, bool):
        raise AEPInputError(
            "options.errorDiagnosticsEnabled",
            f"must be true or false, got {diagnostics!r}.",
            "Pass True or False.",
        )
