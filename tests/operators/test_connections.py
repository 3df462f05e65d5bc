"""Base, source and target connection operators: bodies, secrets, explore, legacy shapes."""

from __future__ import annotations

import json
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
from airflow_provider_aep.operators.schemas import AEPCreateAdHocSchemaOperator, AEPCreateSchemaOperator
from airflow_provider_aep.validation import DATA_LAKE_CONNECTION_SPEC_ID, XED_FULL_V1
from tests.operators.conftest import ODATA_SPEC, SECRETS, SNOW_SPEC, SSC_SPEC


@pytest.mark.parametrize(
    ("source_conn_id", "kwargs", "spec_id", "auth_spec", "param_keys"),
    [
        (
            "ssc_basic",
            {},
            SSC_SPEC,
            "Basic Authentication",
            {"environmentUrl", "username", "password", "securityToken", "apiVersion"},
        ),
        (
            "ssc_oauth",
            {},
            SSC_SPEC,
            "OAuth2 Client Credential",
            {"environmentUrl", "clientId", "clientSecret", "apiVersion"},
        ),
        (
            "snow",
            {"source": "servicenow"},
            SNOW_SPEC,
            "Basic Authentication",
            {"endpoint", "username", "password"},
        ),
        ("odata", {"source": "generic_odata"}, ODATA_SPEC, "Anonymous Authentication", {"url"}),
        (
            "generic_auth",
            {"source": None, "connection_spec_id": ODATA_SPEC, "auth_spec_name": "Anonymous Authentication"},
            ODATA_SPEC,
            "Anonymous Authentication",
            {"url"},
        ),
    ],
)
def test_base_connection_per_source(
    aep: Any,
    run_op: Any,
    capfd: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    source_conn_id: str,
    kwargs: dict,
    spec_id: str,
    auth_spec: str,
    param_keys: set,
) -> None:
    sent: list[dict] = []
    real = AdobeExperiencePlatformHook.create_base_connection

    def spy(self: Any, body: dict) -> dict:
        sent.append(json.loads(json.dumps(body)))
        return real(self, body)

    monkeypatch.setattr(AdobeExperiencePlatformHook, "create_base_connection", spy)
    op = AEPCreateBaseConnectionOperator(
        task_id="b",
        name=f"conn-{source_conn_id}",
        source_conn_id=source_conn_id,
        test_connection=True,
        **kwargs,
    )
    conn_id, xcoms = run_op(op)
    assert xcoms == {"connection_spec_id": spec_id}
    (body,) = sent
    assert body["connectionSpec"] == {"id": spec_id, "version": "1.0"}
    assert body["auth"]["specName"] == auth_spec
    assert set(body["auth"]["params"]) == param_keys
    stored = AdobeExperiencePlatformHook().get_base_connection(conn_id)
    assert stored["connectionSpec"]["id"] == spec_id
    assert stored["auth"]["specName"] == auth_spec
    assert any(r["path"].endswith(f"/connections/{conn_id}/test") for r in aep.requests())
    out, err = capfd.readouterr()
    for secret in SECRETS:
        assert secret not in out + err
        assert secret not in json.dumps(xcoms)
        assert all(secret not in str(getattr(op, f)) for f in op.template_fields)


def test_base_connection_secrets_are_masked(aep: Any, run_op: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    masked: list[Any] = []
    monkeypatch.setattr("airflow.sdk.log.mask_secret", lambda value, name=None: masked.append(value))
    run_op(AEPCreateBaseConnectionOperator(task_id="b", name="m", source_conn_id="ssc_basic"))
    assert "sf-P4ssw0rd-never-logged" in masked
    assert "sf-T0ken-never-logged" in masked


def test_oauth_without_api_version_fails_before_requests(
    aep: Any, run_op: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SSC_NOVERSION",
        json.dumps(
            {"conn_type": "generic", "host": "acme.my.salesforce.com", "login": "id", "password": "pw-123456"}
        ),
    )
    aep.clear_requests()
    with pytest.raises(AEPInputError, match="api_version"):
        run_op(AEPCreateBaseConnectionOperator(task_id="b", name="n", source_conn_id="ssc_noversion"))
    assert aep.requests() == []


def test_source_connection_explicit_columns_and_names(aep: Any, run_op: Any) -> None:
    base, _ = run_op(
        AEPCreateBaseConnectionOperator(task_id="b", name="snow", source_conn_id="snow", source="servicenow")
    )
    aep.clear_requests()
    src, xcoms = run_op(
        AEPCreateSourceConnectionOperator(
            task_id="s",
            name="incidents",
            base_connection_id=base,
            connection_spec_id=SNOW_SPEC,
            table_name="incident",
            columns=["number", {"name": "sys_updated_on", "type": "string", "meta:xdmType": "date-time"}],
        )
    )
    assert not any("/explore" in r["path"] for r in aep.requests()), "explicit columns: no /explore"
    assert [c["name"] for c in xcoms[xcom_keys.COLUMNS]] == ["number", "sys_updated_on"]
    stored = AdobeExperiencePlatformHook().get_source_connection(src)
    assert stored["params"]["tableName"] == "incident"
    assert stored["data"]["format"] == "tabular"


def test_source_connection_unknown_table_lists_tables(aep: Any, run_op: Any) -> None:
    base, _ = run_op(AEPCreateBaseConnectionOperator(task_id="b", name="ssc", source_conn_id="ssc_basic"))
    with pytest.raises(AEPInputError, match=r"table_name: 'Accounts' is not a table.*Account"):
        run_op(
            AEPCreateSourceConnectionOperator(
                task_id="s",
                name="x",
                base_connection_id=base,
                connection_spec_id=SSC_SPEC,
                table_name="Accounts",
            )
        )
    assert not any(r["method"] == "POST" and r["path"].endswith("/sourceConnections") for r in aep.requests())


def test_legacy_source_and_target_connections(aep: Any, run_op: Any) -> None:
    """S3/S4 shapes: ad-hoc schema + params.path, dataset base connection in the target."""
    base, _ = run_op(
        AEPCreateBaseConnectionOperator(
            task_id="b", name="od", source_conn_id="odata", source="generic_odata"
        )
    )
    adhoc, adhoc_xcoms = run_op(
        AEPCreateAdHocSchemaOperator(
            task_id="a", title="Orders raw", fields={"OrderID": "integer", "OrderDate": "date-time"}
        )
    )
    src, _ = run_op(
        AEPCreateSourceConnectionOperator(
            task_id="s",
            name="orders",
            base_connection_id=base,
            connection_spec_id=ODATA_SPEC,
            path="Orders",
            adhoc_schema_id=adhoc,
        )
    )
    assert set(adhoc_xcoms) == {"meta_alt_id", "class_id"}
    stored = AdobeExperiencePlatformHook().get_source_connection(src)
    assert stored["params"]["path"] == "Orders"
    assert stored["data"]["schema"]["id"] == adhoc
    schema, sx = run_op(AEPCreateSchemaOperator(task_id="t", title="Orders target"))
    ds, _ = run_op(AEPCreateDatasetOperator(task_id="d", name="orders-ds", schema_id=schema))
    dl, dlx = run_op(AEPCreateDatasetBaseConnectionOperator(task_id="dl", name="dataset base"))
    assert dlx == {"connection_spec_id": DATA_LAKE_CONNECTION_SPEC_ID}
    tgt, _ = run_op(
        AEPCreateTargetConnectionOperator(
            task_id="tc",
            name="orders-tgt",
            dataset_id=ds,
            schema_id=sx[xcom_keys.META_ALT_ID],
            base_connection_id=dl,
        )
    )
    target = AdobeExperiencePlatformHook().get_target_connection(tgt)
    assert target["connectionSpec"]["id"] == DATA_LAKE_CONNECTION_SPEC_ID
    assert target["data"]["format"] == "parquet_xdm"
    assert target["data"]["schema"] == {"id": schema, "version": XED_FULL_V1}, "altId resolved to $id"
    assert target["params"]["dataSetId"] == ds
