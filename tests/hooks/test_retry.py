"""Retries: which failures, how many times, how long; POST is never replayed after a lost answer."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
import requests
import tenacity

from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPAuthConfigError,
    AEPBadRequestError,
    AEPConfigError,
    AEPConnectionError,
    AEPNotFoundError,
    AEPPreconditionFailedError,
    AEPRateLimitError,
    AEPResponseLostError,
    AEPServerError,
)
from airflow_provider_aep.hooks import _retry
from airflow_provider_aep.hooks._retry import RetryPolicy, backoff_seconds, is_retryable, parse_retry_after
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from tests.hooks.conftest import CAT, CLIENT_SECRET, FS, TOKEN

OK = {"json": {"items": [{"id": "f1"}]}}


def _fail(status: int, **headers: str) -> dict:
    return {"status_code": status, "json": {"title": "transient"}, "headers": headers}


@pytest.mark.parametrize(
    ("first", "expected_wait"),
    [
        pytest.param(_fail(429, **{"Retry-After": "7"}), 7.0, id="429-retry-after-seconds"),
        pytest.param(_fail(503, **{"Retry-After": "2"}), 2.0, id="503-retry-after-seconds"),
        pytest.param(_fail(429, **{"Retry-After": "600"}), 60.0, id="429-retry-after-capped"),
        pytest.param(_fail(429), None, id="429-no-retry-after"),
        pytest.param(_fail(500), None, id="500"),
        pytest.param(_fail(502), None, id="502"),
        pytest.param(_fail(503), None, id="503"),
        pytest.param(_fail(504), None, id="504"),
        pytest.param({"exc": requests.ConnectionError("reset")}, None, id="connection-error"),
        pytest.param({"exc": requests.ConnectTimeout("slow")}, None, id="connect-timeout"),
        pytest.param({"exc": requests.ReadTimeout("slow")}, None, id="read-timeout"),
    ],
)
def test_get_is_retried_once_then_succeeds(hook, ims, requests_mock, sleeps, first, expected_wait):
    flow = requests_mock.get(f"{FS}/flows/f1", [first, OK])
    assert hook.get_flow("f1") == {"id": "f1"}
    assert flow.call_count == 2
    assert len(sleeps) == 1
    if expected_wait is None:
        assert 0.0 <= sleeps[0] <= 1.0  # full jitter within initial_backoff for the first retry
    elif expected_wait >= 60.0:
        assert sleeps[0] == pytest.approx(expected_wait)  # capped at max_wait_seconds
    else:
        # Retry-After is honoured, plus at most a second of jitter against synchronized returns.
        assert expected_wait <= sleeps[0] <= expected_wait + 1.0


def test_retry_after_http_date(hook, ims, requests_mock, sleeps):
    when = datetime.fromtimestamp(time.time() + 30, tz=timezone.utc)
    flow = requests_mock.get(
        f"{FS}/flows/f1", [_fail(429, **{"Retry-After": format_datetime(when, usegmt=True)}), OK]
    )
    hook.get_flow("f1")
    assert flow.call_count == 2
    assert 27.0 <= sleeps[0] <= 31.0


@pytest.mark.parametrize(
    ("response", "error", "attempts"),
    [
        pytest.param(_fail(500), AEPServerError, 4, id="500"),
        pytest.param(_fail(503), AEPServerError, 4, id="503"),
        pytest.param({"exc": requests.ConnectionError("refused")}, AEPConnectionError, 4, id="connection"),
        pytest.param({"exc": requests.ReadTimeout("slow")}, AEPConnectionError, 4, id="timeout"),
        pytest.param(_fail(400), AEPBadRequestError, 1, id="400-not-retried"),
        pytest.param(_fail(404), AEPNotFoundError, 1, id="404-not-retried"),
        pytest.param(_fail(412), AEPPreconditionFailedError, 1, id="412-not-retried"),
    ],
)
def test_exhausted_or_not_retryable(hook, ims, requests_mock, sleeps, response, error, attempts):
    flow = requests_mock.get(f"{FS}/flows/f1", [response])
    with pytest.raises(error) as info:
        hook.get_flow("f1")
    assert not isinstance(info.value, AEPResponseLostError)
    assert flow.call_count == attempts
    assert len(sleeps) == attempts - 1


def test_backoff_grows_exponentially_with_full_jitter(set_conn, ims, requests_mock, sleeps, monkeypatch):
    set_conn()
    monkeypatch.setattr(_retry.random, "uniform", lambda low, high: high)  # worst case of the jitter
    requests_mock.get(f"{FS}/flows/f1", [_fail(503)])
    policy = RetryPolicy(max_attempts=7, initial_backoff=1.0, max_backoff=8.0)
    with pytest.raises(AEPServerError):
        AdobeExperiencePlatformHook(retry_policy=policy).get_flow("f1")
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_total_elapsed_is_capped(set_conn, ims, requests_mock, sleeps, monkeypatch):
    set_conn()
    clock = [1000.0]
    monkeypatch.setattr(tenacity.time, "monotonic", lambda: clock[0])

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(_retry, "sleep", fake_sleep)
    monkeypatch.setattr(_retry.random, "uniform", lambda low, high: low)  # no Retry-After jitter
    flow = requests_mock.get(f"{FS}/flows/f1", [_fail(429, **{"Retry-After": "4"})])
    policy = RetryPolicy(max_attempts=100, max_total_seconds=10.0)
    with pytest.raises(AEPRateLimitError):
        AdobeExperiencePlatformHook(retry_policy=policy).get_flow("f1")
    assert sleeps == [4.0, 4.0, 2.0]  # the last wait is cut to the remaining budget
    assert flow.call_count == 4


def test_throttling_is_bounded_by_time_not_attempts(set_conn, ims, requests_mock, monkeypatch):
    """Under a rate limit a 429 keeps its place past max_attempts until the time budget ends."""
    set_conn()
    clock = [1000.0]
    monkeypatch.setattr(tenacity.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_retry, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    throttled = [_fail(429, **{"Retry-After": "1"})] * 7
    flow = requests_mock.get(f"{FS}/flows/f1", [*throttled, OK])
    policy = RetryPolicy(max_attempts=3, max_total_seconds=60.0)
    assert AdobeExperiencePlatformHook(retry_policy=policy).get_flow("f1") == {"id": "f1"}
    assert flow.call_count == 8
    assert 1007.0 <= clock[0] <= 1014.0  # seven waits of 1 s plus jitter below a second each


def test_429_without_end_gives_up_at_the_time_budget(set_conn, ims, requests_mock, monkeypatch):
    set_conn()
    clock = [1000.0]
    monkeypatch.setattr(tenacity.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_retry, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    flow = requests_mock.get(f"{FS}/flows/f1", [_fail(429, **{"Retry-After": "2"})])
    with pytest.raises(AEPRateLimitError):
        AdobeExperiencePlatformHook(retry_policy=RetryPolicy(max_total_seconds=20.0)).get_flow("f1")
    assert clock[0] - 1000.0 <= 20.0
    assert 7 <= flow.call_count <= 11  # 2-3 s per wait inside a 20 s budget, beyond max_attempts=5


def test_retry_after_jitter_spreads_clients():
    policy = RetryPolicy()
    waits = {round(backoff_seconds(policy, 1, 1.0), 3) for _ in range(50)}
    assert len(waits) > 10
    assert all(1.0 <= w <= 1.6 for w in waits)


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("DELETE", lambda h: h.delete_flow("f1")),
        (
            "PATCH",
            lambda h: h.patch_flow("f1", [{"op": "replace", "path": "/name", "value": "x"}], etag='"e1"'),
        ),
    ],
)
def test_idempotent_writes_are_retried(hook, ims, requests_mock, method, call):
    matcher = requests_mock.register_uri(
        method, f"{FS}/flows/f1", [_fail(502), {"json": {"id": "f1", "etag": '"e2"'}}]
    )
    call(hook)
    assert matcher.call_count == 2


def test_patch_without_if_match_is_not_replayed(hook, ims, requests_mock):
    matcher = requests_mock.patch(f"{FS}/flows/f1", [_fail(502)])
    with pytest.raises(AEPResponseLostError):
        hook.request(
            "PATCH", "flowservice", "/flows/f1", json=[{"op": "replace", "path": "/name", "value": "x"}]
        )
    assert matcher.call_count == 1


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(_fail(500), id="500"),
        pytest.param(_fail(502), id="502"),
        pytest.param(_fail(503), id="503"),
        pytest.param(_fail(504), id="504"),
        pytest.param({"exc": requests.ConnectionError("reset by peer")}, id="connection-error"),
        pytest.param({"exc": requests.ReadTimeout("read timed out")}, id="timeout"),
        pytest.param({"exc": requests.exceptions.ChunkedEncodingError("cut")}, id="chunked"),
    ],
)
def test_post_is_never_retried(hook, ims, requests_mock, sleeps, response):
    flows = requests_mock.post(
        f"{FS}/flows", [response, {"status_code": 201, "json": {"id": "f1", "etag": "e"}}]
    )
    with pytest.raises(AEPResponseLostError) as info:
        hook.create_flow({"name": "my-flow"})
    assert flows.call_count == 1
    assert sleeps == []
    assert isinstance(info.value, AEPConnectionError)
    assert (info.value.method, info.value.path) == ("POST", "/data/foundation/flowservice/flows")


def test_post_dataset_lost_answer(hook, ims, requests_mock):
    datasets = requests_mock.post(f"{CAT}/dataSets", exc=requests.ConnectionError("reset"))
    with pytest.raises(AEPResponseLostError, match="POST /data/foundation/catalog/dataSets"):
        hook.create_dataset({"name": "d"})
    assert datasets.call_count == 1


def test_post_429_is_retried(hook, ims, requests_mock, sleeps):
    """A 429 means the request was refused before processing: replaying it cannot duplicate."""
    flows = requests_mock.post(
        f"{FS}/flows",
        [_fail(429, **{"Retry-After": "1"}), {"status_code": 201, "json": {"id": "f1", "etag": "e"}}],
    )
    assert hook.create_flow({"name": "my-flow"}) == {"id": "f1", "etag": "e"}
    assert flows.call_count == 2
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 1.6


def test_retry_logged_at_warning_without_secrets(hook, ims, requests_mock, logs):
    requests_mock.get(f"{FS}/flows/f1", [_fail(503, **{"Retry-After": "3"}), OK])
    hook.get_flow("f1")
    text = logs()
    assert "warning" in text.lower()
    assert re.search(
        r"GET /data/foundation/flowservice/flows/f1: HTTP 503 \(attempt 1, at most 4 unless throttled\); "
        r"retrying in [34]\.\d s",
        text,
    ), text
    assert TOKEN not in text
    assert CLIENT_SECRET not in text


@pytest.mark.parametrize(
    ("extra", "attempts"),
    [
        ({}, 5),
        ({"retry_max_attempts": 2}, 2),
        ({"retry_max_attempts": "3"}, 3),
        ({"retry_max_attempts": 1}, 1),
    ],
)
def test_retry_policy_from_connection_extras(set_conn, ims, requests_mock, extra, attempts):
    set_conn(extra=extra)
    flow = requests_mock.get(f"{FS}/flows/f1", [_fail(503)])
    with pytest.raises(AEPServerError):
        AdobeExperiencePlatformHook().get_flow("f1")
    assert flow.call_count == attempts


def test_explicit_policy_wins_over_extras(set_conn, ims, requests_mock):
    set_conn(extra={"retry_max_attempts": 5})
    flow = requests_mock.get(f"{FS}/flows/f1", [_fail(503)])
    with pytest.raises(AEPServerError):
        AdobeExperiencePlatformHook(retry_policy=RetryPolicy(max_attempts=2)).get_flow("f1")
    assert flow.call_count == 2


@pytest.mark.parametrize(
    "extra", [{"retry_max_attempts": "many"}, {"retry_max_attempts": 0}, {"retry_max_wait_seconds": -1}]
)
def test_bad_retry_extras(set_conn, requests_mock, extra):
    set_conn(extra=extra)
    with pytest.raises(AEPConfigError, match=r"retry|RetryPolicy") as info:
        AdobeExperiencePlatformHook().get_flow("f1")
    assert not isinstance(info.value, AEPAuthConfigError), "a retry setting is not an auth problem"
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after(value, now=now) == (None if expected is None else pytest.approx(expected))


def _err(status: int | None, cls: type[AEPAPIError] = AEPAPIError) -> AEPAPIError:
    return cls("GET", "/x", status)


@pytest.mark.parametrize(
    ("method", "error", "if_match", "idempotent", "expected"),
    [
        ("GET", _err(429, AEPRateLimitError), False, None, True),
        ("GET", _err(500, AEPServerError), False, None, True),
        ("GET", _err(None, AEPConnectionError), False, None, True),
        ("GET", _err(404, AEPNotFoundError), False, None, False),
        ("PUT", _err(503, AEPServerError), False, None, True),
        ("DELETE", _err(504, AEPServerError), False, None, True),
        ("PATCH", _err(503, AEPServerError), True, None, True),
        ("PATCH", _err(503, AEPServerError), False, None, False),
        ("POST", _err(503, AEPServerError), False, None, False),
        ("POST", _err(None, AEPConnectionError), False, None, False),
        ("POST", _err(None, AEPResponseLostError), False, None, False),
        ("POST", _err(429, AEPRateLimitError), False, None, True),
        ("POST", _err(503, AEPServerError), False, True, True),  # IMS token request
        ("GET", ValueError("not an API error"), False, None, False),
    ],
)
def test_is_retryable(method, error, if_match, idempotent, expected):
    assert is_retryable(method, error, if_match=if_match, idempotent=idempotent) is expected


def test_backoff_seconds_bounds():
    policy = RetryPolicy(initial_backoff=2.0, max_backoff=10.0, max_wait_seconds=5.0)
    for attempt in range(1, 8):
        assert 0.0 <= backoff_seconds(policy, attempt, None) <= 5.0
    assert backoff_seconds(policy, 1, 100.0) == 5.0
    assert 0.5 <= backoff_seconds(policy, 1, 0.5) <= 0.85
