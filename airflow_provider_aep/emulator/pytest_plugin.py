"""pytest plugin (entry point ``aep_emulator``): the AEP emulator as fixtures.

- ``aep_emulator_server`` (session): uvicorn serving the emulator in a background thread on a free
  127.0.0.1 port; yields its base URL.
- ``aep_emulator`` (function): resets state, faults and config, returns an
  :class:`~airflow_provider_aep.emulator.harness.AEPEmulatorHandle`.
- ``aep_emulator_app`` (function): a fresh in-process app and a ``TestClient`` for fast tests.

The entry point loads this module into every pytest session of an environment that has the
provider installed, so it costs nothing until a fixture is used: it imports only pytest, and the
emulator (FastAPI, uvicorn, the app) is imported by the fixture that needs it.
``AEPEmulatorHandle`` and ``InProcessEmulator`` can still be imported from here (lazily).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_aep.emulator.harness import AEPEmulatorHandle, InProcessEmulator

_LAZY = (
    "AEPEmulatorHandle",
    "InProcessEmulator",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "ORG_ID",
    "SANDBOX",
    "SCOPES",
)


def __getattr__(name: str) -> Any:
    """Names that moved to :mod:`airflow_provider_aep.emulator.harness`, imported on first use."""
    if name in _LAZY:
        from airflow_provider_aep.emulator import harness

        return getattr(harness, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@pytest.fixture(scope="session")
def aep_emulator_server() -> Iterator[str]:
    """Base URL of a session-wide emulator served by uvicorn in a background thread."""
    from airflow_provider_aep.emulator.harness import EmulatorServer

    server = EmulatorServer()
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.fixture
def aep_emulator(aep_emulator_server: str) -> AEPEmulatorHandle:
    """The session emulator, reset (state, faults, config) before the test."""
    from airflow_provider_aep.emulator.harness import AEPEmulatorHandle

    handle = AEPEmulatorHandle(aep_emulator_server)
    handle.reset()
    return handle


@pytest.fixture
def aep_emulator_app() -> Iterator[InProcessEmulator]:
    """A fresh in-process emulator (``.app``, ``.client``, ``.headers()``)."""
    from airflow_provider_aep.emulator.harness import InProcessEmulator

    emu = InProcessEmulator()
    try:
        yield emu
    finally:
        emu.client.close()
