"""The customer-success ingestion, composed from the operators exactly as the example DAG wires them.

``dags/aep_customer_success_ingestion.py`` runs these steps through Airflow; the fault matrix runs
them here, in-process, so that ~50 faulted pipelines fit in seconds. Every step goes through the
operator's real ``execute()`` (validation, hook, retries, create-or-reuse, lost-answer recovery);
the flow-run wait goes through the real deferral path: ``execute()`` raises ``TaskDeferred``, the
trigger is serialised, re-created from its ``serialize()`` form (as the triggerer does), run until
its single event, and handed to ``execute_complete()``.

Variants:

* ``current``: the DAG's steps (tabular source connection, hourly flow, sensor on the first run);
* ``on_demand``: the same with a ``once`` flow and :class:`AEPRunFlowOperator` (``POST /runs``);
* ``legacy``: the 2020 tutorials' ad-hoc class + schema, ``params.path`` source connection and
  dataset base connection (``POST /tenant/classes``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_aep import xcom_keys

SSC_SPEC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
FIELD_GROUPS = [
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
]
#: The example DAG's mapping (Salesforce ``Account`` -> XDM profile).
ACCOUNT_MAPPING = {
    "Id": "_id",
    "Name": "person.name.fullName",
    "Phone": "mobilePhone.number",
    "CreatedDate": "_repo.createDate",
}
FLOW_FIRST_RUN = "1970-01-01T00:00:00Z"
#: On-demand window: the first week of the sample rows (rows every 6 h from 2026-01-01).
WINDOW_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
WINDOW_END = datetime(2026, 1, 8, tzinfo=timezone.utc)
#: Poll interval of the waits (the DAG's sensor polls every 5 s; the emulator's runs last ~0.2 s).
POLL = 0.2


class FakeTI:
    """The bits of a task instance the operators use: XCom push (JSON-checked) and pull."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.xcoms: dict[str, Any] = {}
        self.start_date = None

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value") -> Any:
        return self.xcoms.get(key)


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger ended without an event")


def run_trigger_like_triggerer(trigger: Any) -> Any:
    """Re-create the trigger from ``serialize()`` (JSON round trip) and run it to its event."""
    from airflow.sdk._shared.module_loading import import_string

    classpath, kwargs = trigger.serialize()
    kwargs = json.loads(json.dumps(kwargs))  # what the metadata DB stores must be JSON
    revived = import_string(classpath)(**kwargs)
    return asyncio.run(_first_event(revived)).payload


def execute(op: Any, *, outputs: dict[str, dict[str, Any]] | None = None) -> Any:
    """Run one operator like a worker would (deferral included); record its XComs."""
    ti = FakeTI(op.task_id)
    context: dict[str, Any] = {
        "ti": ti,
        "task_instance": ti,
        "params": {},
        "data_interval_start": None,
        "data_interval_end": None,
    }
    try:
        result = op.execute(context)
    except TaskDeferred as deferred:
        event = run_trigger_like_triggerer(deferred.trigger)
        result = getattr(op, deferred.method_name)(context, **{**(deferred.kwargs or {}), "event": event})
    json.dumps(result)
    ti.xcoms["return_value"] = result
    if outputs is not None:
        outputs[op.task_id] = ti.xcoms
    return result


@dataclass
class Pipeline:
    """One run of the ingestion; ``ids`` and ``xcoms`` fill up as steps succeed."""

    prefix: str = "rel ssc"
    variant: str = "current"
    source_conn_id: str = "salesforce_service_cloud_default"
    aep_conn_id: str = "aep_default"
    table: str = "Account"
    ids: dict[str, Any] = field(default_factory=dict)
    xcoms: dict[str, dict[str, Any]] = field(default_factory=dict)
    operators: list[Any] = field(default_factory=list)

    def _op(self, cls: type, task_id: str, **kwargs: Any) -> Any:
        op = cls(task_id=task_id, aep_conn_id=self.aep_conn_id, **kwargs)
        self.operators.append(op)
        return op

    def _run(self, cls: type, task_id: str, **kwargs: Any) -> Any:
        value = execute(self._op(cls, task_id, **kwargs), outputs=self.xcoms)
        self.ids[task_id] = value
        return value

    def run(self, wait: bool = True) -> dict[str, Any]:
        """All steps in the DAG's dependency order; raises the first step's failure.

        ``wait=False`` stops after the dataflow is created (before the run / the wait).
        """
        from airflow_provider_aep.operators.connections import (
            AEPCreateBaseConnectionOperator,
            AEPCreateDatasetBaseConnectionOperator,
            AEPCreateSourceConnectionOperator,
            AEPCreateTargetConnectionOperator,
        )
        from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
        from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator, AEPGetFlowSpecOperator
        from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
        from airflow_provider_aep.operators.runs import AEPRunFlowOperator
        from airflow_provider_aep.operators.schemas import (
            AEPCreateAdHocSchemaOperator,
            AEPCreateSchemaOperator,
        )
        from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

        p, t = self.prefix, self.table
        base = self._run(
            AEPCreateBaseConnectionOperator,
            "create_base_connection",
            name=f"{p} base connection",
            source="salesforce_service_cloud",
            source_conn_id=self.source_conn_id,
        )
        if self.variant == "legacy":
            adhoc = self._run(
                AEPCreateAdHocSchemaOperator,
                "create_adhoc_schema",
                title=f"{p} {t} ad-hoc",
                fields={
                    "Id": "string",
                    "Name": "string",
                    "Phone": "string",
                    "CreatedDate": "date-time",
                    "LastModifiedDate": "date-time",
                },
            )
            source = self._run(
                AEPCreateSourceConnectionOperator,
                "create_source_connection",
                name=f"{p} {t} source",
                base_connection_id=base,
                connection_spec_id=SSC_SPEC,
                path=t,
                adhoc_schema_id=adhoc,
                data_format="tabular",
            )
        else:
            source = self._run(
                AEPCreateSourceConnectionOperator,
                "create_source_connection",
                name=f"{p} {t} source",
                base_connection_id=base,
                connection_spec_id=SSC_SPEC,
                table_name=t,
                data_format="tabular",
            )
        schema = self._run(
            AEPCreateSchemaOperator,
            "create_target_schema",
            title=f"{p} {t} profile schema",
            class_id=PROFILE_CLASS,
            field_groups=FIELD_GROUPS,
        )
        dataset = self._run(
            AEPCreateDatasetOperator, "create_dataset", name=f"{p} {t} dataset", schema_id=schema
        )
        target_kwargs: dict[str, Any] = {}
        if self.variant == "legacy":
            target_kwargs["base_connection_id"] = self._run(
                AEPCreateDatasetBaseConnectionOperator,
                "create_dataset_base_connection",
                name=f"{p} data lake",
            )
        target = self._run(
            AEPCreateTargetConnectionOperator,
            "create_target_connection",
            name=f"{p} {t} target",
            dataset_id=dataset,
            schema_id=schema,
            **target_kwargs,
        )
        mapping = self._run(
            AEPCreateMappingSetOperator,
            "create_mapping_set",
            name=f"{p} {t} mapping",
            schema_id=schema,
            mapping=ACCOUNT_MAPPING,
        )
        flow_spec = self._run(
            AEPGetFlowSpecOperator,
            "get_flow_spec",
            flow_spec_name="CRMToAEP",
            source_connection_spec_id=SSC_SPEC,
        )
        on_demand = self.variant == "on_demand"
        flow = self._run(
            AEPCreateDataflowOperator,
            "create_dataflow",
            name=f"{p} {t} dataflow",
            flow_spec_id=flow_spec,
            source_connection_id=source,
            target_connection_id=target,
            mapping_id=mapping,
            mapping_version=self.xcoms["create_mapping_set"][xcom_keys.MAPPING_VERSION],
            delta_column="LastModifiedDate",
            delta_date_format="yyyy-MM-dd HH:mm:ss",
            delta_timezone="UTC",
            frequency="once" if on_demand else "hour",
            interval=None if on_demand else 1,
            backfill=None if on_demand else True,
            start_time=None,
        )
        if not wait:
            return self.ids
        if on_demand:
            self._run(
                AEPRunFlowOperator,
                "run_flow",
                flow_id=flow,
                window_start=WINDOW_START,
                window_end=WINDOW_END,
                deferrable=True,
                poll_interval=POLL,
                timeout=60,
            )
        else:
            self._run(
                AEPFlowRunSensor,
                "wait_for_first_run",
                flow_id=flow,
                started_after=FLOW_FIRST_RUN,
                deferrable=True,
                poke_interval=POLL,
                timeout=60,
            )
        return self.ids

    @property
    def dataset_id(self) -> str | None:
        return self.ids.get("create_dataset")
