"""The public plain-HTTP client that tests and benchmarks use to set up emulator resources."""

from __future__ import annotations

import pytest

from airflow_provider_aep.emulator.testing import EmulatorAPIError, EmulatorClient

JAN_1, JAN_2 = 1767225600, 1767312000  # 2026-01-01 .. 2026-01-02 UTC: 4 sample rows


def test_once_flow_runs_a_window_into_its_dataset(aep_emulator):
    aep_emulator.set_config(run_duration_seconds=0.1)
    client = EmulatorClient(aep_emulator.url, aep_emulator.headers())
    flow = client.once_flow("client-test")
    run_id = client.create_run(flow.flow_id, JAN_1, JAN_2)
    run = client.wait_finished(run_id)
    assert run["metrics"]["statusSummary"]["status"] == "success"
    assert [r["id"] for r in client.runs(flow.flow_id)] == [run_id]
    assert len(aep_emulator.records(flow.dataset_id)) == 4


def test_error_answers_raise(aep_emulator):
    client = EmulatorClient(aep_emulator.url, aep_emulator.headers())
    with pytest.raises(EmulatorAPIError, match="404"):
        client.get_run("3fb0418e-1804-45d6-8d56-dd51f05c0baf")
