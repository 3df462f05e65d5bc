"""Concurrent runs of one declaration: exactly one AEP resource per name.

Two worker processes (spawned, real processes) run the same create operator with the same name,
released at the same moment by a barrier, against an emulator that holds every create POST for 1 s
before committing it, so that both look the name up before either creates it. AEP keeps no name
unique, so both create; each racer then lists the name, they agree on the oldest, and the loser
deletes its own copy (Data Prep cannot delete: the loser's mapping set is renamed and left unused;
Schema Registry refuses the second title: the loser adopts the first). Every case ends with one
resource under the name, both racers returning its id, and a warning naming both ids in the loser's
log. A dataflow is created under a create lock instead (see ``operators/_create_lock.py``): one
POST, no twin.

The DAG case runs two ``dag.test()`` of ``aep_customer_success_ingestion`` at once, one per
process (each with its own metadata DB), then a rerun that reuses everything and mentions no twin.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep import xcom_keys
from tests.reliability.conftest import (
    AEP,
    CUSTOMER_SUCCESS_DAG,
    FS,
    SR,
    DagRunResult,
    fast_sensor,
    load_dag,
)
from tests.reliability.pipeline import ACCOUNT_MAPPING, FIELD_GROUPS, PROFILE_CLASS, SSC_SPEC, Pipeline
from tests.reliability.racing import RacePool

#: The races: every create POST is held this long before AEP commits it, so a racer that a
#: loaded machine starts up to about a second late still looks the name up before the other's
#: resource exists (the lookups themselves stay fast).
CREATE_LATENCY_MS = 1000
CREATE_ROUTES = ["POST /data/*"]
CAT = "/data/foundation/catalog"
DP = "/data/foundation/conversion"
OPS = "airflow_provider_aep.operators"


@pytest.fixture(scope="module")
def pool() -> Iterator[RacePool]:
    racers = RacePool(2)
    try:
        yield racers
    finally:
        racers.close()


def airflow_env() -> dict[str, str]:
    """The connections the workers need (the parent's, set by the ``aep`` fixture)."""
    return {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}


def names_listed(aep: AEP, path: str, name: str, key: str = "name") -> list[dict[str, Any]]:
    """Every resource listed under ``name`` (straight from the emulator's API)."""
    import requests

    headers = aep.emulator.headers()
    if path.startswith(FS):
        params: dict[str, Any] = {"property": f'name=="{name}"'}
    elif path.startswith(SR):
        params, headers = {}, {**headers, "Accept": "application/vnd.adobe.xed-id+json"}
    else:
        params = {"name": name, "limit": 100}
    body = requests.get(f"{aep.url}{path}", params=params, headers=headers, timeout=30).json()
    items = body.get("items") or body.get("results") or body.get("data")
    if items is None:  # Catalog: {id: object}
        items = [{**v, "id": k} for k, v in body.items() if isinstance(v, dict)]
    return [i for i in items if i.get(key) == name]


#: kind -> (operator module, class, route of its create, list path, name key, how the loser ends)
CONN, SRC, TGT, FLOWS = (
    f"{FS}/connections",
    f"{FS}/sourceConnections",
    f"{FS}/targetConnections",
    f"{FS}/flows",
)
DATASETS, MAPPINGS = f"{CAT}/dataSets", f"{DP}/mappingSets"
CLASSES, SCHEMAS = f"{SR}/tenant/classes", f"{SR}/tenant/schemas"
KINDS: dict[str, tuple[str, str, str, str, str, str]] = {
    "base_connection": ("connections", "AEPCreateBaseConnectionOperator", CONN, CONN, "name", "deleted"),
    "dataset_base_connection": (
        "connections", "AEPCreateDatasetBaseConnectionOperator", CONN, CONN, "name", "deleted"
    ),
    "source_connection": ("connections", "AEPCreateSourceConnectionOperator", SRC, SRC, "name", "deleted"),
    "target_connection": ("connections", "AEPCreateTargetConnectionOperator", TGT, TGT, "name", "deleted"),
    "dataflow": ("flows", "AEPCreateDataflowOperator", FLOWS, FLOWS, "name", "locked"),
    "dataset": ("datasets", "AEPCreateDatasetOperator", DATASETS, DATASETS, "name", "deleted"),
    "mapping_set": ("mappings", "AEPCreateMappingSetOperator", MAPPINGS, MAPPINGS, "name", "renamed"),
    "schema": ("schemas", "AEPCreateSchemaOperator", SCHEMAS, SCHEMAS, "title", "refused"),
    "adhoc_schema": ("schemas", "AEPCreateAdHocSchemaOperator", CLASSES, SCHEMAS, "title", "refused"),
}  # fmt: skip


def operator_kwargs(kind: str, name: str, ids: dict[str, Any], xcoms: dict[str, Any]) -> dict[str, Any]:
    """Arguments of the racing operator, wired to the prerequisites of one pipeline run."""
    common = {"task_id": f"race_{kind}"}
    if kind == "base_connection":
        return {**common, "name": name, "source": "salesforce_service_cloud",
                "source_conn_id": "salesforce_service_cloud_default"}  # fmt: skip
    if kind == "dataset_base_connection":
        return {**common, "name": name}
    if kind == "source_connection":
        return {**common, "name": name, "base_connection_id": ids["create_base_connection"],
                "connection_spec_id": SSC_SPEC, "table_name": "Account"}  # fmt: skip
    if kind == "target_connection":
        return {**common, "name": name, "dataset_id": ids["create_dataset"],
                "schema_id": ids["create_target_schema"]}  # fmt: skip
    if kind == "dataflow":
        return {**common, "name": name, "flow_spec_id": ids["get_flow_spec"],
                "source_connection_id": ids["create_source_connection"],
                "target_connection_id": ids["create_target_connection"],
                "mapping_id": ids["create_mapping_set"],
                "mapping_version": xcoms["create_mapping_set"][xcom_keys.MAPPING_VERSION],
                "delta_column": "LastModifiedDate", "frequency": "hour", "interval": 1,
                "backfill": True}  # fmt: skip
    if kind == "dataset":
        return {**common, "name": name, "schema_id": ids["create_target_schema"]}
    if kind == "mapping_set":
        return {**common, "name": name, "schema_id": ids["create_target_schema"], "mapping": ACCOUNT_MAPPING}
    if kind == "schema":
        return {**common, "title": name, "class_id": PROFILE_CLASS, "field_groups": FIELD_GROUPS}
    return {**common, "title": name, "fields": {"Id": "string", "Name": "string"}}


def posts(aep: AEP, path: str) -> list[dict[str, Any]]:
    return [r for r in aep.requests() if r["method"] == "POST" and r["path"] == path]


@pytest.mark.parametrize("kind", list(KINDS))
def test_concurrent_creates_converge_on_one(aep: AEP, pool: RacePool, kind: str) -> None:
    module, cls, route, list_path, key, ending = KINDS[kind]
    prerequisites = Pipeline(prefix="pre")
    prerequisites.run(wait=False)
    for attempt in range(3):  # a loaded machine may start one racer late: then race again
        name = f"race {kind} {attempt}"
        kwargs = operator_kwargs(kind, name, prerequisites.ids, prerequisites.xcoms)
        aep.set_faults(latency_ms=CREATE_LATENCY_MS, routes=CREATE_ROUTES)
        aep.clear_requests()
        results = pool.race(
            "run_operator", [{"module": f"{OPS}.{module}", "cls": cls, "kwargs": kwargs}] * 2, airflow_env()
        )
        aep.clear_faults()
        errors = [error for _value, error, _text in results if error]
        assert not errors, errors
        raced = len(posts(aep, CONN if ending == "locked" else route)) == 2
        print(f"{kind} race attempt {attempt + 1}: raced={raced}")
        if raced:
            break
    assert raced, "not a race: one racer found the other's resource first"
    returned = {value["value"] for value, _error, _text in results}
    assert len(returned) == 1, f"the racers returned different ids: {returned}"
    winner = returned.pop()
    listed = names_listed(aep, list_path, name, key)
    id_key = "$id" if key == "title" else "id"
    assert [i[id_key] for i in listed] == [winner], f"not exactly one {kind} named {name!r}: {listed}"
    logs = [text for _value, _error, text in results]
    if ending == "locked":
        # A dataflow is created under a create lock: one POST, the other racer waits and adopts it,
        # so no twin flow ever exists (it could start a run before being deleted).
        assert len(posts(aep, route)) == 1, "both racers POSTed the dataflow"
        assert any("waited for the create lock" in text for text in logs), logs
        assert names_listed(aep, CONN, f"{name} [create lock]") == [], "a create lock was left behind"
        return
    if ending == "refused":
        # Schema Registry refuses a second title; the refused racer adopts the first. The ad-hoc
        # kind ensures two titled resources (class, then schema): either may be the raced one, and
        # each kind has exactly one refused racer, which may differ between the two.
        refused = [kind for text in logs for kind in re.findall(r"AEP refused a second (.+?) '", text)]
        assert refused, "no racer was refused and adopted:\n" + "\n---\n".join(logs)
        assert len(refused) == len(set(refused)), f"both racers were refused on one kind: {refused}"
        assert all(winner in text for text in logs)
        return
    adopting = [text for text in logs if re.search(r"Concurrent create: .*adopt", text)]
    assert len(adopting) == 1, "exactly one racer adopts the other's:\n" + "\n---\n".join(logs)
    loser_log = adopting[0]
    assert winner in loser_log
    match = re.search(r"this task's (?:twin|copy) id=(\S+?)[ .,]", loser_log)
    assert match, loser_log
    loser = match.group(1)
    assert loser != winner
    if ending == "deleted":
        deleted = [r for r in aep.requests() if r["method"] == "DELETE" and r["path"].endswith(loser)]
        assert deleted and deleted[0]["status"] in (200, 204), "the loser was not deleted"
    else:
        renamed = names_listed(aep, list_path, f"{name} (unused twin {loser})", key)
        assert [i["id"] for i in renamed] == [loser], "the loser mapping set was not renamed"
        assert "cannot delete" in loser_log


# --------------------------------------------------------------------------- two DAG runs at once
PIPELINE_KINDS = ("connections", "sourceConnections", "targetConnections", "schemas", "dataSets", "flows")
TWIN_WORDS = ("Concurrent create", "twin", "are called")


def flow_runs(aep: AEP, flow_id: str) -> list[dict[str, Any]]:
    import requests

    body = requests.get(
        f"{aep.url}{FS}/runs",
        params={"property": f"flowId=={flow_id}"},
        headers=aep.emulator.headers(),
        timeout=30,
    ).json()
    return list(body.get("items") or [])


def test_two_concurrent_dag_runs_end_with_one_of_each(
    aep: AEP,
    pool: RacePool,
    airflow_db_template: Path,
    tmp_path: Path,
    run_dag: Callable[..., DagRunResult],
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Two ``dag.test()`` of the customer-success DAG, one per process, released together, every
    create POST held 1 s: both succeed on the same resources, one of each, one dataflow
    with one run for its window, every row ingested once; the rerun reuses all and names no twin."""
    homes = []
    for i in range(2):
        home = tmp_path / f"home{i}"
        (home / "dags").mkdir(parents=True)
        shutil.copy(CUSTOMER_SUCCESS_DAG, home / "dags" / CUSTOMER_SUCCESS_DAG.name)
        homes.append(home)
    for attempt in range(2):  # a loaded machine may desynchronise the two runs: then race again
        conf = {"name_prefix": f"dag race {attempt}"}
        aep.set_faults(latency_ms=CREATE_LATENCY_MS, routes=CREATE_ROUTES)
        args = [
            {"home": str(h), "template": str(airflow_db_template),
             "dag_file": str(h / "dags" / CUSTOMER_SUCCESS_DAG.name), "conf": conf}
            for h in homes
        ]  # fmt: skip
        results = pool.race("run_dag_test", args, airflow_env())
        aep.clear_faults()
        errors = [error for _value, error, _text in results if error]
        assert not errors, errors
        logs = "\n".join(text for _value, _error, text in results)
        with capfd.disabled():  # shown with -s; the rerun's check reads capfd
            print(f"DAG race attempt {attempt + 1}: raced={'Concurrent create' in logs}")
        if "Concurrent create" in logs:
            break
    runs = [value for value, _error, _text in results]
    assert [r["state"] for r in runs] == ["success", "success"], [r["states"] for r in runs]
    assert runs[0]["ids"] == runs[1]["ids"], "the two DAG runs ended on different resources"
    prefix = conf["name_prefix"]
    ids = runs[0]["ids"]
    for path, name, key in (
        (f"{FS}/connections", f"{prefix} base connection", "name"),
        (f"{FS}/sourceConnections", f"{prefix} Account source", "name"),
        (f"{FS}/targetConnections", f"{prefix} Account target", "name"),
        (f"{FS}/flows", f"{prefix} Account dataflow", "name"),
        (f"{CAT}/dataSets", f"{prefix} Account dataset", "name"),
        (f"{DP}/mappingSets", f"{prefix} Account mapping", "name"),
        (f"{SR}/tenant/schemas", f"{prefix} Account profile schema", "title"),
    ):
        assert len(names_listed(aep, path, name, key)) == 1, f"not exactly one {name!r}"
    flow_id = ids["create_dataflow"]
    assert len(flow_runs(aep, flow_id)) == 1, "not one run for the flow's first window"
    records = aep.records(ids["create_dataset"])
    record_ids = [r.get("_id") for r in records]
    assert len(record_ids) == 200 and len(set(record_ids)) == 200, "rows ingested twice or not at all"
    assert "Concurrent create" in logs, "the two DAG runs never raced on a create"

    # The rerun (no race, no latency) reuses everything, creates nothing and mentions no twin.
    capfd.readouterr()
    aep.clear_requests()
    rerun = run_dag(fast_sensor(load_dag()), run_conf=conf)
    assert rerun.state == "success", rerun.states
    assert rerun.xcom("create_dataflow") == flow_id
    assert not [r for r in aep.requests() if r["method"] == "POST" and r["path"].startswith("/data/")]
    out, err = capfd.readouterr()
    mentioned = [w for w in TWIN_WORDS if w in out + err]
    assert not mentioned, f"the rerun mentions twins: {mentioned}"
    assert (out + err).count("Reused existing") >= 7
