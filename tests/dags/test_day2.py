"""Day 2 end to end on the emulator: re-triggering ``aep_customer_success_ingestion`` with other
params converges AEP in place (``dag.test()``, the real task runner), from a run that succeeded.

One DAG history per test, in order: plan (GETs only), interval change (flow PATCH), new mapping
(new mapping-set version, flow PATCH, next run carries the field, no re-ingest), credential
rotation (base connection PATCH; old password fails a run, new one works), forbidden change
(fails before any write, diff + fix), drift made behind Airflow's back (reported and converged).
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import pytest
import requests

from airflow_provider_aep import xcom_keys
from tests.dags.conftest import SOURCE_CONNECTIONS
from tests.dags.test_example_dags import DAGS_FOLDER, _dagbag, _xcom

DAG_ID = "aep_customer_success_ingestion"
SSC_SPEC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
FS = "/data/foundation/flowservice"
EXTRA = {"BillingCity": "homeAddress.city"}
ROTATED = "demo-client-R0tated-S3cret"
#: Generous bound on every wait for the emulator's next scheduled run (noisy 2-core CI).
WAIT_SECONDS = 60.0


def _run(dag: Any, **conf: Any) -> tuple[Any, dict[str, str]]:
    started = time.monotonic()
    run = dag.test(run_conf=conf or None)
    print(f"{DAG_ID} {conf}: {run.state} in {time.monotonic() - started:.1f}s")
    return run, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _etag(value: Any) -> str:
    return str(value).strip('"')


def _api(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if not r["path"].startswith("/_emulator")]


def _flow(emulator: Any, flow_id: str) -> dict[str, Any]:
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    return AdobeExperiencePlatformHook().get_flow(flow_id)


def _runs(flow_id: str) -> list[dict[str, Any]]:
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    return list(AdobeExperiencePlatformHook().list_runs(flow_id))


def _next_finished_run(emulator: Any, flow_id: str, known: set[str]) -> dict[str, Any]:
    """Speed the emulated clock up until a new run of the flow has finished; then slow it down."""
    emulator.set_config(time_scale=20000.0)
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            new = [r for r in _runs(flow_id) if r["id"] not in known]
            done = [r for r in new if r.get("state") not in (None, "inProgress")]
            if done:
                return sorted(done, key=lambda r: r["metrics"]["durationSummary"]["startedAtUTC"])[0]
            time.sleep(0.5)
    finally:
        emulator.set_config(time_scale=1.0)
    raise AssertionError(f"no new finished run of flow {flow_id} within {WAIT_SECONDS}s")


def _city(record: dict[str, Any]) -> Any:
    return (record.get("homeAddress") or {}).get("city")


@pytest.fixture
def emulator(airflow_db: Any, demo_env: Any) -> Any:
    demo_env.set_config(run_duration_seconds=0.5)
    return demo_env


def test_retriggers_converge_in_place(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    dag = _dagbag().dags[DAG_ID]
    first, states = _run(dag)
    assert str(first.state) == "success", states
    flow_id = _xcom(first, "create_dataflow")
    etag = _xcom(first, "create_dataflow", xcom_keys.ETAG)
    dataset_id = _xcom(first, "create_dataset")
    mapping_id = _xcom(first, "create_mapping_set")
    ingested = len(emulator.records(dataset_id))
    assert ingested >= 200 and not any(_city(r) for r in emulator.records(dataset_id))

    # ---- plan: the diff of the interval and mapping changes, GETs and the token only
    emulator.clear_requests()
    plan, states = _run(dag, plan_only=True, interval=4, extra_mapping=EXTRA)
    assert str(plan.state) == "success", states
    api = _api(emulator)
    assert {(r["method"]) for r in api if not r["path"].startswith("/ims/")} == {"GET"}
    assert {r["path"] for r in api if r["method"] != "GET"} <= {"/ims/token/v3"}
    flow_plan = _xcom(plan, "create_dataflow", xcom_keys.PLAN)[0]
    assert flow_plan["action"] == "update" and flow_plan["id"] == flow_id
    changes = {c["field"]: (c["have"], c["want"]) for c in flow_plan["changes"]}
    assert changes["scheduleParams.interval"] == (1, 4)
    assert changes["transformations[Mapping]"][1] == {"mappingId": mapping_id, "mappingVersion": "1"}
    mapping_plan = _xcom(plan, "create_mapping_set", xcom_keys.PLAN)[0]
    assert mapping_plan["action"] == "update"
    assert ["BillingCity", "homeAddress.city"] in mapping_plan["changes"][0]["want"]
    assert _xcom(plan, "create_dataset", xcom_keys.PLAN)[0]["action"] == "unchanged"
    assert _etag(_flow(emulator, flow_id)["etag"]) == _etag(etag), "the plan wrote nothing"

    # ---- the same plan for the whole DAG in one command (no Airflow DB): the printed diff
    from airflow_provider_aep.plan import has_conflict, plan_dag, render

    emulator.clear_requests()
    plans = plan_dag(dag, {"interval": 4, "extra_mapping": EXTRA})
    text = render(plans)
    assert "create_dataflow: UPDATE dataflow" in text and "~ scheduleParams.interval: 1 -> 4" in text
    assert "create_mapping_set: UPDATE mapping set" in text and "homeAddress.city" in text
    assert "create_dataset: UNCHANGED dataset" in text and not has_conflict(plans)
    assert {r["method"] for r in _api(emulator) if not r["path"].startswith("/ims/")} == {"GET"}
    conflict = render(plan_dag(dag, {"start_time": "2030-01-01T00:00:00Z"}))
    assert "create_dataflow: CONFLICT dataflow" in conflict and "! scheduleParams.startTime" in conflict
    assert "Fix:" in conflict

    # ---- interval change + new mapping in one re-trigger: one flow PATCH (same id, new etag),
    # a new mapping-set version (PUT), no POST/DELETE of a flow; the next run carries the field
    emulator.clear_requests()
    second, states = _run(dag, plan_only=False, interval=4, extra_mapping=EXTRA)
    assert str(second.state) == "success", states
    flow = _flow(emulator, flow_id)
    assert _xcom(second, "create_dataflow") == flow_id and flow["scheduleParams"]["interval"] == 4
    assert _etag(_xcom(second, "create_dataflow", xcom_keys.ETAG)) == _etag(flow["etag"]) != _etag(etag)
    api = [(r["method"], r["path"]) for r in _api(emulator)]
    assert [(m, x) for m, x in api if x.startswith(f"{FS}/flows") and m != "GET"] == [
        ("PATCH", f"{FS}/flows/{flow_id}")
    ]
    assert _xcom(second, "create_mapping_set") == mapping_id
    assert str(_xcom(second, "create_mapping_set", xcom_keys.MAPPING_VERSION)) == "1"
    assert ("PUT", f"/data/foundation/conversion/mappingSets/{mapping_id}") in api
    params = {t["name"]: t["params"] for t in _flow(emulator, flow_id)["transformations"]}["Mapping"]
    assert str(params["mappingVersion"]) == "1" and params["mappingId"] == mapping_id
    now = datetime.datetime.now(datetime.timezone.utc)
    new_rows = [
        {
            "Id": f"001NEW{i:012d}",
            "Name": f"Day Two {i}",
            "Phone": "+1 555 0100",
            "Industry": "Retail",
            "BillingCity": f"City {i}",
            "CreatedDate": now.strftime("%Y-%m-%d %H:%M:%S"),
            "LastModifiedDate": now.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for i in range(3)
    ]
    emulator.add_source_rows(SSC_SPEC, "Account", new_rows)
    known = {r["id"] for r in _runs(flow_id)}
    run = _next_finished_run(emulator, flow_id, known)
    assert run["state"] == "success", run["metrics"]
    records = emulator.records(dataset_id)
    assert len(records) == ingested + 3, "only rows past the watermark: no re-ingest"
    assert sorted(_city(r) for r in records[ingested:]) == ["City 0", "City 1", "City 2"]

    # ---- credential rotation: the source takes only the new secret; the old one fails a run
    creds = f"{emulator.url}/_emulator/sources/{SSC_SPEC}/credentials"
    login = SOURCE_CONNECTIONS["salesforce_service_cloud_default"]["login"]
    requests.put(creds, json=[{"clientId": login, "clientSecret": ROTATED}], timeout=10).raise_for_status()
    assert [c["valid"] for c in requests.get(creds, timeout=10).json()["connections"]] == [False]
    known = {r["id"] for r in _runs(flow_id)}
    failed = _next_finished_run(emulator, flow_id, known)
    assert failed["state"] == "failed"
    assert failed["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-1001-500"
    rotated = {**SOURCE_CONNECTIONS["salesforce_service_cloud_default"], "password": ROTATED}
    monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_SERVICE_CLOUD_DEFAULT", json.dumps(rotated))
    # and, in the same re-trigger, drift made behind Airflow's back (the flow edited "in the UI")
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    AdobeExperiencePlatformHook().patch_flow(
        flow_id,
        [
            {"op": "replace", "path": "/description", "value": "edited in the UI"},
            {"op": "replace", "path": "/scheduleParams/interval", "value": 9},
        ],
    )
    emulator.clear_requests()
    capfd.readouterr()
    third, states = _run(dag, plan_only=False, interval=4, extra_mapping=EXTRA)
    logs = "".join(capfd.readouterr())
    assert "description: AEP has 'edited in the UI', the DAG wants 'Managed by Airflow" in logs
    assert "scheduleParams.interval: AEP has 9, the DAG wants 4" in logs
    assert ROTATED not in logs
    assert str(third.state) == "success", states
    base_id = _xcom(third, "create_base_connection")
    assert base_id == _xcom(first, "create_base_connection")
    api = [(r["method"], r["path"]) for r in _api(emulator)]
    assert ("PATCH", f"{FS}/connections/{base_id}") in api
    assert [c["valid"] for c in requests.get(creds, timeout=10).json()["connections"]] == [True]
    # the drift is converged back in one PATCH
    assert [(m, p) for m, p in api if p.startswith(f"{FS}/flows") and m != "GET"] == [
        ("PATCH", f"{FS}/flows/{flow_id}")
    ]
    flow = _flow(emulator, flow_id)
    assert flow["description"].startswith("Managed by Airflow") and flow["scheduleParams"]["interval"] == 4
    known = {r["id"] for r in _runs(flow_id)}
    assert _next_finished_run(emulator, flow_id, known)["state"] == "success"

    # ---- a change AEP forbids fails before any write to the flow (diff + fix in the error)
    emulator.clear_requests()
    _, states = _run(dag, plan_only=False, interval=4, extra_mapping=EXTRA, start_time="2030-01-01T00:00:00Z")
    assert states["create_dataflow"] == "failed", states
    assert [r for r in _api(emulator) if r["path"].startswith(f"{FS}/flows") and r["method"] != "GET"] == []
    assert _flow(emulator, flow_id)["scheduleParams"]["interval"] == 4


def test_plan_of_a_new_dag_creates_everything_with_gets_only(
    emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against an empty sandbox every resource is "create" and ids downstream are unknown."""
    from airflow_provider_aep.plan import main

    emulator.clear_requests()
    capsys.readouterr()
    code = main([DAG_ID, "--dags-folder", str(DAGS_FOLDER), "--conf", '{"interval": 2}'])
    text = capsys.readouterr().out
    assert code == 0, text
    methods = {(r["method"], r["path"]) for r in _api(emulator) if r["method"] != "GET"}
    assert methods <= {("POST", "/ims/token/v3")}, methods
    for task in ("create_base_connection", "create_dataset", "create_mapping_set", "create_dataflow"):
        assert f"{task}: CREATE" in text, text
    assert "(known after create)" in text
    assert "delete_dataflow: skipped" in text and "wait_for_first_run: no AEP change" in text
