"""Run the operators in real DAG runs with ``dag.test()``: templating, XComArgs, dynamic task mapping,
teardown, extra links and rendered fields (in a subprocess with its own AIRFLOW_HOME)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep import xcom_keys
from tests.operators.conftest import SECRETS

DAG_FILE = textwrap.dedent(
    '''
    """S0/S2 tabular tutorial as a DAG, with a mapped branch and a teardown."""
    import json
    import sys

    import pendulum
    from airflow.sdk import DAG, XComArg

    from airflow_provider_aep import xcom_keys
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
    from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator

    with DAG(
        "aep_operators_tabular",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        params={"env": "test"},
    ) as dag:
        base = AEPCreateBaseConnectionOperator(
            task_id="base_connection",
            name="ssc-{{ params.env }}",
            source_conn_id="ssc_oauth",
            test_connection=True,
        )
        spec_id = XComArg(base, key=xcom_keys.CONNECTION_SPEC_ID)
        flow_spec = AEPGetFlowSpecOperator(task_id="flow_spec", source_connection_spec_id=spec_id)
        source = AEPCreateSourceConnectionOperator(
            task_id="source_connection",
            name="accounts-{{ params.env }}",
            base_connection_id=base.output,
            connection_spec_id=spec_id,
            table_name="Account",
        )
        schema = AEPCreateSchemaOperator(task_id="target_schema", title="Accounts {{ params.env }}")
        dataset = AEPCreateDatasetOperator(
            task_id="dataset",
            name="accounts-{{ params.env }}",
            schema_id=XComArg(schema, key=xcom_keys.META_ALT_ID),
        )
        target = AEPCreateTargetConnectionOperator(
            task_id="target_connection",
            name="accounts-target-{{ params.env }}",
            dataset_id=dataset.output,
            schema_id=schema.output,
        )
        mapping = AEPCreateMappingSetOperator(
            task_id="mapping",
            schema_id=schema.output,
            mapping={"Id": "_id", "Name": "person.name.fullName", "Phone": "mobilePhone.number"},
            source_columns=XComArg(source, key=xcom_keys.COLUMNS),
        )
        flow = AEPCreateDataflowOperator(
            task_id="dataflow",
            name="accounts-flow-{{ params.env }}",
            flow_spec_id=flow_spec.output,
            source_connection_id=source.output,
            target_connection_id=target.output,
            mapping_id=mapping.output,
            mapping_version=XComArg(mapping, key=xcom_keys.MAPPING_VERSION),
            delta_column="LastModifiedDate",
            frequency="minute",
            interval=15,
            start_time="{{ dag.start_date }}",  # stable across runs: a started flow keeps its start
        )
        disable = AEPSetFlowStateOperator(task_id="disable_flow", flow_id=flow.output, enabled=False)

        # dynamic task mapping: one source connection and one mapping set per table
        tables = AEPCreateSourceConnectionOperator.partial(
            task_id="more_sources", base_connection_id=base.output, connection_spec_id=spec_id
        ).expand_kwargs(
            [
                {"name": "contacts-{{ params.env }}", "table_name": "Contact"},
                {"name": "cases", "table_name": "Case"},
            ]
        )
        mappings = AEPCreateMappingSetOperator.partial(
            task_id="more_mappings", schema_id=schema.output
        ).expand(mapping=[{"Id": "_id"}, {"Id": "_id", "Name": "person.name.fullName"}])
        cleanup = (
            AEPDeleteResourceOperator.partial(
                task_id="delete_more_sources", resource_type="source_connection"
            )
            .expand(resource_id=tables.output)
            .as_teardown(setups=tables)
        )
        tables >> mappings >> cleanup


    def _state():
        import os

        import requests

        host = json.loads(os.environ["AIRFLOW_CONN_AEP_DEFAULT"])["host"]
        return requests.get(f"{host}/_emulator/state", timeout=30).json()


    def _run_once(logical_date):
        from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        run = dag.test(logical_date=logical_date)
        with create_session() as session:
            xcoms = [
                [x.task_id, x.map_index, x.key, x.value]
                for x in session.query(XComModel).filter(XComModel.run_id == run.run_id)
            ]
            tis = {
                f"{ti.task_id}[{ti.map_index}]": str(ti.state)
                for ti in session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id)
            }
            rendered = [
                [r.task_id, r.map_index, r.rendered_fields]
                for r in session.query(RTIF).filter(RTIF.run_id == run.run_id)
            ]
        result = {"state": str(run.state), "tis": tis, "xcoms": xcoms, "rendered": rendered}
        result["counts"] = _state()
        print("RESULT " + json.dumps(result, default=str), flush=True)


    if __name__ == "__main__":
        # two runs in one process (the in-process execution API starts once): the second reuses
        _run_once(pendulum.datetime(2026, 1, 1, tz="UTC"))
        _run_once(pendulum.datetime(2026, 1, 2, tz="UTC"))
    '''
)


@pytest.fixture(scope="session")
def airflow_home(airflow_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME whose metadata DB is a copy of the session's migrated template."""
    home = tmp_path_factory.mktemp("airflow_home")
    (home / "dags").mkdir()
    shutil.copy(airflow_db_template, home / "airflow.db")
    return home


def _airflow_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }


def _run_dag(home: Path) -> list[dict[str, Any]]:
    dag_file = home / "dags" / "aep_operators_tabular.py"
    dag_file.write_text(DAG_FILE)
    env = {**os.environ, **_airflow_env(home), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, str(dag_file)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = [json.loads(line[len("RESULT ") :]) for line in lines]
    for result in results:
        result["logs"] = proc.stdout + proc.stderr
    return results


def _xcom(result: dict, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    for tid, idx, k, value in result["xcoms"]:
        if tid == task_id and k == key and idx == map_index:
            return value
    raise AssertionError(f"no XCom {task_id}[{map_index}].{key}")


def _counts(aep: Any) -> dict[str, int]:
    return next(s["counts"] for s in aep.state()["sandboxes"] if s["sandbox"] == "prod")


def test_tabular_tutorial_dag_with_mapping_and_teardown(aep: Any, airflow_home: Path) -> None:
    first, second = _run_dag(airflow_home)
    assert first["state"] == "success", first["tis"]
    assert all(state == "success" for state in first["tis"].values()), first["tis"]
    assert set(first["tis"]) >= {"more_sources[0]", "more_sources[1]", "more_mappings[0]", "more_mappings[1]"}

    flow_id = _xcom(first, "dataflow")
    assert (
        _xcom(first, "base_connection", xcom_keys.CONNECTION_SPEC_ID)
        == "cb66ab34-8619-49cb-96d1-39b37ede86ea"
    )
    assert _xcom(first, "mapping", xcom_keys.MAPPING_VERSION) == "0"
    assert _xcom(first, "dataflow", xcom_keys.ETAG).startswith('"')
    assert _xcom(first, "dataflow", "_link_AEPDataflowLink") == (
        f"https://experience.adobe.com/#/@EMULATORORG@AdobeOrg/sname:prod/platform/source/dataflows/{flow_id}"
    )
    dataset_id = _xcom(first, "dataset")
    assert _xcom(first, "dataset", "_link_AEPDatasetLink").endswith(f"/platform/dataset/browse/{dataset_id}")
    assert _xcom(first, "more_sources", map_index=0) != _xcom(first, "more_sources", map_index=1)
    assert _xcom(first, "more_mappings", map_index=0) != _xcom(first, "more_mappings", map_index=1)
    assert _xcom(first, "delete_more_sources", xcom_keys.DELETED, map_index=1) is True

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    flow = AdobeExperiencePlatformHook().get_flow(flow_id)
    assert flow["name"] == "accounts-flow-test"
    assert flow["state"] == "disabled"
    assert int(flow["scheduleParams"]["startTime"]) == 1767225600  # rendered dag.start_date, seconds

    # rendered templates hold no secret; neither do XComs or logs
    blob = json.dumps([first["rendered"], first["xcoms"]]) + first["logs"]
    for secret in SECRETS:
        assert secret not in blob
    rendered = {(t, i): fields for t, i, fields in first["rendered"]}
    assert rendered[("base_connection", -1)]["name"] == "ssc-test"

    after_first = next(s["counts"] for s in first["counts"]["sandboxes"] if s["sandbox"] == "prod")
    assert after_first["sourceConnections"] == 1  # the two mapped ones were torn down
    assert after_first["flows"] == 1 and after_first["mappingSets"] == 3
    assert second["state"] == "success", second["tis"]
    assert _xcom(second, "dataflow") == flow_id
    # everything reused; only the torn-down mapped source connections were created again (and deleted)
    assert _counts(aep) == after_first
    assert "Reused existing dataflow 'accounts-flow-test'" in second["logs"]
