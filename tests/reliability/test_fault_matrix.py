"""Fault matrix: the customer-success pipeline under production faults, route by route.

Every case ends the same way: the pipeline either succeeded with exactly one AEP resource of each
kind, or failed with a clear error after a bounded number of attempts, never leaving a duplicate;
then a re-run finishes the pipeline, still with exactly one of each, and the dataset holds every
source row exactly once.

The pipeline is composed from the operators exactly as ``dags/aep_customer_success_ingestion.py``
wires them (see ``pipeline.py``); ``test_dag_reliability.py`` runs the DAG itself with ``dag.test()``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPAPIError, AEPConnectionError, AEPError, AEPResponseLostError
from tests.reliability.conftest import AEP, FS, SR
from tests.reliability.pipeline import Pipeline

CURRENT = {
    "connections": 1,
    "sourceConnections": 1,
    "targetConnections": 1,
    "schemas": 1,
    "classes": 0,
    "dataSets": 1,
    "mappingSets": 1,
    "flows": 1,
    "runs": 1,
}
LEGACY = {**CURRENT, "connections": 2, "schemas": 2, "classes": 1}
EXPECTED = {"current": CURRENT, "on_demand": CURRENT, "legacy": LEGACY}
#: Records the first run writes: every ``Account`` row (hourly flow with backfill), or the rows of
#: the on-demand window (one week, a row every 6 hours).
RECORDS = {"current": 200, "legacy": 200, "on_demand": 28}

#: Every create route of the ingestion -> (pipeline variant using it, resource kind it creates).
CREATE_ROUTES: dict[str, tuple[str, str]] = {
    f"POST {FS}/connections": ("current", "connections"),
    f"POST {FS}/sourceConnections": ("current", "sourceConnections"),
    f"POST {FS}/targetConnections": ("current", "targetConnections"),
    f"POST {SR}/tenant/schemas": ("current", "schemas"),
    f"POST {SR}/tenant/classes": ("legacy", "classes"),
    "POST /data/foundation/catalog/dataSets": ("current", "dataSets"),
    "POST /data/foundation/conversion/mappingSets": ("current", "mappingSets"),
    f"POST {FS}/flows": ("current", "flows"),
    f"POST {FS}/runs": ("on_demand", "runs"),
}
ROUTE_IDS = [route.rsplit("/", 1)[-1] for route in CREATE_ROUTES]
REQUEST_TIMEOUT = 0.5


def posts(aep: AEP, route: str) -> list[dict[str, Any]]:
    """The route's POSTs; for ``/connections`` without the dataflow's create lock (a base
    connection POSTed and DELETEd around the flow create, after every other connection)."""
    method, path = route.split(" ", 1)
    logged = aep.requests()
    sent = [r for r in logged if r["method"] == method and r["path"] == path]
    if path.endswith(f"{FS}/connections"):
        locks = [r for r in logged if r["method"] == "DELETE" and r["path"].startswith(path + "/")]
        sent = sent[: len(sent) - len(locks)]
    return sent


def assert_exactly_one_of_each(aep: AEP, variant: str) -> None:
    counts = aep.counts()
    wrong = {k: counts.get(k, 0) for k, n in EXPECTED[variant].items() if counts.get(k, 0) != n}
    assert not wrong, f"duplicates or missing resources: {wrong} (all counts {counts})"


def assert_no_more_than_one_of_each(aep: AEP, variant: str) -> None:
    counts = aep.counts()
    over = {k: counts[k] for k, n in EXPECTED[variant].items() if counts.get(k, 0) > n}
    assert not over, f"duplicates after a failed run: {over} (all counts {counts})"


def assert_records_once(aep: AEP, pipeline: Pipeline) -> None:
    assert pipeline.dataset_id
    records = aep.records(pipeline.dataset_id)
    ids = [r.get("_id") for r in records]
    assert len(ids) == RECORDS[pipeline.variant], f"{len(ids)} records, expected {RECORDS[pipeline.variant]}"
    assert len(set(ids)) == len(ids), "a source row was ingested twice"


def assert_clear_error(exc: BaseException, *words: str) -> None:
    """One readable line naming what failed; an AEP error class, never a bare exception."""
    assert isinstance(exc, AEPError), f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert "\n" not in text.strip() and len(text) < 1500, text
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


def rerun_and_check(aep: AEP, variant: str) -> Pipeline:
    """Faults cleared: a re-run finishes the pipeline with exactly one of each, rows once."""
    aep.clear_faults()
    again = Pipeline(variant=variant)
    again.run()
    assert_exactly_one_of_each(aep, variant)
    assert_records_once(aep, again)
    return again


# --------------------------------------------------------------------------- per create route
@pytest.mark.parametrize("route", list(CREATE_ROUTES), ids=ROUTE_IDS)
def test_answer_lost_after_commit_is_recovered_without_duplicate(
    aep: AEP, route: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """The create is committed, then the connection drops: found by name, never re-sent."""
    variant, kind = CREATE_ROUTES[route]
    aep.set_faults(drop_after_commit=[route], drop_after_commit_count=1)

    pipeline = Pipeline(variant=variant)
    pipeline.run()

    sent = posts(aep, route)
    assert any(r.get("dropped") for r in sent), "the fault did not fire"
    assert len(sent) == EXPECTED[variant][kind], f"the create was re-sent: {len(sent)} POSTs"
    assert_exactly_one_of_each(aep, variant)
    assert_records_once(aep, pipeline)
    out, err = capfd.readouterr()
    assert "was lost" in out + err, "the recovery was not logged"
    rerun_and_check(aep, variant)


@pytest.mark.parametrize("route", list(CREATE_ROUTES), ids=ROUTE_IDS)
def test_server_errors_on_create_fail_cleanly_then_rerun_finishes(aep: AEP, route: str) -> None:
    """Every POST to the route answers 5xx (seeded 500/502/503/504): no blind replay, clear error."""
    variant, kind = CREATE_ROUTES[route]
    aep.set_faults(seed=7, error_rate=1.0, routes=[route])

    with pytest.raises(AEPError) as info:
        Pipeline(variant=variant).run()

    assert isinstance(info.value, AEPAPIError)
    assert info.value.status in (500, 502, 503, 504)
    assert_clear_error(info.value, route.split(" ", 1)[1], str(info.value.status))
    # A 5xx on POST is never retried blindly; the run operator alone re-POSTs once after
    # checking that no run was committed.
    assert 1 <= len(posts(aep, route)) <= (2 if kind == "runs" else 1)
    assert aep.counts().get(kind, 0) == 0
    assert_no_more_than_one_of_each(aep, variant)
    rerun_and_check(aep, variant)


def wait_until_answered(aep: AEP, within: float = 60.0) -> None:
    """Until the emulator has answered every logged request, those whose client gave up included
    (a request's log entry gets its status when it is answered); a hang guard, not a timing."""
    deadline = time.monotonic() + within
    while pending := [r for r in aep.requests() if r["status"] is None]:
        assert time.monotonic() < deadline, f"requests never answered: {pending}"
        time.sleep(0.05)


@pytest.mark.parametrize("route", list(CREATE_ROUTES), ids=ROUTE_IDS)
def test_create_slower_than_request_timeout_never_duplicates(aep: AEP, route: str) -> None:
    """The POST outlives ``request_timeout``: the answer is lost, the name is looked up, and the
    task either recovers or fails clearly; nothing is duplicated and the re-run finishes.

    (The emulator, like AEP's backend, still processes a request whose client has gone, so the
    create commits after the client's timeout; ``test_late_commit.py`` covers that case fully.)
    """
    variant, _kind = CREATE_ROUTES[route]
    aep.connection(request_timeout=REQUEST_TIMEOUT)
    latency = REQUEST_TIMEOUT * 1.6
    aep.set_faults(latency_ms=latency * 1000, routes=[route])

    try:
        Pipeline(variant=variant).run()
    except AEPError as exc:
        assert isinstance(exc, AEPConnectionError), repr(exc)
        assert_clear_error(exc, route.split(" ", 1)[1])
    wait_until_answered(aep)  # the abandoned requests commit before counting
    assert_no_more_than_one_of_each(aep, variant)
    aep.connection()  # default timeout again
    rerun_and_check(aep, variant)


@pytest.mark.parametrize("route", list(CREATE_ROUTES), ids=ROUTE_IDS)
def test_create_just_under_request_timeout_succeeds(aep: AEP, route: str) -> None:
    variant, kind = CREATE_ROUTES[route]
    aep.connection(request_timeout=REQUEST_TIMEOUT)
    aep.set_faults(latency_ms=REQUEST_TIMEOUT * 0.6 * 1000, routes=[route])

    pipeline = Pipeline(variant=variant)
    pipeline.run()

    assert len(posts(aep, route)) == EXPECTED[variant][kind]
    assert_exactly_one_of_each(aep, variant)
    assert_records_once(aep, pipeline)


# --------------------------------------------------------------------------- global faults
def test_429_bursts_with_retry_after_are_waited_out(aep: AEP, retry_waits: list[float]) -> None:
    aep.connection(retry_max_attempts=6, retry_max_wait_seconds=5)
    aep.set_faults(rate_limit_per_second=12, rate_limit_retry_after=True)

    pipeline = Pipeline()
    pipeline.run()

    limited = [r for r in aep.requests() if r["status"] == 429]
    assert limited, "the rate limit never fired"
    assert_exactly_one_of_each(aep, "current")
    assert_records_once(aep, pipeline)
    # Retry-After (whole seconds, >= 1) was honoured, not replaced by the short backoff.
    assert retry_waits and all(w >= 1.0 for w in retry_waits), retry_waits


def test_429_without_retry_after_backs_off_and_finishes(aep: AEP, retry_waits: list[float]) -> None:
    aep.connection(retry_max_attempts=8, retry_initial_backoff=0.1, retry_max_backoff=0.4)
    aep.set_faults(rate_limit_per_second=12, rate_limit_retry_after=False)

    pipeline = Pipeline()
    try:
        pipeline.run()
    except AEPError as exc:  # bounded retries exhausted: acceptable if clear, and a re-run finishes
        assert_clear_error(exc, "429")
        assert_no_more_than_one_of_each(aep, "current")
        pipeline = rerun_and_check(aep, "current")
    assert [r for r in aep.requests() if r["status"] == 429], "the rate limit never fired"
    assert retry_waits and max(retry_waits) <= 0.4, retry_waits
    assert_exactly_one_of_each(aep, "current")
    assert_records_once(aep, pipeline)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_server_errors_everywhere_converge_without_duplicates(aep: AEP, seed: int) -> None:
    """25% of all requests (IMS included) answer 500/502/503/504; nightly re-runs converge."""
    aep.set_faults(seed=seed, error_rate=0.25)
    pipeline = Pipeline()
    for _attempt in range(8):
        pipeline = Pipeline()
        try:
            pipeline.run()
            break
        except AEPError as exc:
            assert isinstance(exc, AEPAPIError), repr(exc)
            assert exc.status in (500, 502, 503, 504), repr(exc)
            assert_clear_error(exc, str(exc.status))
            assert_no_more_than_one_of_each(aep, "current")
    else:
        pytest.fail("8 re-runs did not finish the pipeline under a 25% error rate")
    assert [r for r in aep.requests() if r.get("fault")], "no fault fired"
    assert_exactly_one_of_each(aep, "current")
    assert_records_once(aep, pipeline)


def test_token_expiring_mid_pipeline_is_refreshed(aep: AEP) -> None:
    """Tokens live 1 s, the flow run 2.5 s: the deferred wait outlives two tokens unnoticed."""
    aep.set_faults(token_ttl_seconds=1)
    aep.set_config(run_duration_seconds=2.5)

    pipeline = Pipeline()
    pipeline.run()
    Pipeline().run()

    tokens = [r for r in aep.requests() if r["path"] == "/ims/token/v3"]
    assert len(tokens) >= 2, f"only {len(tokens)} token request(s)"
    assert_exactly_one_of_each(aep, "current")
    assert_records_once(aep, pipeline)


def test_token_expired_but_still_cached_is_refreshed_once_on_401(
    aep: AEP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook's clock lags (suspended VM, clock skew): it sends an expired token, gets 401."""
    from airflow_provider_aep.hooks import _auth

    real = time.monotonic
    started = real()
    monkeypatch.setattr(_auth, "monotonic", lambda: started + (real() - started) / 20)
    aep.set_faults(token_ttl_seconds=1)
    aep.set_config(run_duration_seconds=2.5)

    pipeline = Pipeline()
    pipeline.run()

    statuses = [r["status"] for r in aep.api_requests()]
    assert 401 in statuses, "no expired token was ever sent; the test did not exercise the refresh"
    assert_exactly_one_of_each(aep, "current")
    assert_records_once(aep, pipeline)


def test_lost_answer_then_task_retry_reuses(aep: AEP) -> None:
    """A dropped create whose lookup also fails: the task fails; its retry reuses, not duplicates."""
    route = f"POST {FS}/flows"
    # The POST commits and its answer is lost; the two lookups by name before the create (the
    # operator's, then the one under the dataflow's create lock) pass, every attempt of the next one
    # (after the lost answer) answers 5xx. Seed 124 at rate 0.5 draws exactly that sequence:
    # pass, pass, 500, 503, 502, 503.
    aep.set_faults(drop_after_commit=[route], seed=124, error_rate=0.5, routes=[f"GET {FS}/flows"])
    with pytest.raises(AEPError) as info:
        Pipeline().run()
    assert isinstance(info.value, AEPAPIError), repr(info.value)
    assert info.value.method == "GET" and info.value.status in (500, 502, 503, 504), repr(info.value)
    assert aep.counts()["flows"] == 1, "the create was committed before its answer was lost"
    assert_clear_error(info.value, f"{FS}/flows")
    rerun_and_check(aep, "current")
    assert len(posts(aep, route)) == 1, "the retry re-sent the create"


def test_lost_answer_of_failed_create_is_reported_not_hidden(aep: AEP) -> None:
    """A POST whose answer is lost and which did NOT commit is reported, not silently retried."""
    route = f"POST {FS}/flows"
    aep.connection(request_timeout=REQUEST_TIMEOUT)
    aep.set_faults(latency_ms=REQUEST_TIMEOUT * 1000 * 1.6, routes=[route], error_rate=1.0,
                   error_statuses=[400])  # fmt: skip
    with pytest.raises(AEPResponseLostError) as info:
        Pipeline().run()
    assert_clear_error(info.value, f"{FS}/flows", "may have been committed")
    time.sleep(REQUEST_TIMEOUT * 2)
    assert aep.counts()["flows"] == 0
    aep.connection()
    rerun_and_check(aep, "current")
