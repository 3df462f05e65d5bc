"""Headers on every Platform call: auth, API key, org, sandbox, Content-Type, Accept, User-Agent."""

from __future__ import annotations

import re

import pytest
import requests

from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from tests.hooks.conftest import CAT, CLIENT_ID, DP, FS, ORG, SR, TOKEN

XED = "application/vnd.adobe.xed+json; version=1"
XED_FULL = "application/vnd.adobe.xed-full+json; version=1"
XED_ID = "application/vnd.adobe.xed-id+json"


def test_common_headers(hook, ims, requests_mock):
    flow = requests_mock.get(f"{FS}/flows/f1", json={"items": [{"id": "f1"}]})
    hook.get_flow("f1")
    headers = flow.last_request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["x-api-key"] == CLIENT_ID
    assert headers["x-gw-ims-org-id"] == ORG
    assert headers["x-sandbox-name"] == "dev-sandbox"
    assert headers["Accept"] == "application/json"
    assert "Content-Type" not in headers
    assert "If-Match" not in headers


def test_user_agent(hook, ims, requests_mock):
    flow = requests_mock.get(f"{FS}/flows/f1", json={"items": [{"id": "f1"}]})
    hook.get_flow("f1")
    agent = flow.last_request.headers["User-Agent"]
    assert re.fullmatch(
        r"airflow-provider-aep/\S+ apache-airflow/3\.\S+ python-requests/" + re.escape(requests.__version__),
        agent,
    )
    assert ims.last_request.headers["User-Agent"] == agent


@pytest.mark.parametrize(
    ("hook_sandbox", "call_sandbox", "expected"),
    [
        (None, None, "dev-sandbox"),
        ("hook-sb", None, "hook-sb"),
        (None, "call-sb", "call-sb"),
        ("hook-sb", "call-sb", "call-sb"),
    ],
)
def test_sandbox_precedence(set_conn, ims, requests_mock, hook_sandbox, call_sandbox, expected):
    set_conn()
    matcher = requests_mock.get(f"{FS}/flows", json={"items": []})
    AdobeExperiencePlatformHook(sandbox_name=hook_sandbox).request(
        "GET", "flowservice", "/flows", sandbox_name=call_sandbox
    )
    assert matcher.last_request.headers["x-sandbox-name"] == expected


def test_sandbox_defaults_to_prod(set_conn, ims, requests_mock):
    set_conn(extra={"sandbox_name": None})
    matcher = requests_mock.get(f"{FS}/flows", json={"items": []})
    list(AdobeExperiencePlatformHook().list_flows())
    assert matcher.last_request.headers["x-sandbox-name"] == "prod"


@pytest.mark.parametrize(
    ("method", "url", "call"),
    [
        ("POST", f"{FS}/flows", lambda h: h.create_flow({"name": "f"})),
        ("POST", f"{SR}/tenant/schemas", lambda h: h.create_schema({"title": "t"})),
        ("POST", f"{DP}/mappingSets", lambda h: h.create_mapping_set({"mappings": []})),
        (
            "PATCH",
            f"{FS}/flows/f1",
            lambda h: h.patch_flow("f1", [{"op": "remove", "path": "/x"}], etag='"e"'),
        ),
    ],
)
def test_content_type_only_on_bodies(hook, ims, requests_mock, method, url, call):
    matcher = requests_mock.register_uri(method, url, json={"id": "x", "$id": "x", "etag": '"e2"'})
    call(hook)
    assert matcher.last_request.headers["Content-Type"] == "application/json"


def test_no_content_type_on_body_less_post(hook, ims, requests_mock):
    action = requests_mock.post(f"{FS}/flows/f1/action", json={"id": "f1", "etag": "e"})
    hook.set_flow_state("f1", enabled=True)
    assert "Content-Type" not in action.last_request.headers
    assert action.last_request.body is None


@pytest.mark.parametrize(
    ("url", "call", "accept"),
    [
        (f"{SR}/tenant/schemas/_t.schemas.abc", lambda h: h.get_schema("_t.schemas.abc"), XED),
        (
            f"{SR}/tenant/schemas/_t.schemas.abc",
            lambda h: h.get_schema("_t.schemas.abc", full=True),
            XED_FULL,
        ),
        (f"{SR}/tenant/classes/_t.classes.abc", lambda h: h.get_class("_t.classes.abc"), XED),
        (f"{SR}/tenant/schemas", lambda h: list(h.list_schemas()), XED_ID),
        (f"{SR}/tenant/classes", lambda h: list(h.list_classes()), XED_ID),
        (f"{SR}/tenant/schemas", lambda h: h.request("GET", "schemaregistry", "/tenant/schemas"), XED),
        (f"{CAT}/dataSets", lambda h: list(h.list_datasets()), "application/json"),
    ],
)
def test_accept_headers(hook, ims, requests_mock, url, call, accept):
    body = {} if url.startswith(CAT) else {"results": [], "_page": {"next": None}, "$id": "x", "title": "t"}
    matcher = requests_mock.get(url, json=body)
    call(hook)
    assert matcher.last_request.headers["Accept"] == accept


def test_if_match_and_custom_headers(hook, ims, requests_mock):
    matcher = requests_mock.get(f"{FS}/flows", json={"items": []})
    hook.request(
        "GET", "flowservice", "/flows", if_match='"etag-1"', headers={"x-extra": "1"}, accept="text/plain"
    )
    headers = matcher.last_request.headers
    assert headers["If-Match"] == '"etag-1"'
    assert headers["x-extra"] == "1"
    assert headers["Accept"] == "text/plain"


def test_one_session_per_hook_with_tls_verification(hook, ims, requests_mock):
    requests_mock.get(f"{FS}/flows/f1", json={"items": [{"id": "f1"}]})
    session = hook.get_conn()
    hook.get_flow("f1")
    hook.get_flow("f1")
    assert hook.get_conn() is session
    assert session.verify is True
    # True, or a CA bundle path from REQUESTS_CA_BUNDLE: verification stays on either way
    assert all(r.verify not in (False, None, "") for r in requests_mock.request_history)
    assert AdobeExperiencePlatformHook().get_conn() is not session


@pytest.mark.parametrize(
    ("extra", "timeout", "expected"),
    [({}, None, 60.0), ({"request_timeout": 12}, None, 12.0), ({"request_timeout": 12}, 3.5, 3.5)],
)
def test_request_timeout(set_conn, ims, requests_mock, extra, timeout, expected):
    set_conn(extra=extra)
    matcher = requests_mock.get(f"{FS}/flows/f1", json={"items": [{"id": "f1"}]})
    AdobeExperiencePlatformHook(timeout=timeout).get_flow("f1")
    assert matcher.last_request.timeout == expected
    assert ims.last_request.timeout == expected
