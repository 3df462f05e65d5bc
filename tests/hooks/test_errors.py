"""AEP error bodies become one readable line; no secret ever appears in an exception or a log."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPAuthenticationError,
    AEPBadRequestError,
    AEPNotFoundError,
    AEPPreconditionFailedError,
    AEPServerError,
)
from airflow_provider_aep.hooks._errors import parse_error_body, safe_path, scrub
from tests.hooks.conftest import CLIENT_SECRET, FS, SR, TOKEN

CASES = [
    pytest.param(
        403,
        {"json": {"error_code": "403010", "message": "Oauth token is missing."}},
        AEPAuthenticationError,
        ("403010", None, "Oauth token is missing.", None),
        id="gateway",
    ),
    pytest.param(
        412,
        {
            "json": {
                "type": "https://ns.adobe.com/aep/errors/FLOW-1404-412",
                "title": "Precondition Failed",
                "status": 412,
                "report": {"detailed-message": "Supplied version does not match", "request-id": "req-fs-1"},
                "errorMessage": "Supplied version=[1] does not match",
            }
        },
        AEPPreconditionFailedError,
        ("FLOW-1404-412", "Precondition Failed", "Supplied version does not match", "req-fs-1"),
        id="flow-service",
    ),
    pytest.param(
        404,
        {
            "json": {
                "type": "http://ns.adobe.com/aep/errors/XDM-1012-404",
                "title": "Not Found",
                "status": 404,
                "report": {"registryRequestId": "rr-42", "timestamp": "x"},
                "detail": "The requested resource was not found",
            }
        },
        AEPNotFoundError,
        ("XDM-1012-404", "Not Found", "The requested resource was not found", "rr-42"),
        id="schema-registry",
    ),
    pytest.param(
        400,
        {
            "json": {
                "type": "/placeholder/type/uri",
                "status": 400,
                "title": "BadRequestError",
                "detail": "A valid content-type must be specified",
            }
        },
        AEPBadRequestError,
        (None, "BadRequestError", "A valid content-type must be specified", None),
        id="content-type",
    ),
    pytest.param(
        412,
        {"json": {"errorMessage": "Supplied version=[a] does not match the current version on entity=[b]"}},
        AEPPreconditionFailedError,
        (None, None, "Supplied version=[a] does not match the current version on entity=[b]", None),
        id="stale-etag",
    ),
    pytest.param(
        502,
        {"text": "<html>\n<body>Bad\n Gateway</body></html>", "reason": "Bad Gateway"},
        AEPServerError,
        (None, "Bad Gateway", "<html> <body>Bad Gateway</body></html>", None),
        id="non-json",
    ),
    pytest.param(
        418,
        {"text": "", "reason": "I'm a teapot"},
        AEPAPIError,
        (None, "I'm a teapot", None, None),
        id="empty-body",
    ),
]


@pytest.mark.parametrize(("status", "response", "error_class", "fields"), CASES)
def test_error_bodies(hook, ims, requests_mock, status, response, error_class, fields):
    requests_mock.delete(f"{FS}/flows/f1", status_code=status, **response)
    with pytest.raises(error_class) as info:
        hook.delete_flow("f1")
    error = info.value
    assert type(error) is error_class
    assert (error.code, error.title, error.detail, error.request_id) == fields
    assert (error.method, error.path, error.status) == (
        "DELETE",
        "/data/foundation/flowservice/flows/f1",
        status,
    )
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"AEP DELETE /data/foundation/flowservice/flows/f1 failed with HTTP {status}")
    for value in fields:
        if value:
            assert value in message


def test_request_id_header_wins(hook, ims, requests_mock):
    requests_mock.get(
        f"{FS}/flows/f1",
        status_code=404,
        headers={"x-request-id": "hdr-req-9"},
        json={
            "type": "https://ns.adobe.com/aep/errors/FLOW-1101-404",
            "title": "Not found",
            "report": {"request-id": "body"},
        },
    )
    with pytest.raises(AEPNotFoundError) as info:
        hook.get_flow("f1")
    assert info.value.request_id == "hdr-req-9"
    assert "request_id=hdr-req-9" in str(info.value)


def test_error_path_has_no_query_string(hook, ims, requests_mock):
    requests_mock.get(f"{FS}/runs", status_code=400, json={"title": "bad filter"})
    with pytest.raises(AEPBadRequestError) as info:
        list(hook.list_runs("3fb0418e-1804-45d6-8d56-dd51f05c0baf", properties=["state==failed"]))
    assert info.value.path == "/data/foundation/flowservice/runs"
    assert "property" not in str(info.value)
    assert "?" not in str(info.value)


def test_errors_pickle(hook, ims, requests_mock):
    requests_mock.get(
        f"{SR}/tenant/schemas/x", status_code=404, json={"type": "x/XDM-1012-404", "title": "NF"}
    )
    with pytest.raises(AEPNotFoundError) as info:
        hook.get_schema("x")
    clone = pickle.loads(pickle.dumps(info.value))  # noqa: S301 (our own object)
    assert type(clone) is AEPNotFoundError
    assert str(clone) == str(info.value)


def test_secrets_never_in_exceptions_or_logs(hook, ims, requests_mock, logs):
    echoed = f"bad auth.params password={CLIENT_SECRET} token {TOKEN}"
    requests_mock.post(f"{FS}/connections", status_code=400, json={"title": "Invalid", "detail": echoed})
    requests_mock.get(
        f"{FS}/flows/f1",
        [
            {"status_code": 503, "text": f"oops {TOKEN}"},
            {"status_code": 401, "json": {}},
            {"status_code": 401, "json": {}},
        ],
    )
    messages = []
    with pytest.raises(AEPBadRequestError) as info:
        hook.create_base_connection({"name": "n", "auth": {"params": {"password": CLIENT_SECRET}}})
    messages.append(str(info.value))
    messages.append(repr(info.value))
    with pytest.raises(AEPAuthenticationError) as info2:
        hook.get_flow("f1")
    messages.append(str(info2.value))
    messages.append(repr(hook.conn_settings))
    text = "\n".join(messages) + logs()
    assert "***" in messages[0]
    assert CLIENT_SECRET not in text
    assert TOKEN not in text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": "invalid_client", "error_description": "bad secret"},
            ("invalid_client", None, "bad secret", None),
        ),
        ([{"title": "t", "detail": "d"}], (None, "t", "d", None)),
        ("plain text", (None, None, "plain text", None)),
        (
            {"type": "https://x/FLOW-2105-400", "title": "T", "errorMessage": "sandbox header"},
            ("FLOW-2105-400", "T", "sandbox header", None),
        ),
    ],
)
def test_parse_error_body(body, expected):
    assert parse_error_body(body) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://h/data/x?access_token=abc", "/data/x"),
        ("/flows/1?op=enable#frag", "/flows/1"),
        ("", "/"),
    ],
)
def test_safe_path(value, expected):
    assert safe_path(value) == expected


def test_scrub():
    assert scrub("a SECRET b", ["SECRET", None, "x"]) == "a *** b"
    assert scrub(None, ["SECRET"]) is None


def test_source_secrets_registered_with_the_masker_are_scrubbed(hook, ims, requests_mock):
    """AEP may echo a source password in its error; operators register it with the masker first."""
    from airflow.sdk.log import mask_secret

    source_password = "sf-PASSWORD-4c6e1"
    mask_secret(source_password)
    echoed = f"auth.params.password [{source_password}] rejected"
    requests_mock.post(f"{FS}/connections", status_code=400, json={"title": "Invalid", "detail": echoed})
    with pytest.raises(AEPBadRequestError) as info:
        hook.create_base_connection({"name": "n", "auth": {"params": {"password": source_password}}})
    assert source_password not in str(info.value)
    assert source_password not in repr(info.value.args)
    assert "***" in str(info.value)
