"""Hook calls of the generated-schema / Profile building blocks, against AEP's documented shapes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_aep.exceptions import AEPInputError, AEPMalformedAnswerError
from tests.hooks.conftest import CAT, FS, GATEWAY, SR

IDENTITY = f"{GATEWAY}/data/core/idnamespace"
DESCRIPTOR = {
    "@id": "a" * 40,
    "@type": "xdm:descriptorIdentity",
    "xdm:sourceSchema": "https://ns.adobe.com/acme/schemas/01",
    "xdm:sourceProperty": "/_acme/Email",
    "xdm:namespace": "Email",
    "xdm:isPrimary": True,
}


def test_tenant_id_is_read_once_per_hook(hook: Any, ims: Any, requests_mock: Any) -> None:
    stats = requests_mock.get(f"{SR}/stats", json={"imsOrg": "x", "tenantId": "acme", "counts": {}})
    assert hook.get_tenant_id() == "acme"
    assert hook.get_tenant_id() == "acme"
    assert stats.call_count == 1


def test_tenant_id_with_underscore_and_malformed(hook: Any, ims: Any, requests_mock: Any) -> None:
    requests_mock.get(f"{SR}/stats", [{"json": {"tenantId": "_acme"}}])
    assert hook.get_tenant_id() == "acme"
    hook.__dict__.pop("_aep_tenant_id")
    requests_mock.get(f"{SR}/stats", json={"counts": {}})
    with pytest.raises(AEPMalformedAnswerError, match="tenantId"):
        hook.get_tenant_id()


def test_list_source_tables_keeps_label_and_api_name(hook: Any, ims: Any, requests_mock: Any) -> None:
    m = requests_mock.get(
        f"{FS}/connections/c1/explore",
        json=[
            {"type": "table", "name": "Accepted Event Relation", "path": "AcceptedEventRelation"},
            {"type": "folder", "name": "x", "path": "x"},
            {"type": "table", "name": "Orders", "path": "Orders", "canPreview": True},
        ],
    )
    assert hook.list_source_tables("c1") == [
        {"name": "Accepted Event Relation", "path": "AcceptedEventRelation"},
        {"name": "Orders", "path": "Orders"},
    ]
    assert parse_qs(urlsplit(m.last_request.url).query) == {"objectType": ["root"]}


def test_get_table_columns(hook: Any, ims: Any, requests_mock: Any) -> None:
    cols = [{"name": "Id", "type": "string"}]
    m = requests_mock.get(
        f"{FS}/connections/c1/explore", json={"format": "flat", "schema": {"columns": cols}}
    )
    assert hook.get_table_columns("c1", "Account") == cols
    assert parse_qs(urlsplit(m.last_request.url).query) == {"objectType": ["table"], "object": ["Account"]}
    requests_mock.get(f"{FS}/connections/c1/explore", json={"format": "flat"})
    with pytest.raises(AEPMalformedAnswerError):
        hook.get_table_columns("c1", "Account")


def test_field_group_calls(hook: Any, ims: Any, requests_mock: Any) -> None:
    fg = {"$id": "https://ns.adobe.com/acme/mixins/0a", "meta:altId": "_acme.mixins.0a", "title": "T"}
    post = requests_mock.post(f"{SR}/tenant/fieldgroups", status_code=201, json=fg)
    assert hook.create_field_group({"title": "T"}) == fg
    assert post.last_request.json() == {"title": "T"}
    requests_mock.get(
        f"{SR}/tenant/fieldgroups",
        json={"results": [fg, {**fg, "$id": "other", "title": "U"}], "_page": {"next": None}},
    )
    assert hook.find_all_field_groups("T") == [fg]
    patch = requests_mock.patch(f"{SR}/tenant/fieldgroups/_acme.mixins.0a", json={**fg, "version": "1.1"})
    ops = [{"op": "add", "path": "/definitions/d/properties/_acme/properties/x", "value": {"type": "string"}}]
    assert hook.patch_field_group("_acme.mixins.0a", ops)["version"] == "1.1"
    assert patch.last_request.json() == ops
    with pytest.raises(AEPInputError, match="operations"):
        hook.patch_field_group("_acme.mixins.0a", [])
    delete = requests_mock.delete(f"{SR}/tenant/fieldgroups/_acme.mixins.0a", status_code=204)
    hook.delete_field_group("_acme.mixins.0a")
    assert delete.called


@pytest.mark.parametrize(
    "answer",
    [
        {"xdm:descriptorIdentity": [DESCRIPTOR], "xdm:alternateDisplayInfo": [{"@id": "b" * 40}]},
        [DESCRIPTOR, {"@id": "b" * 40, "@type": "xdm:alternateDisplayInfo"}],
        {"results": [DESCRIPTOR], "_page": {}},
    ],
)
def test_list_descriptors_reads_every_documented_shape(
    hook: Any, ims: Any, requests_mock: Any, answer: Any
) -> None:
    m = requests_mock.get(f"{SR}/tenant/descriptors", json=answer)
    found = hook.list_descriptors("xdm:descriptorIdentity", DESCRIPTOR["xdm:sourceSchema"])
    assert [d["@id"] for d in found] == [DESCRIPTOR["@id"]]
    assert hook.list_descriptors("xdm:descriptorIdentity", "https://ns.adobe.com/acme/schemas/02") == []
    assert m.last_request.headers["Accept"] == "application/vnd.adobe.xdm+json"


def test_create_descriptor_needs_an_id(hook: Any, ims: Any, requests_mock: Any) -> None:
    requests_mock.post(f"{SR}/tenant/descriptors", status_code=201, json=DESCRIPTOR)
    assert hook.create_descriptor({"@type": "xdm:descriptorIdentity"})["@id"] == DESCRIPTOR["@id"]


def test_identity_namespaces(hook: Any, ims: Any, requests_mock: Any) -> None:
    namespaces = [{"id": 6, "code": "Email", "status": "ACTIVE"}, {"id": 1, "code": "ECID"}]
    m = requests_mock.get(f"{IDENTITY}/identities", json=namespaces)
    assert hook.list_identity_namespaces() == namespaces
    assert m.last_request.headers["x-gw-ims-org-id"]
    requests_mock.get(f"{IDENTITY}/identities", json={"nope": 1})
    with pytest.raises(AEPMalformedAnswerError):
        hook.list_identity_namespaces()


def test_dataset_json_patch(hook: Any, ims: Any, requests_mock: Any) -> None:
    ds = "5c8c3c555033b814b69f947f"
    m = requests_mock.patch(f"{CAT}/dataSets/{ds}", json=[f"@/dataSets/{ds}"])
    ops = [{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]}]
    hook.patch_dataset_operations(ds, ops)
    assert m.last_request.headers["Content-Type"] == "application/json-patch+json"
    assert json.loads(m.last_request.body) == ops
