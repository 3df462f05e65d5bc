"""Tests of the emulator's standard XDM resources, field paths and value coercion."""

from __future__ import annotations

import jsonschema
import pytest

from airflow_provider_aep.emulator import xdm
from airflow_provider_aep.emulator.xdm import (
    ADHOC_CLASS_ID,
    EXPERIENCE_EVENT_CLASS_ID,
    PROFILE_CLASS_ID,
    STANDARD_RESOURCES,
    coerce_value,
    field_paths,
    is_valid_destination,
)

PERSON = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL = "https://ns.adobe.com/xdm/context/profile-personal-details"
WORK = "https://ns.adobe.com/xdm/context/profile-work-details"
IDENTITY_MAP = "https://ns.adobe.com/xdm/context/identitymap"
DT = {"type": "string", "format": "date-time"}


def test_standard_resources_are_well_formed():
    assert set(STANDARD_RESOURCES) == {PROFILE_CLASS_ID, EXPERIENCE_EVENT_CLASS_ID, ADHOC_CLASS_ID,
                                       PERSON, PERSONAL, WORK, IDENTITY_MAP}  # fmt: skip
    for resource_id, doc in STANDARD_RESOURCES.items():
        assert doc["$id"] == resource_id
        assert doc["meta:altId"] == "_" + resource_id.removeprefix("https://ns.adobe.com/").replace("/", ".")
        assert doc["meta:resourceType"] in ("classes", "mixins")
        assert doc["title"] and doc["description"]
        jsonschema.Draft7Validator.check_schema({k: v for k, v in doc.items() if k != "$schema"})
        if doc["meta:resourceType"] == "mixins" and resource_id != IDENTITY_MAP:
            assert doc["meta:intendedToExtend"] == [PROFILE_CLASS_ID]


@pytest.mark.parametrize(
    ("class_id", "groups", "expected"),
    [
        (PROFILE_CLASS_ID, [], {"_id", "createdByBatchID", "modifiedByBatchID", "repositoryCreatedBy",
                                "_repo.createDate", "_repo.modifyDate", "identityMap"}),
        (PROFILE_CLASS_ID, [PERSON], {"person.name.firstName", "person.name.lastName", "person.name.fullName",
                                      "person.birthDate", "person.gender"}),
        (PROFILE_CLASS_ID, [PERSONAL], {"mobilePhone.number", "personalEmail.address", "homeAddress.city",
                                        "homeAddress.country", "homeAddress.postalCode", "homePhone.number"}),
        (PROFILE_CLASS_ID, [WORK], {"workEmail.address", "workPhone.number", "workAddress.city",
                                    "organizations"}),
        (EXPERIENCE_EVENT_CLASS_ID, [], {"_id", "timestamp", "eventType"}),
    ],
)  # fmt: skip
def test_field_paths_contain_expected_leaves(class_id, groups, expected):
    paths = field_paths(class_id, groups)
    assert expected <= set(paths)


def test_field_paths_leaf_types_and_no_object_paths():
    paths = field_paths(PROFILE_CLASS_ID, [PERSON, PERSONAL, WORK])
    assert paths["_repo.createDate"] == DT
    assert paths["person.birthDate"] == {"type": "string", "format": "date"}
    assert paths["person.birthYear"]["type"] == "integer"
    assert paths["mobilePhone.primary"] == {"type": "boolean"}
    assert paths["personalEmail.address"]["format"] == "email"
    assert paths["organizations"] == {"type": "array", "items": {"type": "string"}}
    assert paths["identityMap"]["meta:xdmType"] == "map"
    for obj in ("person", "person.name", "mobilePhone", "_repo", "homeAddress"):
        assert obj not in paths
    assert "person.name.firstName" not in field_paths(PROFILE_CLASS_ID, [])


def test_adhoc_class_has_no_fields_of_its_own():
    assert field_paths(ADHOC_CLASS_ID, []) == {}


@pytest.mark.parametrize(
    ("adhoc", "expected"),
    [
        ({"Id": "string", "CreatedDate": "date-time", "priority": "integer"},
         {"_emulatortenant.Id": {"type": "string"}, "_emulatortenant.CreatedDate": DT,
          "_emulatortenant.priority": {"type": "integer"}}),
        ({"Freight": {"type": "number"},
          "shipping": {"type": "object", "properties": {"city": {"type": "string"}}}},
         {"_emulatortenant.Freight": {"type": "number"},
          "_emulatortenant.shipping.city": {"type": "string"}}),
        ({"_3c4b6b3c": {"type": "object", "properties": {"Name": {"type": "string"}}}},
         {"_3c4b6b3c.Name": {"type": "string"}}),
    ],
)  # fmt: skip
def test_adhoc_properties_are_tenant_namespaced(adhoc, expected):
    assert field_paths(ADHOC_CLASS_ID, [], adhoc) == expected
    with_profile = field_paths(PROFILE_CLASS_ID, [PERSON], adhoc)
    assert expected.items() <= with_profile.items()
    assert "person.name.firstName" in with_profile


@pytest.mark.parametrize(
    ("class_id", "groups", "error", "needle"),
    [
        ("https://ns.adobe.com/xdm/context/nope", [], KeyError, "context/nope"),
        (PROFILE_CLASS_ID, ["https://ns.adobe.com/xdm/context/unknown-group"], KeyError, "unknown-group"),
        (EXPERIENCE_EVENT_CLASS_ID, [PERSON], ValueError, "profile-person-details"),
        (ADHOC_CLASS_ID, [WORK], ValueError, "profile-work-details"),
        (PERSON, [], ValueError, "not a class"),
        (PROFILE_CLASS_ID, [EXPERIENCE_EVENT_CLASS_ID], ValueError, "not a field group"),
    ],
)
def test_field_paths_errors(class_id, groups, error, needle):
    with pytest.raises(error, match=needle):
        field_paths(class_id, groups)


def test_field_paths_rejects_unknown_shorthand_type():
    with pytest.raises(ValueError, match="unknown type"):
        field_paths(ADHOC_CLASS_ID, [], {"x": "varchar"})


@pytest.mark.parametrize(
    ("dest", "valid"),
    [("person.name.firstName", True), ("/person/name/firstName", True), ("person.name", False),
     ("person", False), ("person.name.nickname", False), ("identityMap.Email.id", True),
     ("identityMap.ECID.primary", True), ("identityMap.Email", False), ("identityMap.Email.foo", False),
     ("", False), ("person..name", False), ("workEmail.address", True), ("_id", True)],
)  # fmt: skip
def test_is_valid_destination(dest, valid):
    paths = field_paths(PROFILE_CLASS_ID, [PERSON, WORK])
    assert is_valid_destination(paths, dest) is valid


@pytest.mark.parametrize(
    ("value", "info", "expected"),
    [
        ("abc", {"type": "string"}, "abc"),
        (12, {"type": "string"}, "12"),
        (1.5, {"type": "string"}, "1.5"),
        (True, {"type": "string"}, "true"),
        ("", {"type": "string"}, ""),
        ("not-an-email", {"type": "string", "format": "email"}, "not-an-email"),
        ("42", {"type": "integer"}, 42),
        (" -7 ", {"type": "integer"}, -7),
        ("3.0", {"type": "integer"}, 3),
        (4.0, {"type": "integer"}, 4),
        (9, {"type": "integer"}, 9),
        ("12.5", {"type": "number"}, 12.5),
        (3, {"type": "number"}, 3),
        ("1e3", {"type": "number"}, 1000.0),
        ("true", {"type": "boolean"}, True),
        ("FALSE", {"type": "boolean"}, False),
        ("1", {"type": "boolean"}, True),
        (0, {"type": "boolean"}, False),
        ("2026-01-01 06:00:00", DT, "2026-01-01T06:00:00Z"),
        ("2026-01-01T06:00:00Z", DT, "2026-01-01T06:00:00Z"),
        ("2026-01-01T06:00:00", DT, "2026-01-01T06:00:00Z"),
        ("2026-01-01T08:00:00+02:00", DT, "2026-01-01T06:00:00Z"),
        ("2026-01-01T06:00:00.250Z", DT, "2026-01-01T06:00:00.250Z"),
        ("1990-05-17", {"type": "string", "format": "date"}, "1990-05-17"),
        ("1990-05-17 10:00:00", {"type": "string", "format": "date"}, "1990-05-17"),
        (["a", 1], {"type": "array", "items": {"type": "string"}}, ["a", "1"]),
        ("solo", {"type": "array", "items": {"type": "string"}}, ["solo"]),
        (
            {"Email": [{"id": "a@b.c"}]},
            {"type": "object", "meta:xdmType": "map"},
            {"Email": [{"id": "a@b.c"}]},
        ),
    ],
)
def test_coerce_value_accepts(value, info, expected):
    result = coerce_value(value, info)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "info"),
    [
        (None, {"type": "string"}),
        ({"a": 1}, {"type": "string"}),
        (["a"], {"type": "string"}),
        ("abc", {"type": "integer"}),
        ("12.5", {"type": "integer"}),
        (12.5, {"type": "integer"}),
        (True, {"type": "integer"}),
        ("", {"type": "integer"}),
        ("nan", {"type": "integer"}),
        ("0", {"type": "integer", "minimum": 1}),
        ("40000", {"type": "integer", "maximum": 32767}),
        ("twelve", {"type": "number"}),
        ("inf", {"type": "number"}),
        (False, {"type": "number"}),
        ("maybe", {"type": "boolean"}),
        (2, {"type": "boolean"}),
        ("2026-13-01 00:00:00", DT),
        ("01/02/2026", DT),
        ("2026-01-01", DT),
        (1767225600, DT),
        ("2026-02-30", {"type": "string", "format": "date"}),
        ("yesterday", {"type": "string", "format": "date"}),
        ("x", {"type": "object"}),
        ("x", {"type": "tuple"}),
        (["1", "x"], {"type": "array", "items": {"type": "integer"}}),
    ],
)
def test_coerce_value_rejects(value, info):
    with pytest.raises(ValueError):
        coerce_value(value, info)


@pytest.mark.parametrize(
    ("text", "iso"),
    [("2026-01-01 00:00:00", "2026-01-01T00:00:00+00:00"),
     ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00"),
     ("2026-01-01T01:00:00+0100", "2026-01-01T00:00:00+00:00"),
     ("2026-01-01 00:00", "2026-01-01T00:00:00+00:00")],
)  # fmt: skip
def test_parse_datetime(text, iso):
    assert xdm.parse_datetime(text).isoformat() == iso
