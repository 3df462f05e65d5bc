"""Fixtures for the example-DAG tests: a throwaway Airflow metadata DB and the demo connections."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import private_airflow_db

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"

#: Demo source-system connections (the emulator accepts any credentials of the right shape).
SOURCE_CONNECTIONS: dict[str, dict[str, Any]] = {
    "salesforce_service_cloud_default": {
        "conn_type": "generic",
        "host": "https://demo.my.salesforce.com",
        "login": "demo-client-id",
        "password": "demo-client-S3cret",
        "extra": {"auth_type": "oauth2", "api_version": "60.0"},
    },
    "servicenow_default": {
        "conn_type": "generic",
        "host": "https://demo.service-now.com",
        "login": "demo-user",
        "password": "demo-P4ssword",
    },
    "odata_default": {
        "conn_type": "generic",
        "host": "https://services.odata.org/V4/Northwind/Northwind.svc",
    },
}


@pytest.fixture(scope="session")
def airflow_db(airflow_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private copy of the session's migrated metadata DB, with this repo's ``dags/``."""
    home = tmp_path_factory.mktemp("airflow_dags_home")
    with private_airflow_db(airflow_db_template, home, AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_FOLDER)) as ready:
        yield ready


@pytest.fixture
def demo_env(aep_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator as ``aep_default`` plus the demo source connections, as ``AIRFLOW_CONN_*``.

    The example DAGs poll AEP every 30 s; against the emulator their waits poll every 0.2 s
    (``AEP_EMULATOR_POLL_SECONDS``, an emulator-only cap the provider reads at run time): the
    emulator's runs last 0.2-1 s, so a wait still sees its run in progress, and a 1 s cap added
    up to a second per wait (tens of waits in tests/dags).
    """
    from airflow_provider_aep.wait import EMULATOR_POLL_ENV

    aep_emulator.set_env(monkeypatch)
    monkeypatch.setenv(EMULATOR_POLL_ENV, "0.2")
    for conn_id, conn in SOURCE_CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return aep_emulator
