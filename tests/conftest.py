"""Shared fixtures: one migrated Airflow metadata DB per session, copied for each user.

``dag.test()`` needs a metadata DB. Migrating one costs 15-25 s, so the session migrates a single
template and every fixture that needs a DB gets a private copy of it (isolation without the cost).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _cache_bytecode() -> None:
    """Cache bytecode outside the tree when the machine disables it (``PYTHONDONTWRITEBYTECODE``).

    Without cached bytecode every interpreter compiles what it imports from source: about 3 s of
    CPU per process that imports Airflow, paid again by every subprocess (``dag.test()`` workers,
    ``airflow dags test``, the emulator, deployments). The cache goes to a private
    ``PYTHONPYCACHEPREFIX`` (like the benchmarks'), so the working tree gets no ``__pycache__``;
    subprocesses inherit it through the environment.
    """
    if not (sys.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE")):
        return
    prefix = os.environ.get("PYTHONPYCACHEPREFIX") or str(
        Path(tempfile.gettempdir()) / "airflow-provider-aep-tests-pycache"
    )
    sys.dont_write_bytecode = False
    sys.pycache_prefix = prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = prefix


_cache_bytecode()


def _reconfigure() -> None:
    from airflow import settings

    settings.dispose_orm()
    settings.configure_vars()
    settings.configure_orm()


@pytest.fixture(scope="session")
def airflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite metadata DB, made once per session; copy it, never use it directly."""
    home = tmp_path_factory.mktemp("airflow_db_template")
    db_file = home / "airflow.db"
    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{db_file}")
    patch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from airflow.utils import db

    _reconfigure()
    try:
        db.initdb()
    finally:
        patch.undo()
        _reconfigure()
    return db_file


@contextmanager
def private_airflow_db(template: Path, home: Path, **env: str) -> Iterator[Path]:
    """Point Airflow at a private copy of ``template`` under ``home`` (plus ``env``), then restore.

    The ORM is rebuilt after the environment change, so this works even when Airflow was imported
    earlier in the session.
    """
    shutil.copy(template, home / "airflow.db")
    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    patch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    for key, value in env.items():
        patch.setenv(key, value)
    _reconfigure()
    try:
        yield home
    finally:
        patch.undo()
        _reconfigure()
