"""Lost answers with a late commit: the gateway answers 504 (or holds the request until the client
times out) and the backend commits 1-3 s later, on every create route and on ``POST /runs``.

The emulator's ``late_commit`` fault does exactly that. Every case must end with exactly one
resource of each kind, one POST to the faulted route (never re-sent before the late-commit window
is over) and every source row ingested once; the task log says what happened.
"""

from __future__ import annotations

import time

import pytest

from tests.reliability.conftest import AEP, FS
from tests.reliability.pipeline import Pipeline
from tests.reliability.test_fault_matrix import (
    CREATE_ROUTES,
    ROUTE_IDS,
    assert_exactly_one_of_each,
    assert_records_once,
    posts,
)

#: Long enough to see a commit 1-3 s after the lost answer (the default is 30 s).
WINDOW = 5.0
#: Commit delay per route, spread over 1-3 s.
DELAYS = dict(zip(CREATE_ROUTES, (1.0, 1.5, 2.0, 1.0, 3.0, 1.5, 2.5, 2.0, 1.5), strict=True))


def wait_for_late_commits(aep: AEP, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while aep.emulator.state()["pending_commits"]:
        assert time.monotonic() < deadline, "a late commit never landed"
        time.sleep(0.05)


@pytest.mark.parametrize("route", list(CREATE_ROUTES), ids=ROUTE_IDS)
def test_gateway_timeout_with_late_commit_is_adopted_not_resent(
    aep: AEP, route: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """504 at once, commit 1-3 s later: the operator keeps looking and adopts the late commit."""
    variant, kind = CREATE_ROUTES[route]
    aep.connection(late_commit_wait_seconds=WINDOW)
    aep.set_faults(late_commit=[route], late_commit_seconds=DELAYS[route])

    pipeline = Pipeline(variant=variant)
    pipeline.run()
    wait_for_late_commits(aep)

    sent = posts(aep, route)
    assert sent[0]["status"] == 504 and sent[0]["committed_status"] in (200, 201), sent[0]
    assert len(sent) == 1, f"POST re-sent before the late commit could be seen: {len(sent)} POSTs"
    assert_exactly_one_of_each(aep, variant)
    assert_records_once(aep, pipeline)
    out, err = capfd.readouterr()
    assert "was lost" in out + err
    assert ("Recovered" if kind != "runs" else "The lost POST did create run") in out + err


@pytest.mark.parametrize(
    "route",
    [f"POST {FS}/connections", f"POST {FS}/flows", f"POST {FS}/runs"],
    ids=["connections", "flows", "runs"],
)
def test_held_request_times_out_then_commits_once(aep: AEP, route: str) -> None:
    """The gateway holds the request past the client's timeout; the backend commits 2 s later."""
    variant, _kind = CREATE_ROUTES[route]
    aep.connection(late_commit_wait_seconds=WINDOW, request_timeout=0.5)
    aep.set_faults(late_commit=[route], late_commit_seconds=2.0, late_commit_mode="hold")

    pipeline = Pipeline(variant=variant)
    pipeline.run()
    wait_for_late_commits(aep)

    assert len(posts(aep, route)) == 1
    assert_exactly_one_of_each(aep, variant)
    assert_records_once(aep, pipeline)


def test_commit_later_than_the_window_fails_the_try_without_a_resend(aep: AEP) -> None:
    """Beyond the window the task gives up (a clear lost-answer error, no second POST); the next try
    finds the late commit by name and reuses it."""
    route = f"POST {FS}/runs"
    # The commit comes 5 s after the POST, far beyond the 0.6 s window even when the machine is
    # busy (with 1.5 s, a 1 s stall in the window let the lookup at its end find the commit).
    aep.connection(late_commit_wait_seconds=0.6)
    aep.set_faults(late_commit=[route], late_commit_seconds=5.0, late_commit_count=2)
    from airflow_provider_aep.exceptions import AEPResponseLostError

    # The re-POST after the window is lost too; both commit late. The run operator sends at most
    # two POSTs, each only after a full window without a commit.
    with pytest.raises(AEPResponseLostError):
        Pipeline(variant="on_demand").run()
    first, second = posts(aep, route)
    assert second["ts"] - first["ts"] >= 0.6, "POST /runs re-sent without waiting out the window"
    wait_for_late_commits(aep)
    aep.clear_faults()
    Pipeline(variant="on_demand").run()
    assert len(posts(aep, route)) == 2, "the task retry started a third run instead of reusing"


def test_task_retries_adopt_a_late_commit(aep: AEP, capfd: pytest.CaptureFixture[str]) -> None:
    """Airflow's task retries (the example DAGs retry create steps twice, here with no delay): every
    base-connection POST gets a 504 and commits 2 s later. The first try waits for the commit and
    adopts it, so no retry is needed and no second POST is sent: one base connection."""
    route = f"POST {FS}/connections"
    aep.connection(late_commit_wait_seconds=WINDOW)
    aep.set_faults(late_commit=[route], late_commit_count=3, late_commit_seconds=2.0)
    from airflow_provider_aep.exceptions import AEPResponseLostError

    tries = 0
    while tries < 3:  # the try, then Airflow's two retries
        tries += 1
        try:
            Pipeline(variant="current").run(wait=False)
            break
        except AEPResponseLostError:
            continue
    wait_for_late_commits(aep)

    assert tries == 1, f"{tries} tries were needed"
    assert len(posts(aep, route)) == 1
    counts = aep.counts()
    assert counts["connections"] == 1 and counts["flows"] == 1, counts
    out, err = capfd.readouterr()
    assert "Recovered base connection" in out + err
