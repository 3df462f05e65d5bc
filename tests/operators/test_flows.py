"""Flow spec lookup, dataflow schedule/spec validation, flow state, delete, extra links."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pendulum
import pytest

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPInputError, AEPNotFoundError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.links import AEPDataflowLink, AEPDatasetLink
from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
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
from airflow_provider_aep.validation import validate_against_json_schema
from tests.operators.conftest import CRM_FLOW_SPEC, SSC_SPEC

JAN1 = 1767225600  # 2026-01-01T00:00:00Z


@pytest.fixture
def ids(aep: Any, run_op: Any) -> dict[str, Any]:
    c: dict[str, Any] = {}
    c["base"], _ = run_op(
        AEPCreateBaseConnectionOperator(task_id="b", name="ssc", source_conn_id="ssc_basic")
    )
    c["source"], x = run_op(
        AEPCreateSourceConnectionOperator(
            task_id="s",
            name="acc",
            base_connection_id=c["base"],
            connection_spec_id=SSC_SPEC,
            table_name="Account",
        )
    )
    c["schema"], _ = run_op(AEPCreateSchemaOperator(task_id="sc", title="acc-target"))
    c["dataset"], _ = run_op(AEPCreateDatasetOperator(task_id="d", name="acc-ds", schema_id=c["schema"]))
    c["target"], _ = run_op(
        AEPCreateTargetConnectionOperator(
            task_id="t", name="acc-tgt", dataset_id=c["dataset"], schema_id=c["schema"]
        )
    )
    c["mapping"], _ = run_op(
        AEPCreateMappingSetOperator(
            task_id="m", schema_id=c["schema"], mapping={"Id": "_id"}, source_columns=x[xcom_keys.COLUMNS]
        )
    )
    aep.clear_requests()
    return c


def flow_op(c: dict, **kw: Any) -> AEPCreateDataflowOperator:
    params: dict[str, Any] = {
        "task_id": "f",
        "name": "acc-flow",
        "flow_spec_id": CRM_FLOW_SPEC,
        "source_connection_id": c["source"],
        "target_connection_id": c["target"],
        "mapping_id": c["mapping"],
        "delta_column": "LastModifiedDate",
        **kw,
    }
    return AEPCreateDataflowOperator(**params)


def flow_posts(aep: Any) -> list:
    return [r for r in aep.requests() if r["method"] == "POST" and r["path"].endswith("/flowservice/flows")]


@pytest.mark.parametrize(
    "start_time",
    [
        datetime(2026, 1, 1, tzinfo=timezone.utc),
        pendulum.datetime(2026, 1, 1, tz="UTC"),  # data_interval_start with native rendering
        JAN1,
        JAN1 * 1000,  # epoch milliseconds (AEP's own unit): the same instant
        str(JAN1),
        "2026-01-01T00:00:00Z",
        "2026-01-01 00:00:00+00:00",  # what "{{ data_interval_start }}" renders to
        "2026-01-01T01:00:00+01:00",
    ],
    ids=["aware", "pendulum", "int", "ms", "digits", "iso-z", "rendered", "offset"],
)
def test_start_time_forms_become_epoch_seconds(aep: Any, run_op: Any, ids: dict, start_time: Any) -> None:
    flow_id, xcoms = run_op(
        flow_op(ids, start_time=start_time, frequency="minute", interval=15, backfill=False)
    )
    flow = AdobeExperiencePlatformHook().get_flow(flow_id)
    sched = flow["scheduleParams"]
    assert int(sched["startTime"]) == JAN1
    assert sched["frequency"] == "minute" and int(sched["interval"]) == 15
    assert str(sched["backfill"]).lower() == "false"
    assert xcoms[xcom_keys.ETAG] and xcoms[xcom_keys.ETAG].startswith('"')
    transformations = {t["name"]: t["params"] for t in flow["transformations"]}
    assert transformations["Copy"]["deltaColumn"] == {
        "name": "LastModifiedDate",
        "dateFormat": "yyyy-MM-dd HH:mm:ss",
        "timezone": "UTC",
    }
    assert transformations["Mapping"] == {"mappingId": ids["mapping"], "mappingVersion": "0"}


def test_once_flow_has_no_interval_or_backfill(aep: Any, run_op: Any, ids: dict) -> None:
    flow_id, _ = run_op(flow_op(ids, frequency="once", start_time=JAN1))
    sched = AdobeExperiencePlatformHook().get_flow(flow_id)["scheduleParams"]
    assert sched["frequency"] == "once"
    assert "interval" not in sched and "backfill" not in sched


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"delta_column": "updatedAt"}, "delta_column", "'updatedAt' is not a column"),
        ({"delta_column": None}, "delta_column", "required by flow spec"),
        ({"options": {"partialIngestionPercent": 0}}, "options.partialIngestionPercent", "flow spec"),
        ({"flow_spec_id": "00000000-0000-4000-8000-000000000000"}, "flow_spec_id", "no flow spec"),
    ],
)
def test_checked_against_spec_and_source_before_create(
    aep: Any, run_op: Any, ids: dict, kwargs: dict, field: str, text: str
) -> None:
    with pytest.raises(AEPInputError) as info:
        run_op(flow_op(ids, **kwargs))
    assert str(info.value).startswith(f"{field}:") and text in str(info.value), str(info.value)
    assert flow_posts(aep) == []


def test_schedule_validated_with_the_spec_json_schema() -> None:
    """The flow spec's own scheduleSpec (as printed in the tutorials) is applied with jsonschema."""
    spec = {
        "type": "object",
        "properties": {
            "startTime": {"type": "integer"},
            "frequency": {"enum": ["once", "minute", "hour", "day", "week"]},
            "interval": {"type": "integer"},
        },
        "required": ["startTime", "frequency"],
        "if": {"properties": {"frequency": {"const": "once"}}},
        "then": {"not": {"required": ["interval"]}},
        "else": {
            "required": ["interval"],
            "if": {"properties": {"frequency": {"const": "minute"}}},
            "then": {"properties": {"interval": {"minimum": 15}}},
        },
    }
    validate_against_json_schema(
        "scheduleParams", {"startTime": JAN1, "frequency": "hour", "interval": 1}, spec
    )
    with pytest.raises(AEPInputError, match=r"^scheduleParams.interval: .*15"):
        validate_against_json_schema(
            "scheduleParams", {"startTime": JAN1, "frequency": "minute", "interval": 5}, spec
        )
    with pytest.raises(AEPInputError, match=r"^scheduleParams: .*interval"):
        validate_against_json_schema("scheduleParams", {"startTime": JAN1, "frequency": "day"}, spec)
    with pytest.raises(AEPInputError, match=r"^scheduleParams.startTime: .*integer"):
        validate_against_json_schema("scheduleParams", {"startTime": "1590792316", "frequency": "once"}, spec)


def test_flow_reuse_refuses_other_mapping(aep: Any, run_op: Any, ids: dict) -> None:
    from airflow_provider_aep.operators.base import AEPResourceConflictError

    run_op(flow_op(ids))
    other, _ = run_op(
        AEPCreateMappingSetOperator(
            task_id="m2", schema_id=ids["schema"], mapping={"Id": "_id", "Name": "person.name.fullName"}
        )
    )
    with pytest.raises(AEPResourceConflictError, match="mapping set"):
        run_op(flow_op(ids, mapping_id=other, if_exists="reuse"))


def test_flow_converges_to_other_mapping_in_place(aep: Any, run_op: Any, ids: dict) -> None:
    """Converge (the default): the Mapping transformation is PATCHed; same flow, new etag."""
    flow_id, x1 = run_op(flow_op(ids))
    other, _ = run_op(
        AEPCreateMappingSetOperator(
            task_id="m2", schema_id=ids["schema"], mapping={"Id": "_id", "Name": "person.name.fullName"}
        )
    )
    again, x2 = run_op(flow_op(ids, mapping_id=other))
    assert again == flow_id and x2[xcom_keys.ETAG] != x1[xcom_keys.ETAG]
    mapping = {
        t["name"]: t["params"] for t in AdobeExperiencePlatformHook().get_flow(flow_id)["transformations"]
    }
    assert mapping["Mapping"]["mappingId"] == other


def test_get_flow_spec(aep: Any, run_op: Any) -> None:
    spec_id, xcoms = run_op(AEPGetFlowSpecOperator(task_id="f", source_connection_spec_id=SSC_SPEC))
    assert spec_id == CRM_FLOW_SPEC and xcoms == {"flow_spec_version": "1.0"}
    with pytest.raises(
        AEPInputError, match=r"^source_connection_spec_id: 11111111-.* is not a source of flow spec"
    ):
        run_op(
            AEPGetFlowSpecOperator(
                task_id="f", source_connection_spec_id="11111111-2222-4333-8444-555555555555"
            )
        )
    with pytest.raises(AEPNotFoundError):
        run_op(AEPGetFlowSpecOperator(task_id="f", flow_spec_name="NoSuchSpec"))


def test_set_flow_state(aep: Any, run_op: Any, ids: dict) -> None:
    flow_id, _ = run_op(flow_op(ids))
    hook = AdobeExperiencePlatformHook()
    for enabled, state in ((False, "disabled"), (False, "disabled"), (True, "enabled")):
        aep.clear_requests()
        result, xcoms = run_op(AEPSetFlowStateOperator(task_id="s", flow_id=flow_id, enabled=enabled))
        assert result == flow_id and xcoms[xcom_keys.STATE] == state and xcoms[xcom_keys.ETAG]
        assert hook.get_flow(flow_id)["state"] == state
    # the second disable was a no-op: only the final enable POSTed an action
    assert [r["query"].get("op") for r in aep.requests() if r["path"].endswith("/action")] == ["enable"]


def test_delete_every_resource_type_404_is_success(aep: Any, run_op: Any, ids: dict) -> None:
    flow_id, _ = run_op(flow_op(ids))
    adhoc, ax = run_op(AEPCreateAdHocSchemaOperator(task_id="a", title="raw", fields=["Id"]))
    order = [
        ("flow", flow_id),
        ("source_connection", ids["source"]),
        ("target_connection", ids["target"]),
        ("base_connection", ids["base"]),
        ("dataset", ids["dataset"]),
        ("schema", ids["schema"]),
        ("schema", ax[xcom_keys.META_ALT_ID]),
        ("class", ax[xcom_keys.CLASS_ID]),
    ]
    for rtype, rid in order:
        result, xcoms = run_op(AEPDeleteResourceOperator(task_id="d", resource_type=rtype, resource_id=rid))
        assert result == rid and xcoms == {"deleted": True}, (rtype, rid)
        _, again = run_op(AEPDeleteResourceOperator(task_id="d", resource_type=rtype, resource_id=rid))
        assert again == {"deleted": False}, (rtype, rid)
    counts = next(s["counts"] for s in aep.state()["sandboxes"] if s["sandbox"] == "prod")
    ignored = ("mappingSets", "runs", "fieldGroups", "descriptors")
    assert {k: v for k, v in counts.items() if k not in ignored} == dict.fromkeys(
        ("connections", "sourceConnections", "targetConnections", "flows", "classes", "schemas", "dataSets"),
        0,
    )
    assert adhoc


@pytest.mark.parametrize(
    ("link", "values", "url"),
    [
        (
            AEPDataflowLink(),
            {
                "return_value": "5c2c8f9e-c382-4030-8054-82df5459b5db",
                "aep_ui_org": "acme",
                "aep_ui_sandbox": "dev",
            },
            "https://experience.adobe.com/#/@acme/sname:dev/platform/source/dataflows/5c2c8f9e-c382-4030-8054-82df5459b5db",
        ),
        (
            AEPDatasetLink(),
            {
                "return_value": "21fa32b960f1e90aa3188da6",
                "aep_ui_org": "EMULATORORG@AdobeOrg",
                "aep_ui_sandbox": "prod",
            },
            "https://experience.adobe.com/#/@EMULATORORG@AdobeOrg/sname:prod/platform/dataset/browse/21fa32b960f1e90aa3188da6",
        ),
        (AEPDatasetLink(), {}, ""),
    ],
)
def test_extra_links_from_xcom(monkeypatch: pytest.MonkeyPatch, link: Any, values: dict, url: str) -> None:
    from airflow.sdk.execution_time.xcom import XCom

    seen: list[tuple[Any, str]] = []

    def get_value(*, ti_key: Any, key: str) -> Any:
        seen.append((ti_key, key))
        return values.get(key)

    monkeypatch.setattr(XCom, "get_value", get_value)
    assert link.get_link(operator=None, ti_key="KEY") == url
    assert all(k == "KEY" for k, _ in seen)


def test_operators_declare_their_links() -> None:
    assert [type(link) for link in AEPCreateDataflowOperator.operator_extra_links] == [AEPDataflowLink]
    assert [type(link) for link in AEPCreateDatasetOperator.operator_extra_links] == [AEPDatasetLink]
