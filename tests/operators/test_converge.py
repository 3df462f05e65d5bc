"""Day 2: every create operator converges an existing resource in place, refuses what AEP forbids
before any write, honours the if_exists policies and plans with GETs only (against the emulator)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.operators._converge import PLAN_XCOM_KEY, UNKNOWN
from airflow_provider_aep.operators.base import AEPResourceConflictError, AEPResourceExistsError
from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
    AEPCreateTargetConnectionOperator,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
from airflow_provider_aep.operators.schemas import DEFAULT_FIELD_GROUPS, AEPCreateSchemaOperator
from tests.operators.conftest import CRM_FLOW_SPEC, SECRETS, SOURCE_CONNECTIONS, SSC_SPEC

JAN1 = 1767225600  # 2026-01-01T00:00:00Z, in the past: the flow has started
FS = "/data/foundation/flowservice"


def writes(aep: Any) -> list[tuple[str, str]]:
    """Every non-GET request except the token."""
    return [
        (r["method"], r["path"])
        for r in aep.requests()
        if r["method"] != "GET" and not r["path"].startswith("/ims/")
    ]


@pytest.fixture
def ids(aep: Any, run_op: Any) -> dict[str, Any]:
    c: dict[str, Any] = {}
    c["base"], _ = run_op(
        AEPCreateBaseConnectionOperator(task_id="b", name="ssc", source_conn_id="ssc_basic")
    )
    c["source"], _ = run_op(
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
        AEPCreateMappingSetOperator(task_id="m", name="acc-map", schema_id=c["schema"], mapping={"Id": "_id"})
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
        "frequency": "hour",
        "interval": 1,
        "start_time": JAN1,
        **kw,
    }
    return AEPCreateDataflowOperator(**params)


def get_flow(flow_id: str) -> dict[str, Any]:
    return AdobeExperiencePlatformHook().get_flow(flow_id)


# ------------------------------------------------------------------------------------- flows
@pytest.mark.parametrize(
    ("change", "field", "expect"),
    [
        ({"interval": 4}, "interval", 4),
        ({"frequency": "day", "interval": 1}, "frequency", "day"),
        ({"options": {"partialIngestionPercent": 10}}, "options", {"partialIngestionPercent": 10}),
        ({"description": "moved to 4-hourly"}, "description", "moved to 4-hourly"),
    ],
    ids=["interval", "frequency", "options", "description"],
)
def test_flow_field_converges_in_place(
    aep: Any, run_op: Any, ids: dict, change: dict, field: str, expect: Any, capfd: Any
) -> None:
    flow_id, x1 = run_op(flow_op(ids))
    aep.clear_requests()
    capfd.readouterr()
    again, x2 = run_op(flow_op(ids, **change))
    logs = "".join(capfd.readouterr())
    flow = get_flow(flow_id)
    assert again == flow_id and x2[xcom_keys.ETAG] != x1[xcom_keys.ETAG] == x1[xcom_keys.ETAG]
    got = flow["scheduleParams"].get(field) if field in ("interval", "frequency") else flow.get(field)
    assert got == expect
    assert writes(aep) == [("PATCH", f"{FS}/flows/{flow_id}")], "only a PATCH: no POST/DELETE of a flow"
    assert "AEP has" in logs and "the DAG wants" in logs
    # a rerun with the same declaration writes nothing
    aep.clear_requests()
    assert run_op(flow_op(ids, **change))[0] == flow_id
    assert writes(aep) == []


def test_flow_moves_to_new_mapping_version_keeping_id_runs_and_watermark(
    aep: Any, run_op: Any, ids: dict
) -> None:
    flow_id, _ = run_op(flow_op(ids))
    mapping_id, x = run_op(
        AEPCreateMappingSetOperator(
            task_id="m",
            name="acc-map",
            schema_id=ids["schema"],
            mapping={"Id": "_id", "Name": "person.name.fullName"},
        )
    )
    assert mapping_id == ids["mapping"] and x[xcom_keys.MAPPING_VERSION] == "1"
    aep.clear_requests()
    assert run_op(flow_op(ids, mapping_version=x[xcom_keys.MAPPING_VERSION]))[0] == flow_id
    params = {t["name"]: t["params"] for t in get_flow(flow_id)["transformations"]}["Mapping"]
    assert (params["mappingId"], str(params["mappingVersion"])) == (mapping_id, "1")
    assert writes(aep) == [("PATCH", f"{FS}/flows/{flow_id}")]


def test_stale_etag_is_reread_and_retried(aep: Any, run_op: Any, ids: dict, monkeypatch: Any) -> None:
    """Someone PATCHes the flow between our read and our PATCH: 1404-412, re-read, retry."""
    flow_id, _ = run_op(flow_op(ids))
    op = flow_op(ids, interval=3)
    real = op.hook.patch_flow
    calls = {"n": 0}

    def racing(fid: str, ops: list, etag: str | None = None) -> dict:
        calls["n"] += 1
        if calls["n"] == 1:  # an outside edit lands first
            other = AdobeExperiencePlatformHook()
            other.patch_flow(fid, [{"op": "replace", "path": "/description", "value": "ui edit"}])
        return real(fid, ops, etag=etag)

    monkeypatch.setattr(op.hook, "patch_flow", racing)
    aep.clear_requests()
    assert run_op(op)[0] == flow_id
    statuses = [r["status"] for r in aep.requests() if r["method"] == "PATCH"]
    assert statuses == [200, 412, 200], statuses
    assert get_flow(flow_id)["scheduleParams"]["interval"] == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start_time": JAN1 + 3600}, "scheduleParams.startTime"),
        ({"backfill": False}, "scheduleParams.backfill"),
        ({"frequency": "once", "interval": None, "backfill": None}, "scheduleParams.frequency"),
        ({"flow_spec_id": "11111111-2222-4333-8444-555555555555"}, "flowSpec.id"),
        ({"delta_column": "CreatedDate"}, "transformations[Copy].deltaColumn.name"),
        ("source", "sourceConnectionIds"),
        ("target", "targetConnectionIds"),
    ],
    ids=["start-after-start", "backfill-after-start", "to-once", "flow-spec", "delta", "source", "target"],
)
def test_forbidden_flow_change_fails_before_any_write(
    aep: Any, run_op: Any, ids: dict, change: Any, field: str
) -> None:
    flow_id, _ = run_op(flow_op(ids))
    if change == "source":
        other, _ = run_op(
            AEPCreateSourceConnectionOperator(
                task_id="s2",
                name="acc2",
                base_connection_id=ids["base"],
                connection_spec_id=SSC_SPEC,
                table_name="Account",
            )
        )
        change = {"source_connection_id": other}
    elif change == "target":
        other, _ = run_op(
            AEPCreateTargetConnectionOperator(
                task_id="t2", name="acc-tgt2", dataset_id=ids["dataset"], schema_id=ids["schema"]
            )
        )
        change = {"target_connection_id": other}
    if "flow_spec_id" in change:
        pytest.importorskip("jsonschema")
    before = get_flow(flow_id)
    aep.clear_requests()
    op = flow_op(ids, **change)
    if "flow_spec_id" in change:  # no such spec: the local check refuses it even earlier
        op._check_against_spec = lambda v: None  # type: ignore[method-assign]
    with pytest.raises(AEPResourceConflictError) as err:
        run_op(op)
    message = str(err.value)
    assert "\n" not in message and f"{field}: AEP has" in message and "the DAG wants" in message
    assert "Fix:" in message and "nothing was written" in message
    assert writes(aep) == []
    assert get_flow(flow_id)["etag"] == before["etag"]


def test_start_time_and_backfill_change_before_the_start(aep: Any, run_op: Any, ids: dict) -> None:
    start = int(time.time()) + 86400
    flow_id, _ = run_op(flow_op(ids, start_time=start))
    assert run_op(flow_op(ids, start_time=start + 3600, backfill=False))[0] == flow_id
    sched = get_flow(flow_id)["scheduleParams"]
    assert (sched["startTime"], sched["backfill"]) == (start + 3600, False)


def test_once_flow_cannot_be_rescheduled_or_remapped(aep: Any, run_op: Any, ids: dict) -> None:
    run_op(flow_op(ids, frequency="once", interval=None, start_time=JAN1))
    _, x = run_op(
        AEPCreateMappingSetOperator(
            task_id="m",
            name="acc-map",
            schema_id=ids["schema"],
            mapping={"Id": "_id", "Name": "person.name.fullName"},
        )
    )
    aep.clear_requests()
    with pytest.raises(AEPResourceConflictError, match=r"transformations\[Mapping\]: AEP has .* once"):
        run_op(
            flow_op(
                ids,
                frequency="once",
                interval=None,
                start_time=JAN1,
                mapping_version=x[xcom_keys.MAPPING_VERSION],
            )
        )
    assert writes(aep) == []


def test_unpinned_start_time_is_not_compared(aep: Any, run_op: Any, ids: dict) -> None:
    """start_time=None means "now" on create; on a rerun it must not become a forbidden change."""
    flow_id, _ = run_op(flow_op(ids, start_time=None))
    aep.clear_requests()
    assert run_op(flow_op(ids, start_time=None))[0] == flow_id
    assert writes(aep) == []


# ------------------------------------------------------------------------------------ policies
def test_reuse_logs_drift_and_writes_nothing(aep: Any, run_op: Any, ids: dict, capfd: Any) -> None:
    flow_id, _ = run_op(flow_op(ids))
    aep.clear_requests()
    capfd.readouterr()
    assert run_op(flow_op(ids, interval=6, if_exists="reuse"))[0] == flow_id
    logs = "".join(capfd.readouterr())
    assert "scheduleParams.interval: AEP has 1, the DAG wants 6" in logs and "reuse" in logs
    assert writes(aep) == [] and get_flow(flow_id)["scheduleParams"]["interval"] == 1


def test_fail_policy_fails(aep: Any, run_op: Any, ids: dict) -> None:
    run_op(flow_op(ids))
    with pytest.raises(AEPResourceExistsError, match="if_exists='fail'"):
        run_op(flow_op(ids, if_exists="fail"))


def test_replace_is_the_only_policy_that_deletes_and_says_what_is_lost(
    aep: Any, run_op: Any, ids: dict, capfd: Any
) -> None:
    flow_id, _ = run_op(flow_op(ids))
    capfd.readouterr()
    new_id, _ = run_op(flow_op(ids, interval=2, if_exists="replace"))
    logs = "".join(capfd.readouterr())
    assert new_id != flow_id
    assert "run history" in logs and "watermark" in logs and "ingests every source row again" in logs
    assert "scheduleParams.interval: AEP has 1, the DAG wants 2" in logs


def test_drift_from_outside_is_reported_and_converged(aep: Any, run_op: Any, ids: dict, capfd: Any) -> None:
    flow_id, _ = run_op(flow_op(ids, description="managed by Airflow"))
    hook = AdobeExperiencePlatformHook()
    hook.patch_flow(
        flow_id,
        [
            {"op": "replace", "path": "/scheduleParams/interval", "value": 12},
            {"op": "replace", "path": "/description", "value": "edited in the UI"},
        ],
    )
    capfd.readouterr()
    aep.clear_requests()
    assert run_op(flow_op(ids, description="managed by Airflow"))[0] == flow_id
    logs = "".join(capfd.readouterr())
    assert "scheduleParams.interval: AEP has 12, the DAG wants 1" in logs
    assert "description: AEP has 'edited in the UI', the DAG wants 'managed by Airflow'" in logs
    flow = get_flow(flow_id)
    assert flow["scheduleParams"]["interval"] == 1 and flow["description"] == "managed by Airflow"
    assert writes(aep) == [("PATCH", f"{FS}/flows/{flow_id}")]


# ----------------------------------------------------------------------------- base connections
def test_credentials_rotate_in_place_flows_untouched(
    aep: Any, run_op: Any, ids: dict, monkeypatch: Any, capfd: Any
) -> None:
    flow_id, _ = run_op(flow_op(ids))
    flow_etag = get_flow(flow_id)["etag"]
    conn = dict(SOURCE_CONNECTIONS["ssc_basic"])
    conn["password"] = "sf-R0tated-never-logged"
    monkeypatch.setenv("AIRFLOW_CONN_SSC_BASIC", json.dumps(conn))
    # the source now only accepts the new password
    requests.put(
        f"{aep.url}/_emulator/sources/{SSC_SPEC}/credentials",
        json=[{"username": conn["login"], "password": "sf-R0tated-never-logged"}],
        timeout=10,
    ).raise_for_status()
    report = requests.get(f"{aep.url}/_emulator/sources/{SSC_SPEC}/credentials", timeout=10).json()
    assert [c["valid"] for c in report["connections"]] == [False]
    assert "sf-R0tated-never-logged" not in json.dumps(report)
    aep.clear_requests()
    capfd.readouterr()
    base, _ = run_op(
        AEPCreateBaseConnectionOperator(
            task_id="b", name="ssc", source_conn_id="ssc_basic", test_connection=True
        )
    )
    logs = "".join(capfd.readouterr())
    assert base == ids["base"]
    assert writes(aep) == [("PATCH", f"{FS}/connections/{base}")]
    report = requests.get(f"{aep.url}/_emulator/sources/{SSC_SPEC}/credentials", timeout=10).json()
    assert [c["valid"] for c in report["connections"]] == [True]
    assert get_flow(flow_id)["etag"] == flow_etag, "flows untouched"
    for secret in (*SECRETS, "sf-R0tated-never-logged"):
        assert secret not in logs


def test_base_connection_non_secret_param_diff(
    aep: Any, run_op: Any, ids: dict, monkeypatch: Any, capfd: Any
) -> None:
    conn = dict(SOURCE_CONNECTIONS["ssc_basic"])
    conn["login"] = "someone-else@example.com"
    monkeypatch.setenv("AIRFLOW_CONN_SSC_BASIC", json.dumps(conn))
    capfd.readouterr()
    run_op(AEPCreateBaseConnectionOperator(task_id="b", name="ssc", source_conn_id="ssc_basic"))
    logs = "".join(capfd.readouterr())
    assert (
        "auth.params.username: AEP has 'sf-user@example.com', the DAG wants 'someone-else@example.com'"
        in logs
    )
    found = AdobeExperiencePlatformHook().get_base_connection(ids["base"])
    assert found["auth"]["params"]["username"] == "someone-else@example.com"


# --------------------------------------------------------------- datasets, schemas, connections
def test_dataset_description_and_tags_patch(aep: Any, run_op: Any, ids: dict) -> None:
    ds, _ = run_op(
        AEPCreateDatasetOperator(
            task_id="d", name="acc-ds", schema_id=ids["schema"], description="v2", tags={"team": ["crm"]}
        )
    )
    assert ds == ids["dataset"]
    found = AdobeExperiencePlatformHook().get_dataset(ds)
    assert found["description"] == "v2" and found["tags"]["team"] == ["crm"]
    assert writes(aep) == [("PATCH", f"/data/foundation/catalog/dataSets/{ds}")]


def test_dataset_schema_change_is_refused(aep: Any, run_op: Any, ids: dict) -> None:
    other, _ = run_op(AEPCreateSchemaOperator(task_id="sc", title="other-target"))
    aep.clear_requests()
    with pytest.raises(AEPResourceConflictError, match=r"schemaRef\.id: AEP has"):
        run_op(AEPCreateDatasetOperator(task_id="d", name="acc-ds", schema_id=other))
    assert writes(aep) == []


def test_schema_gains_a_field_group_additively(aep: Any, run_op: Any, ids: dict) -> None:
    extra = "https://ns.adobe.com/xdm/context/profile-personal-details"
    groups = [g for g in DEFAULT_FIELD_GROUPS if g != extra]
    title = "additive"
    sid, _ = run_op(AEPCreateSchemaOperator(task_id="sc", title=title, field_groups=groups))
    aep.clear_requests()
    again, _ = run_op(AEPCreateSchemaOperator(task_id="sc", title=title, field_groups=[*groups, extra]))
    assert again == sid
    doc = AdobeExperiencePlatformHook().get_schema(sid)
    assert extra in [r["$ref"] for r in doc["allOf"]] and doc["version"] == "1.1"
    assert [m for m, _ in writes(aep)] == ["PATCH"]
    # removing it again is a breaking change: refused before any write
    aep.clear_requests()
    with pytest.raises(AEPResourceConflictError, match=r"field groups \(removed\): AEP has"):
        run_op(AEPCreateSchemaOperator(task_id="sc", title=title, field_groups=groups))
    assert writes(aep) == []


def test_source_and_target_description_patch(aep: Any, run_op: Any, ids: dict) -> None:
    src, _ = run_op(
        AEPCreateSourceConnectionOperator(
            task_id="s",
            name="acc",
            base_connection_id=ids["base"],
            connection_spec_id=SSC_SPEC,
            table_name="Account",
            description="accounts",
        )
    )
    tgt, _ = run_op(
        AEPCreateTargetConnectionOperator(
            task_id="t",
            name="acc-tgt",
            dataset_id=ids["dataset"],
            schema_id=ids["schema"],
            description="lake",
        )
    )
    assert (src, tgt) == (ids["source"], ids["target"])
    assert writes(aep) == [
        ("PATCH", f"{FS}/sourceConnections/{src}"),
        ("PATCH", f"{FS}/targetConnections/{tgt}"),
    ]


# -------------------------------------------------------------------------------------- plan
def test_plan_reports_without_writing(aep: Any, run_op: Any, ids: dict) -> None:
    flow_id, _ = run_op(flow_op(ids))
    aep.clear_requests()
    # update
    result, xcoms = run_op(flow_op(ids, interval=4, plan_only=True))
    (record,) = xcoms[PLAN_XCOM_KEY]
    assert result == flow_id and record["action"] == "update"
    assert record["changes"] == [{"field": "scheduleParams.interval", "have": 1, "want": 4}]
    # conflict
    _, xcoms = run_op(flow_op(ids, backfill=False, plan_only=True))
    assert xcoms[PLAN_XCOM_KEY][0]["action"] == "conflict"
    # unchanged
    _, xcoms = run_op(flow_op(ids, plan_only=True))
    assert xcoms[PLAN_XCOM_KEY][0]["action"] == "unchanged"
    # create, and "(known after create)" downstream
    new_map, xcoms = run_op(
        AEPCreateMappingSetOperator(
            task_id="m", name="new-map", schema_id=ids["schema"], mapping={"Id": "_id"}, plan_only=True
        )
    )
    assert new_map == UNKNOWN and xcoms[xcom_keys.MAPPING_VERSION] == UNKNOWN
    assert xcoms[PLAN_XCOM_KEY][0]["action"] == "create"
    op = flow_op(ids, name="new-flow", plan_only=True)
    op.mapping_id, op.mapping_version = new_map, UNKNOWN  # as rendered from the upstream XComs
    _, xcoms = run_op(op)
    assert xcoms[PLAN_XCOM_KEY][0]["action"] == "create" and xcoms[xcom_keys.ETAG] == UNKNOWN
    # the base connection's credentials would be re-sent; its secrets are never shown
    _, xcoms = run_op(
        AEPCreateBaseConnectionOperator(task_id="b", name="ssc", source_conn_id="ssc_basic", plan_only=True)
    )
    text = json.dumps(xcoms)
    assert xcoms[PLAN_XCOM_KEY][0]["action"] == "update" and "write-only" in text
    assert not any(s in text for s in SECRETS)
    assert writes(aep) == [], "plan mode: GETs and the token only"


def test_base_connection_stale_etag_is_reread_and_retried(
    aep: Any, run_op: Any, ids: dict, monkeypatch: Any
) -> None:
    """An outside edit lands between our read and our PATCH: 1404-412, fresh etag, same ops again."""
    op = AEPCreateBaseConnectionOperator(
        task_id="b", name="ssc", source_conn_id="ssc_basic", description="crm"
    )
    real = op.hook.patch_base_connection
    calls = {"n": 0}

    def racing(cid: str, ops: list, etag: str) -> dict:
        calls["n"] += 1
        if calls["n"] == 1:
            other = AdobeExperiencePlatformHook()
            current = other.get_base_connection(cid)["etag"]
            other.patch_base_connection(cid, [{"op": "add", "path": "/description", "value": "ui"}], current)
        return real(cid, ops, etag)

    monkeypatch.setattr(op.hook, "patch_base_connection", racing)
    aep.clear_requests()
    assert run_op(op)[0] == ids["base"]
    statuses = [r["status"] for r in aep.requests() if r["method"] == "PATCH"]
    assert statuses == [200, 412, 200], statuses
    assert AdobeExperiencePlatformHook().get_base_connection(ids["base"])["description"] == "crm"
