"""Fixtures for the emulator's black-box tests."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Api

from airflow_provider_aep.emulator.pytest_plugin import InProcessEmulator
from airflow_provider_aep.emulator.state import EmulatorConfig


@pytest.fixture(scope="session")
def _shared_emu() -> Any:
    e = InProcessEmulator(EmulatorConfig(run_duration_seconds=0.05))
    yield e
    e.client.close()


@pytest.fixture
def emu(_shared_emu: InProcessEmulator) -> InProcessEmulator:
    """One in-process app for the session; state, faults and config reset before each test."""
    state = _shared_emu.state
    state.reset()
    state.set_faults({})
    state.config = EmulatorConfig(run_duration_seconds=0.05)
    state.clock.set_scale(1.0)
    _shared_emu._token = None
    return _shared_emu


@pytest.fixture
def api(emu: InProcessEmulator) -> Api:
    return Api(emu)


@pytest.fixture
def world(api: Api) -> dict[str, str]:
    return api.world()
