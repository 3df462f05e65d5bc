"""Connection validation before any HTTP call, UI form metadata, test_connection."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from airflow_provider_aep.connection_fields import EXTRA_FIELDS
from airflow_provider_aep.exceptions import AEPAuthConfigError, AEPConfigError, AEPInputError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from tests.hooks.conftest import CLIENT_SECRET, FS, TOKEN


def test_class_attributes():
    assert AdobeExperiencePlatformHook.conn_name_attr == "aep_conn_id"
    assert AdobeExperiencePlatformHook.default_conn_name == "aep_default"
    assert AdobeExperiencePlatformHook.conn_type == "adobe_experience_platform"
    assert AdobeExperiencePlatformHook.hook_name == "Adobe Experience Platform"


def test_connection_is_not_fetched_in_init(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(
        AdobeExperiencePlatformHook, "get_connection", classmethod(lambda cls, conn_id: calls.append(conn_id))
    )
    hook = AdobeExperiencePlatformHook("missing_conn", sandbox_name="x", timeout=3)
    assert calls == []
    assert hook.aep_conn_id == "missing_conn"


#: Written out here, not imported: the classification under test.
AUTHENTICATING_FIELDS = {
    "login (client id)",
    "password (client secret)",
    "extra.ims_org_id",
    "extra.access_token",
    "extra.scopes",
    "extra.ims_url",
}


@pytest.mark.parametrize(
    ("overrides", "field", "fix"),
    [
        ({"login": None}, "login (client id)", "client ID"),
        ({"extra": {"ims_org_id": None}}, "extra.ims_org_id", "@AdobeOrg"),
        ({"extra": {"ims_org_id": "ABC123"}}, "extra.ims_org_id", "@AdobeOrg"),
        ({"password": None}, "password (client secret)", "access_token"),
        ({"host": "http://platform.example.test"}, "host (gateway URL)", "https://"),
        ({"host": "http://10.0.0.8:8080"}, "host (gateway URL)", "https://"),
        ({"host": "http://128.0.0.1:8080"}, "host (gateway URL)", "https://"),
        ({"host": "ftp://platform.example.test"}, "host (gateway URL)", "https://"),
        ({"host": "https://user:pw@platform.example.test"}, "host (gateway URL)", "https://"),
        ({"extra": {"ims_url": "http://ims.example.test"}}, "extra.ims_url", "https://"),
        ({"extra": {"request_timeout": "soon"}}, "extra.request_timeout", "60"),
        ({"extra": {"request_timeout": 0}}, "extra.request_timeout", "60"),
    ],
)
def test_invalid_connection_fails_before_any_http(set_conn, requests_mock, overrides, field, fix):
    set_conn(**overrides)
    hook = AdobeExperiencePlatformHook()
    with pytest.raises(AEPConfigError) as info:
        hook.get_flow("f1")
    # Only a setting that authenticates is an auth problem; a URL, port or timeout is configuration.
    assert isinstance(info.value, AEPAuthConfigError) == (field in AUTHENTICATING_FIELDS), info.value
    message = str(info.value)
    assert field in message
    assert "Fix:" in message
    assert fix in message
    assert "'aep_default'" in message
    assert CLIENT_SECRET not in message
    assert requests_mock.call_count == 0  # no URL registered: any request would also fail loudly


@pytest.mark.parametrize(
    ("host", "port", "ims_url", "gateway", "ims"),
    [
        (
            "http://127.0.0.1:8765",
            None,
            "http://127.0.0.1:8765",
            "http://127.0.0.1:8765",
            "http://127.0.0.1:8765",
        ),
        ("127.0.0.1", 8765, "http://localhost:9/", "http://127.0.0.1:8765", "http://localhost:9"),
        ("http://127.9.9.9", None, "http://[::1]:8080", "http://127.9.9.9", "http://[::1]:8080"),
        ("http://localhost:1234", None, None, "http://localhost:1234", "https://ims-na1.adobelogin.com"),
        ("platform.adobe.io", None, None, "https://platform.adobe.io", "https://ims-na1.adobelogin.com"),
        (None, None, None, "https://platform.adobe.io", "https://ims-na1.adobelogin.com"),
        (
            "https://proxy.example.test/aep/",
            8443,
            None,
            "https://proxy.example.test:8443/aep",
            "https://ims-na1.adobelogin.com",
        ),
    ],
)
def test_urls(set_conn, host, port, ims_url, gateway, ims):
    overrides: dict[str, Any] = {"host": host, "port": port, "extra": {"ims_url": ims_url}}
    set_conn(**overrides)
    settings = AdobeExperiencePlatformHook().conn_settings
    assert (settings.gateway_url, settings.ims_url) == (gateway, ims)


def test_defaults_and_scopes(set_conn):
    set_conn(extra={"sandbox_name": None, "scopes": ["openid", " AdobeID "]})
    settings = AdobeExperiencePlatformHook().conn_settings
    assert settings.sandbox_name == "prod"
    assert settings.scopes == "openid,AdobeID"
    assert settings.request_timeout == 60.0


def test_ui_prefixed_extras_are_understood(set_conn):
    set_conn(extra={"ims_org_id": None, "extra__adobe_experience_platform__ims_org_id": "X1@AdobeOrg"})
    assert AdobeExperiencePlatformHook().conn_settings.org_id == "X1@AdobeOrg"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda h: h.request("GET", "nosuchservice", "/x"), "service"),
        (lambda h: h.request("GET", "flowservice", "flows"), "path"),
        (lambda h: h.request("GET", "flowservice", "/flows", sandbox_name=""), "sandbox_name"),
        (lambda h: h.get_flow(""), "flow_id"),
        (lambda h: h.create_flow(["not", "a", "dict"]), "body"),
        (lambda h: h.patch_flow("f1", []), "operations"),
        (lambda h: h.find_flow(""), "name"),
        (lambda h: h.find_schema(""), "title"),
    ],
)
def test_bad_arguments_fail_before_http(hook, requests_mock, call, field):
    with pytest.raises(AEPInputError) as info:
        call(hook)
    assert info.value.field == field
    assert requests_mock.call_count == 0


def test_ui_field_behaviour():
    behaviour = AdobeExperiencePlatformHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == ["schema", "port"]
    assert behaviour["relabeling"] == {
        "login": "Client ID (x-api-key)",
        "password": "Client secret",
        "host": "Platform gateway URL",
    }
    assert behaviour["placeholders"]["host"] == "https://platform.adobe.io"
    assert "ims_org_id" in behaviour["placeholders"]


def _fake_form_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-ins for wtforms / flask_appbuilder / flask_babel (not installed with Airflow 3.3)."""

    class Field:
        def __init__(self, label: Any = None, **kwargs: Any) -> None:
            self.label, self.kwargs = label, kwargs

    class StringField(Field):
        pass

    class PasswordField(Field):
        pass

    class FloatField(Field):
        pass

    class Widget:
        pass

    modules = {
        "wtforms": types.SimpleNamespace(
            StringField=StringField, PasswordField=PasswordField, FloatField=FloatField
        ),
        "wtforms.validators": types.SimpleNamespace(
            Optional=lambda: "optional", NumberRange=lambda **kw: ("range", kw)
        ),
        "flask_appbuilder": types.SimpleNamespace(),
        "flask_appbuilder.fieldwidgets": types.SimpleNamespace(
            BS3TextFieldWidget=type("BS3TextFieldWidget", (Widget,), {}),
            BS3PasswordFieldWidget=type("BS3PasswordFieldWidget", (Widget,), {}),
        ),
        "flask_babel": types.SimpleNamespace(lazy_gettext=lambda text: text),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


def test_connection_form_widgets(monkeypatch):
    _fake_form_modules(monkeypatch)
    widgets = AdobeExperiencePlatformHook.get_connection_form_widgets()
    assert set(widgets) == {
        "ims_org_id",
        "sandbox_name",
        "scopes",
        "ims_url",
        "identity_service_url",
        "access_token",
        "request_timeout",
        "ui_tenant",  # links only
        "trigger_max_in_flight",
    }
    assert set(widgets) == set(EXTRA_FIELDS)
    assert type(widgets["ui_tenant"]).__name__ == "StringField"
    assert type(widgets["trigger_max_in_flight"]).__name__ == "FloatField"
    assert widgets["trigger_max_in_flight"].kwargs["default"] is None  # the hook applies 64
    assert type(widgets["access_token"]).__name__ == "PasswordField"
    assert type(widgets["access_token"].kwargs["widget"]).__name__ == "BS3PasswordFieldWidget"
    assert type(widgets["request_timeout"]).__name__ == "FloatField"
    assert widgets["sandbox_name"].kwargs["default"] is None  # the hook applies "prod"
    assert type(widgets["ims_org_id"]).__name__ == "StringField"


def test_test_connection_success(hook, ims, requests_mock):
    specs = requests_mock.get(f"{FS}/flowSpecs", json={"items": [{"id": "14518937", "name": "CRMToAEP"}]})
    ok, message = hook.test_connection()
    assert ok is True
    assert "dev-sandbox" in message
    assert specs.call_count == 1
    assert "property=name%3D%3D%22CRMToAEP%22" in specs.last_request.url
    assert "limit=1" in specs.last_request.url


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("bad-secret", "invalid_client"),
        ("forbidden", "403027"),
        ("bad-org", "@AdobeOrg"),
        ("http", "plain http"),
    ],
)
def test_test_connection_failure(set_conn, requests_mock, setup, expected):
    if setup == "bad-org":
        set_conn(extra={"ims_org_id": "nope"})
    elif setup == "http":
        set_conn(host="http://aep.example.test")
    else:
        set_conn()
    from tests.hooks.conftest import TOKEN_URL

    if setup == "bad-secret":
        requests_mock.post(
            TOKEN_URL, status_code=400, json={"error": "invalid_client", "error_description": "bad"}
        )
    else:
        requests_mock.post(TOKEN_URL, json={"access_token": TOKEN, "expires_in": 100})
    requests_mock.get(
        f"{FS}/flowSpecs", status_code=403, json={"error_code": "403027", "message": "User region missing"}
    )
    ok, message = AdobeExperiencePlatformHook().test_connection()
    assert ok is False
    assert expected in message
    assert CLIENT_SECRET not in message
    assert TOKEN not in message
