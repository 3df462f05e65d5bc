"""# Every selected Salesforce table into AEP, each with an XDM schema generated from its columns

Customer-success orgs have hundreds of Salesforce objects and most of their columns have no home
in a standard XDM field group. This DAG discovers the tables behind one base connection and
ingests each of them through its own task group (one mapped group, one entry per table):

```
base connection -> list tables -> plan -> per table (mapped task group "ingest_table"):
    source connection -> field group (the table's columns under _{tenant}) -> schema
    -> [identity descriptor -> schema enabled for Profile] -> dataset -> target connection
    -> mapping set (generated column for column) -> dataflow -> first run done
```

Resource names derive from `name_prefix` and the table's API name, so a rerun creates nothing
and two runs at once end with one of each resource. Against the emulator
(`aep-demo aep_salesforce_all_tables`) the default selection is the emulator's Salesforce sample tables.
Each wait polls its first run every 30 s (AEP runs take minutes); against the emulator
`AEP_EMULATOR_POLL_SECONDS` makes it poll faster.

## Params

- `aep_conn_id` / `sandbox_name`: the AEP connection and sandbox (none: the connection's).
- `source_conn_id`: the Salesforce connection.
- `name_prefix`: prefix of every resource name.
- `include` / `exclude`: table patterns (globs on the API name or label; `re:` for a regex);
  no include means every table.
- `profile`: make the data Profile-ready: a primary identity on each table's `identity_column`
  (from `overrides`), schemas enabled for Profile (irreversible in AEP) and datasets tagged for
  Profile and Identity. A selected table without an identity column fails the plan task, before
  any of its resources is written.
- `overrides`: per-table settings, `{table: {key: value}}`: `identity_column`,
  `identity_namespace` (default CRMID), `mapping` (`{column: XDM path or null}` over the
  generated mapping), `delta_column`, `frequency`, `interval`, `start_time`.
- `frequency` / `interval`: every dataflow's schedule (unless overridden per table).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from airflow_provider_aep.ingestion import IngestionSettings, ingest_tables
from airflow_provider_aep.operators.discovery import AEPListSourceTablesOperator
from airflow_provider_aep.params import aep_connection_params, aep_default_args

#: Every Salesforce object has an ``Id``: the identity of the sample tables (namespace CRMID).
SAMPLE_TABLES = ("Account", "Case", "Contact", "Invoice__c", "Lead", "Opportunity")
DEFAULT_OVERRIDES = {table: {"identity_column": "Id"} for table in SAMPLE_TABLES}
#: Seconds between polls of each first run (AEP runs take minutes). Emulator-only speed-up: the
#: waits read AEP_EMULATOR_POLL_SECONDS at run time against a loopback AEP (demo and tests set it).
POLL_SECONDS = 30.0

SETTINGS = IngestionSettings(
    name_prefix="{{ params.name_prefix }}",
    source_conn_id="{{ params.source_conn_id }}",
    source="salesforce_service_cloud",
    schema_mode="generated",
    profile="{{ params.profile }}",
    identity_namespace="CRMID",
    frequency="{{ params.frequency }}",
    interval="{{ params.interval }}",
    aep_conn_id="{{ params.aep_conn_id }}",
    sandbox_name="{{ params.sandbox_name }}",
    poll_interval=POLL_SECONDS,
    description="Managed by Airflow (aep_salesforce_all_tables): edits in AEP are converged back",
)

with DAG(
    dag_id="aep_salesforce_all_tables",
    description="Every selected Salesforce table -> its own generated XDM schema and AEP dataset",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["aep", "example", "salesforce", "factory"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    default_args=aep_default_args(),
    params={
        **aep_connection_params(),
        "source_conn_id": Param(
            "salesforce_service_cloud_default",
            type="string",
            title="Salesforce connection",
            description="Airflow connection holding the Salesforce credentials",
        ),
        "name_prefix": Param(
            "airflow-aep sfdc",
            type="string",
            minLength=1,
            maxLength=60,
            title="Name prefix",
            description="Prefix of every AEP resource name (names identify resources for reuse)",
        ),
        "include": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            title="Include tables",
            description='Table patterns to ingest, e.g. ["Account", "Contact", "re:^Case.*"] (null: all)',
        ),
        "exclude": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            title="Exclude tables",
            description='Table patterns to skip, e.g. ["*History", "*Share"]',
        ),
        "profile": Param(
            False,
            type="boolean",
            title="Profile-ready",
            description="Identity descriptor + union schema + Profile-enabled dataset per table "
            "(needs an identity_column per table in overrides; enabling a schema is irreversible in AEP)",
        ),
        "overrides": Param(
            DEFAULT_OVERRIDES,
            type="object",
            additionalProperties={"type": "object"},
            title="Per-table overrides",
            description="{table: {identity_column, identity_namespace, mapping, delta_column, frequency, "
            'interval, start_time}}, e.g. {"Contact": {"mapping": {"Email": "personalEmail.address"}}}',
        ),
        "frequency": Param(
            "hour", enum=["minute", "hour", "day", "week"], title="Schedule", description="Dataflow schedule"
        ),
        "interval": Param(1, type="integer", minimum=1, title="Interval", description="Schedule interval"),
    },
) as dag:
    base_connection = SETTINGS.base_connection()
    tables = AEPListSourceTablesOperator(
        task_id="list_tables",
        base_connection_id=base_connection.output,
        include="{{ params.include }}",
        exclude="{{ params.exclude }}",
    )
    ingest_tables(SETTINGS, base_connection, tables.output, overrides="{{ params.overrides }}")
