"""The emulator's late-commit fault (a gateway that gives up while its backend still commits) and
what a client timeout does to a request (it is still processed, quietly, like AEP's backend would)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import requests

from airflow_provider_aep.emulator.cli import build_parser, config_from_args
from airflow_provider_aep.emulator.faults import FaultConfig

FS = "/data/foundation/flowservice"
SSC_SPEC = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"


def _count(aep_emulator: Any, kind: str) -> int:
    for entry in aep_emulator.state()["sandboxes"]:
        if entry["sandbox"] == aep_emulator.sandbox:
            return int(entry["counts"].get(kind, 0))
    return 0


def _post_connection(aep_emulator: Any, name: str, timeout: float = 10) -> requests.Response:
    body = {"name": name, "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"}}
    return requests.post(
        f"{aep_emulator.url}{FS}/connections",
        json=body,
        headers={**aep_emulator.headers(), "Content-Type": "application/json"},
        timeout=timeout,
    )


def _wait_for_commits(aep_emulator: Any, within: float = 60.0) -> float:
    start = time.monotonic()
    while aep_emulator.state()["pending_commits"]:
        assert time.monotonic() - start < within, "a late commit never landed"
        time.sleep(0.05)
    return time.monotonic() - start


def _answered(aep_emulator: Any, path: str, within: float = 60.0) -> dict[str, Any]:
    """The request log entry of ``path`` once the emulator has answered it (a hang guard only)."""
    start = time.monotonic()
    while True:
        entry = next((r for r in aep_emulator.requests() if r["path"] == path), None)
        if entry is not None and entry["status"] is not None:
            return entry
        assert time.monotonic() - start < within, f"{path} was never processed: {entry}"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"late_commit": 5}, "late_commit"),
        ({"late_commit": ["FETCH /x"]}, "late_commit"),
        ({"late_commit_seconds": -1}, "late_commit_seconds"),
        ({"late_commit_seconds": "2"}, "late_commit_seconds"),
        ({"late_commit_count": 1.5}, "late_commit_count"),
        ({"late_commit_mode": "drop"}, "late_commit_mode"),
    ],
)
def test_late_commit_config_is_validated(data: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        FaultConfig.from_dict(data)


def test_late_commit_cli_flags() -> None:
    args = build_parser().parse_args(
        ["--late-commit", f"POST {FS}/runs", "--late-commit-seconds", "1.5", "--late-commit-mode", "hold"]
    )
    faults = config_from_args(args).faults
    assert faults == {
        "late_commit": [f"POST {FS}/runs"],
        "late_commit_seconds": 1.5,
        "late_commit_mode": "hold",
    }
    assert FaultConfig.from_dict(faults).late_commit_mode == "hold"


def test_gateway_timeout_then_late_commit(aep_emulator: Any) -> None:
    """504 at once (AEP's FLOW-1104-504 body), nothing visible yet, then exactly one commit.

    Asserted by causality, not by timing: first with a commit an hour away (an answer that waited
    for the commit would trip the client's 10 s timeout, and nothing can be visible yet), then with
    a commit 1 s away, whose commit time is compared with the request's arrival."""
    route = f"POST {FS}/connections"
    aep_emulator.set_faults(late_commit=[route], late_commit_seconds=3600.0)
    answer = _post_connection(aep_emulator, "late one")
    assert answer.status_code == 504
    assert answer.json()["type"].endswith("FLOW-1104-504")
    assert _count(aep_emulator, "connections") == 0
    assert aep_emulator.state()["pending_commits"] == 1
    aep_emulator.reset(faults=False, config=False)  # cancels the commit an hour away

    aep_emulator.set_faults(late_commit=[route], late_commit_seconds=1.0)
    assert _post_connection(aep_emulator, "late two").status_code == 504
    _wait_for_commits(aep_emulator)
    assert _count(aep_emulator, "connections") == 1
    entry = next(r for r in aep_emulator.requests() if r["path"] == f"{FS}/connections")
    assert entry["status"] == 504 and entry["late_commit"] and entry["committed_status"] == 201
    assert entry["committed_at"] - entry["ts"] >= 0.95  # committed late, not with the answer
    # The fault is used once per route by default: the next POST is answered normally.
    assert _post_connection(aep_emulator, "second").status_code == 201
    assert _count(aep_emulator, "connections") == 2


def test_hold_mode_times_the_client_out_and_still_commits(aep_emulator: Any) -> None:
    """The commit comes 3 s after the request: far beyond the client's 0.3 s timeout even when
    the machine is busy, so the client times out before anything is committed."""
    aep_emulator.set_faults(
        late_commit=[f"POST {FS}/connections"], late_commit_seconds=3.0, late_commit_mode="hold"
    )
    with pytest.raises(requests.exceptions.Timeout):
        _post_connection(aep_emulator, "held", timeout=0.3)
    assert _count(aep_emulator, "connections") == 0
    _wait_for_commits(aep_emulator)
    assert _count(aep_emulator, "connections") == 1
    entry = next(r for r in aep_emulator.requests() if r["path"] == f"{FS}/connections")
    assert entry["committed_at"] - entry["ts"] >= 2.95


def test_hold_mode_answers_504_to_a_patient_client(aep_emulator: Any) -> None:
    aep_emulator.set_faults(
        late_commit=[f"POST {FS}/connections"], late_commit_seconds=0.5, late_commit_mode="hold"
    )
    started = time.monotonic()
    answer = _post_connection(aep_emulator, "held")
    assert answer.status_code == 504
    assert time.monotonic() - started >= 0.45
    assert _count(aep_emulator, "connections") == 1


def test_reset_cancels_pending_late_commits(aep_emulator: Any) -> None:
    aep_emulator.set_faults(late_commit=[f"POST {FS}/connections"], late_commit_seconds=0.5)
    assert _post_connection(aep_emulator, "never").status_code == 504
    aep_emulator.reset(faults=False, config=False)
    assert aep_emulator.state()["pending_commits"] == 0
    time.sleep(0.8)
    assert _count(aep_emulator, "connections") == 0


def test_client_timeout_is_processed_quietly(aep_emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A client that gives up during added latency: no ClientDisconnect traceback, no 500, and the
    request is still applied (what AEP's backend does with a request its client stopped waiting for)."""
    # 3 s of latency against a 0.2 s client timeout: the client gives up even on a busy machine.
    aep_emulator.set_faults(latency_ms=3000, routes=[f"POST {FS}/connections"])
    with caplog.at_level(logging.ERROR):
        with pytest.raises(requests.exceptions.Timeout):
            _post_connection(aep_emulator, "slow", timeout=0.2)
        entry = _answered(aep_emulator, f"{FS}/connections")  # the request is processed after all
        assert entry["status"] == 201
        assert _count(aep_emulator, "connections") == 1
    text = "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "ClientDisconnect" not in text and "Exception in ASGI application" not in text, text
