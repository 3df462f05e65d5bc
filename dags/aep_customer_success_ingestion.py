"""Ingest Salesforce Service Cloud `Account` rows into Adobe Experience Platform (current workflow).

The customer-success tutorial, end to end, as one DAG:

```text
base connection ──► source connection ──────┐
target schema ─┬──► dataset ──► target conn ┤
               └──► mapping set ────────────┤
flow spec "CRMToAEP" ───────────────────────┤
                                            ▼
                   dataflow ──► wait for first run
```

Independent steps run in parallel; every id travels through XCom. Each create step reuses a
resource of the same name, so running the DAG again creates nothing new. The dataflow runs hourly
in AEP from its start time (the **Flow start** param, or now when the flow is created). The sensor
waits, deferred in the triggerer, for its first run (the initial backfill) to finish, then adds an
asset event for the AEP dataset through the alias `aep-dataset:salesforce-accounts`, which
schedules `aep_profile_export_after_accounts`.

### Params (trigger form)

- `aep_conn_id` / `sandbox_name`: the AEP connection and sandbox (empty sandbox: the connection's).
- `source_conn_id`: the Salesforce connection: host = environment URL; login/password = OAuth2
  client id/secret, or username/password with `{"auth_type": "basic", "security_token": ...}`.
- `table_name`: the Salesforce object (the mapping is for `Account`).
- `name_prefix`: prefix of every resource name (names identify resources for reuse).
- `teardown`: delete what the run created (mapping sets have no DELETE in AEP).

### Day 2

Trigger again with other values and every resource converges in place (same ids, run history and
watermark kept), or the run fails before any write when AEP forbids the change:

- `frequency` / `interval`: the dataflow's schedule (PATCHed in place).
- `extra_mapping`: `{source column: XDM path}` added to the mapping, e.g.
  `{"BillingCity": "homeAddress.city"}`: a new mapping-set version, and the flow moves to it.
- `start_time`: the flow's start (`null`: now, when the flow is created); locked once passed.
- `if_exists`: `converge` (default), `reuse` (log drift only), `fail` or `replace`.
- `plan_only`: only show what the run would change (GETs only; see the task logs and the
  `aep_plan` XComs, or `python -m airflow_provider_aep.plan`).

The sensor checks the run every 30 s (AEP is rate-limited); against the local emulator,
`AEP_EMULATOR_POLL_SECONDS` makes it poll faster.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from airflow_provider_aep import params as aep_params
from airflow_provider_aep.constants import DEFAULT_FIELD_GROUPS, PROFILE_CLASS
from airflow_provider_aep.ingestion import IngestionSettings, ingest_table
from airflow_provider_aep.operators.delete import delete_ingestion_on_teardown
from airflow_provider_aep.sources import SALESFORCE_SERVICE_CLOUD as SOURCE

#: Salesforce `Account` column -> XDM path of the target schema.
ACCOUNT_MAPPING = {
    "Id": "_id",
    "Name": "person.name.fullName",
    "Phone": "mobilePhone.number",
    "CreatedDate": "_repo.createDate",
}
#: Each successful run adds an asset event for the AEP dataset through this alias; DAGs scheduled
#: on `AssetAlias(ACCOUNTS_ALIAS)` (`aep_profile_export_after_accounts`) run once per ingestion.
ACCOUNTS_ALIAS = "aep-dataset:salesforce-accounts"

#: The chain of every table: names from `name_prefix`, templates rendered from the run's params.
SETTINGS = IngestionSettings(
    name_prefix="{{ params.name_prefix }}",
    source_conn_id="{{ params.source_conn_id }}",
    source=SOURCE.key,
    class_id=PROFILE_CLASS,
    field_groups=DEFAULT_FIELD_GROUPS,
    mapping="{{ merged(account_mapping, params.extra_mapping) }}",
    frequency="{{ params.frequency }}",
    interval="{{ params.interval }}",
    start_time="{{ params.start_time }}",
    # The schema's name since the first release of this DAG (a new name would make a new schema).
    name_formats={"schema": "{prefix} {table} profile schema"},
    dataset_alias=ACCOUNTS_ALIAS,
    description="Managed by Airflow (aep_customer_success_ingestion): edits in AEP are converged back",
)

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
    default_args=aep_params.aep_default_args(if_exists_from_params=True),
    params={
        **aep_params.aep_connection_params(),
        **aep_params.source_params(
            SOURCE,
            source_conn_id="salesforce_service_cloud_default",
            connection_help="host = the Salesforce URL, login/password = OAuth2 client id/secret.",
            name_prefix="airflow-aep-demo ssc",
            table_help="The mapping is for Account.",
        ),
        **aep_params.teardown_param(),
        "frequency": Param(
            "hour",
            enum=["minute", "hour", "day", "week"],
            title="Flow schedule: unit",
            description="How often AEP runs the dataflow (with the interval below).",
        ),
        "interval": Param(
            1,
            type="integer",
            minimum=1,
            title="Flow schedule: interval",
            description="Units between runs, e.g. 4 with hour: every 4 hours (minute needs 15 or more).",
        ),
        "extra_mapping": Param(
            {},
            type="object",
            additionalProperties={"type": "string"},
            title="Extra mapping",
            description='More {source column: XDM path}, e.g. {"BillingCity": "homeAddress.city"}.',
        ),
        "start_time": Param(
            None,
            type=["null", "string"],
            title="Flow start",
            description="When the flow starts (ISO 8601, e.g. 2026-06-01T00:00:00Z). Empty: now.",
        ),
        **aep_params.converge_params(),
    },
    user_defined_macros={"account_mapping": ACCOUNT_MAPPING, "merged": lambda a, b: {**a, **(b or {})}},
) as dag:
    base_connection = SETTINGS.base_connection()
    # The diagram's chain for one table; prefix_group_id=False keeps the bare task ids (create_dataset...).
    ingest_table(SETTINGS, base_connection, "{{ params.table_name }}", prefix_group_id=False)
    delete_ingestion_on_teardown(dag, after="wait_for_first_run")  # only with params.teardown
