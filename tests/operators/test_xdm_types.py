"""The source -> XDM type map, the field-name rules and the generated mapping (pure functions)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.validation import check_xdm_path
from airflow_provider_aep.xdm_types import (
    SOURCE_TYPES,
    XDM_FIELD_SCHEMAS,
    base_field_name,
    column_xdm_type,
    generate_mapping,
    table_fields,
    xdm_field_names,
    xdm_type_of_schema,
)

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@pytest.mark.parametrize(
    ("source_type", "xdm"),
    [
        ("string", "string"),
        ("String", "string"),
        ("picklist", "string"),
        ("reference", "string"),
        ("textarea", "string"),
        ("Edm.String", "string"),
        ("Edm.Guid", "string"),
        ("time", "string"),
        ("integer", "int"),
        ("int", "int"),
        ("Edm.Int32", "int"),
        ("long", "long"),
        ("Edm.Int64", "long"),
        ("bigint", "long"),
        ("short", "short"),
        ("Edm.Int16", "short"),
        ("Edm.Byte", "byte"),
        ("double", "number"),
        ("currency", "number"),
        ("percent", "number"),
        ("Edm.Decimal", "number"),
        ("boolean", "boolean"),
        ("Edm.Boolean", "boolean"),
        ("date", "date"),
        ("Edm.Date", "date"),
        ("datetime", "date-time"),
        ("timestamp", "date-time"),
        ("glide_date_time", "date-time"),
        ("Edm.DateTimeOffset", "date-time"),
    ],
)
def test_source_type_map(source_type: str, xdm: str) -> None:
    assert column_xdm_type({"name": "c", "type": source_type}) == (xdm, False)
    assert xdm in XDM_FIELD_SCHEMAS


def test_every_mapped_type_has_a_field_schema() -> None:
    assert set(SOURCE_TYPES.values()) <= set(XDM_FIELD_SCHEMAS)


@pytest.mark.parametrize(
    ("column", "xdm"),
    [
        # meta:xdmType wins over the source type
        ({"name": "c", "type": "string", "meta:xdmType": "date-time"}, "date-time"),
        ({"name": "c", "type": "integer", "meta:xdmType": "long"}, "long"),
        ({"name": "c", "type": "location", "xdmType": "string"}, "string"),  # the columns operator's answer
        # then the xdm JSON Schema
        ({"name": "c", "type": "mystery", "xdm": {"type": "string", "format": "date"}}, "date"),
        (
            {"name": "c", "type": "mystery", "xdm": {"type": "integer", "minimum": -128, "maximum": 127}},
            "byte",
        ),
        (
            {"name": "c", "type": "mystery", "xdm": {"type": "integer", "minimum": 0, "maximum": 2**40}},
            "long",
        ),
        ({"name": "c", "type": "mystery", "xdm": {"type": "integer"}}, "int"),
        ({"name": "c", "type": "mystery", "xdm": {"type": "number"}}, "number"),
    ],
)
def test_explore_metadata_decides_first(column: dict[str, Any], xdm: str) -> None:
    assert column_xdm_type(column)[0] == xdm


def test_unknown_type_fails_naming_column_and_fix() -> None:
    with pytest.raises(AEPInputError) as err:
        column_xdm_type({"name": "Geo", "type": "location"}, table="Account")
    text = str(err.value)
    assert "'Geo'" in text and "'location'" in text and "'Account'" in text
    assert "type_overrides" in text and "unknown_type='string'" in text


def test_unknown_type_string_fallback_is_reported() -> None:
    seen: list[tuple[str, Any]] = []
    fields = table_fields(
        [{"name": "Geo", "type": "location"}, {"name": "Id", "type": "id"}],
        unknown_type="string",
        on_fallback=lambda c, t: seen.append((c, t)),
    )
    assert [(f.field, f.xdm_type) for f in fields] == [("Geo", "string"), ("Id", "string")]
    assert seen == [("Geo", "location")]


def test_type_overrides_win_and_must_name_columns() -> None:
    fields = table_fields([{"name": "Age", "type": "string"}], type_overrides={"Age": "integer"})
    assert fields[0].xdm_type == "int"
    with pytest.raises(AEPInputError, match=r"type_overrides.*\['Nope'\] is not a column"):
        table_fields([{"name": "Age", "type": "string"}], type_overrides={"Nope": "int"})
    with pytest.raises(AEPInputError, match=r"type_overrides\['Age'\].*not an XDM type"):
        table_fields([{"name": "Age", "type": "string"}], type_overrides={"Age": "varchar"})


@pytest.mark.parametrize(
    ("column", "field"),
    [
        ("FirstName", "FirstName"),
        ("Custom_Field__c", "Custom_Field__c"),
        ("Trailing_", "Trailing_"),
        ("First Name", "First_Name"),
        ("Amount ($)", "Amount"),
        ("e-mail address", "e_mail_address"),
        ("Prénom", "Prenom"),
        ("Straße", "Stra_e"),
        ("1st Contact", "f_1st_Contact"),
        ("2024", "f_2024"),
        ("_secret", "secret"),
        ("__", "field"),
        ("日本", "field"),
        ("a.b.c", "a_b_c"),
        ("properties", "properties_field"),
        ("Items", "Items_field"),
    ],
)
def test_field_name_rules(column: str, field: str) -> None:
    assert base_field_name(column) == field
    assert xdm_field_names([column]) == {column: field}
    assert NAME_RE.match(field)
    check_xdm_path("x", f"_tenant.{field}")


def test_collisions_are_resolved_deterministically_whatever_the_order() -> None:
    columns = ["First Name", "First_Name", "first-name", "Other"]
    names = xdm_field_names(columns)
    assert names["First_Name"] == "First_Name"  # already valid: keeps the plain name
    assert names["Other"] == "Other"
    others = {names["First Name"], names["first-name"]}
    assert all(re.match(r"^(First_Name|first_name)_[0-9a-f]{8}$", n) for n in others)
    assert len({n.lower() for n in names.values()}) == len(columns)
    assert xdm_field_names(list(reversed(columns))) == names


def test_collision_without_a_valid_original_uses_the_smallest_name() -> None:
    names = xdm_field_names(["b c", "b-c"])
    assert names["b c"] == "b_c"  # " " < "-" by code point
    assert re.match(r"^b_c_[0-9a-f]{8}$", names["b-c"])


def test_case_insensitive_collision() -> None:
    names = xdm_field_names(["Email", "EMAIL"])
    assert names == {"Email": "Email", "EMAIL": "EMAIL"} or len({n.lower() for n in names.values()}) == 2
    assert len({n.lower() for n in names.values()}) == 2


@pytest.mark.parametrize("columns", [["A", "A"], ["A", ""]])
def test_duplicate_or_empty_column_names_fail(columns: list[str]) -> None:
    with pytest.raises(AEPInputError, match="columns"):
        xdm_field_names(columns)


def test_integer_ranges_round_trip() -> None:
    for name, schema in XDM_FIELD_SCHEMAS.items():
        assert xdm_type_of_schema(schema) == name


def test_generated_mapping_with_overrides() -> None:
    fields = table_fields(["Id", "First Name", "Fax"])
    assert generate_mapping(fields, "acme") == {
        "Id": "_acme.Id",
        "First Name": "_acme.First_Name",
        "Fax": "_acme.Fax",
    }
    mapping = generate_mapping(
        [f.as_dict("acme") for f in fields], "_acme", {"Fax": None, "Email": "personalEmail.address"}
    )
    assert mapping == {"Id": "_acme.Id", "First Name": "_acme.First_Name", "Email": "personalEmail.address"}
    with pytest.raises(AEPInputError, match="mapping_overrides"):
        generate_mapping(fields, "acme", {"Id": 3})  # type: ignore[dict-item]
    with pytest.raises(AEPInputError, match="tenant_id"):
        generate_mapping(fields, "Not A Tenant")
