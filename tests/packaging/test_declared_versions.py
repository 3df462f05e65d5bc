"""The versions the package declares are the versions CI tests: one Python, one Airflow.

CI runs the suite once (Python 3.11, the locked Airflow); a second full run on the lowest versions
does not fit its time budget, so the package claims no more than that. This test fails when the
declared lower bounds, the lock, mypy, ruff and the interpreter running the suite drift apart.
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCK = tomllib.loads((REPO / "uv.lock").read_text())


def _lower_bound(specifiers: SpecifierSet) -> str:
    (bound,) = [s.version for s in specifiers if s.operator == ">="]
    return bound


def _locked(name: str) -> str:
    (entry,) = [p for p in LOCK["package"] if p["name"] == name]
    return str(entry["version"])


def test_declared_python_is_the_tested_python() -> None:
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert _lower_bound(SpecifierSet(PYPROJECT["project"]["requires-python"])) == tested
    assert LOCK["requires-python"] == PYPROJECT["project"]["requires-python"]
    assert PYPROJECT["tool"]["mypy"]["python_version"] == tested
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + tested.replace(".", "")
    versions = [
        c.rsplit(" :: ", 1)[-1]
        for c in PYPROJECT["project"]["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert versions == [tested]


def test_declared_airflow_is_the_tested_airflow() -> None:
    (airflow,) = [
        Requirement(r)
        for r in PYPROJECT["project"]["dependencies"]
        if Requirement(r).name == "apache-airflow"
    ]
    assert _lower_bound(airflow.specifier) == _locked("apache-airflow") == version("apache-airflow")
