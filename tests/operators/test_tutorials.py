"""The tutorials, composed with the operators only, against the emulator.

* S0/S2 (current tabular workflow): base connection -> explore -> source connection (tableName +
  columns) -> target schema -> dataset -> target connection -> mapping -> flow spec -> dataflow.
* S4 (and S1/S3, 2020 ad-hoc workflow): base connection -> ad-hoc class + schema -> source connection
  (path + ad-hoc schema) -> target schema -> dataset -> dataset base connection -> target connection
  (with baseConnectionId) -> legacy mapping body -> flow spec -> dataflow (minute/30).

The seeds' own mistakes (columns that do not exist, non-UUID/31-char ids, ms timestamps...) are
rejected locally; the corrected steps go through, and the scheduled flow moves rows into the dataset.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
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
from tests.operators.conftest import CRM_FLOW_SPEC


def _wait_for_records(aep: Any, dataset_id: str, timeout: float = 60.0) -> list[dict]:
    """Records of the dataset once a run wrote some (runs take 0.2 s; the timeout is a hang guard)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = aep.records(dataset_id)
        if records:
            return records
        time.sleep(0.5)
    return []


def test_tabular_tutorial_s0_s2(aep: Any, run_op: Any) -> None:
    aep.set_config(run_duration_seconds=0.2)
    base, bx = run_op(
        AEPCreateBaseConnectionOperator(task_id="base", name="SSC connection", source_conn_id="ssc_basic")
    )
    spec = bx[xcom_keys.CONNECTION_SPEC_ID]
    source, sx = run_op(
        AEPCreateSourceConnectionOperator(
            task_id="source",
            name="Source connection for Customer Success",
            description="Source connection for a Customer Success system",
            base_connection_id=base,
            connection_spec_id=spec,
            table_name="Account",  # columns read from /explore
        )
    )
    schema, _ = run_op(
        AEPCreateSchemaOperator(
            task_id="schema",
            title="Target schema for a Customer Success source",
            description="Target schema for a Customer Success source",
        )
    )
    dataset, _ = run_op(AEPCreateDatasetOperator(task_id="dataset", name="Target dataset", schema_id=schema))
    target, _ = run_op(
        AEPCreateTargetConnectionOperator(
            task_id="target", name="Target connection for CS", dataset_id=dataset, schema_id=schema
        )
    )
    mapping_kwargs: dict[str, Any] = {
        "task_id": "mapping",
        "schema_id": schema,
        "source_columns": sx[xcom_keys.COLUMNS],
        "mapping": {"Id": "_id", "Name": "person.name.fullName", "Phone": "mobilePhone.number"},
    }
    mapping, mx = run_op(AEPCreateMappingSetOperator(**mapping_kwargs))
    flow_spec, _ = run_op(AEPGetFlowSpecOperator(task_id="spec", source_connection_spec_id=spec))
    assert flow_spec == CRM_FLOW_SPEC

    # the seed's flow as written: deltaColumn "updatedAt" does not exist in Account
    seed_flow: dict[str, Any] = {
        "task_id": "flow",
        "name": "Test flow",
        "description": "Test flow",
        "flow_spec_id": flow_spec,
        "source_connection_id": source,
        "target_connection_id": target,
        "mapping_id": mapping,
        "mapping_version": mx[xcom_keys.MAPPING_VERSION],
        "delta_column": "updatedAt",
        "frequency": "minute",
        "interval": 15,
        "start_time": int(time.time()) - 3600,
    }
    with pytest.raises(AEPInputError, match=r"^delta_column: 'updatedAt' is not a column"):
        run_op(AEPCreateDataflowOperator(**seed_flow))
    flow, fx = run_op(AEPCreateDataflowOperator(**{**seed_flow, "delta_column": "LastModifiedDate"}))
    assert fx[xcom_keys.ETAG]
    records = _wait_for_records(aep, dataset)
    assert records, "the scheduled flow moved no rows"
    first = records[0]
    assert set(first) >= {"_id", "person", "mobilePhone"}, first
    assert AdobeExperiencePlatformHook().get_flow(flow)["state"] == "enabled"


def test_legacy_adhoc_tutorial_s4(aep: Any, run_op: Any) -> None:
    aep.set_config(run_duration_seconds=0.2)
    base, bx = run_op(
        AEPCreateBaseConnectionOperator(task_id="base", name="CS base", source_conn_id="ssc_oauth")
    )
    adhoc, ax = run_op(
        AEPCreateAdHocSchemaOperator(
            task_id="adhoc",
            title="Account ad-hoc",
            fields={"Id": "string", "Name": "string", "Phone": "string", "LastModifiedDate": "string"},
        )
    )
    assert ax[xcom_keys.CLASS_ID].startswith("https://ns.adobe.com/emulatortenant/classes/")
    source, _ = run_op(
        AEPCreateSourceConnectionOperator(
            task_id="source",
            name="Source connection for CS",
            description="Source Connection for CS to ingest Account",
            base_connection_id=base,
            connection_spec_id=bx[xcom_keys.CONNECTION_SPEC_ID],
            path="Account",
            adhoc_schema_id=adhoc,
        )
    )
    schema, sx = run_op(AEPCreateSchemaOperator(task_id="schema", title="Target schema CS"))
    dataset, _ = run_op(
        AEPCreateDatasetOperator(task_id="dataset", name="Target dataset CS", schema_id=schema)
    )
    dataset_base, _ = run_op(
        AEPCreateDatasetBaseConnectionOperator(task_id="dl", name="Dataset base connection")
    )
    target, _ = run_op(
        AEPCreateTargetConnectionOperator(
            task_id="target",
            name="Target Connection for CS",
            description="Target Connection for CS",
            dataset_id=dataset,
            schema_id=schema,
            base_connection_id=dataset_base,
        )
    )
    legacy = {
        "version": 0,
        "xdmSchema": schema,
        "xdmVersion": "1.0",
        "id": None,
        "mappings": [
            {"destinationXdmPath": "person.name.fullName", "sourceAttribute": "Name", "identity": False,
             "identityGroup": None, "namespaceCode": None, "version": 0},
            {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Phone", "identity": False,
             "identityGroup": None, "namespaceCode": None, "version": 0},
            {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "email", "identity": False,
             "identityGroup": None, "namespaceCode": None, "version": 0},
        ],
    }  # fmt: skip
    # as written in the seed, the third mapping reads a column that the ad-hoc schema does not have
    with pytest.raises(AEPInputError, match="'email' is not a column"):
        run_op(
            AEPCreateMappingSetOperator(
                task_id="m",
                schema_id=schema,
                legacy_body=legacy,
                source_columns=["Id", "Name", "Phone", "LastModifiedDate"],
            )
        )
    legacy["mappings"] = [
        *legacy["mappings"][:2],
        {"destinationXdmPath": "_id", "sourceAttribute": "Id", "identity": False, "identityGroup": None,
         "namespaceCode": None, "version": 0},
    ]  # fmt: skip
    mapping, mx = run_op(AEPCreateMappingSetOperator(task_id="m", schema_id=schema, legacy_body=legacy))
    flow_spec, _ = run_op(AEPGetFlowSpecOperator(task_id="spec"))
    # the seed's mappingId is hyphenated (not a mapping-set id) and its startTime a string: both handled
    with pytest.raises(AEPInputError, match=r"^mapping_id:"):
        AEPCreateDataflowOperator(
            task_id="flow", name="x", flow_spec_id=flow_spec, source_connection_id=source,
            target_connection_id=target, mapping_id="ab91c736-1f3d-4b09-8424-311d3d3e3cea",
        )  # fmt: skip
    flow, fx = run_op(
        AEPCreateDataflowOperator(
            task_id="flow",
            name="Dataflow between CS and Platform",
            description="Inbound data to Platform",
            flow_spec_id=flow_spec,
            source_connection_id=source,
            target_connection_id=target,
            mapping_id=mapping,
            mapping_version=mx[xcom_keys.MAPPING_VERSION],
            delta_column="LastModifiedDate",
            frequency="minute",
            interval="30",
            start_time=str(int(time.time()) - 3600),
        )
    )
    assert fx[xcom_keys.ETAG]
    stored = AdobeExperiencePlatformHook().get_flow(flow)
    assert int(stored["scheduleParams"]["interval"]) == 30
    assert sx[xcom_keys.META_ALT_ID].startswith("_emulatortenant.schemas.")
    records = _wait_for_records(aep, dataset)
    assert records and "_id" in records[0], records[:1]


def test_legacy_protocols_tutorial_s3(aep: Any, run_op: Any) -> None:
    """Generic OData (anonymous) with the 2020 ad-hoc shape and the OData delta format."""
    aep.set_config(run_duration_seconds=0.2)
    base, bx = run_op(
        AEPCreateBaseConnectionOperator(
            task_id="b", name="OData", source_conn_id="odata", source="generic_odata"
        )
    )
    fields = {
        "OrderID": "integer", "CustomerID": "string", "EmployeeID": "integer", "OrderDate": "date-time",
        "ShipCity": "string", "Freight": "number", "ModifiedDate": "date-time",
    }  # fmt: skip
    adhoc, _ = run_op(AEPCreateAdHocSchemaOperator(task_id="a", title="Orders ad-hoc", fields=fields))
    source, _ = run_op(
        AEPCreateSourceConnectionOperator(
            task_id="s",
            name="Protocols source connection",
            base_connection_id=base,
            connection_spec_id=bx[xcom_keys.CONNECTION_SPEC_ID],
            path="Orders",
            adhoc_schema_id=adhoc,
        )
    )
    schema, _ = run_op(AEPCreateSchemaOperator(task_id="t", title="Target schema for protocols"))
    dataset, _ = run_op(AEPCreateDatasetOperator(task_id="d", name="Protocols dataset", schema_id=schema))
    dataset_base, _ = run_op(
        AEPCreateDatasetBaseConnectionOperator(task_id="dl", name="Protocols dataset base")
    )
    target, _ = run_op(
        AEPCreateTargetConnectionOperator(
            task_id="tc",
            name="Protocols target",
            dataset_id=dataset,
            schema_id=schema,
            base_connection_id=dataset_base,
        )
    )
    # the seed writes three columns into _id (one of them never declared): rejected locally
    with pytest.raises(AEPInputError, match=r"destination '_id' is written by both"):
        AEPCreateMappingSetOperator(
            task_id="m",
            schema_id=schema,
            source_columns=list(fields),
            mapping={"OrderID": "_id", "CustomerID": "_id", "EmployeeID": "_id"},
        )
    mapping, mx = run_op(
        AEPCreateMappingSetOperator(
            task_id="m", schema_id=schema, source_columns=list(fields), mapping={"CustomerID": "_id"}
        )
    )
    flow, _ = run_op(
        AEPCreateDataflowOperator(
            task_id="f",
            name="Protocols dataflow",
            flow_spec_id=run_op(
                AEPGetFlowSpecOperator(
                    task_id="fs", source_connection_spec_id=bx[xcom_keys.CONNECTION_SPEC_ID]
                )
            )[0],
            source_connection_id=source,
            target_connection_id=target,
            mapping_id=mapping,
            mapping_version=mx[xcom_keys.MAPPING_VERSION],
            delta_column="ModifiedDate",
            delta_date_format="yyyy-MM-ddTHH:mm:ssZ",
            frequency="minute",
            interval=15,
            start_time=int(time.time()) - 3600,
        )
    )
    records = _wait_for_records(aep, dataset)
    assert records and all("_id" in r for r in records[:5]), records[:1]
    assert (
        AdobeExperiencePlatformHook().get_flow(flow)["transformations"][0]["params"]["deltaColumn"][
            "dateFormat"
        ]
        == "yyyy-MM-ddTHH:mm:ssZ"
    )
