"""IMS token endpoint and gateway header checks."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import CAT, FS, SR, Api, flow_code

from airflow_provider_aep.emulator.pytest_plugin import InProcessEmulator
from airflow_provider_aep.emulator.state import EmulatorConfig

SCOPE = "openid,AdobeID,read_organizations"


def test_token_form_encoded(emu: InProcessEmulator) -> None:
    r = emu.client.post(
        "/ims/token/v3",
        data={"grant_type": "client_credentials", "client_id": "c", "client_secret": "s", "scope": SCOPE},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert body["access_token"]
    assert r.headers["x-request-id"]


def test_token_query_params(emu: InProcessEmulator) -> None:
    r = emu.client.post(
        "/ims/token/v3",
        params={"grant_type": "client_credentials", "client_id": "c", "client_secret": "s", "scope": SCOPE},
    )
    assert r.status_code == 200
    log = emu.client.get("/_emulator/requests").json()
    assert log[-1]["query"]["client_secret"] == "***"
    assert "s" not in str(log[-1]["query"].values()).replace("***", "").split("'")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "c", "client_secret": "", "scope": SCOPE},
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials", "client_secret": "s", "scope": SCOPE}, 400, "invalid_client"),
        (
            {"grant_type": "password", "client_id": "c", "client_secret": "s", "scope": SCOPE},
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}, 400, "invalid_scope"),
    ],
)
def test_token_errors(emu: InProcessEmulator, form: dict[str, str], status: int, error: str) -> None:
    r = emu.client.post("/ims/token/v3", data=form)
    assert r.status_code == status
    assert r.json()["error"] == error
    assert "error_description" in r.json()


def test_token_allow_list() -> None:
    e = InProcessEmulator(EmulatorConfig(allowed_clients={"good": "right"}))
    base = {"grant_type": "client_credentials", "scope": SCOPE}
    assert (
        e.client.post(
            "/ims/token/v3", data={**base, "client_id": "good", "client_secret": "right"}
        ).status_code
        == 200
    )
    assert (
        e.client.post(
            "/ims/token/v3", data={**base, "client_id": "good", "client_secret": "wrong"}
        ).status_code
        == 401
    )
    bad = e.client.post("/ims/token/v3", data={**base, "client_id": "other", "client_secret": "right"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_client")


def test_token_ttl_config() -> None:
    e = InProcessEmulator(EmulatorConfig(token_ttl_seconds=5))
    r = e.client.post(
        "/ims/token/v3",
        data={"grant_type": "client_credentials", "client_id": "c", "client_secret": "s", "scope": SCOPE},
    )
    assert r.json()["expires_in"] == 5


def test_expired_token_is_401013(emu: InProcessEmulator) -> None:
    emu.client.put("/_emulator/config", json={"token_ttl_seconds": 0})
    h = emu.headers()
    r = emu.client.get(f"{FS}/connections", headers=h)
    assert r.status_code == 401
    assert r.json() == {"error_code": "401013", "message": "Oauth token is not valid"}


def _drop(h: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in h.items() if k != key}


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda h: _drop(h, "Authorization"), 403, "403010"),
        (lambda h: {**h, "Authorization": "Bearer nope"}, 401, "401013"),
        (lambda h: {**h, "Authorization": "Basic abc"}, 401, "401013"),
        (lambda h: _drop(h, "x-api-key"), 403, "403000"),
        (lambda h: {**h, "x-api-key": "someone-else"}, 403, "403003"),
        (lambda h: _drop(h, "x-gw-ims-org-id"), 400, "400003"),
    ],
)
@pytest.mark.parametrize("path", [f"{FS}/connections", f"{CAT}/dataSets", f"{SR}/tenant/schemas"])
def test_gateway_errors(emu: InProcessEmulator, mutate: Any, status: int, code: str, path: str) -> None:
    r = emu.client.get(path, headers=mutate(emu.headers()))
    assert r.status_code == status
    assert r.json()["error_code"] == code
    assert r.headers["x-request-id"]


def test_missing_sandbox_header_flow_service(emu: InProcessEmulator) -> None:
    r = emu.client.get(f"{FS}/connections", headers=_drop(emu.headers(), "x-sandbox-name"))
    assert r.status_code == 400
    assert flow_code(r) == "FLOW-2105-400"
    assert r.json()["report"]["request-id"] == r.headers["x-request-id"]


def test_missing_sandbox_header_schema_registry(emu: InProcessEmulator) -> None:
    r = emu.client.get(f"{SR}/tenant/schemas", headers=_drop(emu.headers(), "x-sandbox-name"))
    assert r.status_code == 400
    assert r.json()["type"].endswith("XDM-2105-400")


def test_unknown_sandbox_is_2100_404() -> None:
    e = InProcessEmulator(EmulatorConfig(sandboxes=["prod", "dev"]))
    r = e.client.get(f"{FS}/connections", headers=e.headers(sandbox="staging"))
    assert (r.status_code, flow_code(r)) == (404, "FLOW-2100-404")
    assert e.client.get(f"{FS}/connections", headers=e.headers(sandbox="dev")).status_code == 200
    upper = e.client.get(f"{FS}/connections", headers=e.headers(sandbox="Prod"))
    assert upper.status_code == 404


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize(
    "path",
    [
        f"{FS}/connections",
        f"{CAT}/dataSets",
        f"{SR}/tenant/schemas",
        "/data/foundation/conversion/mappingSets",
    ],
)
def test_content_type_required(emu: InProcessEmulator, ctype: str | None, path: str) -> None:
    h = emu.headers()
    if ctype:
        h["Content-Type"] = ctype
    r = emu.client.post(path, content=b'{"name": "x"}', headers=h)
    assert r.status_code == 400
    assert r.json() == {
        "type": "/placeholder/type/uri",
        "status": 400,
        "title": "BadRequestError",
        "detail": "A valid content-type must be specified",
    }


def test_catalog_patch_accepts_json_patch(api: Api, world: dict[str, str]) -> None:
    r = api.client.patch(
        f"{CAT}/dataSets/{world['dataset']}",
        content=b'[{"op": "replace", "path": "/description", "value": "new"}]',
        headers={**api.h(), "Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 200
    assert r.json() == [f"@/dataSets/{world['dataset']}"]
    got = api.get(f"{CAT}/dataSets/{world['dataset']}").json()
    assert got[world["dataset"]]["description"] == "new"
    r = api.client.patch(
        f"{FS}/flows/x",
        content=b"[]",
        headers={**api.h(), "Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 400 and r.json()["title"] == "BadRequestError"


def test_admin_paths_need_no_auth_and_log_has_no_secrets(api: Api) -> None:
    api.base_connection()
    log = api.client.get("/_emulator/requests").json()
    text = str(log)
    assert "sample-password" not in text and "emulator-secret" not in text
    entry = [e for e in log if e["path"].endswith("/connections")][-1]
    assert entry["status"] == 201 and entry["sandbox"] == "prod" and entry["org"] == "EMULATORORG@AdobeOrg"
    assert {"method", "path", "query", "status", "sandbox", "org", "ts"} <= set(entry)
    assert api.client.delete("/_emulator/requests").status_code == 204
    assert api.client.get("/_emulator/requests").json() == []


def test_every_response_has_request_id(api: Api) -> None:
    for r in (
        api.get(f"{FS}/flowSpecs"),
        api.get(f"{FS}/flows/nope"),
        api.client.get("/_emulator/state"),
        api.get(f"{SR}/tenant/schemas", headers={"Accept": "application/vnd.adobe.xed-id+json"}),
    ):
        assert len(r.headers["x-request-id"]) >= 32
