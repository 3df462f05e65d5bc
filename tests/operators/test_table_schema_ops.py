"""Generated field group, schema, mapping and Profile operators against the emulator.

Every operator: creates, then a rerun writes nothing; a forbidden change or a missing
precondition fails before any write (checked in the emulator's request log).
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.operators.base import AEPResourceConflictError
from airflow_provider_aep.operators.connections import AEPCreateBaseConnectionOperator
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.field_groups import AEPCreateTableFieldGroupOperator
from airflow_provider_aep.operators.mappings import AEPCreateMappingSetOperator
from airflow_provider_aep.operators.profile import (
    PROFILE_DATASET_TAGS,
    AEPCreateIdentityDescriptorOperator,
    AEPEnableDatasetForProfileOperator,
    AEPEnableSchemaForProfileOperator,
    AEPPreconditionError,
)
from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator
from tests.operators.conftest import SECRETS, api_requests

TENANT = "emulatortenant"
FG_RE = rf"^https://ns\.adobe\.com/{TENANT}/mixins/[0-9a-f]+$"


def writes(aep: Any) -> list[dict[str, Any]]:
    return [r for r in api_requests(aep) if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]


@pytest.fixture
def base(aep: Any, run_op: Any) -> str:
    base_id, _ = run_op(
        AEPCreateBaseConnectionOperator(task_id="b", name="xdm-ssc", source_conn_id="ssc_basic")
    )
    return str(base_id)


def fg_op(**kwargs: Any) -> AEPCreateTableFieldGroupOperator:
    args: dict[str, Any] = {"task_id": "fg", "title": "Account columns"}
    args.update(kwargs)
    return AEPCreateTableFieldGroupOperator(**args)


def hook() -> AdobeExperiencePlatformHook:
    return AdobeExperiencePlatformHook()


def test_field_group_from_explore_then_rerun_writes_nothing(aep: Any, base: str, run_op: Any) -> None:
    aep.clear_requests()
    fg_id, x = run_op(fg_op(base_connection_id=base, table="Account"))
    assert __import__("re").match(FG_RE, fg_id)
    assert x["tenant_id"] == TENANT and x["table"] == "Account"
    assert x["mapping"]["Id"] == f"_{TENANT}.Id"
    assert x["mapping"]["LastModifiedDate"] == f"_{TENANT}.LastModifiedDate"
    by_col = {f["column"]: f for f in x["fields"]}
    assert by_col["CreatedDate"]["xdmType"] == "date-time" and by_col["Id"]["path"] == f"_{TENANT}.Id"
    assert [r["path"].rsplit("/", 1)[-1] for r in writes(aep)] == ["fieldgroups"]
    doc = hook().get_field_group(fg_id)
    assert doc["meta:intendedToExtend"] == ["https://ns.adobe.com/xdm/context/profile"]
    props = doc["definitions"]["tableColumns"]["properties"][f"_{TENANT}"]["properties"]
    assert props["CreatedDate"]["format"] == "date-time" and props["Id"]["title"] == "Id"

    aep.clear_requests()
    again, x2 = run_op(fg_op(base_connection_id=base, table="Account"))
    assert again == fg_id and x2["mapping"] == x["mapping"]
    assert writes(aep) == []


def test_new_column_is_added_in_place_and_a_retype_is_refused_before_any_write(aep: Any, run_op: Any) -> None:
    cols = [{"name": "Id", "type": "string"}, {"name": "Score", "type": "integer"}]
    fg_id, _ = run_op(fg_op(title="Evolving", columns=cols))
    aep.clear_requests()
    same, x = run_op(fg_op(title="Evolving", columns=[*cols, {"name": "First Name", "type": "string"}]))
    assert same == fg_id
    assert [r["method"] for r in writes(aep)] == ["PATCH"]
    assert x["mapping"]["First Name"] == f"_{TENANT}.First_Name"
    doc = hook().get_field_group(fg_id)
    assert "First_Name" in doc["definitions"]["tableColumns"]["properties"][f"_{TENANT}"]["properties"]

    aep.clear_requests()
    retyped = [{"name": "Id", "type": "string"}, {"name": "Score", "type": "double"}]
    with pytest.raises(AEPResourceConflictError, match=r"Score.*'int'.*'number'.*type_overrides"):
        run_op(fg_op(title="Evolving", columns=retyped))
    assert writes(aep) == []
    # the fix the message proposes works, and the dropped column is kept (not an error)
    same, _ = run_op(fg_op(title="Evolving", columns=retyped, type_overrides={"Score": "int"}))
    assert same == fg_id


def test_unknown_type_fails_before_any_request(aep: Any, run_op: Any) -> None:
    aep.clear_requests()
    with pytest.raises(AEPInputError, match=r"'Geo'.*'location'"):
        fg_op(columns=[{"name": "Geo", "type": "location"}])
    op = fg_op(columns=[{"name": "Geo", "type": "location"}], unknown_type="string")
    fg_id, x = run_op(op)
    assert x["fields"][0]["xdmType"] == "string" and fg_id


@pytest.fixture
def profile_chain(aep: Any, run_op: Any, base: str) -> dict[str, Any]:
    c: dict[str, Any] = {}
    c["fg"], x = run_op(fg_op(title="Contact columns", base_connection_id=base, table="Contact"))
    c["fields"], c["mapping"] = x["fields"], x["mapping"]
    c["schema"], _ = run_op(
        AEPCreateSchemaOperator(task_id="schema", title="Contact generated", field_groups=[c["fg"]])
    )
    return c


def test_schema_and_mapping_from_the_generated_field_group(aep: Any, run_op: Any, profile_chain: Any) -> None:
    full = hook().get_schema(profile_chain["schema"], full=True)
    assert "Email" in full["properties"][f"_{TENANT}"]["properties"]
    ms, _ = run_op(
        AEPCreateMappingSetOperator(
            task_id="m",
            schema_id=profile_chain["schema"],
            mapping=profile_chain["mapping"],
            source_columns=[f["column"] for f in profile_chain["fields"]],
        )
    )
    assert ms
    aep.clear_requests()
    run_op(
        AEPCreateSchemaOperator(
            task_id="schema", title="Contact generated", field_groups=[profile_chain["fg"]]
        )
    )
    assert writes(aep) == []


def test_missing_identity_column_fails_before_any_request(aep: Any, profile_chain: Any) -> None:
    aep.clear_requests()
    with pytest.raises(AEPInputError) as err:
        AEPCreateIdentityDescriptorOperator(
            task_id="id",
            schema_id=profile_chain["schema"],
            namespace="Email",
            identity_column="EmailAddress",
            fields=profile_chain["fields"],
        )
    text = str(err.value)
    assert "'EmailAddress' is not a column" in text and "Email" in text and "Fix:" in text
    assert api_requests(aep) == []


def test_missing_identity_column_without_fields_fails_before_any_write(
    aep: Any, run_op: Any, profile_chain: Any
) -> None:
    aep.clear_requests()
    op = AEPCreateIdentityDescriptorOperator(
        task_id="id", schema_id=profile_chain["schema"], namespace="Email", identity_column="EmailAddress"
    )
    with pytest.raises(AEPPreconditionError, match=r"'EmailAddress'.*not in schema.*nothing was written"):
        run_op(op)
    assert writes(aep) == []


def test_union_needs_a_primary_identity_first(aep: Any, run_op: Any, profile_chain: Any) -> None:
    aep.clear_requests()
    with pytest.raises(
        AEPPreconditionError, match=r"no primary identity.*XDM-1528.*AEPCreateIdentityDescriptor"
    ):
        run_op(AEPEnableSchemaForProfileOperator(task_id="u", schema_id=profile_chain["schema"]))
    assert writes(aep) == []


def test_profile_ready_chain_then_rerun_writes_nothing(aep: Any, run_op: Any, profile_chain: Any) -> None:
    schema = profile_chain["schema"]

    def chain() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["descriptor"], out["id_x"] = run_op(
            AEPCreateIdentityDescriptorOperator(
                task_id="id",
                schema_id=schema,
                namespace="email",  # AEP's spelling is looked up: Email
                identity_column="Email",
                fields=profile_chain["fields"],
            )
        )
        out["union"], out["union_x"] = run_op(
            AEPEnableSchemaForProfileOperator(task_id="u", schema_id=schema)
        )
        out["dataset"], _ = run_op(
            AEPCreateDatasetOperator(
                task_id="d", name="contact profile ds", schema_id=schema, tags=PROFILE_DATASET_TAGS
            )
        )
        out["ds_profile"], out["ds_x"] = run_op(
            AEPEnableDatasetForProfileOperator(task_id="p", dataset_id=out["dataset"])
        )
        return out

    first = chain()
    assert first["id_x"] == {"source_property": f"/_{TENANT}/Email", "namespace": "Email"}
    assert first["union_x"]["changed"] is True
    assert first["ds_x"]["changed"] is False  # tags were set at creation
    assert "union" in hook().get_schema(schema)["meta:immutableTags"]
    descriptors = hook().list_descriptors("xdm:descriptorIdentity", schema)
    assert [d["@id"] for d in descriptors] == [first["descriptor"]]
    assert descriptors[0]["xdm:isPrimary"] is True
    tags = hook().get_dataset(first["dataset"])["tags"]
    assert tags["unifiedProfile"] == ["enabled:true"] and tags["unifiedIdentity"] == ["enabled:true"]

    aep.clear_requests()
    second = chain()
    assert writes(aep) == []
    assert second["descriptor"] == first["descriptor"] and second["union_x"]["changed"] is False
    assert second["dataset"] == first["dataset"]


def test_second_primary_identity_is_refused_before_any_write(
    aep: Any, run_op: Any, profile_chain: Any
) -> None:
    schema = profile_chain["schema"]
    run_op(
        AEPCreateIdentityDescriptorOperator(
            task_id="id", schema_id=schema, namespace="Email", identity_column="Email"
        )
    )
    aep.clear_requests()
    with pytest.raises(AEPResourceConflictError, match=r"xdm:sourceProperty.*Id.*replace"):
        run_op(
            AEPCreateIdentityDescriptorOperator(
                task_id="id", schema_id=schema, namespace="CRMID", identity_column="Id"
            )
        )
    assert writes(aep) == []


def test_unknown_namespace_names_the_known_ones(aep: Any, run_op: Any, profile_chain: Any) -> None:
    aep.clear_requests()
    with pytest.raises(AEPInputError, match=r"'NoSuchNs' is not an identity namespace.*CRMID.*Email"):
        run_op(
            AEPCreateIdentityDescriptorOperator(
                task_id="id", schema_id=profile_chain["schema"], namespace="NoSuchNs", identity_column="Email"
            )
        )
    assert writes(aep) == []


def test_dataset_profile_needs_a_union_schema_then_patches_tags(
    aep: Any, run_op: Any, profile_chain: Any
) -> None:
    schema = profile_chain["schema"]
    ds, _ = run_op(AEPCreateDatasetOperator(task_id="d", name="contact plain ds", schema_id=schema))
    aep.clear_requests()
    with pytest.raises(AEPPreconditionError, match=r"not enabled for Profile.*AEPEnableSchemaForProfile"):
        run_op(AEPEnableDatasetForProfileOperator(task_id="p", dataset_id=ds))
    assert writes(aep) == []
    run_op(
        AEPCreateIdentityDescriptorOperator(
            task_id="id", schema_id=schema, namespace="Email", identity_column="Email"
        )
    )
    run_op(AEPEnableSchemaForProfileOperator(task_id="u", schema_id=schema))
    aep.clear_requests()
    _, x = run_op(AEPEnableDatasetForProfileOperator(task_id="p", dataset_id=ds))
    assert x["changed"] is True
    assert [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in writes(aep)] == [("PATCH", "dataSets")]
    tags = hook().get_dataset(ds)["tags"]
    assert tags["unifiedProfile"] == ["enabled:true"] and tags["unifiedIdentity"] == ["enabled:true"]
    aep.clear_requests()
    _, x = run_op(AEPEnableDatasetForProfileOperator(task_id="p", dataset_id=ds))
    assert x["changed"] is False and writes(aep) == []


def test_no_secret_in_xcoms_or_logs(
    aep: Any, run_op: Any, base: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, x = run_op(fg_op(title="Secretless", base_connection_id=base, table="Case"))
    blob = repr(x) + caplog.text
    assert not any(s in blob for s in SECRETS)


def test_non_string_identity_column_is_refused_before_any_write(aep: Any, run_op: Any) -> None:
    cols = [{"name": "Id", "type": "string"}, {"name": "Score", "type": "integer"}]
    fg, x = run_op(fg_op(title="Scored columns", columns=cols))
    schema, _ = run_op(AEPCreateSchemaOperator(task_id="s", title="Scored", field_groups=[fg]))
    aep.clear_requests()
    with pytest.raises(AEPInputError, match=r"'Score' is typed 'int'.*type_overrides"):
        AEPCreateIdentityDescriptorOperator(
            task_id="id", schema_id=schema, namespace="CRMID", identity_column="Score", fields=x["fields"]
        )
    with pytest.raises(AEPPreconditionError, match=r"'Score'.*type 'integer'.*nothing was written"):
        run_op(
            AEPCreateIdentityDescriptorOperator(
                task_id="id", schema_id=schema, namespace="CRMID", identity_column="Score"
            )
        )
    assert writes(aep) == []


def test_plan_only_writes_nothing(aep: Any, run_op: Any) -> None:
    aep.clear_requests()
    fg_id, x = run_op(fg_op(title="Planned columns", columns=["Id"], plan_only=True))
    assert fg_id == "(known after create)" and x["aep_plan"][0]["action"] == "create"
    assert writes(aep) == []
    assert hook().find_field_group("Planned columns") is None


def test_operators_wire_through_xcom_in_a_dag() -> None:
    from airflow.sdk import DAG

    with DAG("xdm18_wiring", schedule=None):
        fg = fg_op(base_connection_id="{{ params.base }}", table="{{ params.table }}")
        schema = AEPCreateSchemaOperator(task_id="schema", title="S", field_groups=[fg.output])
        mapping = AEPCreateMappingSetOperator(
            task_id="m", schema_id=schema.output, mapping=fg.output["mapping"]
        )
        identity = AEPCreateIdentityDescriptorOperator(
            task_id="id",
            schema_id=schema.output,
            namespace="Email",
            identity_column="Email",
            fields=fg.output["fields"],
        )
        union = AEPEnableSchemaForProfileOperator(task_id="u", schema_id=schema.output)
        identity >> union
    assert fg.task_id in schema.upstream_task_ids
    assert {fg.task_id, schema.task_id} <= mapping.upstream_task_ids
    assert {fg.task_id, schema.task_id} <= identity.upstream_task_ids


def test_plan_with_unknown_base_reports_the_existing_field_group(aep: Any, run_op: Any) -> None:
    fg_id, _ = run_op(fg_op(title="Known columns", columns=["Id"]))
    aep.clear_requests()
    op = fg_op(title="Known columns", base_connection_id="{{ base }}", table="Account", plan_only=True)
    op.base_connection_id = "(known after create)"  # what the upstream create pushes in plan mode
    result, x = run_op(op)
    assert result == fg_id and x["aep_plan"][0]["id"] == fg_id and x["fields"] == "(known after create)"
    assert writes(aep) == []


UUID = "0b7b1b1e-1111-4a4a-8b8b-123456789abc"
SCHEMA = f"https://ns.adobe.com/{TENANT}/schemas/0123abcd"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: fg_op(), "columns"),
        (lambda: fg_op(columns=["Id"], base_connection_id=UUID, table="Account"), "columns"),
        (lambda: fg_op(base_connection_id=UUID), "columns"),
        (lambda: fg_op(base_connection_id="nope", table="Account"), "base_connection_id"),
        (lambda: fg_op(columns=[]), "columns"),
        (lambda: fg_op(columns=["Id", "Id"]), "columns"),
        (lambda: fg_op(columns=["Id"], class_id="profile"), "class_id"),
        (lambda: fg_op(columns=["Id"], tenant_id="Bad Tenant"), "tenant_id"),
        (lambda: fg_op(columns=["Id"], unknown_type="ignore"), "unknown_type"),
        (lambda: fg_op(columns=["Id"], type_overrides={"Id": "varchar"}), "type_overrides['Id']"),
        (lambda: fg_op(columns=["Id"], mapping_overrides={"Id": "has space"}), "mapping_overrides['Id']"),
        (lambda: fg_op(columns=["Id"], mapping_overrides=["Id"]), "mapping_overrides"),
        (lambda: fg_op(title="", columns=["Id"]), "title"),
        (
            lambda: AEPCreateIdentityDescriptorOperator(task_id="i", schema_id=SCHEMA, namespace="Email"),
            "identity_column",
        ),
        (
            lambda: AEPCreateIdentityDescriptorOperator(
                task_id="i", schema_id=SCHEMA, namespace="Email", identity_column="A", identity_field="_t.a"
            ),
            "identity_column",
        ),
        (
            lambda: AEPCreateIdentityDescriptorOperator(
                task_id="i", schema_id=SCHEMA, namespace="Email", identity_field="not a path"
            ),
            "identity_field",
        ),
        (
            lambda: AEPCreateIdentityDescriptorOperator(
                task_id="i", schema_id="nope", namespace="Email", identity_column="A"
            ),
            "schema_id",
        ),
        (
            lambda: AEPCreateIdentityDescriptorOperator(
                task_id="i", schema_id=SCHEMA, namespace=" ", identity_column="A"
            ),
            "namespace",
        ),
        (lambda: AEPEnableSchemaForProfileOperator(task_id="u", schema_id="nope"), "schema_id"),
        (lambda: AEPEnableDatasetForProfileOperator(task_id="p", dataset_id=""), "dataset_id"),
    ],
)
def test_bad_inputs_fail_at_parse_time_naming_the_field(make: Any, field: str) -> None:
    with pytest.raises(AEPInputError) as err:
        make()
    assert err.value.field == field
    assert err.value.fix


def test_union_merge_conflict_is_reported_with_a_fix(aep: Any, run_op: Any) -> None:
    def profile_schema(name: str, score_type: str) -> str:
        fg, _ = run_op(fg_op(title=f"{name} columns", columns=["Id", {"name": "Score", "type": score_type}]))
        schema, _ = run_op(AEPCreateSchemaOperator(task_id="s", title=name, field_groups=[fg]))
        run_op(
            AEPCreateIdentityDescriptorOperator(
                task_id="i", schema_id=schema, namespace="CRMID", identity_column="Id"
            )
        )
        return str(schema)

    run_op(AEPEnableSchemaForProfileOperator(task_id="u", schema_id=profile_schema("Scores A", "integer")))
    second = profile_schema("Scores B", "double")
    with pytest.raises(AEPPreconditionError, match=r"XDM-1413.*Score.*type_overrides"):
        run_op(AEPEnableSchemaForProfileOperator(task_id="u", schema_id=second))
    assert "union" not in (hook().get_schema(second).get("meta:immutableTags") or [])


def test_columns_operator_answer_feeds_the_field_group(aep: Any, run_op: Any, base: str) -> None:
    from airflow_provider_aep.operators.discovery import AEPGetTableColumnsOperator

    cols, raw = run_op(AEPGetTableColumnsOperator(task_id="c", base_connection_id=base, table="Opportunity"))
    _, from_answer = run_op(fg_op(title="Opportunity columns", columns=cols))
    _, from_raw = run_op(fg_op(title="Opportunity columns", columns=raw["columns"]))
    _, from_explore = run_op(fg_op(title="Opportunity columns", base_connection_id=base, table="Opportunity"))
    assert from_answer["fields"] == from_raw["fields"] == from_explore["fields"]
    assert from_answer["mapping"]["Owner.Name"] == f"_{TENANT}.Owner_Name"
    assert {c["name"]: c["field"] for c in cols}["Owner.Name"] == "Owner_Name"


def test_title_taken_by_a_schema_is_a_clear_conflict(aep: Any, run_op: Any) -> None:
    run_op(AEPCreateSchemaOperator(task_id="s", title="Shared title"))
    with pytest.raises(AEPResourceConflictError, match=r"'Shared title' is taken by another.*Fix: .*columns"):
        run_op(fg_op(title="Shared title", columns=["Id"]))
    assert hook().find_all_field_groups("Shared title") == []
