"""Operator surface: names/params from the contract, template fields, light imports, validators."""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators.base import AEPBaseOperator, AEPCreateOperatorBase
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
from airflow_provider_aep.validation import (
    build_schedule,
    check_dataset_id,
    check_schema_id,
    check_xdm_path,
    is_templated,
    normalize_columns,
    to_epoch_seconds,
)

# operator -> parameters the contract lists (the DAG engineer codes against these)
CONTRACT: dict[type, set[str]] = {
    AEPCreateBaseConnectionOperator: {
        "name",
        "source_conn_id",
        "source",
        "connection_spec_id",
        "auth_spec_name",
        "description",
        "test_connection",
    },
    AEPCreateAdHocSchemaOperator: {"title", "fields", "description"},
    AEPCreateSourceConnectionOperator: {
        "name",
        "base_connection_id",
        "connection_spec_id",
        "table_name",
        "columns",
        "path",
        "adhoc_schema_id",
        "data_format",
    },
    AEPCreateSchemaOperator: {"title", "class_id", "field_groups", "description"},
    AEPCreateDatasetOperator: {"name", "schema_id", "description"},
    AEPCreateDatasetBaseConnectionOperator: {"name"},
    AEPCreateTargetConnectionOperator: {"name", "dataset_id", "schema_id", "base_connection_id"},
    AEPCreateMappingSetOperator: {
        "schema_id",
        "mapping",
        "mappings",
        "legacy_body",
        "source_columns",
        "name",
    },
    AEPGetFlowSpecOperator: {"flow_spec_name", "source_connection_spec_id"},
    AEPCreateDataflowOperator: {
        "name",
        "flow_spec_id",
        "source_connection_id",
        "target_connection_id",
        "mapping_id",
        "mapping_version",
        "delta_column",
        "delta_date_format",
        "delta_timezone",
        "frequency",
        "interval",
        "start_time",
        "backfill",
        "options",
    },
    AEPSetFlowStateOperator: {"flow_id", "enabled"},
    AEPDeleteResourceOperator: {"resource_type", "resource_id"},
}
CREATE_OPS = [op for op in CONTRACT if op.__name__.startswith("AEPCreate")]
NOT_TEMPLATED = {"test_connection"}  # a bool switch; everything else user-facing is templated


@pytest.mark.parametrize("op", list(CONTRACT), ids=lambda c: c.__name__)
def test_contract_parameters_and_template_fields(op: type) -> None:
    params = set(inspect.signature(op.__init__).parameters) - {"self", "kwargs"}
    assert CONTRACT[op] <= params
    assert issubclass(op, AEPBaseOperator)
    assert {"aep_conn_id", "sandbox_name"} <= set(inspect.signature(AEPBaseOperator.__init__).parameters)
    if op in CREATE_OPS:
        assert issubclass(op, AEPCreateOperatorBase)
    templated = set(op.template_fields)
    assert (params - NOT_TEMPLATED) <= templated, params - NOT_TEMPLATED - templated
    assert "sandbox_name" in templated
    assert set(getattr(op, "template_fields_renderers", {})) <= templated
    if op in CREATE_OPS:
        assert "if_exists" in templated


@pytest.mark.parametrize(
    ("op", "field"),
    [
        (AEPCreateSourceConnectionOperator, "columns"),
        (AEPCreateMappingSetOperator, "mapping"),
        (AEPCreateMappingSetOperator, "legacy_body"),
        (AEPCreateMappingSetOperator, "mappings"),
        (AEPCreateAdHocSchemaOperator, "fields"),
        (AEPCreateDataflowOperator, "options"),
    ],
)
def test_json_bodies_render_as_json(op: type, field: str) -> None:
    assert op.template_fields_renderers[field] == "json"


def test_no_template_field_can_hold_a_secret() -> None:
    for op in CONTRACT:
        for field in op.template_fields:
            assert not any(word in field for word in ("password", "secret", "token", "auth_params")), (
                op,
                field,
            )


def test_module_imports_stay_light() -> None:
    code = (
        "import sys\n"
        "from airflow.sdk import BaseOperator, BaseOperatorLink\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_aep.operators.connections, airflow_provider_aep.operators.schemas\n"
        "import airflow_provider_aep.operators.datasets, airflow_provider_aep.operators.mappings\n"
        "import airflow_provider_aep.operators.flows, airflow_provider_aep.operators.delete\n"
        "import airflow_provider_aep.links\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    added = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own printed list
    assert all(name.startswith("airflow_provider_aep") for name in added), added
    assert "airflow_provider_aep.hooks.aep" not in added


def test_mapped_operator_validation_deferred_to_runtime() -> None:
    """`.partial().expand()` does not call __init__ at parse time; XComArgs count as templated."""
    from airflow.sdk import DAG

    with DAG("t", schedule=None):
        up = AEPGetFlowSpecOperator(task_id="spec")
        AEPCreateSourceConnectionOperator.partial(
            task_id="s", base_connection_id=up.output, connection_spec_id=up.output
        ).expand(table_name=["Account", "Contact"], name=["a", "c"])
        op = AEPCreateDatasetOperator(task_id="d", name="ds", schema_id=up.output)
    assert is_templated(op.schema_id)


# ---------------------------------------------------------------- validators
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (1767225600, 1767225600),
        (1767225600.9, 1767225600),
        ("1767225600", 1767225600),
        ("2026-01-01T00:00:00Z", 1767225600),
        ("2026-01-01", 1767225600),  # a date: 00:00 UTC, like a date object
        ("1767225600000", 1767225600),  # epoch milliseconds (one time policy for every operator)
        (datetime(2026, 1, 1, tzinfo=timezone.utc), 1767225600),
    ],
)
def test_to_epoch_seconds(value: Any, expected: int | None) -> None:
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    result = to_epoch_seconds("start_time", value, now=now)
    assert result == (expected if expected is not None else int(now.timestamp()))


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00", datetime(2026, 1, 1)])
def test_to_epoch_seconds_refuses_a_time_without_a_zone(value: Any) -> None:
    """Used to be read as UTC by the dataflow operator only; now refused like everywhere else."""
    with pytest.raises(AEPInputError, match="start_time"):
        to_epoch_seconds("start_time", value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("once", None, None), {"frequency": "once"}),
        (("minute", None, None), {"frequency": "minute", "interval": 15, "backfill": True}),
        (("hour", 1, True), {"frequency": "hour", "interval": 1, "backfill": True}),
        (("day", "2", "false"), {"frequency": "day", "interval": 2, "backfill": False}),
        (("week", 1, False), {"frequency": "week", "interval": 1, "backfill": False}),
    ],
)
def test_build_schedule(args: tuple, expected: dict) -> None:
    assert build_schedule(*args, start_time=1) == {"startTime": 1, **expected}


@pytest.mark.parametrize(
    "path", ["_id", "person.name.firstName", "_emulatortenant.field", "identityMap.ECID[0].id", "a_b.c1"]
)
def test_xdm_path_ok(path: str) -> None:
    assert check_xdm_path("d", path) == path


@pytest.mark.parametrize("path", ["", "person..name", ".x", "x.", "person name", "/_id", "1abc", "a.b-c"])
def test_xdm_path_bad(path: str) -> None:
    with pytest.raises(AEPInputError, match=r"^d: "):
        check_xdm_path("d", path)


def test_ids_and_columns() -> None:
    assert check_dataset_id("dataset_id", "@/dataSets/5ed18e0f4f90b719196f44a9") == "5ed18e0f4f90b719196f44a9"
    assert check_schema_id("s", "_tenant.schemas.abc123") == "_tenant.schemas.abc123"
    with pytest.raises(AEPInputError, match="neither"):
        check_schema_id("s", "https://ns.adobe.com/tenant/classes/abc")
    cols = normalize_columns("c", ["Id", {"name": "Created", "type": "string", "meta:xdmType": "date-time"}])
    assert cols[0] == {"name": "Id", "type": "string", "xdm": {"type": "string"}}
    assert cols[1]["meta:xdmType"] == "date-time" and cols[1]["xdm"] == {"type": "string"}
