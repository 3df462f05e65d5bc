"""Issue 11, defect 6 (connection side) and defect 4 (URL credentials).

Every connection setting is checked before any request: numbers finite and in range, header
values without control characters (a newline is header injection), types right. The failure is
an :class:`AEPConfigError` naming the field and the fix, never ``ValueError``,
``OverflowError``, ``AttributeError`` or ``InvalidHeader``. URL credentials never appear in it.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPAuthConfigError, AEPConfigError, AEPError, redact_userinfo
from airflow_provider_aep.hooks import _auth
from airflow_provider_aep.hooks._retry import RetryPolicy
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from tests.hooks.conftest import FS

BAD_NUMBERS = ["nan", "NaN", "inf", "-inf", "1e400", math.nan, math.inf, -1, True, [], {}, "soon", 10**400]
RETRY_EXTRAS = [
    "retry_max_attempts",
    "retry_max_wait_seconds",
    "retry_max_total_seconds",
    "retry_initial_backoff",
    "retry_max_backoff",
]


def _fails_before_any_request(requests_mock: Any, field: str, **conn: Any) -> str:
    hook = AdobeExperiencePlatformHook()
    with pytest.raises(AEPConfigError) as info:
        hook.get_flow("3fb0418e-1804-45d6-8d56-dd51f05c0baf")
    # Only a setting that authenticates is an auth problem; a URL, port, sandbox, timeout or retry
    # setting is configuration (AEPConfigError, the parent class).
    authenticates = field in ("login", "password", "ims_org_id", "access_token", "scopes", "ims_url")
    assert isinstance(info.value, AEPAuthConfigError) == authenticates, info.value
    message = str(info.value)
    assert field in message, message
    assert "Fix:" in message
    assert requests_mock.call_count == 0
    return message


@pytest.mark.parametrize("key", [*RETRY_EXTRAS, "request_timeout"])
@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
def test_numeric_extras_must_be_finite_and_in_range(set_conn, requests_mock, key, value):
    if key == "request_timeout" and value == -1:
        value = 0
    set_conn(extra={key: value if not (isinstance(value, int) and value > 2**63) else str(value)})
    _fails_before_any_request(requests_mock, key)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("retry_max_attempts", 0),
        ("retry_max_attempts", 2.5),
        ("retry_max_attempts", 1000),
        ("retry_max_total_seconds", 10**6),
        ("retry_max_wait_seconds", -0.5),
        ("request_timeout", 100000),
    ],
)
def test_numeric_extras_out_of_range(set_conn, requests_mock, key, value):
    set_conn(extra={key: value})
    _fails_before_any_request(requests_mock, key)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0])
def test_retry_policy_refuses_unbounded_values(value):
    with pytest.raises(AEPConfigError, match="max_total_seconds") as info:
        RetryPolicy(max_total_seconds=value)
    assert not isinstance(info.value, AEPAuthConfigError)


def test_valid_numeric_extras_still_work(set_conn):
    set_conn(extra={"retry_max_attempts": "3", "retry_max_total_seconds": 12.5, "request_timeout": "30"})
    hook = AdobeExperiencePlatformHook()
    assert hook.retry_policy.max_attempts == 3
    assert hook.retry_policy.max_total_seconds == 12.5
    assert hook.timeout == 30.0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"login": "client\nx-evil: 1"}, "login"),
        ({"login": "client\r"}, "login"),
        ({"extra": {"ims_org_id": "ABC\n@AdobeOrg"}}, "ims_org_id"),
        ({"extra": {"ims_org_id": "ABC@AdobeOrg\n"}}, "ims_org_id"),
        ({"extra": {"ims_org_id": 5}}, "ims_org_id"),
        ({"extra": {"sandbox_name": "prod\n"}}, "sandbox_name"),
        ({"extra": {"sandbox_name": "Prod"}}, "sandbox_name"),
        ({"extra": {"sandbox_name": ["prod"]}}, "sandbox_name"),
        ({"extra": {"scopes": 5}}, "scopes"),
        ({"extra": {"scopes": ["openid", 5]}}, "scopes"),
        ({"extra": {"scopes": "openid\nAdobeID"}}, "scopes"),
        ({"extra": {"scopes": {"a": 1}}}, "scopes"),
        ({"extra": {"access_token": "tok\nen"}}, "access_token"),
        ({"extra": {"access_token": 12345}}, "access_token"),
        ({"extra": {"ims_url": "https://ims.example.test\n"}}, "ims_url"),
        ({"extra": {"ims_url": 5}}, "ims_url"),
        ({"host": "https://platform.example.test\r\nx"}, "host"),
        ({"host": "https://[::1"}, "host"),
        ({"host": "https://platform.example.test:99999"}, "host"),
        ({"port": 70000}, "port"),
    ],
)
def test_header_and_text_settings(set_conn, requests_mock, overrides, field):
    set_conn(**overrides)
    message = _fails_before_any_request(requests_mock, field)
    assert "tok\nen" not in message and "12345" not in message  # a static token is never echoed


def test_sandbox_override_with_newline_is_refused_before_any_request(set_conn, requests_mock):
    set_conn()
    hook = AdobeExperiencePlatformHook(sandbox_name="prod\n")
    with pytest.raises(AEPError, match="sandbox_name"):
        hook.get_flow("3fb0418e-1804-45d6-8d56-dd51f05c0baf")
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("timeout", [math.nan, math.inf, 0, -1, "nan", 10**400])
def test_hook_timeout_argument(set_conn, requests_mock, timeout):
    set_conn()
    hook = AdobeExperiencePlatformHook(timeout=timeout)
    with pytest.raises(AEPError, match="timeout"):
        hook.get_flow("3fb0418e-1804-45d6-8d56-dd51f05c0baf")
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("expires_in", ["NaN", "nan", "inf", "-5", 0, None, "soon", [], True, 1e300])
def test_ims_expires_in_is_clamped(hook, requests_mock, expires_in):
    token_post = requests_mock.post(
        "https://ims.example.test/ims/token/v3", json={"access_token": "TOKEN-abc", "expires_in": expires_in}
    )
    requests_mock.get(f"{FS}/flows", json={"items": []})
    list(hook.list_flows())
    list(hook.list_flows())
    assert token_post.call_count == 1  # a usable lifetime: the token is cached, not re-fetched per call
    lifetime = _auth.token_lifetime(expires_in)
    assert math.isfinite(lifetime) and 0 < lifetime <= _auth.MAX_TOKEN_LIFETIME


@pytest.mark.parametrize(
    ("host", "field"),
    [
        ("ftp://user:PASSW0RD-x@platform.example.test", "host"),
        ("https://user:PASSW0RD-x@platform.example.test", "host"),
        ("http://user:PASSW0RD-x@10.0.0.1", "host"),
        ("user:PASSW0RD-x@platform.example.test", "host"),
        ("https://PASSW0RD-x@platform.example.test", "host"),
        ("gopher://u:PASSW0RD-x@h:1/x", "host"),
    ],
)
def test_url_credentials_never_in_messages(set_conn, requests_mock, host, field):
    set_conn(host=host)
    message = _fails_before_any_request(requests_mock, field)
    assert "PASSW0RD-x" not in message


def test_url_credentials_redacted_in_every_family_message():
    from airflow_provider_aep.exceptions import AEPAPIError, AEPInputError

    url = "odbc://admin:PASSW0RD-x@db.example.test:5432/x"
    assert "PASSW0RD-x" not in redact_userinfo(f"see {url} and 'ftp://a:PASSW0RD-x@h'")
    assert "PASSW0RD-x" not in str(AEPInputError("host", f"bad {url}", f"not {url}"))
    err = AEPAPIError("POST", "/x", 400, title=url, detail=f"echo {url}")
    assert "PASSW0RD-x" not in str(err) and "PASSW0RD-x" not in (err.detail or "")
    assert "PASSW0RD-x" not in str(AEPAuthConfigError(f"bad {url}"))
