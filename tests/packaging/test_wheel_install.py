"""The built wheel, installed into a fresh venv outside the checkout, runs ``aep-demo`` end to end.

This is what a user gets from ``pip install``: no checkout on ``sys.path``, no editable install, the
example DAGs only where the wheel puts them. The venv gets the locked runtime dependencies
(``uv export --frozen --no-dev``) from uv's cache, so on a machine that has run ``uv sync`` it
downloads nothing and takes seconds; the demo itself (``airflow db migrate`` + ``airflow dags test``
of the customer-success DAG against the emulator) is most of the test's time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging_helpers import run_checked

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_aep"


def _uv() -> list[str]:
    """The uv command: ``$UV`` (set by ``uv run``), ``uv`` on PATH, or ``python3 -m uv``."""
    if os.environ.get("UV"):
        return [os.environ["UV"]]
    if shutil.which("uv"):
        return ["uv"]
    python3 = shutil.which("python3")
    if python3 and subprocess.run([python3, "-m", "uv", "--version"], capture_output=True).returncode == 0:
        return [python3, "-m", "uv"]
    pytest.fail("uv is needed to build and install the wheel (CI runs the suite with `uv run`)")


def _clean_env(tmp: Path) -> dict[str, str]:
    """No checkout on the path, no Airflow settings of the test session, a private HOME."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "UV_CACHE_DIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"HOME": str(tmp / "home"), "XDG_CACHE_HOME": str(tmp / "cache")})
    return env


def test_wheel_installs_alone_and_aep_demo_runs_outside_the_checkout(tmp_path: Path) -> None:
    uv = _uv()
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_checked([*uv, "build", "--wheel", "--out-dir", str(dist), str(REPO)], cwd=tmp_path, timeout=300)
    (wheel,) = dist.glob("*.whl")
    requirements = tmp_path / "requirements.txt"
    export = ["export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--project", str(REPO)]
    run_checked(
        [*uv, *export, "--output-file", str(requirements)],
        cwd=tmp_path,
        timeout=120,
    )
    run_checked([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path, timeout=120)
    python = venv / "bin" / "python"
    run_checked(
        [*uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements), str(wheel)],
        cwd=tmp_path,
        timeout=600,
    )

    # What the wheel installed: one top-level package, the example DAGs inside it, the scripts.
    listing = run_checked(
        [
            str(python),
            "-c",
            "import json, importlib.metadata as m; d = m.distribution('airflow-provider-aep'); "
            "print(json.dumps({'files': [f.as_posix() for f in d.files], "
            "'urls': d.metadata.get_all('Project-URL') or []}))",
        ],
        cwd=elsewhere,
        timeout=60,
        env=_clean_env(tmp_path),
    ).stdout
    installed = json.loads(listing)
    files: list[str] = installed["files"]
    top_level = {f.split("/")[0] for f in files if not f.startswith("..")} - {
        f.split("/")[0] for f in files if f.split("/")[0].endswith(".dist-info")
    }
    assert top_level == {PACKAGE}, f"the wheel installs more than {PACKAGE}: {sorted(top_level)}"
    shipped = {Path(f).name for f in files if f.startswith(f"{PACKAGE}/example_dags/")}
    assert shipped == {p.name for p in (REPO / "dags").glob("*.py")}
    assert not [f for f in files if f.endswith(".pyc") or "__pycache__" in f]
    assert {"aep-demo", "aep-emulator"} <= {Path(f).name for f in files if f.startswith("../")}
    assert [u for u in installed["urls"] if u.lower().startswith("documentation,")]

    # The installed command, run from a directory that is not the checkout, with its default home.
    demo = run_checked(
        [str(venv / "bin" / "aep-demo"), "--run-duration", "0.5"],
        cwd=elsewhere,
        env=_clean_env(tmp_path),
        timeout=600,
    )
    output = demo.stdout + demo.stderr
    shipped_dags = next(venv.glob(f"lib/python*/site-packages/{PACKAGE}/example_dags"))
    assert f"Example DAGs: {shipped_dags}" in output
    assert f"Airflow home: {tmp_path / 'cache' / 'aep-demo' / 'airflow'}" in output
    assert "Demo succeeded" in output  # every task succeeded and the flow run's records landed
    assert str(REPO) not in output  # nothing came from the checkout
