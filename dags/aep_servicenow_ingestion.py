"""Ingest ServiceNow `sys_user` rows into Adobe Experience Platform (the 2020 "ad-hoc" workflow).

The older revision of the customer-success tutorial, still accepted by AEP: the raw table is
described by an ad-hoc XDM class and schema, the source connection points at it with the table
name (the `table_name` param, sent as the connection's `path`), and the target connection goes
through a "dataset base connection":

```text
ad-hoc schema ───┐
base connection ─┴─► source connection ──────┐
target schema ─┬──► mapping set ─────────────┤
               └──► dataset ──┐              │
dataset base connection ──────┴► target conn ┤
flow spec "CRMToAEP" ────────────────────────┤
                                             ▼
                    dataflow ──► wait for first run
```

Compared with the translated tutorials this DAG fixes their known slips:

- the target connection uses the Data Lake connection spec (not ServiceNow's);
- every id is the one created by the step before (XCom);
- the delta column is a real column (`sys_updated_on`) with the `yyyy-MM-dd HH:mm:ss` format;
- schedule values are integers.

### Params (trigger form)

- `aep_conn_id` / `sandbox_name`: the AEP connection and sandbox (empty sandbox: the connection's).
- `source_conn_id`: the ServiceNow connection (host = instance URL, login/password).
- `table_name`: the ServiceNow table (the ad-hoc schema and the mapping are for `sys_user`).
- `name_prefix`: prefix of every resource name (names identify resources for reuse).
- `teardown`: delete what the run created (mapping sets cannot be deleted in AEP).

The sensor checks the run every 30 s (AEP is rate-limited); against the local emulator,
`AEP_EMULATOR_POLL_SECONDS` makes it poll faster.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, XComArg

from airflow_provider_aep import params as aep_params
from airflow_provider_aep import xcom_keys
from airflow_provider_aep.constants import DEFAULT_FIELD_GROUPS, PROFILE_CLASS
from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
    AEPCreateDatasetBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
    AEPCreateTargetConnectionOperator,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.delete import delete_ingestion_on_teardown, delete_on_teardown
from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator, AEPGetFlowSpecOperator
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
from airflow_provider_aep.operators.schemas import AEPCreateAdHocSchemaOperator, AEPCreateSchemaOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from airflow_provider_aep.sources import SERVICENOW as SOURCE

#: Columns of `sys_user` described by the ad-hoc schema (all columns must be listed).
SYS_USER_FIELDS = {
    "sys_id": "string",
    "user_name": "string",
    "first_name": "string",
    "last_name": "string",
    "email": "string",
    "sys_created_on": "date-time",
    "sys_updated_on": "date-time",
}
#: `sys_user` column -> XDM path of the target schema.
SYS_USER_MAPPING = {
    "sys_id": "_id",
    "first_name": "person.name.firstName",
    "last_name": "person.name.lastName",
    "email": "personalEmail.address",
    "sys_created_on": "_repo.createDate",
}
#: "The first run started after the epoch" is the flow's first run, also for a reused flow.
FLOW_FIRST_RUN = "1970-01-01T00:00:00Z"


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
    default_args=aep_params.aep_default_args(),
    params={
        **aep_params.aep_connection_params(),
        **aep_params.source_params(
            SOURCE,
            source_conn_id="servicenow_default",
            connection_help="host = the ServiceNow instance URL, login/password = a ServiceNow user.",
            name_prefix="airflow-aep-demo snow",
            table_help="The ad-hoc schema and the mapping are for sys_user.",
        ),
        **aep_params.teardown_param(),
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
        source=SOURCE.key,
        source_conn_id="{{ params.source_conn_id }}",
    )
    source_connection = AEPCreateSourceConnectionOperator(
        task_id="create_source_connection",
        name="{{ params.name_prefix }} {{ params.table_name }} source",
        base_connection_id=base_connection.output,
        connection_spec_id=SOURCE.connection_spec_id,
        path="{{ params.table_name }}",
        adhoc_schema_id=adhoc_schema.output,
        data_format="tabular",
    )
    schema = AEPCreateSchemaOperator(
        task_id="create_target_schema",
        title="{{ params.name_prefix }} {{ params.table_name }} profile schema",
        class_id=PROFILE_CLASS,
        field_groups=DEFAULT_FIELD_GROUPS,
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
        flow_spec_name=SOURCE.flow_spec_name,
        source_connection_spec_id=SOURCE.connection_spec_id,
    )
    dataflow = AEPCreateDataflowOperator(
        task_id="create_dataflow",
        name="{{ params.name_prefix }} {{ params.table_name }} dataflow",
        flow_spec_id=flow_spec.output,
        source_connection_id=source_connection.output,
        target_connection_id=target_connection.output,
        mapping_id=mapping_set.output,
        mapping_version=XComArg(mapping_set, key=xcom_keys.MAPPING_VERSION),
        delta_column=SOURCE.delta_column,
        delta_date_format=SOURCE.delta_date_format,
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
        # AEP is rate-limited: one status check every 30 s. Emulator-only speed-up: the provider
        # reads AEP_EMULATOR_POLL_SECONDS at run time against a loopback AEP (demo and tests set it).
        poke_interval=30,
        timeout=3600,
    )

    # Optional teardown (params.teardown): the chain's resources in dependency order, then the
    # ad-hoc schema and class after the source connection, the dataset base connection after the
    # target connection.
    deletes = delete_ingestion_on_teardown(dag, after="wait_for_first_run")
    delete_dataset_base = delete_on_teardown(
        dataset_base_connection, "base_connection", task_id="delete_dataset_base_connection"
    )
    delete_adhoc_schema = delete_on_teardown(adhoc_schema, "schema", task_id="delete_adhoc_schema")
    delete_adhoc_class = delete_on_teardown(
        adhoc_schema,
        "class",
        task_id="delete_adhoc_class",
        resource_id=XComArg(adhoc_schema, key=xcom_keys.CLASS_ID),
    )
    deletes["delete_source_connection"] >> delete_adhoc_schema >> delete_adhoc_class
    deletes["delete_target_connection"] >> delete_dataset_base
