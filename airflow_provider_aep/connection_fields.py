"""Declarative description of the ``adobe_experience_platform`` connection form.

Pure data (no imports), shared by :mod:`airflow_provider_aep.get_provider_info` (Airflow >= 3.2
reads ``conn-fields``/``ui-field-behaviour`` from there without importing the hook) and by the
hook's ``get_connection_form_widgets``/``get_ui_field_behaviour`` (older Airflow 3 releases).
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "adobe_experience_platform"
DEFAULT_CONN_ID = "aep_default"
DEFAULT_GATEWAY_URL = "https://platform.adobe.io"
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com"
DEFAULT_SANDBOX = "prod"
DEFAULT_SCOPES = "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"
DEFAULT_REQUEST_TIMEOUT = 60.0
#: Requests in flight at once from one triggerer process to one AEP host (the async trigger path).
DEFAULT_TRIGGER_MAX_IN_FLIGHT = 64

# Extra fields: name -> (label, JSON type, default, description, secret?)
EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "ims_org_id": {
        "label": "IMS organization ID",
        "type": "string",
        "default": None,
        "description": "Sent as x-gw-ims-org-id; ends with @AdobeOrg (Developer Console > Credentials).",
        "secret": False,
    },
    "sandbox_name": {
        "label": "Sandbox name",
        "type": "string",
        "default": DEFAULT_SANDBOX,
        "description": "Sent as x-sandbox-name (lowercase); operators can override it per task.",
        "secret": False,
    },
    "scopes": {
        "label": "OAuth scopes",
        "type": "string",
        "default": DEFAULT_SCOPES,
        "description": "Comma-separated scopes of the OAuth Server-to-Server credential.",
        "secret": False,
    },
    "ims_url": {
        "label": "IMS URL",
        "type": "string",
        "default": DEFAULT_IMS_URL,
        "description": "Adobe IMS base URL; the token is requested from <IMS URL>/ims/token/v3.",
        "secret": False,
    },
    "access_token": {
        "label": "Static access token (optional)",
        "type": "string",
        "default": None,
        "description": "Use this bearer token instead of requesting one from IMS (it is not refreshed).",
        "secret": True,
    },
    "ui_tenant": {
        "label": "AEP UI tenant (optional, links only)",
        "type": "string",
        "default": None,
        "description": "The @<tenant> of your experience.adobe.com URLs, for the tasks' links to AEP runs, "
        "flows and datasets; default: the IMS organization ID. Never sent to the API.",
        "secret": False,
    },
    "request_timeout": {
        "label": "Request timeout (seconds)",
        "type": "number",
        "default": DEFAULT_REQUEST_TIMEOUT,
        "description": "Timeout of each HTTP request to AEP or IMS.",
        "secret": False,
    },
    "trigger_max_in_flight": {
        "label": "Triggerer: requests in flight (max)",
        "type": "number",
        "default": DEFAULT_TRIGGER_MAX_IN_FLIGHT,
        "description": "Deferred waits: at most this many AEP requests at once per triggerer process "
        "and host (more waits queue, they do not fail).",
        "secret": False,
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {
        "login": "Client ID (x-api-key)",
        "password": "Client secret",
        "host": "Platform gateway URL",
    },
    "placeholders": {
        "login": "OAuth Server-to-Server client id from Adobe Developer Console",
        "password": "OAuth Server-to-Server client secret",
        "host": DEFAULT_GATEWAY_URL,
        "ims_org_id": "ABCDEF1234567890ABCDEF12@AdobeOrg",
        "sandbox_name": DEFAULT_SANDBOX,
        "scopes": DEFAULT_SCOPES,
        "ims_url": DEFAULT_IMS_URL,
        "ui_tenant": "mycompany (as in https://experience.adobe.com/#/@mycompany/...)",
        "request_timeout": str(int(DEFAULT_REQUEST_TIMEOUT)),
        "trigger_max_in_flight": str(DEFAULT_TRIGGER_MAX_IN_FLIGHT),
    },
}


def provider_conn_fields() -> dict[str, Any]:
    """``conn-fields`` in the shape Airflow's provider metadata expects."""
    fields: dict[str, Any] = {}
    for name, spec in EXTRA_FIELDS.items():
        schema: dict[str, Any] = {"type": [spec["type"], "null"]}
        if spec["default"] is not None:
            schema["default"] = spec["default"]
        if spec["secret"]:
            schema["format"] = "password"
        fields[name] = {"label": spec["label"], "description": spec["description"], "schema": schema}
    return fields


def provider_ui_field_behaviour() -> dict[str, Any]:
    """``ui-field-behaviour`` in the kebab-case shape of provider metadata."""
    return {
        "hidden-fields": list(UI_FIELD_BEHAVIOUR["hidden_fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
