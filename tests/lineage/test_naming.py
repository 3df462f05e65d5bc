"""The ``aep://`` asset URI scheme, its registration, and the OpenLineage names of sources and datasets."""

from __future__ import annotations

import urllib.parse

import pytest

from airflow_provider_aep import assets, lineage

DATASET = "5f0c3a1b2c3d4e5f6a7b8c9d"


@pytest.mark.parametrize(
    "raw",
    [
        f"aep://EMULATORORG/prod/datasets/{DATASET}",
        f"aep://emulatororg/prod/datasets/{DATASET.upper()}/",
        f"aep://EMULATORORG@AdobeOrg/prod/datasets/{DATASET}",
        f"aep://EMULATORORG%40AdobeOrg/PROD/datasets/{DATASET}#fragment",
    ],
)
def test_every_spelling_normalises_to_one_uri(raw: str) -> None:
    from airflow.sdk import Asset

    assert Asset(uri=raw).uri == f"aep://EMULATORORG/prod/datasets/{DATASET}"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("aep://ORG/prod/datasets/123", "24 hex"),
        ("aep://ORG/prod/schemas/" + DATASET, "/<sandbox>/datasets/"),
        ("aep://ORG/datasets/" + DATASET, "/<sandbox>/datasets/"),
        ("aep:///prod/datasets/" + DATASET, "IMS org id"),
        ("aep://ORG/prod_x/datasets/" + DATASET, "sandbox"),
        ("aep://ORG/prod/datasets/" + DATASET + "?x=1", "query"),
    ],
)
def test_malformed_uris_are_refused_with_the_reason(raw: str, problem: str) -> None:
    from airflow.sdk import Asset

    with pytest.raises(ValueError, match=problem.replace("<", ".").replace(">", ".")):
        Asset(uri=raw)


def test_provider_registers_the_scheme_and_the_openlineage_converter() -> None:
    from airflow.sdk import Asset
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManagerTaskRuntime()
    converter = manager.asset_to_openlineage_converters["aep"]
    assert manager.asset_uri_handlers["aep"] is assets.sanitize_uri
    dataset = converter(Asset(uri=f"aep://abc123@AdobeOrg/dev/datasets/{DATASET}"), None)
    assert (dataset.namespace, dataset.name) == ("aep://ABC123/dev", f"datasets/{DATASET}")
    # namespace + "/" + name is the asset URI, as for the provider's own OpenLineage events
    assert f"{dataset.namespace}/{dataset.name}" == assets.dataset_uri("ABC123@AdobeOrg", "dev", DATASET)


@pytest.mark.parametrize(
    ("spec", "params", "namespace"),
    [
        (
            "cb66ab34-8619-49cb-96d1-39b37ede86ea",
            {"environmentUrl": "https://Acme.my.salesforce.com/", "clientSecret": "***"},
            "salesforce://acme.my.salesforce.com",
        ),
        (
            "eb13cb25-47ab-407f-ba89-c0125281c563",
            {"endpoint": "https://user:pw@dev1.service-now.com:8443/api?x=1", "password": "***"},
            "servicenow://dev1.service-now.com:8443",
        ),
        (
            "8e6b41a8-d998-4545-ad7d-c6a9fff406c3",
            {"url": "https://services.odata.org/V4/Northwind/Northwind.svc/"},
            "odata://services.odata.org/V4/Northwind/Northwind.svc",
        ),
        ("00000000-0000-0000-0000-000000000000", {"url": "https://x.example"}, "aep-source://base-1"),
        ("cb66ab34-8619-49cb-96d1-39b37ede86ea", {"username": "u"}, "aep-source://base-1"),
    ],
)
def test_source_namespace_names_the_instance_and_never_credentials(
    spec: str, params: dict[str, str], namespace: str
) -> None:
    got = lineage.source_namespace(spec, params, "base-1")
    assert got == namespace
    assert "pw" not in urllib.parse.urlsplit(got).netloc and "***" not in got


def test_mapping_set_gives_one_column_lineage_entry_per_mapped_column() -> None:
    mapping_set = {
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": "Id", "destination": "_id"},
            {"sourceType": "EXPRESSION", "source": "concat(FirstName, ' ', LastName)", "destination": "n"},
            {"sourceType": "STATIC", "source": "'crm'", "destination": "origin"},
            {"sourceAttribute": "Email", "destinationXdmPath": "personalEmail.address"},  # legacy body
        ]
    }
    mapped = lineage._mapped(mapping_set, ["Id", "FirstName", "LastName", "Email"])
    assert [(m.destination, m.sources, m.source_type) for m in mapped] == [
        ("_id", ["Id"], "ATTRIBUTE"),
        ("n", ["FirstName", "LastName"], "EXPRESSION"),
        ("personalEmail.address", ["Email"], "ATTRIBUTE"),
    ]
