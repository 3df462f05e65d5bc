"""IMS token: one per process, refreshed ahead of expiry and once after a 401; static tokens."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs

import pytest

from airflow_provider_aep.exceptions import AEPAuthenticationError
from airflow_provider_aep.hooks import _auth
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy
from tests.hooks.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    FS,
    TOKEN,
    TOKEN_2,
    TOKEN_URL,
)


@pytest.mark.parametrize(("hooks", "calls_per_hook"), [(1, 1), (1, 5), (3, 2), (10, 3)])
def test_many_hooks_and_calls_fetch_one_token(set_conn, ims, requests_mock, hooks, calls_per_hook):
    set_conn()
    flows = requests_mock.get(f"{FS}/flows/f1", json={"items": [{"id": "f1"}]})
    for _ in range(hooks):
        hook = AdobeExperiencePlatformHook()
        for _ in range(calls_per_hook):
            assert hook.get_flow("f1") == {"id": "f1"}
    assert ims.call_count == 1
    assert flows.call_count == hooks * calls_per_hook


def test_concurrent_threads_fetch_one_token(set_conn, ims, requests_mock):
    set_conn()
    requests_mock.get(f"{FS}/flows/f1", json={"items": [{"id": "f1"}]})
    hooks = [AdobeExperiencePlatformHook() for _ in range(8)]
    for hook in hooks:  # resolve the connection first; the race under test is the token fetch
        assert hook.conn_settings.client_id == CLIENT_ID
    barrier = threading.Barrier(len(hooks))
    errors: list[BaseException] = []

    def work(hook: AdobeExperiencePlatformHook) -> None:
        try:
            barrier.wait()
            hook.get_flow("f1")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(h,)) for h in hooks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ims.call_count == 1


def test_token_request_is_a_client_credentials_form(hook, ims):
    assert hook.get_access_token() == TOKEN
    request = ims.last_request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.text)
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "scope": ["openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"],
    }
    assert "client_secret" not in request.url  # secrets travel in the body, never the URL


@pytest.mark.parametrize(
    ("expires_in", "lead"),
    [(86399, 300.0), (3600, 300.0), (1000, 100.0), (60, 6.0), (10, 1.0)],
)
def test_token_refreshed_ahead_of_expiry(hook, requests_mock, monkeypatch, expires_in, lead):
    now = [1000.0]
    monkeypatch.setattr(_auth, "monotonic", lambda: now[0])
    token_post = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": TOKEN, "expires_in": expires_in}},
            {"json": {"access_token": TOKEN_2, "expires_in": expires_in}},
        ],
    )
    assert hook.get_access_token() == TOKEN
    now[0] += expires_in - lead - 0.5  # just before the refresh point
    assert hook.get_access_token() == TOKEN
    assert token_post.call_count == 1
    now[0] += 1.0  # just after it, still before expiry
    assert hook.get_access_token() == TOKEN_2
    assert token_post.call_count == 2


@pytest.mark.parametrize(("lifetime", "lead"), [(86399, 300), (3000, 300), (2000, 200), (30, 3), (0, 0)])
def test_refresh_lead(lifetime, lead):
    assert _auth.refresh_lead(lifetime) == pytest.approx(lead)


def test_expires_in_milliseconds_is_understood(hook, requests_mock, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(_auth, "monotonic", lambda: now[0])
    requests_mock.post(TOKEN_URL, json={"access_token": TOKEN, "expires_in": 86399992})
    hook.get_access_token()
    now[0] = 86399 - 300 - 1
    assert hook.get_access_token() == TOKEN
    now[0] = 86399 - 300 + 1
    requests_mock.post(TOKEN_URL, json={"access_token": TOKEN_2, "expires_in": 86399992})
    assert hook.get_access_token() == TOKEN_2


def test_401_refreshes_token_once_and_replays(hook, requests_mock):
    token_post = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": TOKEN, "expires_in": 86399}},
            {"json": {"access_token": TOKEN_2, "expires_in": 86399}},
        ],
    )
    flow = requests_mock.get(
        f"{FS}/flows/f1",
        [
            {"status_code": 401, "json": {"error_code": "401013", "message": "Oauth token is not valid"}},
            {"json": {"items": [{"id": "f1"}]}},
        ],
    )
    assert hook.get_flow("f1") == {"id": "f1"}
    assert token_post.call_count == 2
    assert [r.headers["Authorization"] for r in flow.request_history] == [
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN_2}",
    ]
    # the new token is cached for everyone else
    assert AdobeExperiencePlatformHook().get_access_token() == TOKEN_2
    assert token_post.call_count == 2


def test_repeated_401_does_not_loop(hook, ims, requests_mock):
    flow = requests_mock.get(
        f"{FS}/flows/f1",
        status_code=401,
        json={"error_code": "401013", "message": "Oauth token is not valid"},
    )
    with pytest.raises(AEPAuthenticationError) as info:
        hook.get_flow("f1")
    assert flow.call_count == 2
    assert ims.call_count == 2
    assert info.value.status == 401
    assert info.value.code == "401013"


def test_403_is_not_retried_nor_refreshed(hook, ims, requests_mock):
    flow = requests_mock.get(
        f"{FS}/flows/f1", status_code=403, json={"error_code": "403025", "message": "no"}
    )
    with pytest.raises(AEPAuthenticationError):
        hook.get_flow("f1")
    assert (flow.call_count, ims.call_count) == (1, 1)


def test_static_token_bypasses_ims(set_conn, requests_mock):
    set_conn(password=None, extra={"access_token": "STATIC-token-qqq"})
    flow = requests_mock.get(f"{FS}/flows/f1", json={"items": [{"id": "f1"}]})
    hook = AdobeExperiencePlatformHook()
    assert hook.get_flow("f1") == {"id": "f1"}
    assert flow.last_request.headers["Authorization"] == "Bearer STATIC-token-qqq"
    assert all(r.url != TOKEN_URL for r in requests_mock.request_history)


def test_static_token_401_is_not_refreshed(set_conn, requests_mock):
    set_conn(extra={"access_token": "STATIC-token-qqq"})
    flow = requests_mock.get(
        f"{FS}/flows/f1", status_code=401, json={"error_code": "401013", "message": "bad"}
    )
    with pytest.raises(AEPAuthenticationError):
        AdobeExperiencePlatformHook().get_flow("f1")
    assert flow.call_count == 1
    assert len(requests_mock.request_history) == 1


def test_hook_registers_no_ims_token_and_no_second_copy_of_the_secret(hook, ims, monkeypatch):
    """Each registration is one more copy in Airflow 3.3's supervisor DEBUG log (issue 11, defect 4):
    the client secret is registered by Airflow itself when it loads the connection, and IMS tokens
    are scrubbed by the hook from its own errors, so the hook registers neither."""
    import airflow.sdk.log
    from airflow.sdk.log import redact

    assert hook.connection.password == CLIENT_SECRET  # loaded (and registered by Airflow) before the spy
    masked: list[Any] = []
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", lambda value, name=None: masked.append(value))
    hook.get_access_token()
    assert CLIENT_SECRET not in masked
    assert TOKEN not in masked
    assert CLIENT_SECRET not in redact(f"echo {CLIENT_SECRET}")  # still masked, by Airflow


@pytest.mark.parametrize(
    ("kwargs", "expected_posts"),
    [
        ({}, 1),  # same connection, another hook
        ({"extra": {"scopes": "openid,AdobeID"}}, 2),
        ({"password": "another-secret-value"}, 2),
        ({"login": "another-client"}, 2),
    ],
)
def test_cache_key(set_conn, ims, kwargs, expected_posts):
    set_conn("aep_one")
    set_conn("aep_two", **kwargs)
    AdobeExperiencePlatformHook("aep_one").get_access_token()
    AdobeExperiencePlatformHook("aep_two").get_access_token()
    assert ims.call_count == expected_posts


def test_ims_rejection_is_readable_and_secret_free(hook, requests_mock):
    requests_mock.post(
        TOKEN_URL,
        status_code=400,
        json={"error": "invalid_client", "error_description": "invalid client_secret parameter"},
    )
    with pytest.raises(AEPAuthenticationError) as info:
        hook.get_access_token()
    assert info.value.status == 400
    message = str(info.value)
    assert "invalid_client" in message
    assert "/ims/token/v3" in message
    assert CLIENT_SECRET not in message


def test_ims_answer_without_token(hook, requests_mock):
    requests_mock.post(TOKEN_URL, json={"token_type": "bearer"})
    with pytest.raises(AEPAuthenticationError, match="no access_token"):
        hook.get_access_token()


def test_token_post_is_retried(set_conn, requests_mock, sleeps):
    set_conn()
    token_post = requests_mock.post(
        TOKEN_URL,
        [{"status_code": 503, "text": "busy"}, {"json": {"access_token": TOKEN, "expires_in": 86399}}],
    )
    hook = AdobeExperiencePlatformHook(retry_policy=RetryPolicy(max_attempts=3))
    assert hook.get_access_token() == TOKEN
    assert token_post.call_count == 2
    assert len(sleeps) == 1
