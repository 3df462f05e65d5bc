"""Bad inputs fail with AEPInputError naming the parameter, before any request is sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators.base import AEPCreateOperatorBase
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
from airflow_provider_aep.operators.schemas import AEPCreateAdHocSchemaOperator, AEPCreateSchemaOperator
from tests.operators.conftest import CRM_FLOW_SPEC, SSC_SPEC

UUID_A = "0756caa1-ea23-4560-9fc7-dd402c4babc5"
UUID_B = "39d2c51b-b851-440f-b7a2-d4246202b5a7"
SCHEMA = "https://ns.adobe.com/emulatortenant/schemas/dba7afe30501f732d93b66b971fd15ec"
DATASET = "21fa32b960f1e90aa3188da6"
MAPPING = "91c0779738d9c651c3e44feceefa001e"

BASE = {"name": "ssc", "source_conn_id": "ssc_basic"}
SRC = {"name": "src", "base_connection_id": UUID_A, "connection_spec_id": SSC_SPEC, "table_name": "Account"}
TGT = {"name": "tgt", "dataset_id": DATASET, "schema_id": SCHEMA}
MAP = {"schema_id": SCHEMA, "mapping": {"Id": "_id"}}
FLOW = {
    "name": "flow",
    "flow_spec_id": CRM_FLOW_SPEC,
    "source_connection_id": UUID_A,
    "target_connection_id": UUID_B,
    "mapping_id": MAPPING,
    "delta_column": "LastModifiedDate",
}

# (operator, valid kwargs, overrides making it invalid, field named in the message, text in message)
CASES: list[tuple[type, dict[str, Any], dict[str, Any], str, str]] = [
    (AEPCreateBaseConnectionOperator, BASE, {"name": ""}, "name", "non-empty name"),
    (AEPCreateBaseConnectionOperator, BASE, {"source": "salesforce"}, "source", "not supported"),
    (AEPCreateBaseConnectionOperator, BASE, {"source": None}, "connection_spec_id", "required"),
    (
        AEPCreateBaseConnectionOperator,
        BASE,
        {"source": None, "connection_spec_id": "b66ab34-8619-49cb-96d1-39b37ede86ea", "auth_spec_name": "x"},
        "connection_spec_id",
        "not a UUID",
    ),
    (AEPCreateBaseConnectionOperator, BASE, {"auth_spec_name": "Token"}, "auth_spec_name", "not supported"),
    (AEPCreateBaseConnectionOperator, BASE, {"if_exists": "overwrite"}, "if_exists", "not supported"),
    (AEPCreateDatasetBaseConnectionOperator, {"name": "dl"}, {"name": "a\nb"}, "name", "line break"),
    (
        AEPCreateSourceConnectionOperator,
        SRC,
        {"base_connection_id": "60a5c8b9"},
        "base_connection_id",
        "UUID",
    ),
    (
        AEPCreateSourceConnectionOperator,
        SRC,
        {"connection_spec_id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c"},
        "connection_spec_id",
        "Data Lake",
    ),
    (AEPCreateSourceConnectionOperator, SRC, {"table_name": None}, "table_name", "table name"),
    (AEPCreateSourceConnectionOperator, SRC, {"columns": []}, "columns", "is empty"),
    (AEPCreateSourceConnectionOperator, SRC, {"columns": ["Id", "Id"]}, "columns", "listed twice"),
    (AEPCreateSourceConnectionOperator, SRC, {"columns": [{"type": "string"}]}, "columns[0]", "no 'name'"),
    (
        AEPCreateSourceConnectionOperator,
        SRC,
        {"columns": [{"name": "Id", "type": "text"}]},
        "columns[0]",
        "type",
    ),
    (
        AEPCreateSourceConnectionOperator,
        SRC,
        {"columns": [{"name": "Id", "xdm": "string"}]},
        "columns[0]",
        "xdm",
    ),
    (AEPCreateSourceConnectionOperator, SRC, {"columns": "Id,Name"}, "columns", "list of column"),
    (AEPCreateSourceConnectionOperator, SRC, {"data_format": "parquet_xdm"}, "data_format", "table source"),
    (AEPCreateSourceConnectionOperator, SRC, {"data_format": "csv"}, "data_format", "not supported"),
    (
        AEPCreateSourceConnectionOperator,
        SRC,
        {"table_name": None, "path": "Account"},
        "adhoc_schema_id",
        "required with path",
    ),
    (
        AEPCreateSourceConnectionOperator,
        SRC,
        {
            "table_name": None,
            "path": "Account",
            "adhoc_schema_id": "https://ns.adobe.com/{TENANT_ID}}/schemas/1",
        },
        "adhoc_schema_id",
        "neither a schema",
    ),
    (AEPCreateSchemaOperator, {"title": "T"}, {"class_id": "profile"}, "class_id", "not an XDM"),
    (
        AEPCreateSchemaOperator,
        {"title": "T"},
        {"field_groups": ["https://ns.adobe.com/xdm/context/profile-personal-details"] * 2},
        "field_groups",
        "listed twice",
    ),
    (AEPCreateSchemaOperator, {"title": "T"}, {"field_groups": "x"}, "field_groups", "must be a list"),
    (AEPCreateAdHocSchemaOperator, {"title": "A", "fields": ["Id"]}, {"fields": []}, "fields", "is empty"),
    (
        AEPCreateAdHocSchemaOperator,
        {"title": "A", "fields": ["Id"]},
        {"fields": ["Id", "Id"]},
        "fields",
        "twice",
    ),
    (
        AEPCreateAdHocSchemaOperator,
        {"title": "A", "fields": ["Id"]},
        {"fields": {"Id": "text"}},
        "fields",
        "type",
    ),
    (
        AEPCreateAdHocSchemaOperator,
        {"title": "A", "fields": ["Id"]},
        {"fields": {"a.b": "string"}},
        "fields",
        "a.b",
    ),
    (
        AEPCreateDatasetOperator,
        {"name": "d", "schema_id": SCHEMA},
        {"schema_id": "schema-1"},
        "schema_id",
        "$id",
    ),
    (AEPCreateTargetConnectionOperator, TGT, {"dataset_id": "@/dataSets/123"}, "dataset_id", "24 hex"),
    (
        AEPCreateTargetConnectionOperator,
        TGT,
        {"base_connection_id": "d6c3988d"},
        "base_connection_id",
        "UUID",
    ),
    (AEPCreateMappingSetOperator, MAP, {"mapping": None}, "mapping", "exactly one"),
    (
        AEPCreateMappingSetOperator,
        MAP,
        {"mappings": [{"source": "Id", "destination": "_id"}]},
        "mapping",
        "got",
    ),
    (
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": {"Id": "person name"}},
        "mapping['Id']",
        "not a valid XDM",
    ),
    (AEPCreateMappingSetOperator, MAP, {"mapping": {"Id": "/_id"}}, "mapping['Id']", "not a valid XDM"),
    (
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": {"Id": "_id", "Name": "_id"}},
        "mapping",
        "written by both",
    ),
    (
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": {"email": "personalEmail.address"}, "source_columns": ["Id", "Name"]},
        "mapping",
        "'email' is not a column",
    ),
    (
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": {"Name": "person.name"}, "source_columns": [{"name": "Id"}, {"name": "Id"}]},
        "source_columns",
        "listed twice",
    ),
    (
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": None, "mappings": [{"sourceType": "FIELD", "source": "Id", "destination": "_id"}]},
        "mappings[0].sourceType",
        "not supported",
    ),
    (
        AEPCreateMappingSetOperator,
        MAP,
        {"mapping": None, "legacy_body": {"xdmSchema": SCHEMA, "mappings": [{"source": "Id"}]}},
        "legacy_body.mappings[0]",
        "sourceAttribute",
    ),
    (AEPCreateMappingSetOperator, MAP, {"if_exists": "update"}, "if_exists", "not supported"),
    (
        AEPGetFlowSpecOperator,
        {},
        {"source_connection_spec_id": "ccfc0fee1-7dc0"},
        "source_connection_spec_id",
        "UUID",
    ),
    (
        AEPCreateDataflowOperator,
        FLOW,
        {"mapping_id": "7409d3017e24a3eb4a2dc21020f7a5b"},
        "mapping_id",
        "32 hex",
    ),
    (
        AEPCreateDataflowOperator,
        FLOW,
        {"mapping_id": "ab91c736-1f3d-4b09-8424-311d3d3e3cea"},
        "mapping_id",
        "no hyphens",
    ),
    (AEPCreateDataflowOperator, FLOW, {"mapping_version": "v1"}, "mapping_version", "not a version"),
    (AEPCreateDataflowOperator, FLOW, {"flow_spec_id": "CRMToAEP"}, "flow_spec_id", "UUID"),
    (AEPCreateDataflowOperator, FLOW, {"target_connection_id": UUID_A}, "target_connection_id", "same id"),
    (AEPCreateDataflowOperator, FLOW, {"frequency": "hourly"}, "frequency", "not supported"),
    (AEPCreateDataflowOperator, FLOW, {"frequency": "minute", "interval": 5}, "interval", "minimum of 15"),
    (AEPCreateDataflowOperator, FLOW, {"frequency": "day", "interval": 0}, "interval", "minimum of 1"),
    (AEPCreateDataflowOperator, FLOW, {"frequency": "once", "interval": 15}, "interval", "must not be set"),
    (AEPCreateDataflowOperator, FLOW, {"frequency": "once", "backfill": True}, "backfill", "must not be set"),
    (AEPCreateDataflowOperator, FLOW, {"interval": "fifteen"}, "interval", "integer"),
    (AEPCreateDataflowOperator, FLOW, {"backfill": "yes"}, "backfill", "true or false"),
    (AEPCreateDataflowOperator, FLOW, {"start_time": 1590792316000000}, "start_time", "milliseconds"),
    (AEPCreateDataflowOperator, FLOW, {"start_time": datetime(2026, 1, 1)}, "start_time", "naive"),
    (AEPCreateDataflowOperator, FLOW, {"start_time": "2026-01-01T00:00:00"}, "start_time", "offset"),
    (AEPCreateDataflowOperator, FLOW, {"start_time": "next tuesday"}, "start_time", "not a time"),
    (AEPCreateDataflowOperator, FLOW, {"delta_column": ""}, "delta_column", "column name"),
    (AEPCreateDataflowOperator, FLOW, {"options": {"partialIngestion": 5}}, "options", "unknown option"),
    (AEPSetFlowStateOperator, {"flow_id": UUID_A}, {"flow_id": "8256cfb4"}, "flow_id", "UUID"),
    (AEPSetFlowStateOperator, {"flow_id": UUID_A}, {"enabled": "on"}, "enabled", "true or false"),
    (
        AEPDeleteResourceOperator,
        {"resource_type": "flow", "resource_id": UUID_A},
        {"resource_type": "mapping_set"},
        "resource_type",
        "not supported",
    ),
    (
        AEPDeleteResourceOperator,
        {"resource_type": "dataset", "resource_id": DATASET},
        {"resource_id": UUID_A},
        "resource_id",
        "24 hex",
    ),
]


def _ids() -> list[str]:
    return [
        f"{c[0].__name__.replace('AEP', '').replace('Operator', '')}-{c[3]}-{i}" for i, c in enumerate(CASES)
    ]


def _check(exc: AEPInputError, field: str, text: str) -> None:
    message = str(exc)
    assert message.startswith(f"{field}:"), message
    assert text in message, message
    assert "Fix:" in message, message
    assert "\n" not in message


@pytest.mark.parametrize(("op_cls", "good", "bad", "field", "text"), CASES, ids=_ids())
def test_bad_input_rejected_at_init(
    aep: Any, op_cls: type, good: dict, bad: dict, field: str, text: str
) -> None:
    """Static bad values fail when the DAG is parsed."""
    aep.clear_requests()
    with pytest.raises(AEPInputError) as info:
        op_cls(task_id="t", **{**good, **bad})
    _check(info.value, field, text)
    assert aep.requests() == []


@pytest.mark.parametrize(("op_cls", "good", "bad", "field", "text"), CASES, ids=_ids())
def test_bad_input_rejected_in_execute_without_requests(
    aep: Any, run_op: Any, op_cls: type, good: dict, bad: dict, field: str, text: str
) -> None:
    """Templated values are checked again in execute(), before any HTTP call (none logged)."""
    templated = {key: "{{ params.value }}" for key in bad}
    op = op_cls(task_id="t", **{**good, **templated})  # validation deferred to execute
    for key, value in bad.items():  # what rendering would produce
        setattr(op, key, value)
    aep.clear_requests()
    with pytest.raises(AEPInputError) as info:
        run_op(op)
    _check(info.value, field, text)
    assert aep.requests() == []


def test_every_create_operator_has_if_exists() -> None:
    for cls in {c[0] for c in CASES}:
        if issubclass(cls, AEPCreateOperatorBase):
            assert "if_exists" in cls.template_fields
