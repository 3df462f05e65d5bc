"""What Airflow 3.3's UI gets from the provider: the connection form and the Admin > Providers link.

Read through Airflow's own code paths (``HookMetaService.hook_meta_data`` feeds the connection form,
``ProvidersManager`` the Providers page), not through our dictionaries.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging_helpers import run_checked

from airflow_provider_aep.connection_fields import (
    CONN_TYPE,
    DEFAULT_IMS_URL,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SANDBOX,
    DEFAULT_SCOPES,
)

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def form() -> Any:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == CONN_TYPE]
    return meta


def test_no_extra_field_has_a_form_default(form: Any) -> None:
    """The 3.3 form saves each field's value: a default there would be frozen into every connection."""
    assert form.extra_fields
    for name, field in form.extra_fields.items():
        assert field["value"] is None, f"{name} would be saved as {field['value']!r}"
        assert "default" not in field["schema"], name


def test_descriptions_carry_examples_and_what_empty_means(form: Any) -> None:
    """3.3 shows no placeholder for extra fields, so the description is the only hint."""
    fields = form.extra_fields
    assert "e.g. ABCDEF1234567890ABCDEF12@AdobeOrg" in fields["ims_org_id"]["description"]
    assert f"Empty: {DEFAULT_SANDBOX}." in fields["sandbox_name"]["description"]
    assert DEFAULT_SCOPES in fields["scopes"]["description"]
    assert DEFAULT_IMS_URL in fields["ims_url"]["description"]
    assert f"Empty: {DEFAULT_REQUEST_TIMEOUT:g}." in fields["request_timeout"]["description"]
    for name in ("ims_org_id", "sandbox_name", "ui_tenant", "request_timeout", "trigger_max_in_flight"):
        assert "e.g. " in fields[name]["description"], name
    # The standard fields still get their placeholders (3.3 shows those).
    assert form.standard_fields.host.placeholder == "https://platform.adobe.io"


def test_a_connection_saved_by_the_form_stores_only_what_was_typed(form: Any) -> None:
    """The 3.3 form saves ``{field: value}`` for every extra field, null when left empty."""
    from airflow.models.connection import Connection

    from airflow_provider_aep.hooks._async import max_in_flight_from_extra
    from airflow_provider_aep.hooks._connection import settings_from_connection

    extra = {name: field["value"] for name, field in form.extra_fields.items()}
    extra["ims_org_id"] = "ABCDEF1234567890ABCDEF12@AdobeOrg"  # the one field the user typed
    assert {k: v for k, v in extra.items() if v is not None} == {"ims_org_id": extra["ims_org_id"]}

    conn = Connection(
        conn_id="aep_ui", conn_type=CONN_TYPE, login="client", password="secret", extra=json.dumps(extra)
    )
    settings = settings_from_connection(conn, "aep_ui")
    assert settings.sandbox_name == DEFAULT_SANDBOX
    assert settings.scopes == DEFAULT_SCOPES
    assert settings.ims_url == DEFAULT_IMS_URL
    assert settings.request_timeout == DEFAULT_REQUEST_TIMEOUT
    assert settings.access_token is None
    assert max_in_flight_from_extra(conn.extra_dejson, "aep_ui") == 64


def test_providers_page_links_to_the_declared_documentation() -> None:
    """Without a declared URL, Airflow links to airflow.apache.org/docs/<package>/, which does not exist."""
    from airflow.api_fastapi.core_api.services.public.providers import _provider_mapper
    from airflow.providers_manager import ProvidersManager

    declared = PYPROJECT["project"]["urls"]["Documentation"]
    assert declared.startswith("https://") and "airflow.apache.org" not in declared
    shown = _provider_mapper(ProvidersManager().providers["airflow-provider-aep"])
    assert shown.documentation_url == declared


def test_cli_connection_test_is_the_way_to_test(aep_emulator: Any, tmp_path: Path) -> None:
    """The README sends users to ``airflow connections test`` (the 3.3.2 UI button sends port 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
            "AIRFLOW_CONN_AEP_UI": aep_emulator.connection_json(),
        }
    )
    result = run_checked(
        [sys.executable, "-m", "airflow", "connections", "test", "aep_ui"], env=env, timeout=120
    )
    assert "Connection success!" in result.stdout
    calls = [r["path"] for r in aep_emulator.requests()]
    assert "/ims/token/v3" in calls and "/data/foundation/flowservice/flowSpecs" in calls
