"""Build a ``once`` flow in the emulator over plain HTTP (no operator code), for run tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_aep.emulator.testing import FS, EmulatorClient

__all__ = ["FAST", "FS", "POLL", "EmuApi", "Flow", "make_once_flow"]

FAST = {"run_duration_seconds": 0.2}
POLL = 0.1


class EmuApi(EmulatorClient):
    """The emulator client for the ``aep_emulator`` fixture; runs are created for a window tuple."""

    def __init__(self, emu: Any) -> None:
        super().__init__(emu.url, emu.headers())
        self.emu = emu

    def create_run(  # type: ignore[override]
        self, flow_id: str, window: tuple[float, float], start_time: float | None = None
    ) -> str:
        return super().create_run(flow_id, window[0], window[1], start_time)


@dataclass
class Flow:
    """Ids of a ready flow, with the client that made it."""

    flow_id: str
    dataset_id: str
    api: EmuApi


def make_once_flow(emu: Any, table: str = "Account", name: str = "runs-test") -> Flow:
    """Base/source/target connections, schema, dataset, mapping and a ``once`` flow."""
    api = EmuApi(emu)
    flow = api.once_flow(name, table)
    return Flow(flow_id=flow.flow_id, dataset_id=flow.dataset_id, api=api)
