"""Ingest ServiceNow ``sys_user`` rows into Adobe Experience Platform (the 2020 "ad-hoc" workflow).

The older revision of the customer-success tutorial, still accepted by AEP: the raw table is
described by an ad-hoc XDM class and schema, the source connection points at it with
``params.path``, and the target connection goes through a "dataset base connection"::

    ad-hoc schema ───────────┐
    base connection ─────────┴─► source connection (path + ad-hoc schema) ─┐
    target schema ─┬─► dataset ─┐                                          │
    dataset base connection ────┴─► target connection ─────────────────────┤
                   └─► mapping set ────────────────────────────────────────┼─► dataflow ─► first run
    flow spec "CRMToAEP" ──────────────────────────────────────────────────┘

Compared with the translated tutorials this DAG fixes their known slips: the target connection
uses the Data Lake connection spec (not ServiceNow's), every id is the one created by the step
before (XCom), the delta column is a real column (``sys_updated_on``) with the
``yyyy-MM-dd HH:mm:ss`` format, and schedule values are integers.

Settings come from ``params``; the AEP connection id and sandbox are the constants below.
``teardown`` deletes what the run created (mapping sets cannot be deleted in AEP).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param, XComArg

from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
    AEPCreateDatasetBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
    AEPCreateTargetConnectionOperator,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.delete import delete_on_teardown
from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator, AEPGetFlowSpecOperator
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
from airflow_provider_aep.operators.schemas import AEPCreateAdHocSchemaOperator, AEPCreateSchemaOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

SERVICENOW_SPEC_ID = "eb13cb25-47ab-407f-ba89-c0125281c563"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
FIELD_GROUPS = [
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
]
#: Columns of ``sys_user`` described by the ad-hoc schema (all columns must be listed).
SYS_USER_FIELDS = {
    "sys_id": "string",
    "user_name": "string",
    "first_name": "string",
    "last_name": "string",
    "email": "string",
    "sys_created_on": "date-time",
    "sys_updated_on": "date-time",
}
#: ``sys_user`` column -> XDM path of the target schema.
SYS_USER_MAPPING = {
    "sys_id": "_id",
    "first_name": "person.name.firstName",
    "last_name": "person.name.lastName",
    "email": "personalEmail.address",
    "sys_created_on": "_repo.createDate",
}
#: "The first run started after the epoch" is the flow's first run, also for a reused flow.
FLOW_FIRST_RUN = "1970-01-01T00:00:00Z"

#: Every task of a run talks to the same AEP connection and sandbox, taken from the run's params.
#: A create step whose POST failed without committing is retried by Airflow; the retry finds
#: nothing by name (or the committed resource) and finishes without a duplicate.
DEFAULT_ARGS = {
    "aep_conn_id": "{{ params.aep_conn_id }}",
    "sandbox_name": "{{ params.sandbox_name }}",
    "retries": 2,
    "retry_delay": datetime.timedelta(seconds=20),
}
AEP_PARAMS = {
    "aep_conn_id": Param("aep_default", type="string", description="AEP connection id"),
    "sandbox_name": Param(
        None, type=["null", "string"], description="AEP sandbox (default: the connection's)"
    ),
}


with DAG(
    dag_id="aep_servicenow_ingestion",
    description="ServiceNow sys_user -> AEP through an ad-hoc schema and a dataset base connection",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    # Defence in depth: two runs of this DAG at once would race to create the same resources
    # (the operators converge such twins on one, but a flow's twin may already have started a run).
    max_active_runs=1,
    tags=["aep", "example", "servicenow", "legacy"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    default_args=DEFAULT_ARGS,
    params={
        **AEP_PARAMS,
        "source_conn_id": Param("servicenow_default", type="string", description="ServiceNow connection"),
        "table_name": Param("sys_user", type="string", description="ServiceNow table to ingest"),
        "name_prefix": Param("airflow-aep-demo snow", type="string", minLength=1, maxLength=60),
        "teardown": Param(False, type="boolean", description="Delete the created resources at the end"),
    },
) as dag:
    adhoc_schema = AEPCreateAdHocSchemaOperator(
        task_id="create_adhoc_schema",
        title="{{ params.name_prefix }} {{ params.table_name }} ad-hoc",
        fields=SYS_USER_FIELDS,
    )
    base_connection = AEPCreateBaseConnectionOperator(
        task_id="create_base_connection",
        name="{{ params.name_prefix }} base connection",
        source="servicenow",
        source_conn_id="{{ params.source_conn_id }}",
    )
    source_connection = AEPCreateSourceConnectionOperator(
        task_id="create_source_connection",
        name="{{ params.name_prefix }} {{ params.table_name }} source",
        base_connection_id=base_connection.output,
        connection_spec_id=SERVICENOW_SPEC_ID,
        path="{{ params.table_name }}",
        adhoc_schema_id=adhoc_schema.output,
        data_format="tabular",
    )
    schema = AEPCreateSchemaOperator(
        task_id="create_target_schema",
        title="{{ params.name_prefix }} {{ params.table_name }} profile schema",
        class_id=PROFILE_CLASS,
        field_groups=FIELD_GROUPS,
    )
    dataset = AEPCreateDatasetOperator(
        task_id="create_dataset",
        name="{{ params.name_prefix }} {{ params.table_name }} dataset",
        schema_id=schema.output,
    )
    dataset_base_connection = AEPCreateDatasetBaseConnectionOperator(
        task_id="create_dataset_base_connection",
        name="{{ params.name_prefix }} dataset base connection",
    )
    target_connection = AEPCreateTargetConnectionOperator(
        task_id="create_target_connection",
        name="{{ params.name_prefix }} {{ params.table_name }} target",
        dataset_id=dataset.output,
        schema_id=schema.output,
        base_connection_id=dataset_base_connection.output,
    )
    mapping_set = AEPCreateMappingSetOperator(
        task_id="create_mapping_set",
        name="{{ params.name_prefix }} {{ params.table_name }} mapping",
        schema_id=schema.output,
        mapping=SYS_USER_MAPPING,
    )
    flow_spec = AEPGetFlowSpecOperator(
        task_id="get_flow_spec",
        flow_spec_name="CRMToAEP",
        source_connection_spec_id=SERVICENOW_SPEC_ID,
    )
    dataflow = AEPCreateDataflowOperator(
        task_id="create_dataflow",
        name="{{ params.name_prefix }} {{ params.table_name }} dataflow",
        flow_spec_id=flow_spec.output,
        source_connection_id=source_connection.output,
        target_connection_id=target_connection.output,
        mapping_id=mapping_set.output,
        mapping_version=XComArg(mapping_set, key="mapping_version"),
        delta_column="sys_updated_on",
        delta_date_format="yyyy-MM-dd HH:mm:ss",
        delta_timezone="UTC",
        frequency="day",
        interval=1,
        start_time="{{ dag_run.data_interval_start }}",
        backfill=True,
    )
    first_run = AEPFlowRunSensor(
        task_id="wait_for_first_run",
        flow_id=dataflow.output,
        started_after=FLOW_FIRST_RUN,
        deferrable=True,
        poke_interval=5,
        timeout=3600,
    )

    # ------------------------------------------------- optional teardown (params.teardown)
    delete_flow = delete_on_teardown(dataflow, "flow", task_id="delete_dataflow")
    delete_source = delete_on_teardown(
        source_connection, "source_connection", task_id="delete_source_connection"
    )
    delete_target = delete_on_teardown(
        target_connection, "target_connection", task_id="delete_target_connection"
    )
    delete_base = delete_on_teardown(base_connection, "base_connection", task_id="delete_base_connection")
    delete_dataset_base = delete_on_teardown(
        dataset_base_connection, "base_connection", task_id="delete_dataset_base_connection"
    )
    delete_dataset = delete_on_teardown(dataset, "dataset", task_id="delete_dataset")
    delete_schema = delete_on_teardown(schema, "schema", task_id="delete_target_schema")
    delete_adhoc_schema = delete_on_teardown(adhoc_schema, "schema", task_id="delete_adhoc_schema")
    delete_adhoc_class = delete_on_teardown(
        adhoc_schema, "class", task_id="delete_adhoc_class", resource_id=XComArg(adhoc_schema, key="class_id")
    )

    first_run >> delete_flow >> [delete_source, delete_target]
    delete_source >> [delete_base, delete_adhoc_schema]
    delete_adhoc_schema >> delete_adhoc_class
    delete_target >> [delete_dataset_base, delete_dataset]
    delete_dataset >> delete_schema
