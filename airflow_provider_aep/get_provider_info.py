"""Provider metadata, registered through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_aep import __version__
from airflow_provider_aep.connection_fields import (
    CONN_TYPE,
    provider_conn_fields,
    provider_ui_field_behaviour,
)


def get_provider_info() -> dict[str, Any]:
    """Return what Airflow's ProvidersManager needs to know about this provider."""
    return {
        "package-name": "airflow-provider-aep",
        "name": "Adobe Experience Platform",
        "description": "Ingest customer-success and protocol sources into Adobe Experience Platform "
        "with the Flow Service API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Adobe Experience Platform",
                "external-doc-url": "https://experienceleague.adobe.com/en/docs/experience-platform/sources/home",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": "Adobe Experience Platform",
                "python-modules": [
                    "airflow_provider_aep.operators.connections",
                    "airflow_provider_aep.operators.schemas",
                    "airflow_provider_aep.operators.datasets",
                    "airflow_provider_aep.operators.mappings",
                    "airflow_provider_aep.operators.flows",
                    "airflow_provider_aep.operators.runs",
                    "airflow_provider_aep.operators.delete",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Adobe Experience Platform",
                "python-modules": ["airflow_provider_aep.sensors.flow_run"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Adobe Experience Platform",
                "python-modules": [
                    "airflow_provider_aep.triggers.flow_run",
                    "airflow_provider_aep.triggers.flow_run_event",
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": "Adobe Experience Platform",
                "python-modules": ["airflow_provider_aep.hooks.aep"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_aep.hooks.aep.AdobeExperiencePlatformHook",
                "hook-name": "Adobe Experience Platform",
                "connection-type": CONN_TYPE,
                "conn-fields": provider_conn_fields(),
                "ui-field-behaviour": provider_ui_field_behaviour(),
            }
        ],
        # AEP datasets as Airflow assets: aep://<org>/<sandbox>/datasets/<dataset id>
        "asset-uris": [
            {
                "schemes": ["aep"],
                "handler": "airflow_provider_aep.assets.sanitize_uri",
                "to_openlineage_converter": "airflow_provider_aep.assets.convert_asset_to_openlineage",
            }
        ],
        "extra-links": [
            "airflow_provider_aep.links.AEPDataflowLink",
            "airflow_provider_aep.links.AEPDatasetLink",
            "airflow_provider_aep.links.AEPFlowRunLink",
        ],
    }
