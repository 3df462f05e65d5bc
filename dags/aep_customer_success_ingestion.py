"""Ingest Salesforce Service Cloud ``Account`` rows into Adobe Experience Platform (current workflow).

The customer-success tutorial, end to end, as one DAG::

    base connection ─► source connection (tabular) ─────────────────────┐
    target schema ─┬─► dataset ─► target connection ────────────────────┤
                   └─► mapping set ─────────────────────────────────────┼─► dataflow ─► first run done
    flow spec "CRMToAEP" ───────────────────────────────────────────────┘

Independent steps run in parallel; every id travels through XCom. Each create step reuses a
resource of the same name, so running the DAG again creates nothing new. The dataflow runs hourly
in AEP from its start time (the ``start_time`` param, or now when the flow is created); the sensor
waits, deferred in the triggerer, for its first run (the initial backfill) to finish, then adds an
asset event for the AEP dataset through the alias ``aep-dataset:salesforce-accounts``.

Setting the ``teardown`` param deletes what the run created (mapping sets have no DELETE in AEP).

Settings come from ``params`` (override them when triggering):

* ``aep_conn_id`` / ``sandbox_name``: the AEP connection and sandbox (None: the connection's).
* ``source_conn_id``: the Salesforce connection (host = environment URL; login/password = OAuth2
  client id/secret, or username/password with ``{"auth_type": "basic", "security_token": ...}``).
* ``table_name``: the Salesforce object (the mapping below is for ``Account``).
* ``name_prefix``: prefix of every resource name (names identify resources for reuse).

Day 2: re-trigger with other values and every resource converges in place (same ids, run
history and watermark kept), or the run fails before any write when AEP forbids the change:

* ``frequency`` / ``interval``: the dataflow's schedule (PATCHed in place).
* ``extra_mapping``: ``{source column: XDM path}`` added to the mapping, e.g.
  ``{"BillingCity": "homeAddress.city"}``: a new mapping-set version, and the flow moves to it.
* ``start_time``: the flow's start (``null``: now, when the flow is created); locked once passed.
* ``if_exists``: ``converge`` (default), ``reuse`` (log drift only), ``fail`` or ``replace``.
* ``plan_only``: only show what the run would change (GETs only; see the task logs and the
  ``aep_plan`` XComs, or ``python -m airflow_provider_aep.plan``).
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

SALESFORCE_SERVICE_CLOUD_SPEC_ID = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
FIELD_GROUPS = [
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
]
#: Salesforce ``Account`` column -> XDM path of the target schema.
ACCOUNT_MAPPING = {
    "Id": "_id",
    "Name": "person.name.fullName",
    "Phone": "mobilePhone.number",
    "CreatedDate": "_repo.createDate",
}
#: Each successful run adds an asset event for the AEP dataset through this alias; DAGs scheduled
#: on ``AssetAlias(ACCOUNTS_ALIAS)`` (``aep_profile_export_after_accounts``) run once per ingestion.
ACCOUNTS_ALIAS = "aep-dataset:salesforce-accounts"
#: Runs of a flow start at its scheduled start time or later, so "the first run started after the
#: epoch" is the flow's first run, also when the flow is reused by a later DAG run.
FLOW_FIRST_RUN = "1970-01-01T00:00:00Z"

#: Every task of a run talks to the same AEP connection and sandbox, taken from the run's params.
#: A create step whose POST failed without committing is retried by Airflow; the retry finds
#: nothing by name (or the committed resource) and finishes without a duplicate.
DEFAULT_ARGS = {
    "aep_conn_id": "{{ params.aep_conn_id }}",
    "sandbox_name": "{{ params.sandbox_name }}",
    "retries": 2,
    "retry_delay": datetime.timedelta(seconds=20),
    "if_exists": "{{ params.if_exists }}",
}
AEP_PARAMS = {
    "aep_conn_id": Param("aep_default", type="string", description="AEP connection id"),
    "sandbox_name": Param(
        None, type=["null", "string"], description="AEP sandbox (default: the connection's)"
    ),
}


with DAG(
    dag_id="aep_customer_success_ingestion",
    description="Salesforce Service Cloud Account -> AEP dataset through a Flow Service dataflow",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    # Defence in depth: two runs of this DAG at once would race to create the same resources
    # (the operators converge such twins on one, but a flow's twin may already have started a run).
    max_active_runs=1,
    tags=["aep", "example", "salesforce"],
    doc_md=__doc__,
    # Templates render to Python objects: the mapping stays a dict, the interval an int and a null
    # start_time None (which the dataflow operator reads as "now" and never compares on a rerun).
    render_template_as_native_obj=True,
    default_args=DEFAULT_ARGS,
    params={
        **AEP_PARAMS,
        "source_conn_id": Param(
            "salesforce_service_cloud_default", type="string", description="Salesforce connection id"
        ),
        "table_name": Param("Account", type="string", description="Salesforce object to ingest"),
        "name_prefix": Param("airflow-aep-demo ssc", type="string", minLength=1, maxLength=60),
        "teardown": Param(False, type="boolean", description="Delete the created resources at the end"),
        "frequency": Param("hour", enum=["minute", "hour", "day", "week"], description="Flow schedule"),
        "interval": Param(1, type="integer", minimum=1, description="Schedule interval"),
        "extra_mapping": Param(
            {},
            type="object",
            additionalProperties={"type": "string"},
            description='More {source column: XDM path}, e.g. {"BillingCity": "homeAddress.city"}',
        ),
        "start_time": Param(
            None, type=["null", "string"], description="Flow start (ISO); null: now, at creation"
        ),
        "if_exists": Param("converge", enum=["converge", "reuse", "fail", "replace"]),
        "plan_only": Param(False, type="boolean", description="Only show what would change"),
    },
    user_defined_macros={"account_mapping": ACCOUNT_MAPPING, "merged": lambda a, b: {**a, **(b or {})}},
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
        mapping="{{ merged(account_mapping, params.extra_mapping) }}",
    )
    flow_spec = AEPGetFlowSpecOperator(
        task_id="get_flow_spec",
        flow_spec_name="CRMToAEP",
        source_connection_spec_id=SALESFORCE_SERVICE_CLOUD_SPEC_ID,
    )
    dataflow = AEPCreateDataflowOperator(
        task_id="create_dataflow",
        name="{{ params.name_prefix }} {{ params.table_name }} dataflow",
        flow_spec_id=flow_spec.output,
        source_connection_id=source_connection.output,
        target_connection_id=target_connection.output,
        mapping_id=mapping_set.output,
        mapping_version=XComArg(mapping_set, key="mapping_version"),
        delta_column="LastModifiedDate",
        delta_date_format="yyyy-MM-dd HH:mm:ss",
        delta_timezone="UTC",
        frequency="{{ params.frequency }}",
        interval="{{ params.interval }}",
        start_time="{{ params.start_time }}",
        description="Managed by Airflow (aep_customer_success_ingestion): edits in AEP are converged back",
        backfill=True,
    )
    first_run = AEPFlowRunSensor(
        task_id="wait_for_first_run",
        flow_id=dataflow.output,
        started_after=FLOW_FIRST_RUN,
        deferrable=True,
        poke_interval=5,
        timeout=3600,
        dataset_alias=ACCOUNTS_ALIAS,
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
