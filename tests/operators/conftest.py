"""Fixtures for the operator tests: the emulator as ``aep_default`` and source connections."""

from __future__ import annotations

import json
from typing import Any

import pytest

SSC_SPEC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
SNOW_SPEC = "eb13cb25-47ab-407f-ba89-c0125281c563"
ODATA_SPEC = "8e6b41a8-d998-4545-ad7d-c6a9fff406c3"
CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"

SOURCE_CONNECTIONS: dict[str, dict[str, Any]] = {
    "ssc_basic": {
        "conn_type": "generic",
        "host": "https://acme.my.salesforce.com",
        "login": "sf-user@example.com",
        "password": "sf-P4ssw0rd-never-logged",
        "extra": {"auth_type": "basic", "security_token": "sf-T0ken-never-logged", "api_version": "60.0"},
    },
    "ssc_oauth": {
        "conn_type": "generic",
        "host": "https://acme.my.salesforce.com",
        "login": "sf-client-id",
        "password": "sf-client-S3cret-never-logged",
        "extra": {"auth_type": "oauth2", "api_version": "60.0"},
    },
    "snow": {
        "conn_type": "generic",
        "host": "https://acme.service-now.com",
        "login": "snow-user",
        "password": "snow-P4ss-never-logged",
    },
    "odata": {"conn_type": "generic", "host": "https://services.odata.org/V4/Northwind/Northwind.svc"},
    "generic_auth": {
        "conn_type": "generic",
        "extra": {"auth_params": {"url": "https://services.odata.org/V4/Northwind/Northwind.svc"}},
    },
}

#: Strings that must never appear in logs, XComs or rendered fields.
SECRETS = (
    "sf-P4ssw0rd-never-logged",
    "sf-T0ken-never-logged",
    "sf-client-S3cret-never-logged",
    "snow-P4ss-never-logged",
    "emulator-secret",
)


class FakeTI:
    """Captures ``xcom_push`` calls."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-serialisable
        self.xcoms[key] = value


@pytest.fixture
def aep(aep_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator, wired as ``aep_default``, with the source connections in the environment."""
    aep_emulator.set_env(monkeypatch)
    for conn_id, conn in SOURCE_CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return aep_emulator


@pytest.fixture
def run_op() -> Any:
    """Run an operator's ``execute`` with a minimal context; returns ``(return_value, xcoms)``."""

    def _run(op: Any) -> tuple[Any, dict[str, Any]]:
        ti = FakeTI()
        result = op.execute({"ti": ti})
        json.dumps(result)
        return result, ti.xcoms

    return _run


def api_requests(aep: Any) -> list[dict[str, Any]]:
    """Requests the emulator logged, without token requests."""
    return [r for r in aep.requests() if not r["path"].startswith("/ims/")]


def counts(aep: Any) -> Any:
    """Resource counts of the emulator (for duplicate checks)."""
    return aep.state()
