"""Fixtures for the hook tests: an AEP connection in the environment, no real sleeping."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_aep.hooks import _auth, _retry
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy

GATEWAY = "https://platform.example.test"
IMS = "https://ims.example.test"
TOKEN_URL = f"{IMS}/ims/token/v3"
FS = f"{GATEWAY}/data/foundation/flowservice"
SR = f"{GATEWAY}/data/foundation/schemaregistry"
CAT = f"{GATEWAY}/data/foundation/catalog"
DP = f"{GATEWAY}/data/foundation/conversion"

CLIENT_ID = "client-id-123"
CLIENT_SECRET = "S3CRET-client-secret-zzq"
ORG = "ABCDEF0123456789ABCDEF01@AdobeOrg"
TOKEN = "TOKEN-eyJ-distinctive-aaa"
TOKEN_2 = "TOKEN-eyJ-distinctive-bbb"


def conn_json(**overrides: Any) -> str:
    """An Airflow connection (JSON form) for the hook; ``extra`` keys merge into the default extra."""
    extra = {"ims_org_id": ORG, "sandbox_name": "dev-sandbox", "ims_url": IMS}
    extra.update(overrides.pop("extra", {}))
    conn: dict[str, Any] = {
        "conn_type": "adobe_experience_platform",
        "login": CLIENT_ID,
        "password": CLIENT_SECRET,
        "host": GATEWAY,
        "extra": {k: v for k, v in extra.items() if v is not None},
    }
    conn.update(overrides)
    return json.dumps({k: v for k, v in conn.items() if v is not None})


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    _auth.TOKEN_CACHE.clear()
    yield
    _auth.TOKEN_CACHE.clear()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Waits the retry loop asked for (nobody really sleeps)."""
    recorded: list[float] = []
    monkeypatch.setattr(_retry, "sleep", recorded.append)
    return recorded


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def _set(conn_id: str = "aep_default", **overrides: Any) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(**overrides))

    return _set


@pytest.fixture
def hook(set_conn: Callable[..., None]) -> AdobeExperiencePlatformHook:
    set_conn()
    return AdobeExperiencePlatformHook(retry_policy=RetryPolicy(max_attempts=4))


@pytest.fixture
def ims(requests_mock: Any) -> Any:
    """IMS answering a fresh token; the returned matcher counts token POSTs."""
    return requests_mock.post(
        TOKEN_URL, json={"access_token": TOKEN, "token_type": "bearer", "expires_in": 86399}
    )


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything logged so far: stdlib records and Airflow's structlog output."""
    caplog.set_level(logging.DEBUG)

    def _read() -> str:
        captured = capsys.readouterr()
        return caplog.text + captured.out + captured.err

    return _read
