"""The XCom keys the provider's tasks push, beside their ``return_value`` (the resource id).

Pull them by name instead of retyping the string, e.g.
``XComArg(mapping_set, key=xcom_keys.MAPPING_VERSION)`` or
``ti.xcom_pull(task_ids="run_flow", key=xcom_keys.RUN_SUMMARY)``. The values are a public contract:
DAGs written before these constants existed use the same strings, so a value never changes.
This module imports nothing, so a DAG file pays nothing to use it.
"""

from __future__ import annotations

from typing import Final

# Create and discovery operators (operators/).
CONNECTION_SPEC_ID: Final = "connection_spec_id"
"""Base connection tasks: the connection spec id of the source."""
TABLE_NAME: Final = "table_name"
"""Source connection tasks: the table (or path) the source reads."""
COLUMNS: Final = "columns"
"""Source connection tasks: the source's columns (``[{"name": ..., "type": ...}]``), for a mapping set."""
META_ALT_ID: Final = "meta_alt_id"
"""Schema tasks: the schema's ``meta:altId`` (a target connection's ``schema_id``)."""
CLASS_ID: Final = "class_id"
"""Ad hoc schema tasks: the ``$id`` of the class created with the schema (to delete it later)."""
MAPPING_VERSION: Final = "mapping_version"
"""Mapping set tasks: the mapping set's version (a dataflow's ``mapping_version``)."""
FLOW_SPEC_VERSION: Final = "flow_spec_version"
"""Flow spec lookup: the flow spec's version."""
ETAG: Final = "etag"
"""Dataflow tasks: the flow's etag after the task."""
STATE: Final = "state"
"""Flow state task: ``"enabled"`` or ``"disabled"``."""
DELETED: Final = "deleted"
"""Delete task: ``True`` when the task deleted the resource, ``False`` when it was already gone."""
TABLE: Final = "table"
"""Table tasks (columns lookup, table field group): the table's API name or path."""
TENANT_ID: Final = "tenant_id"
"""Table field group task: the tenant id its fields live under (``_<tenant>``)."""
FIELDS: Final = "fields"
"""Table field group task: the fields it holds (``[{"name": ..., "path": ..., "type": ...}]``)."""
MAPPING: Final = "mapping"
"""Table field group task: the generated mapping (source column to XDM path), for a mapping set."""
COUNT: Final = "count"
"""Table listing task: how many tables it selected."""
ALL_TABLES: Final = "all_tables"
"""Table listing task: how many tables the base connection has."""
SOURCE_PROPERTY: Final = "source_property"
"""Identity descriptor task: the XDM path of the identity field."""
NAMESPACE: Final = "namespace"
"""Identity descriptor task: the identity namespace code."""
CHANGED: Final = "changed"
"""Profile enablement tasks: ``True`` when the task changed the schema or dataset, else ``False``."""
PLAN: Final = "aep_plan"
"""Every create task: the plan records (``[{"action": ..., ...}]``) of what it did or would do."""

# Run tasks (operators/runs.py, sensors/flow_run.py).
RUN_ID: Final = "run_id"
"""Run operator: the id of the run it started or adopted (pushed before it waits)."""
RUN_URL: Final = "run_url"
"""Run operator and sensor: the run's page in the AEP UI (the "AEP Flow Run" link)."""
RUN_SUMMARY: Final = "run_summary"
"""Run operator and sensor: the run's outcome (state, record counts, errors) as a dict."""

# UI links (links.py): where the task's resource lives in the AEP UI.
UI_ORG: Final = "aep_ui_org"
"""The org (or tenant) of the UI links; never a secret."""
UI_SANDBOX: Final = "aep_ui_sandbox"
"""The sandbox of the UI links."""

ALL: Final = (
    CONNECTION_SPEC_ID,
    TABLE_NAME,
    COLUMNS,
    META_ALT_ID,
    CLASS_ID,
    MAPPING_VERSION,
    FLOW_SPEC_VERSION,
    ETAG,
    STATE,
    DELETED,
    TABLE,
    TENANT_ID,
    FIELDS,
    MAPPING,
    COUNT,
    ALL_TABLES,
    SOURCE_PROPERTY,
    NAMESPACE,
    CHANGED,
    PLAN,
    RUN_ID,
    RUN_URL,
    RUN_SUMMARY,
    UI_ORG,
    UI_SANDBOX,
)
"""Every key above, for tests and tools that check what a task pushed."""
