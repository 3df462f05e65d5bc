"""Tests of the emulator's flow-run simulation."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from airflow_provider_aep.emulator import runs
from airflow_provider_aep.emulator.runs import RunOutcome, batch_id_for, execute_run
from airflow_provider_aep.emulator.samples import (
    GENERIC_ODATA_SPEC_ID,
    SALESFORCE_SERVICE_CLOUD_SPEC_ID,
    SERVICENOW_SPEC_ID,
    SampleTable,
    new_source_catalog,
)
from airflow_provider_aep.emulator.xdm import PROFILE_CLASS_ID, field_paths

PERSON = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL = "https://ns.adobe.com/xdm/context/profile-personal-details"
WORK = "https://ns.adobe.com/xdm/context/profile-work-details"
FIELDS = field_paths(PROFILE_CLASS_ID, [PERSON, PERSONAL, WORK])
CONTACT_RULES = [
    ("Id", "_id"),
    ("FirstName", "person.name.firstName"),
    ("LastName", "person.name.lastName"),
    ("Email", "personalEmail.address"),
    ("Phone", "mobilePhone.number"),
    ("LastModifiedDate", "_repo.modifyDate"),
]
T0 = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.fixture
def catalog():
    return new_source_catalog()


@pytest.fixture
def contact(catalog) -> SampleTable:
    return catalog[SALESFORCE_SERVICE_CLOUD_SPEC_ID]["Contact"]


def run(table: SampleTable, **overrides) -> RunOutcome:
    kwargs = {
        "table": table,
        "mapping_rules": CONTACT_RULES,
        "field_types": FIELDS,
        "delta_column": "LastModifiedDate",
        "watermark": None,
        "window_start": None,
        "window_end": None,
        "partial_ingestion_percent": None,
        "force_status": None,
        "started_at_ms": T0,
        "completed_at_ms": T0 + 3000,
        "run_id": "7af3ba45-4952-4371-8361-1b30134be7eb",
        "flow_id": "3d17a4ff-9e0a-4f7c-94bb-bc0b61a3a76d",
        "source_connection_id": "b7581b59-c603-4df1-a689-d23d7ac440f3",
        "target_connection_id": "320f119a-5ac1-4ab1-88ea-eb19e674ea2e",
    }
    kwargs.update(overrides)
    return execute_run(**kwargs)


def assert_consistent(outcome: RunOutcome) -> None:
    m = outcome.metrics
    assert set(m) == {"durationSummary", "sizeSummary", "recordSummary", "fileSummary", "statusSummary"}
    rs = m["recordSummary"]
    assert rs["outputRecordCount"] == rs["createdRecordCount"] == len(outcome.records)
    if outcome.status != "failed":
        assert (
            rs["inputRecordCount"]
            == rs["outputRecordCount"] + rs["failedRecordCount"] + rs["skippedRecordCount"]
        )
    else:
        assert outcome.records == []
    assert m["statusSummary"]["status"] == outcome.status
    assert m["sizeSummary"]["outputBytes"] == sum(
        len(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode()) for r in outcome.records
    )
    assert m["durationSummary"] == {"startedAtUTC": T0, "completedAtUTC": T0 + 3000}
    copy, promotion = outcome.activities
    assert copy["id"] == "copyActivity" and promotion["id"] == "promotionActivity"
    assert set(copy["durationSummary"]["extensions"]) == {"windowStart", "windowEnd"}
    (target,) = promotion["targetInfo"]
    assert target["reference"]["type"] == "Batch"
    assert target["id"] == "320f119a-5ac1-4ab1-88ea-eb19e674ea2e"
    assert len(target["reference"]["ids"]) == 1
    assert promotion["recordSummary"]["outputRecordCount"] == len(outcome.records)
    assert sum(e["recordCount"] for e in m["statusSummary"]["extensions"]["errors"]) == (
        rs["skippedRecordCount"]
        + (rs["failedRecordCount"] if copy["statusSummary"]["status"] == "success" else 0)
    )
    json.dumps(outcome.metrics)
    json.dumps(outcome.activities)


def test_first_run_reads_everything_and_maps_nested(contact):
    outcome = run(contact)
    assert outcome.status == "success"
    assert len(outcome.records) == 200
    first = outcome.records[0]
    row = contact.rows[0]
    assert first == {
        "_id": row["Id"],
        "person": {"name": {"firstName": row["FirstName"], "lastName": row["LastName"]}},
        "personalEmail": {"address": row["Email"]},
        "mobilePhone": {"number": row["Phone"]},
        "_repo": {"modifyDate": "2026-01-01T00:00:00Z"},
    }
    assert outcome.new_watermark == contact.rows[-1]["LastModifiedDate"] == "2026-02-19 18:00:00"
    rs = outcome.metrics["recordSummary"]
    assert (rs["inputRecordCount"], rs["outputRecordCount"], rs["failedRecordCount"]) == (200, 200, 0)
    assert outcome.metrics["statusSummary"]["errors"] == []
    assert outcome.metrics["fileSummary"]["outputFileCount"] == 1
    assert_consistent(outcome)


def test_second_run_only_reads_newer_rows(contact):
    first = run(contact)
    assert run(contact, watermark=first.new_watermark).records == []
    second = run(contact, watermark=first.new_watermark)
    assert second.status == "success"
    assert second.new_watermark == first.new_watermark
    assert second.metrics["recordSummary"]["inputRecordCount"] == 0
    assert second.metrics["fileSummary"]["inputFileCount"] == 0
    contact.rows.append(
        {**contact.rows[-1], "Id": "0035g0000NEWROWAAA", "LastModifiedDate": "2026-02-20 00:00:00"}
    )
    contact.rows.append(
        {**contact.rows[-1], "Id": "0035g0000NEWROWBAA", "LastModifiedDate": "2026-02-20 06:00:00"}
    )
    third = run(contact, watermark=first.new_watermark)
    assert [r["_id"] for r in third.records] == ["0035g0000NEWROWAAA", "0035g0000NEWROWBAA"]
    assert third.new_watermark == "2026-02-20 06:00:00"
    assert_consistent(third)


@pytest.mark.parametrize(
    ("watermark", "expected"),
    [("2026-01-01 00:00:00", 199), ("2026-01-01T00:00:00Z", 199), ("2026-02-19 12:00:00", 1),
     ("2026-01-26 00:00:00", 99), ("2025-12-31 23:59:59", 200)],
)  # fmt: skip
def test_watermark_compares_as_datetime_in_any_format(contact, watermark, expected):
    assert len(run(contact, watermark=watermark).records) == expected


def test_odata_watermark_keeps_source_format(catalog):
    orders = catalog[GENERIC_ODATA_SPEC_ID]["Orders"]
    rules = [("OrderID", "_emulatortenant.OrderID"), ("Freight", "_emulatortenant.Freight"),
             ("OrderDate", "_emulatortenant.OrderDate")]  # fmt: skip
    types = {"_emulatortenant.OrderID": {"type": "integer"}, "_emulatortenant.Freight": {"type": "number"},
             "_emulatortenant.OrderDate": {"type": "string", "format": "date-time"}}  # fmt: skip
    outcome = run(orders, mapping_rules=rules, field_types=types, delta_column="ModifiedDate",
                  watermark="2026-02-19T00:00:00Z")  # fmt: skip
    assert outcome.new_watermark == "2026-02-19T18:00:00Z"
    assert [r["_emulatortenant"]["OrderID"] for r in outcome.records] == [10445, 10446, 10447]
    assert_consistent(outcome)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [("2026-01-01T00:00:00", "2026-01-02T00:00:00", 4),
     ("2026-01-01T00:00:01", "2026-01-02T00:00:00", 3),
     ("2026-01-01T00:00:00", "2026-01-02T00:00:01", 5),
     ("2025-01-01T00:00:00", "2025-02-01T00:00:00", 0),
     ("2026-02-19T18:00:00", "2027-01-01T00:00:00", 1)],
)  # fmt: skip
def test_window_is_start_inclusive_end_exclusive(catalog, start, end, expected):
    incident = catalog[SERVICENOW_SPEC_ID]["incident"]
    rules = [("sys_id", "_id"), ("priority", "_emulatortenant.priority")]
    types = {"_id": {"type": "string"}, "_emulatortenant.priority": {"type": "integer"}}
    outcome = run(incident, mapping_rules=rules, field_types=types, delta_column=None,
                  window_start=epoch(start), window_end=epoch(end))  # fmt: skip
    assert len(outcome.records) == expected
    assert outcome.activities[0]["durationSummary"]["extensions"] == {
        "windowStart": int(epoch(start)),
        "windowEnd": int(epoch(end)),
    }
    assert_consistent(outcome)


def test_window_and_watermark_combine(contact):
    outcome = run(
        contact,
        watermark="2026-01-01 12:00:00",
        window_start=epoch("2026-01-01T00:00:00"),
        window_end=epoch("2026-01-02T06:00:00"),
    )
    assert [r["_repo"]["modifyDate"] for r in outcome.records] == [
        "2026-01-01T18:00:00Z",
        "2026-01-02T00:00:00Z",
    ]


def _break(table: SampleTable, indexes: list[int], column: str = "LastModifiedDate", value="garbage") -> None:
    for i in indexes:
        if value is KeyError:
            del table.rows[i][column]
        else:
            table.rows[i][column] = value


def test_row_failures_are_counted_and_fail_the_run_without_partial_ingestion(contact):
    # CreatedDate is mapped to a date-time field: two rows with bad dates fail mapping.
    rules = [*CONTACT_RULES, ("CreatedDate", "_repo.createDate")]
    _break(contact, [3, 7], "CreatedDate")
    outcome = run(contact, mapping_rules=rules)
    assert outcome.status == "failed"
    assert outcome.records == []
    assert outcome.new_watermark is None
    rs = outcome.metrics["recordSummary"]
    assert (rs["inputRecordCount"], rs["failedRecordCount"], rs["outputRecordCount"]) == (200, 2, 0)
    assert [i["details"]["rowIndex"] for i in rs["failedInfo"]] == [3, 7]
    assert all(i["code"] == "MAPPER-3700-400" for i in rs["failedInfo"])
    assert "CreatedDate" in rs["failedInfo"][0]["message"]
    ext = outcome.metrics["statusSummary"]["extensions"]
    assert ext["errors"] == [
        {"code": "MAPPER-3700-400", "message": ext["errors"][0]["message"], "recordCount": 2}
    ]
    assert outcome.metrics["statusSummary"]["errors"][0]["code"] == "MAPPER-3700-400"
    assert_consistent(outcome)


@pytest.mark.parametrize(
    ("broken", "percent", "status", "written"),
    [(2, 1.0, "partialSuccess", 198), (2, 0.5, "failed", 0), (10, 5.0, "partialSuccess", 190),
     (11, 5.0, "failed", 0), (0, 5.0, "success", 200), (200, 100.0, "failed", 0), (2, None, "failed", 0)],
)  # fmt: skip
def test_partial_ingestion_threshold(contact, broken, percent, status, written):
    _break(contact, [i * 200 // broken for i in range(broken)], "Email", None)
    outcome = run(contact, partial_ingestion_percent=percent)
    assert outcome.status == status
    assert len(outcome.records) == written
    assert outcome.metrics["recordSummary"]["failedRecordCount"] == broken
    if status == "partialSuccess":
        assert outcome.metrics["statusSummary"]["errors"][0]["code"] == "INGEST-1212-400"
        assert outcome.new_watermark == "2026-02-19 18:00:00"
    if status == "failed":
        assert outcome.new_watermark is None
    assert_consistent(outcome)


@pytest.mark.parametrize(
    ("column", "value"),
    [("Email", None), ("Email", KeyError), ("Phone", {"nested": 1})],
)
def test_missing_or_unmappable_source_value_fails_the_row(contact, column, value):
    _break(contact, [5], column, value)
    outcome = run(contact, partial_ingestion_percent=10)
    assert outcome.status == "partialSuccess"
    (info,) = outcome.metrics["recordSummary"]["failedInfo"]
    assert info["details"] == {"rowIndex": 5, "column": column}
    assert column in info["message"]


def test_coercion_to_integer_and_unknown_destination_passthrough(catalog):
    incident = catalog[SERVICENOW_SPEC_ID]["incident"]
    incident.rows[0]["priority"] = "3"
    incident.rows[1]["priority"] = "high"
    rules = [("priority", "_emulatortenant.priority"), ("state", "_emulatortenant.state")]
    outcome = run(
        incident,
        mapping_rules=rules,
        field_types={"_emulatortenant.priority": {"type": "integer"}},
        delta_column="sys_updated_on",
        partial_ingestion_percent=1,
    )
    assert outcome.status == "partialSuccess"
    assert outcome.records[0] == {"_emulatortenant": {"priority": 3, "state": incident.rows[0]["state"]}}
    assert outcome.metrics["recordSummary"]["failedRecordCount"] == 1


def test_unparsable_delta_value_is_skipped(contact):
    _break(contact, [10, 11])
    outcome = run(contact)
    assert outcome.status == "success"
    rs = outcome.metrics["recordSummary"]
    assert (rs["inputRecordCount"], rs["skippedRecordCount"], rs["outputRecordCount"]) == (200, 2, 198)
    assert [i["details"]["rowIndex"] for i in rs["skippedInfo"]] == [10, 11]
    assert_consistent(outcome)


def test_identity_map_destination(contact):
    rules = [("Email", "identityMap.Email.id"), ("Id", "identityMap.CRMID.id")]
    outcome = run(contact, mapping_rules=rules)
    assert outcome.records[0] == {
        "identityMap": {"Email": [{"id": contact.rows[0]["Email"]}], "CRMID": [{"id": contact.rows[0]["Id"]}]}
    }


def test_unknown_delta_column_fails_the_run(contact):
    outcome = run(contact, delta_column="updatedAt", watermark="2026-01-05 00:00:00")
    assert outcome.status == "failed"
    assert outcome.records == []
    assert outcome.new_watermark == "2026-01-05 00:00:00"
    assert outcome.metrics["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"
    assert "updatedAt" in outcome.metrics["statusSummary"]["errors"][0]["message"]
    assert_consistent(outcome)


@pytest.mark.parametrize(
    ("force", "broken", "status", "written", "failed"),
    [("failed", 0, "failed", 0, 200), ("partialSuccess", 0, "partialSuccess", 180, 20),
     ("success", 0, "success", 200, 0), ("success", 3, "success", 197, 3),
     ("partialSuccess", 3, "partialSuccess", 197, 3)],
)  # fmt: skip
def test_force_status(contact, force, broken, status, written, failed):
    _break(contact, list(range(broken)), "Email", None)
    outcome = run(contact, force_status=force)
    assert outcome.status == status
    assert len(outcome.records) == written
    assert outcome.metrics["recordSummary"]["failedRecordCount"] == failed
    if force == "failed":
        assert outcome.metrics["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"
        assert outcome.activities[0]["statusSummary"]["status"] == "failed"
        assert outcome.new_watermark is None
    assert_consistent(outcome)


def test_invalid_force_status_is_rejected(contact):
    with pytest.raises(ValueError, match="force_status"):
        run(contact, force_status="cancelled")


def test_outcome_is_deterministic(contact):
    a, b = run(contact), run(contact)
    assert a == b
    batch = a.activities[1]["targetInfo"][0]["reference"]["ids"][0]
    assert batch == batch_id_for("7af3ba45-4952-4371-8361-1b30134be7eb", T0)
    assert len(batch) == 26 and batch.isalnum() and batch.isupper()
    assert batch != batch_id_for("another-run", T0)
    assert batch_id_for("r", T0)[:10] < batch_id_for("r", T0 + 86_400_000)[:10]  # time-ordered like ULIDs


def test_statuses_constant():
    assert runs.RUN_STATUSES == ("success", "partialSuccess", "failed")
