"""Ingest Generic OData `Orders` into Adobe Experience Platform (the protocols tutorial).

Same shape as the customer-success DAG, for a protocols source read anonymously from an OData
service root URL:

```text
base connection ──► source connection ──────┐
target schema ─┬──► dataset ──► target conn ┤
               └──► mapping set ────────────┤
flow spec "CRMToAEP" ───────────────────────┤
                                            ▼
                   dataflow ──► wait for first run
```

Differences from the (machine-translated) tutorial, which had several slips:

- the source uses `data.format = tabular` (`parquet_xdm` is a target format);
- each order column is mapped to its own XDM field (the tutorial wrote three columns into `_id`);
- the target connection uses the Data Lake connection spec;
- the flow uses the mapping id just created (XCom, not a copied literal);
- the delta column is the real `ModifiedDate` column with OData's `yyyy-MM-ddTHH:mm:ssZ` format.

The flow runs every 30 minutes (`minute` schedules need an interval of at least 15).

### Params (trigger form)

- `aep_conn_id` / `sandbox_name`: the AEP connection and sandbox (empty sandbox: the connection's).
- `source_conn_id`: the OData connection (host = the service root URL; no credentials).
- `table_name`: the OData entity set (the mapping is for `Orders`).
- `name_prefix`: prefix of every resource name (names identify resources for reuse).
- `teardown`: delete what the run created (mapping sets cannot be deleted in AEP).

The sensor checks the run every 30 s (AEP is rate-limited); against the local emulator,
`AEP_EMULATOR_POLL_SECONDS` makes it poll faster.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_aep import params as aep_params
from airflow_provider_aep.constants import DEFAULT_FIELD_GROUPS, PROFILE_CLASS
from airflow_provider_aep.ingestion import IngestionSettings, ingest_table
from airflow_provider_aep.operators.delete import delete_ingestion_on_teardown
from airflow_provider_aep.sources import GENERIC_ODATA as SOURCE

#: `Orders` column -> XDM path of the target schema.
ORDERS_MAPPING = {
    "OrderID": "_id",
    "CustomerID": "personID",
    "ShipCity": "homeAddress.city",
    "OrderDate": "_repo.createDate",
}

#: The chain of every table: names from `name_prefix`, templates rendered from the run's params.
SETTINGS = IngestionSettings(
    name_prefix="{{ params.name_prefix }}",
    source_conn_id="{{ params.source_conn_id }}",
    source=SOURCE.key,
    class_id=PROFILE_CLASS,
    field_groups=DEFAULT_FIELD_GROUPS,
    mapping=ORDERS_MAPPING,
    frequency="minute",
    interval=30,
    start_time="{{ dag_run.data_interval_start }}",
    # The schema's name since the first release of this DAG (a new name would make a new schema).
    name_formats={"schema": "{prefix} {table} profile schema"},
)

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
    default_args=aep_params.aep_default_args(),
    params={
        **aep_params.aep_connection_params(),
        **aep_params.source_params(
            SOURCE,
            source_conn_id="odata_default",
            connection_help="host = the OData service root URL (read anonymously).",
            name_prefix="airflow-aep-demo odata",
            table_help="The mapping is for Orders.",
        ),
        **aep_params.teardown_param(),
    },
) as dag:
    base_connection = SETTINGS.base_connection()
    # The diagram's chain for one table; prefix_group_id=False keeps the bare task ids (create_dataset...).
    ingest_table(SETTINGS, base_connection, "{{ params.table_name }}", prefix_group_id=False)
    delete_ingestion_on_teardown(dag, after="wait_for_first_run")  # only with params.teardown
