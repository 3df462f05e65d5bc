"""The ``aep_emulator`` pytest plugin costs nothing in a session that does not use its fixtures.

Its entry point loads it into every pytest session of any environment with the provider installed,
so a user's unrelated test suite must not pay for FastAPI, uvicorn or the emulator.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from packaging_helpers import run_checked

CONFTEST = """
import json, os, sys

def pytest_sessionfinish(session):
    with open(os.environ["MODULES_OUT"], "w") as handle:
        json.dump(sorted(sys.modules), handle)
"""
PLUGIN_MODULES = {
    "airflow_provider_aep",
    "airflow_provider_aep.emulator",
    "airflow_provider_aep.emulator.pytest_plugin",
}


def _session_modules(tmp_path: Path, name: str, test_body: str, *options: str) -> set[str]:
    project = tmp_path / name
    project.mkdir()
    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_user.py").write_text(test_body)
    out = project / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AIRFLOW"))}
    env["MODULES_OUT"] = str(out)
    run_checked(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(project)],
        cwd=project,
        env=env,
        timeout=120,
    )
    return set(json.loads(out.read_text()))


def test_plugin_imports_nothing_until_a_fixture_is_used(tmp_path: Path) -> None:
    plain = "def test_unrelated():\n    assert 1 + 1 == 2\n"
    with_plugin = _session_modules(tmp_path, "with_plugin", plain)
    without_plugin = _session_modules(tmp_path, "without_plugin", plain, "-p", "no:aep_emulator")
    assert "airflow_provider_aep.emulator.pytest_plugin" in with_plugin  # the plugin was loaded
    assert with_plugin - without_plugin <= PLUGIN_MODULES, sorted(with_plugin - without_plugin)
    assert not {m for m in with_plugin if m.split(".")[0] in ("fastapi", "uvicorn", "starlette")}


def test_its_fixtures_still_work_when_used(tmp_path: Path) -> None:
    body = (
        "def test_uses_the_emulator(aep_emulator_app):\n"
        "    token = aep_emulator_app.token()\n"
        "    assert token\n"
    )
    modules = _session_modules(tmp_path, "uses_fixture", body)
    assert {"fastapi", "airflow_provider_aep.emulator.app"} <= modules
