"""Declarative description of the ``adobe_experience_platform`` connection form.

Pure data (no imports), shared by :mod:`airflow_provider_aep.get_provider_info` (Airflow 3.3
reads ``conn-fields``/``ui-field-behaviour`` from there without importing the hook) and by the
hook's ``get_connection_form_widgets``/``get_ui_field_behaviour`` (the form's legacy path).
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "adobe_experience_platform"
DEFAULT_CONN_ID = "aep_default"
DEFAULT_GATEWAY_URL = "https://platform.adobe.io"
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com"
#: Identity Service (namespace lookups) when the gateway is Adobe's: Adobe documents Identity
#: Service on regional hosts, platform-va7 (North America) and platform-nld2 (Europe).
DEFAULT_IDENTITY_SERVICE_URL = "https://platform-va7.adobe.io"
DEFAULT_SANDBOX = "prod"
DEFAULT_SCOPES = "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"
DEFAULT_REQUEST_TIMEOUT = 60.0
#: Requests in flight at once from one triggerer process to one AEP host (the async trigger path).
DEFAULT_TRIGGER_MAX_IN_FLIGHT = 64

# Extra fields: name -> (label, JSON type, default, description, secret?)
#
# No field has a form default: Airflow 3.3's form saves every field's value into the connection's
# extra, so a default there would freeze today's value into each connection made in the UI. An
# empty field is saved as null (or left out) and the hook applies the default at run time, so the
# descriptions say what an empty field means. Airflow 3.3 does not show the placeholders of extra
# fields, so each description also carries an example.
EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "ims_org_id": {
        "label": "IMS organization ID",
        "type": "string",
        "default": None,
        "description": "Required. Sent as x-gw-ims-org-id; copy it from Developer Console > Credentials. "
        "It ends with @AdobeOrg, e.g. ABCDEF1234567890ABCDEF12@AdobeOrg.",
        "secret": False,
    },
    "sandbox_name": {
        "label": "Sandbox name",
        "type": "string",
        "default": None,
        "description": "Sent as x-sandbox-name: the sandbox's technical name (lowercase), e.g. dev-2. "
        f"Empty: {DEFAULT_SANDBOX}. Operators can override it per task.",
        "secret": False,
    },
    "scopes": {
        "label": "OAuth scopes",
        "type": "string",
        "default": None,
        "description": "Comma-separated scopes of the OAuth Server-to-Server credential. "
        f"Empty: {DEFAULT_SCOPES}.",
        "secret": False,
    },
    "ims_url": {
        "label": "IMS URL",
        "type": "string",
        "default": None,
        "description": "Adobe IMS base URL; the token is requested from <IMS URL>/ims/token/v3. "
        f"Empty: {DEFAULT_IMS_URL}.",
        "secret": False,
    },
    "identity_service_url": {
        "label": "Identity Service URL",
        "type": "string",
        "default": None,
        "description": "Regional host of Identity Service, used for identity namespace lookups "
        "(/data/core/idnamespace), e.g. https://platform-nld2.adobe.io for an organization in Europe. "
        f"Empty: {DEFAULT_IDENTITY_SERVICE_URL} (North America) when the gateway is {DEFAULT_GATEWAY_URL}, "
        "else the gateway URL (an emulator or a proxy).",
        "secret": False,
    },
    "access_token": {
        "label": "Static access token (optional)",
        "type": "string",
        "default": None,
        "description": "A bearer token used instead of requesting one from IMS (it is not refreshed). "
        "Empty: tokens come from IMS with the client ID and secret.",
        "secret": True,
    },
    "ui_tenant": {
        "label": "AEP UI tenant (optional, links only)",
        "type": "string",
        "default": None,
        "description": "The @<tenant> of your experience.adobe.com URLs, for the tasks' links to AEP runs, "
        "flows and datasets, e.g. mycompany for https://experience.adobe.com/#/@mycompany/... "
        "Empty: the IMS organization ID. Never sent to the API.",
        "secret": False,
    },
    "request_timeout": {
        "label": "Request timeout (seconds)",
        "type": "number",
        "default": None,
        "description": "Timeout of each HTTP request to AEP or IMS, e.g. 30. "
        f"Empty: {DEFAULT_REQUEST_TIMEOUT:g}.",
        "secret": False,
    },
    "trigger_max_in_flight": {
        "label": "Triggerer: requests in flight (max)",
        "type": "number",
        "default": None,
        "description": "Deferred waits: at most this many AEP requests at once per triggerer process "
        f"and host (more waits queue, they do not fail), e.g. 16. Empty: {DEFAULT_TRIGGER_MAX_IN_FLIGHT}.",
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
        "identity_service_url": DEFAULT_IDENTITY_SERVICE_URL,
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
