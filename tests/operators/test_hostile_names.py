"""Issue 11, defect 2: every name lookup finds its resource again, against the emulator.

For each lookup behind idempotency (base, source and target connections, flows, flow specs,
datasets, schemas, classes, mapping sets, runs) and each hostile name (quotes, backslash, comma,
``==``, ``&``, ``%``, unicode, padding, case twins...): a name the service's filter can match is
created once and found again by the next lookup (what a second run does); a name it cannot match
is refused with :class:`AEPInputError` before any request. The rule per service is in
``hooks/_filters.py`` (Flow Service: quoted, no escape; Catalog: literal, ``,`` = OR; Schema
Registry: unquoted or unfiltered scan; Data Prep: one literal value).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_aep.emulator.testing import (
    CRM_TO_AEP,
    DATA_LAKE_SPEC,
    PROFILE_REFS,
    SALESFORCE_SPEC,
    XED_FULL,
    EmulatorClient,
)
from airflow_provider_aep.exceptions import AEPInputError, AEPNotFoundError
from airflow_provider_aep.hooks._filters import lookup_name_problem
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

HOSTILE = [
    'say "hi"',
    "it's",
    "'wrapped'",
    '"wrapped"',
    "back\\slash",
    "trailing\\",
    "a, b",
    "a,b",
    "x==y",
    "name==x",
    "a & b=c",
    "100% %2C %25",
    "Données clients \u2013 ☃ 東京",
    "  padded  ",
    "!negated",
    "~regex.*",
    "a<b>c>=d",
    "#hash ?q=1 +plus",
    "CaseTwin",
    "casetwin",
    # Names that parse as numbers: the emulator compares stored strings as strings.
    "NaN",
    "1e3",
    "inf",
    "null",
]


@pytest.fixture
def env(
    aep_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, AdobeExperiencePlatformHook, EmulatorClient]:
    aep_emulator.set_env(monkeypatch)
    return (
        aep_emulator,
        AdobeExperiencePlatformHook(),
        EmulatorClient(aep_emulator.url, aep_emulator.headers()),
    )


def _schema(api: EmulatorClient, title: str = "hostile-names schema") -> str:
    body = {
        "type": "object",
        "title": title,
        "description": "t",
        "allOf": [{"$ref": r} for r in PROFILE_REFS],
    }
    return str(api.call("POST", "/data/foundation/schemaregistry/tenant/schemas", body)["$id"])


def _dataset(api: EmulatorClient, schema: str, name: str = "hostile-names ds") -> str:
    body = {"name": name, "schemaRef": {"id": schema, "contentType": XED_FULL}}
    return str(api.call("POST", "/data/foundation/catalog/dataSets", body)[0]).removeprefix("@/dataSets/")


def _kinds(
    api: EmulatorClient, hook: AdobeExperiencePlatformHook
) -> dict[str, tuple[str, Callable, Callable]]:
    """kind -> (lookup style, create(name) -> id, find(name) -> resource | None)."""
    base = api.base_connection("hostile-names base")
    columns = api.columns(base, "Account")
    schema = _schema(api)
    dataset = _dataset(api, schema)
    mapping_body = {
        "outputSchema": {"schemaRef": {"id": schema, "contentType": XED_FULL}},
        "mappings": [{"sourceType": "ATTRIBUTE", "source": "Id", "destination": "_id"}],
    }
    source = hook.create_source_connection(
        api.source_connection_body("hostile-names src", base, "Account", columns)
    )["id"]
    target_body = {
        "data": {"format": "parquet_xdm", "schema": {"id": schema, "version": XED_FULL}},
        "params": {"dataSetId": dataset},
        "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"},
    }
    target = hook.create_target_connection({"name": "hostile-names tgt", **target_body})["id"]
    mapping = hook.create_mapping_set(mapping_body)["id"]
    flow_body = {
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "transformations": [
            {
                "name": "Copy",
                "params": {
                    "deltaColumn": {
                        "name": "LastModifiedDate",
                        "dateFormat": "yyyy-MM-dd HH:mm:ss",
                        "timezone": "UTC",
                    }
                },
            },
            {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": "0"}},
        ],
        "scheduleParams": {"startTime": 1_700_000_000, "frequency": "once"},
    }
    base_auth = {
        "specName": "Basic Authentication",
        "params": {
            "environmentUrl": "https://acme.my.salesforce.com",
            "username": "u",
            "password": "pw",
            "securityToken": "t",
        },
    }
    adhoc = {"$ref": "https://ns.adobe.com/xdm/data/adhoc"}
    return {
        "base connection": (
            "flowservice",
            lambda n: hook.create_base_connection(
                {"name": n, "auth": base_auth, "connectionSpec": {"id": SALESFORCE_SPEC, "version": "1.0"}}
            )["id"],
            hook.find_base_connection,
        ),
        "source connection": (
            "flowservice",
            lambda n: hook.create_source_connection(api.source_connection_body(n, base, "Account", columns))[
                "id"
            ],
            hook.find_source_connection,
        ),
        "target connection": (
            "flowservice",
            lambda n: hook.create_target_connection({"name": n, **target_body})["id"],
            hook.find_target_connection,
        ),
        "flow": ("flowservice", lambda n: hook.create_flow({"name": n, **flow_body})["id"], hook.find_flow),
        "dataset": (
            "catalog",
            lambda n: hook.create_dataset({"name": n, "schemaRef": {"id": schema, "contentType": XED_FULL}}),
            hook.find_dataset,
        ),
        "schema": (
            "schemaregistry",
            lambda n: hook.create_schema(
                {
                    "type": "object",
                    "title": n,
                    "description": "t",
                    "allOf": [{"$ref": r} for r in PROFILE_REFS],
                }
            )["$id"],
            hook.find_schema,
        ),
        "class": (
            "schemaregistry",
            lambda n: hook.create_class(
                {
                    "title": n,
                    "description": "t",
                    "type": "object",
                    "allOf": [
                        adhoc,
                        {
                            "properties": {
                                "_adhoc": {"type": "object", "properties": {"Id": {"type": "string"}}}
                            }
                        },
                    ],
                }
            )["$id"],
            hook.find_class,
        ),
        "mapping set": (
            "conversion",
            lambda n: hook.create_mapping_set({"name": n, **mapping_body})["id"],
            hook.find_mapping_set,
        ),
    }


KINDS = [
    "base connection",
    "source connection",
    "target connection",
    "flow",
    "dataset",
    "schema",
    "class",
    "mapping set",
]
ID_KEY = {"schema": "$id", "class": "$id"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_run_finds_the_first(env, kind):
    _emu, hook, api = env
    style, create, find = _kinds(api, hook)[kind]
    created: dict[str, str] = {}
    for name in HOSTILE:
        if lookup_name_problem(style, name) is not None:
            continue
        assert find(name) is None, name  # first run: nothing yet (no false match on a twin)
        created[name] = create(name)
    assert len(created) >= 15, f"too few hostile names accepted for {kind}: {sorted(created)}"
    for name, resource_id in created.items():  # second run: each lookup finds its own resource
        found = find(name)
        assert found is not None, f"{kind} {name!r} was created but is never found again"
        assert found[ID_KEY.get(kind, "id")] == resource_id, name


@pytest.mark.parametrize("kind", KINDS)
def test_names_the_filter_cannot_match_are_refused_before_any_request(env, kind):
    emu, hook, api = env
    style, _create, find = _kinds(api, hook)[kind]
    refused = [n for n in HOSTILE if lookup_name_problem(style, n) is not None]
    if style in ("schemaregistry", "conversion"):
        assert refused == []  # looked up without quoting problems: nothing to refuse
        return
    assert refused, kind
    before = len(emu.requests())
    for name in refused:
        with pytest.raises(AEPInputError) as info:
            find(name)
        assert "Fix:" in str(info.value) and "name" in str(info.value)
    assert len(emu.requests()) == before


def test_flow_spec_lookup_with_hostile_names(env):
    _emu, hook, _api = env
    assert hook.get_flow_spec_by_name("CRMToAEP")["id"] == CRM_TO_AEP
    for name in HOSTILE:
        if lookup_name_problem("flowservice", name) is not None:
            with pytest.raises(AEPInputError):
                hook.get_flow_spec_by_name(name)
        else:
            with pytest.raises(AEPNotFoundError):  # never a false match, never a crash
                hook.get_flow_spec_by_name(name)


def test_runs_are_found_by_their_one_flow_id(env):
    emu, hook, api = env
    one = api.once_flow("hostile-runs-1")
    two = api.once_flow("hostile-runs-2")
    run_one = api.create_run(one.flow_id, 1_700_000_000, 1_700_003_600)
    api.create_run(two.flow_id, 1_700_000_000, 1_700_003_600)
    assert [r["id"] for r in hook.list_runs(one.flow_id)] == [run_one]
    before = len(emu.requests())
    for bad in (f"{one.flow_id},{two.flow_id}", f'"{one.flow_id}"', f"{one.flow_id}==x", "  "):
        with pytest.raises(AEPInputError, match="flow_id"):
            list(hook.list_runs(bad))
    assert len(emu.requests()) == before


@pytest.mark.parametrize(
    ("operator", "kwargs", "style"),
    [
        (
            "connections.AEPCreateBaseConnectionOperator",
            {"source_conn_id": "x", "source": "generic_odata"},
            "flowservice",
        ),
        ("connections.AEPCreateDatasetBaseConnectionOperator", {}, "flowservice"),
        ("datasets.AEPCreateDatasetOperator", {"schema_id": "https://ns.adobe.com/t/schemas/0a"}, "catalog"),
    ],
)
def test_operators_refuse_unmatchable_names_at_construction(operator, kwargs, style):
    import importlib

    module, cls = operator.rsplit(".", 1)
    op_cls = getattr(importlib.import_module(f"airflow_provider_aep.operators.{module}"), cls)
    for name in HOSTILE:
        problem = lookup_name_problem(style, name.strip())
        if problem is None:
            continue
        with pytest.raises(AEPInputError, match="name"):
            op_cls(task_id="t", name=name, **kwargs)
