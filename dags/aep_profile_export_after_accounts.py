"""Profile export after the Salesforce accounts landed in AEP: a DAG scheduled on an AEP dataset.

`aep_customer_success_ingestion` waits for its dataflow's run with `dataset_alias=ACCOUNTS`.
When the run succeeds, the sensor adds an asset event for the AEP dataset it wrote
(`aep://<org>/<sandbox>/datasets/<id>`) through that alias, with the run summary (run id,
records read/written/failed) as the event's extra.

This DAG is scheduled on the alias, so it runs once per successful ingestion:

- without knowing the dataset id (AEP assigns it at run time);
- without a sensor holding a worker slot.

The export step here only reads what landed from the triggering events; put the real export (a
destination flow, a query, a file) in its place.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.sdk import DAG, AssetAlias, task

#: The alias `aep_customer_success_ingestion` emits through (its sensor's `dataset_alias`).
ACCOUNTS = "aep-dataset:salesforce-accounts"

with DAG(
    dag_id="aep_profile_export_after_accounts",
    description="Runs each time Salesforce accounts land in AEP (asset event through an alias)",
    schedule=AssetAlias(ACCOUNTS),
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    tags=["aep", "example", "assets"],
    doc_md=__doc__,
) as dag:

    @task(inlets=[AssetAlias(ACCOUNTS)])
    def export_profiles(*, triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Summarise the ingestions that triggered this run (one line per AEP flow run)."""
        landed = []
        # Keyed by what the DAG is scheduled on (the alias); each event names its concrete asset.
        for events in (triggering_asset_events or {}).values():
            for event in events:
                extra = dict(event.extra or {})
                landed.append({"uri": event.asset.uri, **extra})
                print(
                    f"AEP dataset {event.asset.uri}: run {extra.get('run_id')} wrote "
                    f"{extra.get('records_written')} records; exporting profiles"
                )
        return landed

    export_profiles()
