"""On-demand AEP ingestion: Airflow's schedule drives a `once` dataflow, one run per data interval.

Instead of letting AEP schedule the flow, the flow is created with `frequency: once` and every
Airflow DAG run starts one on-demand run (`POST /runs`) for exactly its data interval
`[data_interval_start, data_interval_end)`, then waits for it, deferred in the triggerer. Clearing a
DAG run re-ingests that day only, and a retried or cleared run task re-attaches to the run already
started for the same window instead of starting a duplicate:

```text
base connection ──► source connection ──────┐
target schema ─┬──► dataset ──► target conn ┤
               └──► mapping set ────────────┤
flow spec "CRMToAEP" ───────────────────────┤
                                            ▼
          once-flow ──► run for the data interval
```

The create steps reuse the resources of the first DAG run (same names), so later runs only add a
flow run. `max_active_runs=1` keeps two runs from racing to create the same resource.

### Schedule and catch-up

The DAG runs daily, for the day before (midnight to midnight, UTC). `catchup` is off: **unpausing
it queues one run, for the latest complete day**, not one per day since the start date. To ingest
past days, start a backfill for just those days (*Trigger* → *Backfill* in the UI), or:

```bash
airflow backfill create --dag-id aep_on_demand_ingestion --from-date 2026-01-01 --to-date 2026-01-07
```

Each backfilled day gets its own AEP run for its own window.

### Params (trigger form)

- `aep_conn_id` / `sandbox_name`: the AEP connection and sandbox (empty sandbox: the connection's).
- `source_conn_id`: the Salesforce connection (see `aep_customer_success_ingestion`).
- `table_name`: the Salesforce object (the mapping is for `Contact`).
- `name_prefix`: prefix of every resource name (names identify resources for reuse).
- `teardown`: delete the resources at the end of the run; only for a one-off test run (the next
  scheduled run would create them again).

The run task checks the run every 30 s (AEP is rate-limited); against the local emulator,
`AEP_EMULATOR_POLL_SECONDS` makes it poll faster.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from airflow_provider_aep import params as aep_params
from airflow_provider_aep.constants import DEFAULT_FIELD_GROUPS, PROFILE_CLASS
from airflow_provider_aep.ingestion import IngestionSettings, ingest_table
from airflow_provider_aep.operators.delete import delete_ingestion_on_teardown
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.sources import SALESFORCE_SERVICE_CLOUD as SOURCE

#: Salesforce `Contact` column -> XDM path of the target schema.
CONTACT_MAPPING = {
    "Id": "_id",
    "FirstName": "person.name.firstName",
    "LastName": "person.name.lastName",
    "Email": "personalEmail.address",
    "Phone": "mobilePhone.number",
    "CreatedDate": "_repo.createDate",
}

#: The chain for the table, without a wait: a `once` flow runs only when a DAG run starts it.
SETTINGS = IngestionSettings(
    name_prefix="{{ params.name_prefix }}",
    source_conn_id="{{ params.source_conn_id }}",
    source=SOURCE.key,
    class_id=PROFILE_CLASS,
    field_groups=DEFAULT_FIELD_GROUPS,
    mapping=CONTACT_MAPPING,
    frequency="once",
    interval=None,
    backfill=None,
    wait_for_first_run=False,
    # The names since the first release of this DAG (new names would make new resources).
    name_formats={
        "schema": "{prefix} {table} profile schema",
        "dataflow": "{prefix} {table} on-demand dataflow",
    },
)


with DAG(
    dag_id="aep_on_demand_ingestion",
    description="Salesforce Contact -> AEP, one on-demand flow run per daily data interval",
    # A timetable with real data intervals: each run covers [midnight, next midnight). (Airflow 3's
    # plain "@daily" runs at a point in time, with an empty data interval.)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    # Off: unpausing queues only the latest day (not one run per day since start_date); past days
    # are ingested with a backfill of just those days (see the docs above).
    catchup=False,
    max_active_runs=1,
    tags=["aep", "example", "salesforce", "on-demand"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    default_args=aep_params.aep_default_args(),
    params={
        **aep_params.aep_connection_params(),
        **aep_params.source_params(
            SOURCE,
            source_conn_id="salesforce_service_cloud_default",
            connection_help="host = the Salesforce URL, login/password = OAuth2 client id/secret.",
            name_prefix="airflow-aep-demo on-demand",
            table_name="Contact",
            table_help="The mapping is for Contact.",
        ),
        **aep_params.teardown_param(),
    },
) as dag:
    base_connection = SETTINGS.base_connection()
    # The diagram's chain for one table; prefix_group_id=False keeps the bare task ids (create_dataset...).
    ingest_table(SETTINGS, base_connection, "{{ params.table_name }}", prefix_group_id=False)
    AEPRunFlowOperator(
        task_id="run_flow_for_interval",
        flow_id=dag.get_task("create_dataflow").output,
        window_start="{{ data_interval_start }}",
        window_end="{{ data_interval_end }}",
        wait_for_completion=True,
        deferrable=True,
        # AEP is rate-limited: one status check every 30 s. Emulator-only speed-up: the provider
        # reads AEP_EMULATOR_POLL_SECONDS at run time against a loopback AEP (demo and tests set it).
        poll_interval=30,
        timeout=datetime.timedelta(hours=2),
    )

    # Optional teardown (params.teardown): deletes what the run created, in dependency order.
    delete_ingestion_on_teardown(dag, after="run_flow_for_interval")
