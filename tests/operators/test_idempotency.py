"""Each create operator against the emulator: create, reuse, fail, replace, lost-answer recovery."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPResponseLostError
from airflow_provider_aep.operators import _twins
from airflow_provider_aep.operators.base import AEPResourceConflictError, AEPResourceExistsError
from airflow_provider_aep.operators.connections import (
    AEPCreateBaseConnectionOperator,
    AEPCreateDatasetBaseConnectionOperator,
    AEPCreateSourceConnectionOperator,
    AEPCreateTargetConnectionOperator,
)
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.flows import AEPCreateDataflowOperator, AEPGetFlowSpecOperator
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
from airflow_provider_aep.operators.schemas import AEPCreateAdHocSchemaOperator, AEPCreateSchemaOperator
from tests.operators.conftest import SECRETS, SSC_SPEC

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SCHEMA_RE = re.compile(r"^https://ns\.adobe\.com/emulatortenant/schemas/[0-9a-f]+$")
FS = "/data/foundation/flowservice"


def count(aep: Any, kind: str) -> int:
    for sandbox in aep.state()["sandboxes"]:
        if sandbox["sandbox"] == "prod":
            return int(sandbox["counts"].get(kind, 0))
    return 0


def posts(aep: Any, path: str) -> list[dict[str, Any]]:
    return [r for r in aep.requests() if r["method"] == "POST" and r["path"] == path]


@pytest.fixture
def chain(aep: Any, run_op: Any) -> dict[str, Any]:
    """Prerequisites of every step, built with the operators (names differ from the steps')."""
    c: dict[str, Any] = {}
    c["base"], _ = run_op(
        AEPCreateBaseConnectionOperator(task_id="b", name="pre-ssc", source_conn_id="ssc_basic")
    )
    c["source"], x = run_op(
        AEPCreateSourceConnectionOperator(
            task_id="s",
            name="pre-src",
            base_connection_id=c["base"],
            connection_spec_id=SSC_SPEC,
            table_name="Account",
        )
    )
    c["columns"] = x[xcom_keys.COLUMNS]
    c["schema"], x = run_op(AEPCreateSchemaOperator(task_id="sc", title="pre-schema"))
    c["alt"] = x[xcom_keys.META_ALT_ID]
    c["dataset"], _ = run_op(AEPCreateDatasetOperator(task_id="d", name="pre-ds", schema_id=c["schema"]))
    c["target"], _ = run_op(
        AEPCreateTargetConnectionOperator(
            task_id="t", name="pre-tgt", dataset_id=c["dataset"], schema_id=c["schema"]
        )
    )
    c["mapping"], x = run_op(
        AEPCreateMappingSetOperator(
            task_id="m",
            name="pre-map",
            schema_id=c["schema"],
            mapping={"Id": "_id"},
            source_columns=c["columns"],
        )
    )
    c["flow_spec"], _ = run_op(AEPGetFlowSpecOperator(task_id="f"))
    aep.clear_requests()
    return c


# name -> (factory(chain, **overrides), state kind, create route, id check, XCom keys)
Factory = Callable[..., Any]
STEPS: dict[str, tuple[Factory, str, str, Callable[[str], bool], set[str]]] = {
    "base_connection": (
        lambda c, **kw: AEPCreateBaseConnectionOperator(
            task_id="x", name="ssc-step", source_conn_id="ssc_oauth", **kw
        ),
        "connections",
        f"{FS}/connections",
        lambda i: bool(UUID_RE.match(i)),
        {"connection_spec_id"},
    ),
    "dataset_base_connection": (
        lambda c, **kw: AEPCreateDatasetBaseConnectionOperator(task_id="x", name="dl-step", **kw),
        "connections",
        f"{FS}/connections",
        lambda i: bool(UUID_RE.match(i)),
        {"connection_spec_id"},
    ),
    "source_connection": (
        lambda c, **kw: AEPCreateSourceConnectionOperator(
            task_id="x",
            name="src-step",
            base_connection_id=c["base"],
            connection_spec_id=SSC_SPEC,
            table_name="Contact",
            **kw,
        ),
        "sourceConnections",
        f"{FS}/sourceConnections",
        lambda i: bool(UUID_RE.match(i)),
        {"columns", "table_name"},
    ),
    "schema": (
        lambda c, **kw: AEPCreateSchemaOperator(task_id="x", title="schema-step", **kw),
        "schemas",
        "/data/foundation/schemaregistry/tenant/schemas",
        lambda i: bool(SCHEMA_RE.match(i)),
        {"meta_alt_id"},
    ),
    "adhoc_schema": (
        lambda c, **kw: AEPCreateAdHocSchemaOperator(
            task_id="x", title="adhoc-step", fields={"Id": "string", "LastModifiedDate": "date-time"}, **kw
        ),
        "classes",
        "/data/foundation/schemaregistry/tenant/classes",
        lambda i: bool(SCHEMA_RE.match(i)),
        {"meta_alt_id", "class_id"},
    ),
    "dataset": (
        lambda c, **kw: AEPCreateDatasetOperator(task_id="x", name="ds-step", schema_id=c["alt"], **kw),
        "dataSets",
        "/data/foundation/catalog/dataSets",
        lambda i: bool(re.fullmatch(r"[0-9a-f]{24}", i)),
        {"aep_ui_org", "aep_ui_sandbox"},
    ),
    "target_connection": (
        lambda c, **kw: AEPCreateTargetConnectionOperator(
            task_id="x", name="tgt-step", dataset_id=c["dataset"], schema_id=c["schema"], **kw
        ),
        "targetConnections",
        f"{FS}/targetConnections",
        lambda i: bool(UUID_RE.match(i)),
        set(),
    ),
    "mapping_set": (
        lambda c, **kw: AEPCreateMappingSetOperator(
            task_id="x",
            schema_id=c["schema"],
            mapping={"Id": "_id", "Name": "person.name.fullName", "Phone": "mobilePhone.number"},
            source_columns=c["columns"],
            **kw,
        ),
        "mappingSets",
        "/data/foundation/conversion/mappingSets",
        lambda i: bool(re.fullmatch(r"[0-9a-f]{32}", i)),
        {"mapping_version"},
    ),
    "dataflow": (
        lambda c, **kw: AEPCreateDataflowOperator(
            task_id="x",
            name="flow-step",
            flow_spec_id=c["flow_spec"],
            source_connection_id=c["source"],
            target_connection_id=c["target"],
            mapping_id=c["mapping"],
            delta_column="LastModifiedDate",
            start_time="2026-01-01T00:00:00Z",
            **kw,
        ),
        "flows",
        f"{FS}/flows",
        lambda i: bool(UUID_RE.match(i)),
        {"etag", "aep_ui_org", "aep_ui_sandbox"},
    ),
}
REPLACEABLE = [s for s in STEPS if s != "mapping_set"]


@pytest.mark.parametrize("step", list(STEPS))
def test_create_then_reuse(
    aep: Any, run_op: Any, chain: dict, step: str, capfd: pytest.CaptureFixture
) -> None:
    factory, kind, route, id_ok, keys = STEPS[step]
    before = count(aep, kind)
    first, xcoms = run_op(factory(chain))
    assert id_ok(first), first
    assert set(xcoms) == keys
    assert count(aep, kind) == before + 1
    assert len(posts(aep, route)) == 1

    aep.clear_requests()
    capfd.readouterr()
    again, xcoms_again = run_op(factory(chain))
    out, err = capfd.readouterr()
    logs = out + err
    assert again == first
    assert xcoms_again == xcoms
    assert count(aep, kind) == before + 1
    assert posts(aep, route) == [], "a reuse must not POST"
    assert "Reused existing" in logs and first in logs, logs
    for secret in SECRETS:
        assert secret not in logs
        assert secret not in repr(xcoms)


@pytest.mark.parametrize("step", list(STEPS))
def test_if_exists_fail(aep: Any, run_op: Any, chain: dict, step: str) -> None:
    factory = STEPS[step][0]
    run_op(factory(chain))
    with pytest.raises(
        AEPResourceExistsError, match=r"already exists \(id https?://|already exists \(id [0-9a-f]"
    ):
        run_op(factory(chain, if_exists="fail"))


@pytest.mark.parametrize("step", REPLACEABLE)
def test_if_exists_replace(aep: Any, run_op: Any, chain: dict, step: str) -> None:
    factory, kind, _route, id_ok, keys = STEPS[step]
    first, _ = run_op(factory(chain))
    before = count(aep, kind)
    second, xcoms = run_op(factory(chain, if_exists="replace"))
    assert second != first and id_ok(second)
    assert count(aep, kind) == before
    assert set(xcoms) == keys


@pytest.mark.parametrize("step", list(STEPS))
def test_recovers_after_lost_answer(aep: Any, run_op: Any, chain: dict, step: str) -> None:
    """The POST is committed but its answer dropped: the operator finds it by name, no re-POST."""
    factory, kind, route, id_ok, keys = STEPS[step]
    before = count(aep, kind)
    aep.set_faults(drop_after_commit=[f"POST {route}"], drop_after_commit_count=1)
    recovered, xcoms = run_op(factory(chain))
    assert id_ok(recovered)
    assert set(xcoms) == keys
    assert count(aep, kind) == before + 1, "exactly one resource committed"
    assert len(posts(aep, route)) == 1, "never re-POST blindly"
    aep.clear_faults()
    assert run_op(factory(chain))[0] == recovered


def test_lost_answer_without_commit_is_reraised(aep: Any, run_op: Any, chain: dict, monkeypatch: Any) -> None:
    """If nothing was committed under the name within the late-commit window (connection extra
    ``late_commit_wait_seconds``), the lost-answer error propagates; the name was looked up
    several times over the window, never re-POSTed."""
    conn = json.loads(aep.connection_json())
    conn["extra"]["late_commit_wait_seconds"] = 1.2
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", json.dumps(conn))
    op = STEPS["dataset_base_connection"][0](chain)

    def lost(body: dict) -> dict:
        raise AEPResponseLostError("POST", f"{FS}/connections", None, title="answer lost")

    monkeypatch.setattr(op.hook, "create_base_connection", lost)
    # The window runs on a virtual clock that only the pauses move on: the lookups asked for are
    # observed exactly (in real time a 1 s stall during one pause left only two lookups).
    clock = [0.0]
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(_twins, "sleep", pause)
    monkeypatch.setitem(_twins.poll_for_commit.__kwdefaults__, "clock", lambda: clock[0])
    aep.clear_requests()
    with pytest.raises(AEPResponseLostError):
        run_op(op)
    # Lookups at 0, 0.25, 0.75 and at the end of the window (1.2), then the error.
    assert pauses == pytest.approx([0.25, 0.5, 0.45]), pauses
    lookups = [r for r in aep.requests() if r["method"] == "GET" and r["path"] == f"{FS}/connections"]
    # one lookup before the create, then one per pause and the first one of the window
    assert len(lookups) == 1 + len(pauses) + 1, "the late-commit window was not polled"
    assert count(aep, "connections") == 1


@pytest.mark.parametrize(
    ("step", "overrides", "problem"),
    [
        ("source_connection", {"table_name": "Case"}, "params.tableName"),
        ("base_connection", {"source_conn_id": "ssc_basic"}, "auth.specName"),
        ("target_connection", {"name": "pre-tgt"}, None),
    ],
)
def test_reuse_refuses_incompatible_resource(
    aep: Any, run_op: Any, chain: dict, step: str, overrides: dict, problem: str | None
) -> None:
    factory = STEPS[step][0]
    run_op(factory(chain))
    if step == "source_connection":
        op = AEPCreateSourceConnectionOperator(
            task_id="x",
            name="src-step",
            base_connection_id=chain["base"],
            connection_spec_id=SSC_SPEC,
            **overrides,
        )
    elif step == "base_connection":
        op = AEPCreateBaseConnectionOperator(task_id="x", name="ssc-step", **overrides)
    else:  # same name as the prerequisite, but another dataset
        ds, _ = run_op(AEPCreateDatasetOperator(task_id="d", name="other-ds", schema_id=chain["schema"]))
        op = AEPCreateTargetConnectionOperator(
            task_id="x", name="pre-tgt", dataset_id=ds, schema_id=chain["schema"]
        )
        problem = "params.dataSetId"
    # converge (the default) names the field, both values and the fix, before any write
    aep.clear_requests()
    with pytest.raises(AEPResourceConflictError, match=re.escape(f"{problem}: AEP has")) as err:
        run_op(op)
    assert "Fix:" in str(err.value) and "\n" not in str(err.value)
    assert [
        r for r in aep.requests() if r["method"] not in ("GET",) and not r["path"].startswith("/ims/")
    ] == []
    # reuse keeps today's meaning: an incompatible resource is refused
    op.if_exists = "reuse"
    with pytest.raises(AEPResourceConflictError, match="already exists"):
        run_op(op)


def test_mapping_set_named_with_other_content_conflicts_under_reuse(
    aep: Any, run_op: Any, chain: dict
) -> None:
    with pytest.raises(AEPResourceConflictError, match="mappings are"):
        run_op(
            AEPCreateMappingSetOperator(
                task_id="m",
                name="pre-map",
                schema_id=chain["schema"],
                mapping={"Id": "_id", "Name": "person.name.fullName"},
                if_exists="reuse",
            )
        )


def test_mapping_set_named_with_other_content_converges_to_a_new_version(
    aep: Any, run_op: Any, chain: dict
) -> None:
    """Converge (the default): changed mappings become the next version of the same id (PUT)."""
    before = count(aep, "mappingSets")
    same, xcoms = run_op(
        AEPCreateMappingSetOperator(
            task_id="m",
            name="pre-map",
            schema_id=chain["schema"],
            mapping={"Id": "_id", "Name": "person.name.fullName"},
        )
    )
    assert same == chain["mapping"] and xcoms == {"mapping_version": "1"}
    assert count(aep, "mappingSets") == before
    assert [r["method"] for r in aep.requests() if "/mappingSets" in r["path"]].count("PUT") == 1


def test_adhoc_class_with_other_fields_conflicts(aep: Any, run_op: Any, chain: dict) -> None:
    run_op(AEPCreateAdHocSchemaOperator(task_id="a", title="acc", fields=["Id", "Name"]))
    with pytest.raises(AEPResourceConflictError, match="fields are"):
        run_op(AEPCreateAdHocSchemaOperator(task_id="a", title="acc", fields=["Id", "Name", "Phone"]))


def test_mapping_set_replace_writes_a_new_version(aep: Any, run_op: Any, chain: dict) -> None:
    """Data Prep has no DELETE: "replace" PUTs the new content as the next version of the same id."""
    first, x1 = run_op(
        AEPCreateMappingSetOperator(
            task_id="m", name="named-map", schema_id=chain["schema"], mapping={"Id": "_id"}
        )
    )
    before = count(aep, "mappingSets")
    second, x2 = run_op(
        AEPCreateMappingSetOperator(
            task_id="m",
            name="named-map",
            schema_id=chain["schema"],
            mapping={"Id": "_id", "Name": "person.name.fullName"},
            if_exists="replace",
        )
    )
    assert second == first and (x1, x2) == ({"mapping_version": "0"}, {"mapping_version": "1"})
    assert count(aep, "mappingSets") == before
    # the new content is now the identity: a plain rerun with it reuses version 1
    third, x3 = run_op(
        AEPCreateMappingSetOperator(
            task_id="m",
            name="named-map",
            schema_id=chain["schema"],
            mapping={"Id": "_id", "Name": "person.name.fullName"},
        )
    )
    assert third == first and x3 == {"mapping_version": "1"}
