"""Validated requests are small frozen dataclasses, and the rule tables name the field they guard.

Each create operator's ``_validate`` returns a frozen request (no dict with string keys) that its
``execute`` consumes; the cross-field rules of the source connection are a table of
:class:`~airflow_provider_aep.validation.Rule`, and every rule of it is reachable and names its field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators import connections, mappings, schemas
from airflow_provider_aep.operators.connections import (
    AdHocShape,
    AEPCreateBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
    AEPCreateTargetConnectionOperator,
    BaseConnectionRequest,
    SourceConnectionRequest,
    TabularShape,
    TargetConnectionRequest,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator, DatasetRequest
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator, MappingSetRequest
from airflow_provider_aep.operators.schemas import (
    AdHocSchemaRequest,
    AEPCreateAdHocSchemaOperator,
    AEPCreateSchemaOperator,
    SchemaRequest,
)
from airflow_provider_aep.sources import SERVICENOW
from airflow_provider_aep.validation import DATA_LAKE_CONNECTION_SPEC_ID

BASE_ID = "11111111-2222-4333-8444-555555555555"
SCHEMA = "https://ns.adobe.com/acme/schemas/0123456789abcdef"
ADHOC = "https://ns.adobe.com/acme/schemas/fedcba9876543210"
DATASET = "0123456789abcdef01234567"
SRC = {"name": "src", "base_connection_id": BASE_ID, "connection_spec_id": SERVICENOW.connection_spec_id}

CASES = [
    (
        AEPCreateBaseConnectionOperator,
        {"name": "b", "source_conn_id": "c", "source": "servicenow"},
        BaseConnectionRequest,
    ),
    (
        AEPCreateSourceConnectionOperator,
        {**SRC, "table_name": "t", "columns": ["Id"]},
        SourceConnectionRequest,
    ),
    (
        AEPCreateTargetConnectionOperator,
        {"name": "t", "dataset_id": DATASET, "schema_id": SCHEMA},
        TargetConnectionRequest,
    ),
    (AEPCreateDatasetOperator, {"name": "d", "schema_id": SCHEMA, "tags": {"team": ["crm"]}}, DatasetRequest),
    (AEPCreateSchemaOperator, {"title": "s"}, SchemaRequest),
    (AEPCreateAdHocSchemaOperator, {"title": "a", "fields": {"Id": "string"}}, AdHocSchemaRequest),
    (AEPCreateMappingSetOperator, {"schema_id": SCHEMA, "mapping": {"Id": "_id"}}, MappingSetRequest),
]


@pytest.mark.parametrize(("cls", "kwargs", "request_type"), CASES, ids=[c[0].__name__ for c in CASES])
def test_validate_returns_a_frozen_request(cls: Any, kwargs: dict[str, Any], request_type: type) -> None:
    request = cls(task_id="t", **kwargs)._validate()
    assert type(request) is request_type
    field = dataclasses.fields(request)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(request, field, "changed")


def test_source_connection_shapes() -> None:
    tabular = AEPCreateSourceConnectionOperator(
        task_id="t", **SRC, table_name="t", columns=["Id"]
    )._validate()
    assert isinstance(tabular.shape, TabularShape) and tabular.shape.table_name == "t"
    assert tabular.body(None)["params"]["columns"][0]["name"] == "Id"
    legacy = AEPCreateSourceConnectionOperator(task_id="t", **SRC, path="sys_user", adhoc_schema_id=ADHOC)
    request = legacy._validate()
    assert request.shape == AdHocShape("sys_user", ADHOC, "tabular")
    assert request.body("d") == {
        "name": "src",
        "baseConnectionId": BASE_ID,
        "connectionSpec": {"id": SERVICENOW.connection_spec_id, "version": "1.0"},
        "description": "d",
        "data": {"format": "tabular", "schema": {"id": ADHOC, "version": connections.XED_FULL_NOTEXT_V1}},
        "params": {"path": "sys_user"},
    }
    found = {"baseConnectionId": BASE_ID, "params": {"path": "other"}, "data": {"schema": {"id": ADHOC}}}
    assert [(p.path, p.have) for p in request.pins(found) if p.have != p.want] == [
        ("connectionSpec.id", None),
        ("params.path", "other"),
    ]


#: One argument set breaking each rule of the source connection's rule table (and only it).
RULE_BREAKERS = [
    {"connection_spec_id": DATA_LAKE_CONNECTION_SPEC_ID, "table_name": "t"},
    {"table_name": "t", "path": "p", "adhoc_schema_id": ADHOC},
    {"path": "p"},
    {"path": "p", "adhoc_schema_id": ADHOC, "columns": ["Id"]},
    {"table_name": "t", "adhoc_schema_id": ADHOC},
    {"table_name": "t", "data_format": "json"},
]


def test_every_source_connection_rule_is_reachable_and_names_its_field() -> None:
    rules = [connections._NOT_DATA_LAKE, *connections._SOURCE_SHAPE_RULES]
    hit = []
    for bad in RULE_BREAKERS:
        with pytest.raises(AEPInputError) as info:
            AEPCreateSourceConnectionOperator(task_id="t", **{**SRC, **bad})
        (rule,) = [
            r
            for r in rules
            if r.field == info.value.field
            and info.value.problem == (r.problem if isinstance(r.problem, str) else info.value.problem)
            and r.fix == info.value.fix
        ]
        hit.append(rule)
    assert hit == rules, "each breaker trips its own rule, in table order"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mapping": {"Id": "_id"}, "mappings": [{"source": "Id", "destination": "_id"}]}, "mapping"),
        (
            {"mappings": [{"source": "Id", "destination": "_id", "sourceType": "CONST"}]},
            "mappings[0].sourceType",
        ),
        (
            {
                "legacy_body": {
                    "xdmSchema": ADHOC,
                    "mappings": [{"sourceAttribute": "a", "destinationXdmPath": "b"}],
                }
            },
            "legacy_body.xdmSchema",
        ),
        ({"legacy_body": {"mappings": [{"source": "a"}]}}, "legacy_body.mappings[0]"),
        ({"mapping": {"Id": "_id", "Key": "_id"}}, "mapping"),
        ({"mapping": {"Id": "bad path"}}, "mapping['Id']"),
        ({"mappings": [{"source": "Id", "destination": "bad path"}]}, "mappings[0].destination"),
        ({"mapping": {"Nope": "_id"}, "source_columns": ["Id"]}, "mapping"),
    ],
)
def test_mapping_set_readers_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(AEPInputError) as info:
        AEPCreateMappingSetOperator(task_id="m", schema_id=SCHEMA, **kwargs)
    assert info.value.field == field and info.value.fix


def test_mapping_set_kinds_share_one_request_shape() -> None:
    legacy = {"xdmSchema": SCHEMA, "mappings": [{"sourceAttribute": "Id", "destinationXdmPath": "_id"}]}
    kinds = {
        "mapping": {"Id": "_id"},
        "mappings": [{"source": "Id", "destination": "_id"}],
        "legacy_body": legacy,
    }
    assert set(kinds) == set(mappings._READERS)
    for kind, value in kinds.items():
        request = AEPCreateMappingSetOperator(task_id="m", schema_id=SCHEMA, **{kind: value})._validate()
        assert request.kind == kind and request.schema_id == SCHEMA and len(request.entries) == 1


def test_schema_field_groups_and_adhoc_fields_name_the_field() -> None:
    with pytest.raises(AEPInputError, match="listed twice") as info:
        schemas._field_groups([schemas.DEFAULT_FIELD_GROUPS[0]] * 2, schemas.PROFILE_CLASS)
    assert info.value.field == "field_groups"
    fields = schemas._adhoc_fields([{"name": "When", "type": "date-time"}, "Id"])
    assert fields == (("When", "date-time"), ("Id", "string"))
    with pytest.raises(AEPInputError) as info:
        schemas._adhoc_fields([42])
    assert info.value.field == "fields[0]"
