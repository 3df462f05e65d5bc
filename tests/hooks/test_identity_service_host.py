"""Identity Service on its own host: the connection extra ``identity_service_url``.

Adobe documents Identity Service (``/data/core/idnamespace``) on regional hosts
(``platform-va7`` / ``platform-nld2``), not on the gateway; every other service stays on the
gateway. A bad value fails naming the extra before any request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_aep.connection_fields import DEFAULT_GATEWAY_URL, DEFAULT_IDENTITY_SERVICE_URL
from airflow_provider_aep.exceptions import AEPAuthConfigError, AEPConfigError
from airflow_provider_aep.hooks import _core
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from tests.hooks.conftest import GATEWAY

NLD2 = "https://platform-nld2.adobe.io"
NAMESPACES = [{"id": 6, "code": "Email", "status": "ACTIVE"}]


def test_namespace_lookup_goes_to_the_configured_host_and_the_rest_to_the_gateway(
    set_conn: Callable[..., None], ims: Any, requests_mock: Any
) -> None:
    set_conn(extra={"identity_service_url": NLD2 + "/"})
    identity = requests_mock.get(f"{NLD2}/data/core/idnamespace/identities", json=NAMESPACES)
    stats = requests_mock.get(f"{GATEWAY}/data/foundation/schemaregistry/stats", json={"tenantId": "_acme"})
    hook = AdobeExperiencePlatformHook()
    assert hook.list_identity_namespaces() == NAMESPACES
    assert hook.get_tenant_id() == "acme"
    assert identity.call_count == 1 and stats.call_count == 1
    sent = identity.last_request
    assert sent.headers["x-gw-ims-org-id"] and sent.headers["x-sandbox-name"] == "dev-sandbox"


@pytest.mark.parametrize(
    ("host", "extra", "expected"),
    [
        (DEFAULT_GATEWAY_URL, None, DEFAULT_IDENTITY_SERVICE_URL),  # Adobe's gateway: NA region
        (None, None, DEFAULT_IDENTITY_SERVICE_URL),  # empty host = Adobe's gateway
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080"),  # an emulator answers itself
        (GATEWAY, None, GATEWAY),  # a proxy
        (DEFAULT_GATEWAY_URL, "platform-nld2.adobe.io", NLD2),  # scheme added like the host's
        ("http://127.0.0.1:8080", "http://localhost:9090/", "http://localhost:9090"),
    ],
)
def test_default_and_normalised_values(
    set_conn: Callable[..., None], host: str | None, extra: str | None, expected: str
) -> None:
    set_conn(host=host, extra={"identity_service_url": extra})
    settings = AdobeExperiencePlatformHook().conn_settings
    assert settings.identity_service_url == expected
    call = _core.build_call(settings, "prod", "GET", "identity", "/identities")
    assert call.url == expected + "/data/core/idnamespace/identities"
    other = _core.build_call(settings, "prod", "GET", "catalog", "/dataSets")
    assert other.url.startswith(settings.gateway_url + "/data/foundation/catalog")
    assert expected in repr(settings)


@pytest.mark.parametrize(
    "value",
    [
        "http://identity.example.com",  # plain http off loopback
        "ftp://platform-va7.adobe.io",
        "https://user:pw@platform-va7.adobe.io",
        "https://platform-va7.adobe.io/?region=va7",
        "https://platform-va7.adobe.io\n",
        5,
        ["https://platform-va7.adobe.io"],
    ],
)
def test_bad_value_fails_naming_the_extra_before_any_request(
    set_conn: Callable[..., None], requests_mock: Any, value: Any
) -> None:
    set_conn(extra={"identity_service_url": value})
    with pytest.raises(AEPConfigError, match=r"extra\.identity_service_url.*Fix: use https://") as err:
        AdobeExperiencePlatformHook().list_identity_namespaces()
    assert not isinstance(err.value, AEPAuthConfigError)  # a host, not a credential
    assert "pw" not in str(err.value)
    assert requests_mock.call_count == 0  # not even the token


def test_emulator_answers_on_the_configured_host(aep_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the emulator: the gateway is unreachable, the namespaces still come (from the
    identity host), so the lookup did not go through the gateway."""
    conn = json.loads(aep_emulator.connection_json())
    conn["host"] = "http://127.0.0.1:9"  # discard port: nothing answers
    conn["extra"]["identity_service_url"] = aep_emulator.url
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", json.dumps(conn))
    aep_emulator.clear_requests()
    codes = {n["code"] for n in AdobeExperiencePlatformHook().list_identity_namespaces()}
    assert {"Email", "CRMID"} <= codes
    assert [r["path"] for r in aep_emulator.requests() if not r["path"].startswith("/ims/")] == [
        "/data/core/idnamespace/identities"
    ]
