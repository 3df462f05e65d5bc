"""Test-only DAG of the distributed real-engine test: one mapped create task per table and segment.

A team that ingests several Salesforce objects for several business segments creates one source
connection and one dataset per (table, segment) with ``.partial().expand()``: the mapped tasks run
in parallel on every worker, and two runs of this DAG at once ensure the same named resources at
the same time (each must still exist exactly once).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator

SALESFORCE_SERVICE_CLOUD_SPEC_ID = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
TABLES = ("Account", "Contact", "Case")
SEGMENTS = ("emea", "amer")
#: (table, segment) pairs: one mapped task instance each.
ITEMS = [(table, segment) for table in TABLES for segment in SEGMENTS]
PREFIX = "{{ params.name_prefix }}"

with DAG(
    dag_id="aep_e2e_many_tables",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": datetime.timedelta(seconds=2)},
    params={"name_prefix": Param("e2e many", type="string", minLength=1, maxLength=60)},
):
    base_connection = AEPCreateBaseConnectionOperator(
        task_id="create_base_connection",
        name=f"{PREFIX} base connection",
        source="salesforce_service_cloud",
        source_conn_id="salesforce_service_cloud_default",
    )
    schema = AEPCreateSchemaOperator(
        task_id="create_target_schema",
        title=f"{PREFIX} profile schema",
        class_id="https://ns.adobe.com/xdm/context/profile",
        field_groups=["https://ns.adobe.com/xdm/context/profile-person-details"],
    )
    AEPCreateSourceConnectionOperator.partial(
        task_id="create_source_connection",
        base_connection_id=base_connection.output,
        connection_spec_id=SALESFORCE_SERVICE_CLOUD_SPEC_ID,
        columns=["Id", "CreatedDate", "LastModifiedDate"],  # columns every table has
        data_format="tabular",
    ).expand_kwargs(
        [{"name": f"{PREFIX} {table} {segment} source", "table_name": table} for table, segment in ITEMS]
    )
    AEPCreateDatasetOperator.partial(task_id="create_dataset", schema_id=schema.output).expand(
        name=[f"{PREFIX} {table} {segment} dataset" for table, segment in ITEMS]
    )
