"""Ingest Generic OData ``Orders`` into Adobe Experience Platform (the protocols tutorial).

Same shape as the customer-success DAG, for a protocols source read anonymously from an OData
service root URL::

    base connection ─► source connection (tabular) ─────────────────────┐
    target schema ─┬─► dataset ─► target connection ────────────────────┤
                   └─► mapping set ─────────────────────────────────────┼─► dataflow ─► first run done
    flow spec "CRMToAEP" ───────────────────────────────────────────────┘

Differences from the (machine-translated) tutorial, which had several slips: the source uses
``data.format = tabular`` (``parquet_xdm`` is a target format); each order column is mapped to its
own XDM field (the tutorial wrote three columns into ``_id``); the target connection uses the
Data Lake connection spec; the flow uses the mapping id just created (XCom, not a copied literal);
the delta column is the real ``ModifiedDate`` column with OData's ``yyyy-MM-ddTHH:mm:ssZ`` format.
The flow runs every 30 minutes (``minute`` schedules need an interval of at least 15).

Settings come from ``params``; the AEP connection id and sandbox are the constants below.
``teardown`` deletes what the run created (mapping sets cannot be deleted in AEP).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param, XComArg

from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
    AEPCreateTargetConnectionOperator,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.delete import delete_on_teardown
from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator, AEPGetFlowSpecOperator
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor

GENERIC_ODATA_SPEC_ID = "8e6b41a8-d998-4545-ad7d-c6a9fff406c3"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
FIELD_GROUPS = [
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
]
#: ``Orders`` column -> XDM path of the target schema.
ORDERS_MAPPING = {
    "OrderID": "_id",
    "CustomerID": "personID",
    "ShipCity": "homeAddress.city",
    "OrderDate": "_repo.createDate",
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
    dag_id="aep_protocols_odata_ingestion",
    description="Generic OData Orders -> AEP dataset through a Flow Service dataflow",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    # Defence in depth: two runs of this DAG at once would race to create the same resources
    # (the operators converge such twins on one, but a flow's twin may already have started a run).
    max_active_runs=1,
    tags=["aep", "example", "odata"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    default_args=DEFAULT_ARGS,
    params={
        **AEP_PARAMS,
        "source_conn_id": Param("odata_default", type="string", description="OData connection (host=URL)"),
        "table_name": Param("Orders", type="string", description="OData entity set to ingest"),
        "name_prefix": Param("airflow-aep-demo odata", type="string", minLength=1, maxLength=60),
        "teardown": Param(False, type="boolean", description="Delete the created resources at the end"),
    },
) as dag:
    base_connection = AEPCreateBaseConnectionOperator(
        task_id="create_base_connection",
        name="{{ params.name_prefix }} base connection",
        source="generic_odata",
        source_conn_id="{{ params.source_conn_id }}",
    )
    source_connection = AEPCreateSourceConnectionOperator(
        task_id="create_source_connection",
        name="{{ params.name_prefix }} {{ params.table_name }} source",
        base_connection_id=base_connection.output,
        connection_spec_id=GENERIC_ODATA_SPEC_ID,
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
        mapping=ORDERS_MAPPING,
    )
    flow_spec = AEPGetFlowSpecOperator(
        task_id="get_flow_spec",
        flow_spec_name="CRMToAEP",
        source_connection_spec_id=GENERIC_ODATA_SPEC_ID,
    )
    dataflow = AEPCreateDataflowOperator(
        task_id="create_dataflow",
        name="{{ params.name_prefix }} {{ params.table_name }} dataflow",
        flow_spec_id=flow_spec.output,
        source_connection_id=source_connection.output,
        target_connection_id=target_connection.output,
        mapping_id=mapping_set.output,
        mapping_version=XComArg(mapping_set, key="mapping_version"),
        delta_column="ModifiedDate",
        delta_date_format="yyyy-MM-ddTHH:mm:ssZ",
        delta_timezone="UTC",
        frequency="minute",
        interval=30,
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
    delete_dataset = delete_on_teardown(dataset, "dataset", task_id="delete_dataset")
    delete_schema = delete_on_teardown(schema, "schema", task_id="delete_target_schema")

    first_run >> delete_flow >> [delete_source, delete_target]
    delete_source >> delete_base
    delete_target >> delete_dataset >> delete_schema
