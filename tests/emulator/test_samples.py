"""Tests of the emulator's sample sources, connection specs and flow specs."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from airflow_provider_aep.emulator import samples
from airflow_provider_aep.emulator.samples import (
    CONNECTION_SPECS,
    FLOW_SPECS,
    GENERIC_ODATA_SPEC_ID,
    SALESFORCE_SERVICE_CLOUD_SPEC_ID,
    SECRET_AUTH_PARAMS,
    SERVICENOW_SPEC_ID,
    SampleTable,
    new_source_catalog,
)

SSC, SN, ODATA = SALESFORCE_SERVICE_CLOUD_SPEC_ID, SERVICENOW_SPEC_ID, GENERIC_ODATA_SPEC_ID

TABLES = [
    (SSC, "Account", ["Id", "Name", "Phone", "Industry", "BillingCity", "CreatedDate", "LastModifiedDate"],
     "LastModifiedDate", "yyyy-MM-dd HH:mm:ss"),
    (SSC, "Contact", ["Id", "AccountId", "FirstName", "LastName", "Email", "Phone", "CreatedDate",
                      "LastModifiedDate"], "LastModifiedDate", "yyyy-MM-dd HH:mm:ss"),
    (SSC, "Case", ["Id", "AccountId", "Subject", "Status", "Priority", "CreatedDate", "LastModifiedDate"],
     "LastModifiedDate", "yyyy-MM-dd HH:mm:ss"),
    (SN, "incident", ["sys_id", "number", "short_description", "priority", "state", "opened_at",
                      "sys_updated_on"], "sys_updated_on", "yyyy-MM-dd HH:mm:ss"),
    (SN, "sys_user", ["sys_id", "user_name", "first_name", "last_name", "email", "sys_created_on",
                      "sys_updated_on"], "sys_updated_on", "yyyy-MM-dd HH:mm:ss"),
    (ODATA, "Orders", ["OrderID", "CustomerID", "EmployeeID", "OrderDate", "ShipCity", "Freight",
                       "ModifiedDate"], "ModifiedDate", "yyyy-MM-ddTHH:mm:ssZ"),
    (ODATA, "Customers", ["CustomerID", "CompanyName", "ContactName", "City", "Country", "Phone",
                          "ModifiedDate"], "ModifiedDate", "yyyy-MM-ddTHH:mm:ssZ"),
    (SSC, "Opportunity", ["Id", "AccountId", "Name", "StageName", "Amount", "Probability", "CloseDate",
                          "IsClosed", "IsWon", "Owner.Name", "CreatedDate", "LastModifiedDate"],
     "LastModifiedDate", "yyyy-MM-dd HH:mm:ss"),
    (SSC, "Lead", ["Id", "FirstName", "LastName", "Company", "Email", "Status", "NumberOfEmployees",
                   "AnnualRevenue", "HasOptedOutOfEmail", "CreatedDate", "LastModifiedDate"],
     "LastModifiedDate", "yyyy-MM-dd HH:mm:ss"),
    (SSC, "Invoice__c", ["Id", "Name", "Account__c", "Amount__c", "Paid__c", "DueDate__c",
                         "LedgerSequence__c", "CreatedDate", "LastModifiedDate"], "LastModifiedDate",
     "yyyy-MM-dd HH:mm:ss"),
]  # fmt: skip
PY_FORMATS = {"yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S", "yyyy-MM-ddTHH:mm:ssZ": "%Y-%m-%dT%H:%M:%SZ"}
PY_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}


@pytest.fixture(scope="module")
def catalog() -> dict[str, dict[str, SampleTable]]:
    return new_source_catalog()


def test_catalog_has_exactly_the_documented_tables(catalog):
    assert {spec: sorted(tables) for spec, tables in catalog.items()} == {
        SSC: ["Account", "Case", "Contact", "Invoice__c", "Lead", "Opportunity"],
        SN: ["incident", "sys_user"],
        ODATA: ["Customers", "Orders"],
    }


@pytest.mark.parametrize(("spec", "name", "columns", "delta", "fmt"), TABLES)
def test_table_shape(catalog, spec, name, columns, delta, fmt):
    table = catalog[spec][name]
    assert table.name == name
    assert table.column_names() == columns
    assert table.delta_column == delta
    assert table.timestamp_format == fmt
    assert len(table.rows) == 200
    for column in table.columns:
        assert set(column) >= {"name", "type", "xdm"}
        assert column["xdm"]["type"] == column["type"]
    for row in table.rows:
        assert list(row) == columns
        for column in table.columns:
            assert isinstance(row[column["name"]], PY_TYPES[column["type"]]), (column, row)


@pytest.mark.parametrize(("spec", "name", "columns", "delta", "fmt"), TABLES)
def test_delta_timestamps_every_six_hours_from_2026(catalog, spec, name, columns, delta, fmt):
    table = catalog[spec][name]
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i, row in enumerate(table.rows):
        moment = datetime.strptime(row[delta], PY_FORMATS[fmt]).replace(tzinfo=timezone.utc)
        assert moment == start + timedelta(hours=6 * i)
    date_columns = [c["name"] for c in table.columns if c["xdm"].get("format") == "date-time"]
    assert delta in date_columns
    for row in table.rows:
        for col in date_columns:
            datetime.strptime(row[col], PY_FORMATS[fmt])  # every date-time column uses the table format
            assert row[col] <= row[delta] or col == delta


@pytest.mark.parametrize(
    ("spec", "name", "key"),
    [(SSC, "Account", "Id"), (SSC, "Contact", "Id"), (SSC, "Case", "Id"), (SN, "incident", "sys_id"),
     (SN, "incident", "number"), (SN, "sys_user", "sys_id"), (SN, "sys_user", "user_name"),
     (ODATA, "Orders", "OrderID"), (ODATA, "Customers", "CustomerID"), (SSC, "Opportunity", "Id"),
     (SSC, "Lead", "Id"), (SSC, "Invoice__c", "Id"), (SSC, "Invoice__c", "Name")],
)  # fmt: skip
def test_keys_are_unique(catalog, spec, name, key):
    values = [row[key] for row in catalog[spec][name].rows]
    assert len(set(values)) == len(values)


def _sf_checksum(fifteen: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    return "".join(
        alphabet[sum(1 << j for j, ch in enumerate(fifteen[k * 5 : k * 5 + 5]) if ch.isupper())]
        for k in range(3)
    )


@pytest.mark.parametrize(
    ("table", "prefix"),
    [("Account", "001"), ("Contact", "003"), ("Case", "500"), ("Opportunity", "006"), ("Lead", "00Q"),
     ("Invoice__c", "a01")],
)  # fmt: skip
def test_salesforce_ids_are_valid_18_char_ids(catalog, table, prefix):
    for row in catalog[SSC][table].rows:
        assert re.fullmatch(r"[0-9A-Za-z]{18}", row["Id"])
        assert row["Id"].startswith(prefix)
        assert row["Id"][15:] == _sf_checksum(row["Id"][:15])


def test_references_point_at_existing_rows(catalog):
    account_ids = {r["Id"] for r in catalog[SSC]["Account"].rows}
    assert {r["AccountId"] for r in catalog[SSC]["Contact"].rows} <= account_ids
    assert {r["AccountId"] for r in catalog[SSC]["Case"].rows} <= account_ids
    customer_ids = {r["CustomerID"] for r in catalog[ODATA]["Customers"].rows}
    assert {r["CustomerID"] for r in catalog[ODATA]["Orders"].rows} <= customer_ids
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["sys_id"]) for r in catalog[SN]["incident"].rows)
    assert all(1 <= r["priority"] <= 5 for r in catalog[SN]["incident"].rows)
    assert all("@" in r["Email"] for r in catalog[SSC]["Contact"].rows)


def test_catalog_is_deterministic_and_a_fresh_copy():
    first, second = new_source_catalog(), new_source_catalog()
    assert first == second
    first[SSC]["Account"].rows.append({"Id": "x"})
    first[SSC]["Account"].rows[0]["Name"] = "changed"
    third = new_source_catalog()
    assert len(third[SSC]["Account"].rows) == 200
    assert third[SSC]["Account"].rows[0]["Name"] != "changed"
    assert third == second


# --------------------------------------------------------------------------- connection specs

SPECS = {spec["id"]: spec for spec in CONNECTION_SPECS}


def _auth(spec_id: str, name: str) -> dict:
    return next(a for a in SPECS[spec_id]["authSpec"] if a["name"] == name)


def test_connection_spec_documents():
    assert set(SPECS) == {SSC, SN, ODATA, samples.DATA_LAKE_SPEC_ID}
    assert len(CONNECTION_SPECS) == len(SPECS)
    for spec in CONNECTION_SPECS:
        assert spec["version"] == "1.0"
        assert {"id", "name", "providerId", "version", "authSpec", "attributes"} <= set(spec)
        for auth in spec["authSpec"]:
            jsonschema.Draft7Validator.check_schema(auth["spec"])
    assert SPECS[SSC]["name"] == "salesforce-service-cloud"
    assert SPECS[SN]["name"] == "service-now"
    assert SPECS[samples.DATA_LAKE_SPEC_ID]["authSpec"] == []


@pytest.mark.parametrize(
    ("spec_id", "auth_name", "params", "valid"),
    [
        (SSC, "Basic Authentication", {"environmentUrl": "https://a.my.salesforce.com", "username": "u",
                                       "password": "p", "securityToken": "t"}, True),
        (SSC, "Basic Authentication", {"username": "u", "password": "p", "securityToken": "t",
                                       "apiVersion": "60.0"}, True),
        (SSC, "Basic Authentication", {"username": "u", "password": "p"}, False),
        (SSC, "OAuth2 Client Credential", {"environmentUrl": "https://a.my.salesforce.com", "clientId": "c",
                                           "clientSecret": "s", "apiVersion": "60.0"}, True),
        (SSC, "OAuth2 Client Credential", {"environmentUrl": "https://a.my.salesforce.com", "clientId": "c",
                                           "clientSecret": "s"}, False),
        (SSC, "OAuth2 Client Credential", {"clientId": "c", "clientSecret": "s",
                                           "apiVersion": "60.0"}, False),
        (SN, "Basic Authentication", {"endpoint": "https://x.service-now.com", "username": "u",
                                      "password": "p"}, True),
        (SN, "Basic Authentication", {"endpoint": "https://x.service-now.com", "username": "u"}, False),
        (ODATA, "Anonymous Authentication", {"url": "https://services.odata.org/V4/Northwind"}, True),
        (ODATA, "Anonymous Authentication", {}, False),
    ],
)  # fmt: skip
def test_auth_spec_required_params(spec_id, auth_name, params, valid):
    errors = list(jsonschema.Draft7Validator(_auth(spec_id, auth_name)["spec"]).iter_errors(params))
    assert (not errors) is valid, errors


@pytest.mark.parametrize(
    ("spec_id", "auth_name", "secret"),
    [(SSC, "Basic Authentication", "password"), (SSC, "Basic Authentication", "securityToken"),
     (SSC, "OAuth2 Client Credential", "clientSecret"), (SN, "Basic Authentication", "password")],
)  # fmt: skip
def test_secret_params_are_marked(spec_id, auth_name, secret):
    assert _auth(spec_id, auth_name)["spec"]["properties"][secret]["format"] == "password"
    assert secret in SECRET_AUTH_PARAMS
    assert secret in samples.secret_params_of(SPECS[spec_id])
    assert "username" not in samples.secret_params_of(SPECS[spec_id])


@pytest.mark.parametrize(
    ("params", "valid"),
    [({"dataSetId": "5ed18e0f4f90b719196f44a9"}, True), ({}, False), ({"dataSetId": 5}, False)],
)
def test_data_lake_target_spec_requires_dataset_id(params, valid):
    schema = SPECS[samples.DATA_LAKE_SPEC_ID]["targetSpec"]["spec"]
    assert jsonschema.Draft7Validator(schema).is_valid(params) is valid


@pytest.mark.parametrize(
    ("params", "valid"),
    [({"tableName": "Account", "columns": [{"name": "Id", "type": "string"}]}, True),
     ({"path": "Account"}, True), ({"columns": []}, False)],
)  # fmt: skip
def test_source_spec_needs_table_name_or_path(params, valid):
    schema = SPECS[SSC]["sourceSpec"]["spec"]
    assert jsonschema.Draft7Validator(schema).is_valid(params) is valid


# --------------------------------------------------------------------------- flow spec


def test_crm_to_aep_flow_spec_identity():
    (spec,) = FLOW_SPECS
    assert spec["id"] == "14518937-270c-4525-bdec-c2ba7cce3860"
    assert spec["name"] == "CRMToAEP"
    assert spec["version"] == "1.0"
    assert spec["providerId"] == "0ed90a81-07f4-4586-8190-b40eccef1c5a"
    ids = spec["sourceConnectionSpecIds"]
    assert len(ids) == 36 == len(set(ids))
    assert {
        SSC,
        SN,
        ODATA,
        "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5",
        "2fa8af9c-2d1a-43ea-a253-f00a00c74412",
    } <= set(ids)
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", i) for i in ids)
    assert spec["targetConnectionSpecIds"] == [samples.DATA_LAKE_SPEC_ID]
    assert [t["name"] for t in spec["transformationSpecs"]] == ["Copy", "Mapping"]
    assert spec["scheduleSpec"]["name"] == "PeriodicSchedule"
    assert spec["scheduleSpec"]["type"] == "Periodic"
    assert spec["attributes"]["isSourceFlow"] is True
    for section in [*spec["transformationSpecs"], spec["scheduleSpec"], spec["optionSpec"], spec["runSpec"]]:
        jsonschema.Draft7Validator.check_schema(section["spec"])


SCHEDULE_CASES = [
    ({"startTime": 1767225600, "frequency": "once"}, True),
    ({"startTime": 1767225600, "frequency": "once", "interval": 1}, False),
    ({"startTime": 1767225600, "frequency": "once", "backfill": True}, False),
    ({"startTime": 1767225600, "frequency": "minute", "interval": 14}, False),
    ({"startTime": 1767225600, "frequency": "minute", "interval": 15}, True),
    ({"startTime": 1767225600, "frequency": "minute"}, False),
    ({"startTime": 1767225600, "frequency": "hour", "interval": 1}, True),
    ({"startTime": 1767225600, "frequency": "hour", "interval": 0}, False),
    ({"startTime": 1767225600, "frequency": "hour"}, False),
    ({"startTime": 1767225600, "frequency": "day", "interval": 1, "backfill": False}, True),
    ({"startTime": 1767225600, "frequency": "week", "interval": 2, "backfill": True}, True),
    ({"startTime": 1767225600, "frequency": "day", "interval": "1"}, False),
    ({"startTime": "1767225600", "frequency": "hour", "interval": 1}, False),
    ({"startTime": 1767225600, "frequency": "hour", "interval": 1, "backfill": "true"}, False),
    ({"startTime": 1767225600, "frequency": "month", "interval": 1}, False),
    ({"startTime": 1767225600, "interval": 15}, False),
    ({"frequency": "hour", "interval": 1}, False),
]


@pytest.mark.parametrize(("params", "valid"), SCHEDULE_CASES)
def test_schedule_spec_rules(params, valid):
    schema = FLOW_SPECS[0]["scheduleSpec"]["spec"]
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(params))
    assert (not errors) is valid, [e.message for e in errors]


@pytest.mark.parametrize(
    ("options", "valid"),
    [({"partialIngestionPercent": 5}, True), ({"partialIngestionPercent": 0}, False),
     ({"errorDiagnosticsEnabled": True}, True), ({"errorDiagnosticsEnabled": "yes"}, False)],
)  # fmt: skip
def test_option_spec(options, valid):
    schema = FLOW_SPECS[0]["optionSpec"]["spec"]
    assert jsonschema.Draft7Validator(schema).is_valid(options) is valid


@pytest.mark.parametrize(
    ("params", "valid"),
    [({"deltaColumn": {"name": "LastModifiedDate", "dateFormat": "yyyy-MM-dd HH:mm:ss",
                       "timezone": "UTC"}}, True),
     ({"deltaColumn": {"dateFormat": "yyyy-MM-dd HH:mm:ss"}}, False), ({}, False)],
)  # fmt: skip
def test_copy_transformation_requires_delta_column_name(params, valid):
    copy_spec = FLOW_SPECS[0]["transformationSpecs"][0]["spec"]
    assert jsonschema.Draft7Validator(copy_spec).is_valid(params) is valid


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("yyyy-MM-dd HH:mm:ss", "2026-01-01 06:30:00"), ("yyyy-MM-ddTHH:mm:ssZ", "2026-01-01T06:30:00Z")],
)
def test_format_timestamp(fmt, expected):
    assert samples.format_timestamp(datetime(2026, 1, 1, 6, 30, tzinfo=timezone.utc), fmt) == expected
    with pytest.raises(ValueError, match="unsupported"):
        samples.format_timestamp(datetime(2026, 1, 1, tzinfo=timezone.utc), "dd/MM/yyyy")


#: sha256 (first 16 hex) of the columns, rows, delta column and format of the original tables:
#: tests and DAGs depend on their contents, so adding tables must never change them.
ORIGINAL_DIGESTS = {
    "Account": "231e18d6d92719b7", "Case": "fd68621fa450a99a", "Contact": "834b9526a8e40034",
    "Customers": "d39290f452457f86", "Orders": "185d2dcfeb5898cc", "incident": "bfedbdc53ed8bad6",
    "sys_user": "1d26804c4ac9452f",
}  # fmt: skip


def test_original_tables_are_unchanged(catalog):
    import hashlib
    import json

    tables = {name: t for spec in catalog.values() for name, t in spec.items() if name in ORIGINAL_DIGESTS}
    digests = {
        name: hashlib.sha256(
            json.dumps(
                {"columns": t.columns, "rows": t.rows, "delta": t.delta_column, "fmt": t.timestamp_format},
                sort_keys=True,
            ).encode()
        ).hexdigest()[:16]
        for name, t in tables.items()
    }
    assert digests == ORIGINAL_DIGESTS


def test_new_salesforce_tables_cover_every_xdm_scalar_type(catalog):
    kinds = {
        c.get("meta:xdmType")
        for name in ("Opportunity", "Lead", "Invoice__c")
        for c in catalog[SSC][name].columns
    }
    assert kinds >= {"string", "int", "long", "number", "boolean", "date", "date-time"}
    assert catalog[SSC]["Invoice__c"].label == "Invoice"
    assert "Owner.Name" in catalog[SSC]["Opportunity"].column_names()  # not a valid XDM field name
    big = [r["LedgerSequence__c"] for r in catalog[SSC]["Invoice__c"].rows]
    assert min(big) > 2**31 and max(big) < 2**53  # a long that does not fit an XDM int
    for row in catalog[SSC]["Opportunity"].rows:
        datetime.strptime(row["CloseDate"], "%Y-%m-%d")
        assert row["IsWon"] <= row["IsClosed"]
