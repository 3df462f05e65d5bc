"""Issue 11, defect 4: source credentials of any shape never reach an exception or a log.

AEP echoes request values in some error answers. For a spec without a typed source
(``source=None``) every value of ``auth_params`` is secret unless the source connection's extra
``non_secret_auth_params`` lists its key; credentials inside URLs are masked everywhere.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests_mock as rm

from airflow_provider_aep.exceptions import AEPAPIError, AEPInputError
from airflow_provider_aep.operators.connections import AEPCreateBaseConnectionOperator

FS = "/data/foundation/flowservice"
GENERIC_SPEC = "26d738e0-8963-47ea-aadf-c60de735468a"

SECRET_VALUES = {
    "pwd": "Pwd-Value-1a2b",
    "connectionString": "Server=db.example.test;Uid=svc;Pwd=ConnStrPass-9z;Database=x",
    "nested": {"inner": "Nested-Value-7q", "list": ["List-Value-3k", 98765432]},
    "apiKeyHeader": "Hdr-Value-4m",
}


def _echo_400(request: Any, context: Any) -> dict:
    context.status_code = 400
    body = json.dumps(request.json())
    return {
        "type": "https://ns.adobe.com/aep/errors/FLOW-1100-400",
        "title": "bad",
        "detail": body,
        "status": 400,
    }


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in _leaves(v)]
    return [str(value)]


def _run_failing_create(
    aep: Any, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], **kwargs: Any
) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_GENERIC_SRC", json.dumps({"conn_type": "generic", "extra": extra}))
    op = AEPCreateBaseConnectionOperator(
        task_id="base",
        name="generic secrets",
        source=None,
        connection_spec_id=GENERIC_SPEC,
        auth_spec_name="Basic Authentication",
        source_conn_id="generic_src",
        **kwargs,
    )
    with rm.Mocker(real_http=True) as mock:
        mock.post(f"{aep.url}{FS}/connections", json=_echo_400)
        with pytest.raises(AEPAPIError) as info:
            op.execute({"ti": None})
    return str(info.value) + repr(info.value.args) + str(info.value.detail)


def test_every_auth_params_value_is_masked_whatever_its_key(aep, monkeypatch, capfd):
    text = _run_failing_create(aep, monkeypatch, {"auth_params": SECRET_VALUES})
    assert "***" in text
    for secret in _leaves(SECRET_VALUES):
        assert secret not in text, secret
    out, err = capfd.readouterr()
    for secret in _leaves(SECRET_VALUES):
        assert secret not in out + err, secret


def test_keys_marked_non_secret_stay_readable_but_url_credentials_do_not(aep, monkeypatch):
    params = {
        **SECRET_VALUES,
        "server": "db-host-readable.example.test",
        "url": "https://svc:UrlPass-5t@db-host-readable.example.test/x",
    }
    text = _run_failing_create(
        aep, monkeypatch, {"auth_params": params, "non_secret_auth_params": ["server", "url"]}
    )
    assert "db-host-readable.example.test" in text  # opted out: readable in the error
    assert "UrlPass-5t" not in text  # but the URL's credentials are not
    for secret in _leaves(SECRET_VALUES):
        assert secret not in text, secret


@pytest.mark.parametrize(
    "non_secret",
    ["url", {"url": True}, ["url", 5], ["missing-key"]],
    ids=["string", "dict", "non-string key", "unknown key"],
)
def test_bad_non_secret_list_fails_before_any_request(aep, monkeypatch, non_secret):
    monkeypatch.setenv(
        "AIRFLOW_CONN_GENERIC_SRC",
        json.dumps(
            {
                "conn_type": "generic",
                "extra": {
                    "auth_params": {"url": "https://x.example.test"},
                    "non_secret_auth_params": non_secret,
                },
            }
        ),
    )
    before = len(aep.requests())
    op = AEPCreateBaseConnectionOperator(
        task_id="base",
        name="generic",
        source=None,
        connection_spec_id=GENERIC_SPEC,
        auth_spec_name="Basic Authentication",
        source_conn_id="generic_src",
    )
    with pytest.raises(AEPInputError, match="non_secret_auth_params"):
        op.execute({"ti": None})
    assert len(aep.requests()) == before


def test_url_credentials_in_a_typed_source_host_are_masked(aep, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SNOW_URLCREDS",
        json.dumps(
            {
                "conn_type": "generic",
                "host": "https://admin:HostPass-8w@acme.service-now.com",
                "login": "snow-user",
                "password": "snow-P4ss-never-logged",
            }
        ),
    )
    op = AEPCreateBaseConnectionOperator(
        task_id="base", name="snow creds", source="servicenow", source_conn_id="snow_urlcreds"
    )
    with rm.Mocker(real_http=True) as mock:
        mock.post(f"{aep.url}{FS}/connections", json=_echo_400)
        with pytest.raises(AEPAPIError) as info:
            op.execute({"ti": None})
    text = str(info.value)
    assert "HostPass-8w" not in text
    assert "snow-P4ss-never-logged" not in text
