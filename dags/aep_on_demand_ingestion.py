"""On-demand AEP ingestion: Airflow's schedule drives a ``once`` dataflow, one run per data interval.

Instead of letting AEP schedule the flow, the flow is created with ``frequency: once`` and every
Airflow DAG run starts one on-demand run (``POST /runs``) for exactly its data interval
``[data_interval_start, data_interval_end)``, then waits for it deferred in the triggerer. With
``catchup`` Airflow backfills day by day from ``start_date``; clearing a DAG run re-ingests that
day only, and a retried or cleared run task re-attaches to the run already started for the same
window instead of starting a duplicate::

    base connection ─► source connection (tabular) ─────────────────────┐
    target schema ─┬─► dataset ─► target connection ────────────────────┤
                   └─► mapping set ─────────────────────────────────────┼─► once-flow ─► run window
    flow spec "CRMToAEP" ───────────────────────────────────────────────┘

The create steps reuse the resources of the first DAG run (same names), so later runs only add a
flow run. ``max_active_runs=1`` keeps two catch-up runs from racing to create the same resource.

Settings come from ``params``; the AEP connection id and sandbox are the constants below.
``teardown`` deletes the resources at the end of a run (only for a one-off test run: the next
scheduled run would recreate them).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param, XComArg
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
    AEPCreateTargetConnectionOperator,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.delete import delete_on_teardown
from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator, AEPGetFlowSpecOperator
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator

SALESFORCE_SERVICE_CLOUD_SPEC_ID = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
FIELD_GROUPS = [
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
]
#: Salesforce ``Contact`` column -> XDM path of the target schema.
CONTACT_MAPPING = {
    "Id": "_id",
    "FirstName": "person.name.firstName",
    "LastName": "person.name.lastName",
    "Email": "personalEmail.address",
    "Phone": "mobilePhone.number",
    "CreatedDate": "_repo.createDate",
}

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
    dag_id="aep_on_demand_ingestion",
    description="Salesforce Contact -> AEP, one on-demand flow run per daily data interval",
    # A timetable with real data intervals: each run covers [midnight, next midnight). (Airflow 3's
    # plain "@daily" runs at a point in time, with an empty data interval.)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=True,
    max_active_runs=1,
    tags=["aep", "example", "salesforce", "on-demand"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    default_args=DEFAULT_ARGS,
    params={
        **AEP_PARAMS,
        "source_conn_id": Param(
            "salesforce_service_cloud_default", type="string", description="Salesforce connection id"
        ),
        "table_name": Param("Contact", type="string", description="Salesforce object to ingest"),
        "name_prefix": Param("airflow-aep-demo on-demand", type="string", minLength=1, maxLength=60),
        "teardown": Param(False, type="boolean", description="Delete the created resources at the end"),
    },
) as dag:
    base_connection = AEPCreateBaseConnectionOperator(
        task_id="create_base_connection",
        name="{{ params.name_prefix }} base connection",
        source="salesforce_service_cloud",
        source_conn_id="{{ params.source_conn_id }}",
    )
    source_connection = AEPCreateSourceConnectionOperator(
        task_id="create_source_connection",
        name="{{ params.name_prefix }} {{ params.table_name }} source",
        base_connection_id=base_connection.output,
        connection_spec_id=SALESFORCE_SERVICE_CLOUD_SPEC_ID,
        table_name="{{ params.table_name }}",
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
    target_connection = AEPCreateTargetConnectionOperator(
        task_id="create_target_connection",
        name="{{ params.name_prefix }} {{ params.table_name }} target",
        dataset_id=dataset.output,
        schema_id=schema.output,
    )
    mapping_set = AEPCreateMappingSetOperator(
        task_id="create_mapping_set",
        name="{{ params.name_prefix }} {{ params.table_name }} mapping",
        schema_id=schema.output,
        mapping=CONTACT_MAPPING,
    )
    flow_spec = AEPGetFlowSpecOperator(
        task_id="get_flow_spec",
        flow_spec_name="CRMToAEP",
        source_connection_spec_id=SALESFORCE_SERVICE_CLOUD_SPEC_ID,
    )
    dataflow = AEPCreateDataflowOperator(
        task_id="create_once_dataflow",
        name="{{ params.name_prefix }} {{ params.table_name }} on-demand dataflow",
        flow_spec_id=flow_spec.output,
        source_connection_id=source_connection.output,
        target_connection_id=target_connection.output,
        mapping_id=mapping_set.output,
        mapping_version=XComArg(mapping_set, key="mapping_version"),
        delta_column="LastModifiedDate",
        delta_date_format="yyyy-MM-dd HH:mm:ss",
        delta_timezone="UTC",
        frequency="once",
    )
    run_window = AEPRunFlowOperator(
        task_id="run_flow_for_interval",
        flow_id=dataflow.output,
        window_start="{{ data_interval_start }}",
        window_end="{{ data_interval_end }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=5,
        timeout=datetime.timedelta(hours=2),
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
    delete_dataset = delete_on_teardown(dataset, "dataset", task_id="delete_dataset")
    delete_schema = delete_on_teardown(schema, "schema", task_id="delete_target_schema")

    run_window >> delete_flow >> [delete_source, delete_target]
    delete_source >> delete_base
    delete_target >> delete_dataset >> delete_schema
