"""Shared fixtures: one migrated Airflow metadata DB per session, copied for each user.

``dag.test()`` needs a metadata DB. Migrating one costs 15-25 s, so the session migrates a single
template and every fixture that needs a DB gets a private copy of it (isolation without the cost).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


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
