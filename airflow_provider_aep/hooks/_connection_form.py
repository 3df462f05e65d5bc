"""Declarative description of the AEP connection form (no imports: cheap to load anywhere).

``CONN_FIELDS`` and ``UI_FIELD_BEHAVIOUR`` use the provider-info format that Airflow >= 3.2 reads
without importing the hook (``connection-types[].conn-fields`` / ``ui-field-behaviour``); the hook's
``get_connection_form_widgets`` / ``get_ui_field_behaviour`` classmethods are built from them too.
"""

from __future__ import annotations

from typing import Any

DEFAULT_HOST = "https://platform.adobe.io"
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com"
DEFAULT_SANDBOX = "prod"
DEFAULT_SCOPES = "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"
DEFAULT_REQUEST_TIMEOUT = 60.0

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "ims_org_id": {
        "label": "IMS organization ID",
        "description": "Organization ID from Developer Console, ends with @AdobeOrg.",
        "schema": {"type": ["string", "null"]},
    },
    "sandbox_name": {
        "label": "Sandbox name",
        "description": "Sandbox every call runs in (lowercase).",
        "schema": {"type": ["string", "null"], "default": DEFAULT_SANDBOX},
    },
    "scopes": {
        "label": "Scopes",
        "description": "Comma-separated OAuth scopes of the server-to-server credential.",
        "schema": {"type": ["string", "null"], "default": DEFAULT_SCOPES},
    },
    "ims_url": {
        "label": "IMS URL",
        "description": "Adobe IMS base URL used for the token request.",
        "schema": {"type": ["string", "null"], "default": DEFAULT_IMS_URL},
    },
    "access_token": {
        "label": "Static access token",
        "description": "Optional: use this bearer token instead of requesting one from IMS.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "request_timeout": {
        "label": "Request timeout (seconds)",
        "schema": {"type": ["number", "null"], "default": DEFAULT_REQUEST_TIMEOUT},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {
        "login": "Client ID (x-api-key)",
        "password": "Client secret",
        "host": "Platform gateway URL",
    },
    "placeholders": {
        "login": "Developer Console client ID",
        "password": "Developer Console client secret",
        "host": DEFAULT_HOST,
        "ims_org_id": "0123456789ABCDEF01234567@AdobeOrg",
        "sandbox_name": DEFAULT_SANDBOX,
        "scopes": DEFAULT_SCOPES,
        "ims_url": DEFAULT_IMS_URL,
        "access_token": "leave empty to use the client credentials",
        "request_timeout": str(int(DEFAULT_REQUEST_TIMEOUT)),
    },
}
