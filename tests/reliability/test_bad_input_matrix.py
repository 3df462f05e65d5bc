"""Bad input: every malformed parameter fails with a message naming it and the fix, and ZERO
requests reach AEP (not even an IMS token request).

Each case runs twice when the parameter is a template field: once with the bad value given
literally (validated when the DAG is parsed, in ``__init__``), and once as it arrives in a real DAG,
through a template rendered at run time (validated in ``execute()`` before the hook is touched).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPAuthConfigError, AEPConfigError, AEPInputError
from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
    AEPCreateDatasetBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
    AEPCreateTargetConnectionOperator,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.delete import AEPDeleteResourceOperator
from airflow_provider_aep.operators.flows import (
    AEPCreateDataflowOperator,
    AEPGetFlowSpecOperator,
    AEPSetFlowStateOperator,
)
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.operators.schemas import AEPCreateAdHocSchemaOperator, AEPCreateSchemaOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from tests.reliability.conftest import AEP
from tests.reliability.pipeline import SSC_SPEC, FakeTI

UUID_A = "0756caa1-ea23-4560-9fc7-dd402c4babc5"
UUID_B = "39d2c51b-b851-440f-b7a2-d4246202b5a7"
CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
SCHEMA = "https://ns.adobe.com/emulatortenant/schemas/dba7afe30501f732d93b66b971fd15ec"
DATASET = "21fa32b960f1e90aa3188da6"
MAPPING = "91c0779738d9c651c3e44feceefa001e"
UTC_START = "2026-01-01T00:00:00Z"
UTC_END = "2026-01-02T00:00:00Z"

BASE = {"name": "ssc", "source_conn_id": "salesforce_service_cloud_default"}
SRC = {"name": "src", "base_connection_id": UUID_A, "connection_spec_id": SSC_SPEC, "table_name": "Account"}
SCH = {"title": "target schema"}
ADHOC = {"title": "adhoc", "fields": {"Id": "string"}}
DS = {"name": "ds", "schema_id": SCHEMA}
TGT = {"name": "tgt", "dataset_id": DATASET, "schema_id": SCHEMA}
MAP = {"schema_id": SCHEMA, "mapping": {"Id": "_id"}}
SPEC = {"flow_spec_name": "CRMToAEP"}
FLOW = {
    "name": "flow",
    "flow_spec_id": CRM_FLOW_SPEC,
    "source_connection_id": UUID_A,
    "target_connection_id": UUID_B,
    "mapping_id": MAPPING,
    "delta_column": "LastModifiedDate",
}
STATE = {"flow_id": UUID_A}
DEL = {"resource_type": "flow", "resource_id": UUID_A}
RUN = {"flow_id": UUID_A, "window_start": UTC_START, "window_end": UTC_END, "deferrable": False}
SENSOR = {"flow_id": UUID_A, "window_start": UTC_START, "window_end": UTC_END, "deferrable": False}


@dataclass
class Case:
    """``cls(**{**valid, **bad})`` must fail naming ``field_named`` (``fix`` in the message)."""

    id: str
    cls: type
    valid: dict[str, Any]
    bad: dict[str, Any]
    field_named: str
    errors: tuple[type[BaseException], ...] = (AEPInputError,)
    fix: str = "Fix:"
    env: dict[str, Any] = field(default_factory=dict)  # extra AIRFLOW_CONN_* for this case


def conn_case(case_id: str, field_named: str, **conn: Any) -> Case:
    """A broken ``aep_default`` (``conn`` overrides the emulator connection) on any operator."""
    # only a setting that authenticates is an auth problem; a URL, timeout or retry setting is
    # configuration (AEPConfigError, the parent class)
    authenticates = field_named in (
        "extra.ims_org_id",
        "extra.ims_url",
        "login (client id)",
        "password (client secret)",
    )
    expected = AEPAuthConfigError if authenticates else AEPConfigError
    return Case(case_id, AEPGetFlowSpecOperator, SPEC, {}, field_named, (expected,), env={"aep": conn})


CASES: list[Case] = [
    # ---------------------------------------------------------------- base connection
    Case("base-empty-name", AEPCreateBaseConnectionOperator, BASE, {"name": ""}, "name"),
    Case("base-name-newline", AEPCreateBaseConnectionOperator, BASE, {"name": "a\nb"}, "name"),
    Case("base-name-too-long", AEPCreateBaseConnectionOperator, BASE, {"name": "n" * 300}, "name"),
    Case(
        "base-unknown-source-kind", AEPCreateBaseConnectionOperator, BASE, {"source": "salesforce"}, "source"
    ),
    Case(
        "base-generic-without-spec",
        AEPCreateBaseConnectionOperator,
        BASE,
        {"source": None},
        "connection_spec_id",
    ),
    Case(
        "base-spec-id-typo-b66ab34",
        AEPCreateBaseConnectionOperator,
        BASE,
        {
            "source": None,
            "connection_spec_id": "b66ab34-8619-49cb-96d1-39b37ede86ea",
            "auth_spec_name": "Basic",
        },
        "connection_spec_id",
    ),
    Case(
        "base-unknown-auth-spec",
        AEPCreateBaseConnectionOperator,
        BASE,
        {"auth_spec_name": "Token"},
        "auth_spec_name",
    ),
    Case(
        "base-if-exists-enum", AEPCreateBaseConnectionOperator, BASE, {"if_exists": "overwrite"}, "if_exists"
    ),
    Case(
        "base-source-conn-id-int",
        AEPCreateBaseConnectionOperator,
        BASE,
        {"source_conn_id": 42},
        "source_conn_id",
    ),
    Case(
        "base-oauth2-without-api-version",
        AEPCreateBaseConnectionOperator,
        BASE,
        {"source_conn_id": "ssc_no_version"},
        "ssc_no_version",
        env={
            "ssc_no_version": {
                "conn_type": "generic",
                "host": "https://a.my.salesforce.com",
                "login": "id",
                "password": "pw-123456",
                "extra": {"auth_type": "oauth2"},
            }
        },
    ),
    Case(
        "base-source-without-host",
        AEPCreateBaseConnectionOperator,
        BASE,
        {"source_conn_id": "ssc_no_host"},
        "ssc_no_host.host",
        env={
            "ssc_no_host": {
                "conn_type": "generic",
                "login": "id",
                "password": "pw-123456",
                "extra": {"auth_type": "oauth2", "api_version": "60.0"},
            }
        },
    ),
    Case(
        "base-servicenow-without-password",
        AEPCreateBaseConnectionOperator,
        {**BASE, "source": "servicenow"},
        {"source_conn_id": "snow_no_pw"},
        "snow_no_pw",
        env={"snow_no_pw": {"conn_type": "generic", "host": "https://a.service-now.com", "login": "u"}},
    ),
    Case("dlbase-empty-name", AEPCreateDatasetBaseConnectionOperator, {"name": "dl"}, {"name": " "}, "name"),
    # ---------------------------------------------------------------- source connection
    Case(
        "src-base-id-not-uuid",
        AEPCreateSourceConnectionOperator,
        SRC,
        {"base_connection_id": "60a5c8b9"},
        "base_connection_id",
    ),
    Case(
        "src-data-lake-spec",
        AEPCreateSourceConnectionOperator,
        SRC,
        {"connection_spec_id": DATA_LAKE_SPEC},
        "connection_spec_id",
    ),
    Case("src-no-table", AEPCreateSourceConnectionOperator, SRC, {"table_name": None}, "table_name"),
    Case("src-empty-columns", AEPCreateSourceConnectionOperator, SRC, {"columns": []}, "columns"),
    Case(
        "src-duplicate-columns",
        AEPCreateSourceConnectionOperator,
        SRC,
        {"columns": ["Id", "Name", "Id"]},
        "columns",
    ),
    Case(
        "src-column-type-enum",
        AEPCreateSourceConnectionOperator,
        SRC,
        {"columns": [{"name": "Id", "type": "text"}]},
        "columns[0]",
    ),
    Case("src-columns-as-string", AEPCreateSourceConnectionOperator, SRC, {"columns": "Id,Name"}, "columns"),
    Case(
        "src-column-without-name",
        AEPCreateSourceConnectionOperator,
        SRC,
        {"columns": [{"type": "string"}]},
        "columns[0]",
    ),
    Case("src-format-enum", AEPCreateSourceConnectionOperator, SRC, {"data_format": "csv"}, "data_format"),
    Case(
        "src-parquet-xdm-for-table",
        AEPCreateSourceConnectionOperator,
        SRC,
        {"data_format": "parquet_xdm"},
        "data_format",
    ),
    Case("src-table-and-path", AEPCreateSourceConnectionOperator, SRC, {"path": "Account"}, "table_name"),
    Case(
        "src-path-without-adhoc-schema",
        AEPCreateSourceConnectionOperator,
        SRC,
        {"table_name": None, "path": "Account"},
        "adhoc_schema_id",
    ),
    # ---------------------------------------------------------------- schemas
    Case("schema-empty-title", AEPCreateSchemaOperator, SCH, {"title": ""}, "title"),
    Case("schema-class-not-url", AEPCreateSchemaOperator, SCH, {"class_id": "profile"}, "class_id"),
    Case(
        "schema-field-groups-string",
        AEPCreateSchemaOperator,
        SCH,
        {"field_groups": "https://ns.adobe.com/xdm/context/profile-person-details"},
        "field_groups",
    ),
    Case(
        "schema-field-group-twice",
        AEPCreateSchemaOperator,
        SCH,
        {"field_groups": ["https://ns.adobe.com/xdm/context/profile-personal-details"] * 2},
        "field_groups",
    ),
    Case("adhoc-no-fields", AEPCreateAdHocSchemaOperator, ADHOC, {"fields": {}}, "fields"),
    Case(
        "adhoc-field-type-enum", AEPCreateAdHocSchemaOperator, ADHOC, {"fields": {"Id": "varchar"}}, "fields"
    ),
    Case("adhoc-dotted-field", AEPCreateAdHocSchemaOperator, ADHOC, {"fields": {"a.b": "string"}}, "fields"),
    # ---------------------------------------------------------------- dataset / target
    Case(
        "dataset-schema-id-malformed", AEPCreateDatasetOperator, DS, {"schema_id": "my-schema"}, "schema_id"
    ),
    Case("dataset-empty-name", AEPCreateDatasetOperator, DS, {"name": ""}, "name"),
    Case(
        "target-dataset-id-23-hex",
        AEPCreateTargetConnectionOperator,
        TGT,
        {"dataset_id": DATASET[:-1]},
        "dataset_id",
    ),
    Case(
        "target-dataset-id-not-hex",
        AEPCreateTargetConnectionOperator,
        TGT,
        {"dataset_id": "@/dataSets/my-dataset"},
        "dataset_id",
    ),
    Case(
        "target-schema-is-a-class",
        AEPCreateTargetConnectionOperator,
        TGT,
        {"schema_id": "https://ns.adobe.com/emulatortenant/classes/0a1b2c"},
        "schema_id",
    ),
    Case(
        "target-base-id-not-uuid",
        AEPCreateTargetConnectionOperator,
        TGT,
        {"base_connection_id": "d6c3988d"},
        "base_connection_id",
    ),
    # ---------------------------------------------------------------- mapping sets
    Case("map-nothing-given", AEPCreateMappingSetOperator, MAP, {"mapping": None}, "mapping"),
    Case(
        "map-two-styles",
        AEPCreateMappingSetOperator,
        MAP,
        {"mappings": [{"source": "Id", "destination": "_id"}]},
        "mapping",
    ),
    Case(
        "map-bad-xdm-path",
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": {"Name": "person name"}},
        "mapping['Name']",
    ),
    Case(
        "map-destination-twice",
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": {"OrderID": "_id", "CustomerID": "_id"}},
        "mapping",
    ),
    Case(
        "map-unknown-source-column",
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": {"Id": "_id", "email": "personalEmail.address"}, "source_columns": ["Id", "Name"]},
        "mapping",
    ),
    Case(
        "map-source-type-enum",
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": None, "mappings": [{"sourceType": "COLUMN", "source": "Id", "destination": "_id"}]},
        "mappings[0].sourceType",
    ),
    Case(
        "map-legacy-schema-mismatch",
        AEPCreateMappingSetOperator,
        MAP,
        {
            "mapping": None,
            "legacy_body": {
                "xdmSchema": SCHEMA[:-4] + "0000",
                "mappings": [{"sourceAttribute": "Id", "destinationXdmPath": "_id"}],
            },
        },
        "legacy_body.xdmSchema",
    ),
    Case(
        "map-duplicate-source-columns",
        AEPCreateMappingSetOperator,
        MAP,
        {"source_columns": ["Id", "Id"]},
        "source_columns",
    ),
    # ---------------------------------------------------------------- flow spec / dataflow
    Case("spec-empty-name", AEPGetFlowSpecOperator, SPEC, {"flow_spec_name": ""}, "flow_spec_name"),
    Case(
        "spec-source-spec-typo",
        AEPGetFlowSpecOperator,
        SPEC,
        {"source_connection_spec_id": "ccfc0fee1-7dc0-40ef-b73e-d8b134c436f5"},
        "source_connection_spec_id",
    ),
    Case(
        "flow-flow-spec-not-uuid",
        AEPCreateDataflowOperator,
        FLOW,
        {"flow_spec_id": "CRMToAEP"},
        "flow_spec_id",
    ),
    Case(
        "flow-source-not-uuid",
        AEPCreateDataflowOperator,
        FLOW,
        {"source_connection_id": "src-1"},
        "source_connection_id",
    ),
    Case(
        "flow-source-is-target",
        AEPCreateDataflowOperator,
        FLOW,
        {"target_connection_id": UUID_A},
        "target_connection_id",
    ),
    Case(
        "flow-mapping-id-31-chars-S3",
        AEPCreateDataflowOperator,
        FLOW,
        {"mapping_id": "7409d3017e24a3eb4a2dc21020f7a5b"},
        "mapping_id",
    ),
    Case(
        "flow-mapping-id-hyphenated-S4",
        AEPCreateDataflowOperator,
        FLOW,
        {"mapping_id": "ab91c736-1f3d-4b09-8424-311d3d3e3cea"},
        "mapping_id",
    ),
    Case(
        "flow-mapping-version-word",
        AEPCreateDataflowOperator,
        FLOW,
        {"mapping_version": "v1"},
        "mapping_version",
    ),
    Case("flow-frequency-enum", AEPCreateDataflowOperator, FLOW, {"frequency": "hourly"}, "frequency"),
    Case(
        "flow-minute-interval-10",
        AEPCreateDataflowOperator,
        FLOW,
        {"frequency": "minute", "interval": 10},
        "interval",
    ),
    Case("flow-hour-interval-0", AEPCreateDataflowOperator, FLOW, {"interval": 0}, "interval"),
    Case("flow-interval-wrong-type", AEPCreateDataflowOperator, FLOW, {"interval": "1h"}, "interval"),
    Case(
        "flow-once-with-interval",
        AEPCreateDataflowOperator,
        FLOW,
        {"frequency": "once", "interval": 1},
        "interval",
    ),
    Case(
        "flow-once-with-backfill",
        AEPCreateDataflowOperator,
        FLOW,
        {"frequency": "once", "backfill": True},
        "backfill",
    ),
    Case("flow-backfill-wrong-type", AEPCreateDataflowOperator, FLOW, {"backfill": "yes"}, "backfill"),
    # Epoch milliseconds are accepted by every operator (one time policy); microseconds are not.
    Case(
        "flow-start-time-in-us",
        AEPCreateDataflowOperator,
        FLOW,
        {"start_time": 1767225600000000},
        "start_time",
    ),
    Case(
        "flow-start-time-us-string",
        AEPCreateDataflowOperator,
        FLOW,
        {"start_time": "1767225600000000"},
        "start_time",
    ),
    Case(
        "flow-start-time-not-a-time",
        AEPCreateDataflowOperator,
        FLOW,
        {"start_time": "yesterday"},
        "start_time",
    ),
    Case("flow-start-time-negative", AEPCreateDataflowOperator, FLOW, {"start_time": -5}, "start_time"),
    Case(
        "flow-unknown-option",
        AEPCreateDataflowOperator,
        FLOW,
        {"options": {"partialIngestion": 5}},
        "options",
    ),
    Case("flow-empty-delta-column", AEPCreateDataflowOperator, FLOW, {"delta_column": ""}, "delta_column"),
    Case("state-flow-id-not-uuid", AEPSetFlowStateOperator, STATE, {"flow_id": "my-flow"}, "flow_id"),
    Case("state-enabled-wrong-type", AEPSetFlowStateOperator, STATE, {"enabled": "maybe"}, "enabled"),
    # ---------------------------------------------------------------- delete
    Case(
        "delete-type-enum", AEPDeleteResourceOperator, DEL, {"resource_type": "mapping_set"}, "resource_type"
    ),
    Case("delete-flow-id-not-uuid", AEPDeleteResourceOperator, DEL, {"resource_id": "flow-1"}, "resource_id"),
    Case(
        "delete-dataset-id-25-hex",
        AEPDeleteResourceOperator,
        DEL,
        {"resource_type": "dataset", "resource_id": DATASET + "a"},
        "resource_id",
    ),
    # ---------------------------------------------------------------- on-demand run
    Case("run-flow-id-not-uuid", AEPRunFlowOperator, RUN, {"flow_id": "flow-1"}, "flow_id"),
    Case(
        "run-naive-window",
        AEPRunFlowOperator,
        RUN,
        {"window_start": datetime(2026, 1, 1)},
        "window_start",
    ),
    Case(
        "run-window-reversed",
        AEPRunFlowOperator,
        RUN,
        {"window_start": UTC_END, "window_end": UTC_START},
        "window_start",
    ),
    # ---------------------------------------------------------------- sensor
    Case(
        "sensor-partial-success-enum",
        AEPFlowRunSensor,
        SENSOR,
        {"partial_success": "ignore"},
        "partial_success",
    ),
    Case(
        "sensor-window-reversed",
        AEPFlowRunSensor,
        SENSOR,
        {"window_start": UTC_END, "window_end": UTC_START},
        "window_start",
    ),
    Case(
        "sensor-started-after-word",
        AEPFlowRunSensor,
        {"flow_id": UUID_A},
        {"started_after": "yesterday"},
        "started_after",
    ),
    Case(
        "sensor-started-after-microseconds",
        AEPFlowRunSensor,
        {"flow_id": UUID_A},
        {"started_after": 1767225600000000},
        "started_after",
    ),
    Case(
        "run-partial-success-enum", AEPRunFlowOperator, RUN, {"partial_success": "ignore"}, "partial_success"
    ),
    Case("run-poll-interval-zero", AEPRunFlowOperator, RUN, {"poll_interval": 0}, "poll_interval"),
    Case("run-timeout-negative", AEPRunFlowOperator, RUN, {"timeout": -1}, "timeout"),
    Case(
        "flow-start-time-year-3001",
        AEPCreateDataflowOperator,
        FLOW,
        {"start_time": 32535216000},
        "start_time",
    ),
    Case("any-sandbox-uppercase", AEPGetFlowSpecOperator, SPEC, {"sandbox_name": "Prod"}, "sandbox_name"),
    Case("dataset-tags-string", AEPCreateDatasetOperator, DS, {"tags": "unifiedProfile"}, "tags"),
    Case(
        "flow-date-format-seed",
        AEPCreateDataflowOperator,
        FLOW,
        {"delta_date_format": "YYYY-MM-DD"},
        "delta_date_format",
    ),
    Case("sensor-flow-id-not-uuid", AEPFlowRunSensor, SENSOR, {"flow_id": "flow-1"}, "flow_id"),
    Case("sensor-run-id-not-uuid", AEPFlowRunSensor, SENSOR, {"run_id": "run-1"}, "run_id"),
    Case(
        "sensor-window-without-offset",
        AEPFlowRunSensor,
        SENSOR,
        {"window_start": "2026-01-01T00:00:00"},
        "window_start",
    ),
    Case(
        "sensor-no-window-no-interval",
        AEPFlowRunSensor,
        SENSOR,
        {"window_start": None, "window_end": None},
        "window_start",
    ),
    Case(
        "flow-start-time-naive",
        AEPCreateDataflowOperator,
        FLOW,
        {"start_time": datetime(2026, 1, 1)},
        "start_time",
    ),
    Case(
        "flow-start-time-without-offset",
        AEPCreateDataflowOperator,
        FLOW,
        {"start_time": "2026-01-01T00:00:00"},
        "start_time",
    ),
    Case(
        "run-window-microseconds", AEPRunFlowOperator, RUN, {"window_start": 1767225600000000}, "window_start"
    ),
    Case(
        "sensor-naive-datetime",
        AEPFlowRunSensor,
        SENSOR,
        {"window_start": datetime(2026, 1, 1)},
        "window_start",
    ),
    Case(
        "run-window-without-offset",
        AEPRunFlowOperator,
        RUN,
        {"window_start": "2026-01-01T00:00:00"},
        "window_start",
    ),
    Case(
        "flow-empty-delta-timezone", AEPCreateDataflowOperator, FLOW, {"delta_timezone": ""}, "delta_timezone"
    ),
    Case(
        "src-column-name-leading-dot",
        AEPCreateSourceConnectionOperator,
        SRC,
        {"columns": [".Id"]},
        "columns[0]",
    ),
    Case("map-empty-mapping", AEPCreateMappingSetOperator, MAP, {"mapping": {}}, "mapping"),
    Case("map-empty-source-column", AEPCreateMappingSetOperator, MAP, {"mapping": {"": "_id"}}, "mapping[0]"),
    Case("state-enabled-int", AEPSetFlowStateOperator, STATE, {"enabled": 1}, "enabled"),
    Case(
        "base-generic-source-without-auth-params",
        AEPCreateBaseConnectionOperator,
        {**BASE, "source": None, "connection_spec_id": SSC_SPEC, "auth_spec_name": "Basic Authentication"},
        {"source_conn_id": "servicenow_default"},
        "auth_params",
    ),
    Case(
        "delete-schema-id-malformed",
        AEPDeleteResourceOperator,
        DEL,
        {"resource_type": "schema", "resource_id": "schema-1"},
        "resource_id",
    ),
    # ---------------------------------------------------------------- the AEP connection
    conn_case("conn-missing-org-id", "extra.ims_org_id", ims_org_id=None),
    conn_case("conn-org-id-without-suffix", "extra.ims_org_id", ims_org_id="EMULATORORG"),
    conn_case("conn-http-gateway-not-loopback", "host (gateway URL)", host="http://platform.example.com"),
    conn_case("conn-http-ims-not-loopback", "extra.ims_url", ims_url="http://ims.example.com"),
    conn_case("conn-empty-client-id", "login (client id)", login=""),
    conn_case("conn-no-secret-no-token", "password (client secret)", password=None),
    conn_case("conn-timeout-not-a-number", "extra.request_timeout", request_timeout="fast"),
    conn_case("conn-retry-extra-not-a-number", "retry_max_attempts", retry_max_attempts="many"),
    Case(
        "conn-aep-missing", AEPGetFlowSpecOperator, {**SPEC, "aep_conn_id": "aep_missing"}, {}, "aep_conn_id"
    ),
    Case(
        "conn-source-missing",
        AEPCreateBaseConnectionOperator,
        {**BASE, "source_conn_id": "no_such_source"},
        {},
        "source_conn_id",
    ),
]


def _templated(case: Case) -> dict[str, Any] | None:
    """Valid kwargs with every bad parameter as a Jinja template, if they are all template fields."""
    fields = getattr(case.cls, "template_fields", ())
    if not case.bad or not all(k in fields for k in case.bad):
        return None
    return {**case.valid, **{k: "{{ params.bad }}" for k in case.bad}}


PARAMS = [pytest.param(c, "literal", id=f"{c.id}-literal") for c in CASES] + [
    pytest.param(c, "rendered", id=f"{c.id}-rendered") for c in CASES if _templated(c) is not None
]


def _context() -> dict[str, Any]:
    ti = FakeTI("bad_input")
    return {
        "ti": ti,
        "task_instance": ti,
        "params": {},
        "data_interval_start": None,
        "data_interval_end": None,
    }


def _fail(case: Case, mode: str) -> BaseException:
    try:
        if mode == "literal":
            op = case.cls(task_id="bad_input", **{**case.valid, **case.bad})
        else:
            op = case.cls(task_id="bad_input", **(_templated(case) or {}))
            for name, value in case.bad.items():  # what rendering the template produced
                setattr(op, name, value)
        op.execute(_context())
    except Exception as exc:
        return exc
    raise AssertionError(f"{case.id}: no error for {case.bad}")


@pytest.fixture
def clean_log(aep: AEP) -> Callable[[], list[dict[str, Any]]]:
    aep.clear_requests()
    return aep.requests


@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_bad_input_names_parameter_and_fix_before_any_request(
    aep: AEP, clean_log: Callable[[], list[dict[str, Any]]], case: Case, mode: str
) -> None:
    for conn_id, conn in case.env.items():
        if conn_id == "aep":
            aep.connection(**conn)
        else:
            aep.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))

    error = _fail(case, mode)

    message = str(error)
    assert isinstance(error, case.errors), f"{type(error).__name__}: {message}"
    assert case.field_named in message, f"parameter {case.field_named!r} not named in: {message}"
    assert case.fix in message, f"no fix in: {message}"
    assert "\n" not in message.strip(), message
    assert clean_log() == [], "a request was sent for a bad input"


def test_table_is_broad() -> None:
    assert len(CASES) >= 40
    covered = {c.cls for c in CASES}
    assert covered >= {
        AEPCreateBaseConnectionOperator,
        AEPCreateDatasetBaseConnectionOperator,
        AEPCreateSourceConnectionOperator,
        AEPCreateTargetConnectionOperator,
        AEPCreateSchemaOperator,
        AEPCreateAdHocSchemaOperator,
        AEPCreateDatasetOperator,
        AEPCreateMappingSetOperator,
        AEPGetFlowSpecOperator,
        AEPCreateDataflowOperator,
        AEPSetFlowStateOperator,
        AEPDeleteResourceOperator,
        AEPRunFlowOperator,
        AEPFlowRunSensor,
    }
