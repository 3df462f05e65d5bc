"""Issue 11, defect 8: ids in URL paths and filter values can never change the request.

* an id is exactly one path segment: ``.``/``..``/empty/blank/control characters are refused
  before any request, anything else is percent-encoded (``/``, ``?``, ``#``, ``%``);
* a run filter takes exactly one flow id (a comma would widen the query to several flows);
* ``[::1]`` is loopback like ``127.0.0.1`` (plain http, the port field applied).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_aep.exceptions import AEPAPIError, AEPInputError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from tests.hooks.conftest import FS

FLOW_ID = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"

# Every hook method that puts a caller-supplied id into a URL path.
PATH_CALLS: list[tuple[str, Callable[[Any, str], Any]]] = [
    ("get_connection_spec", lambda h, i: h.get_connection_spec(i)),
    ("get_base_connection", lambda h, i: h.get_base_connection(i)),
    ("delete_base_connection", lambda h, i: h.delete_base_connection(i)),
    ("test_base_connection", lambda h, i: h.test_base_connection(i)),
    ("explore_base_connection", lambda h, i: h.explore_base_connection(i)),
    ("get_source_connection", lambda h, i: h.get_source_connection(i)),
    ("delete_source_connection", lambda h, i: h.delete_source_connection(i)),
    ("get_target_connection", lambda h, i: h.get_target_connection(i)),
    ("delete_target_connection", lambda h, i: h.delete_target_connection(i)),
    ("get_flow", lambda h, i: h.get_flow(i)),
    ("patch_flow", lambda h, i: h.patch_flow(i, [{"op": "remove", "path": "/x"}], etag='"e"')),
    ("set_flow_state", lambda h, i: h.set_flow_state(i, True)),
    ("delete_flow", lambda h, i: h.delete_flow(i)),
    ("get_run", lambda h, i: h.get_run(i)),
    ("get_class", lambda h, i: h.get_class(i)),
    ("delete_class", lambda h, i: h.delete_class(i)),
    ("get_schema", lambda h, i: h.get_schema(i)),
    ("delete_schema", lambda h, i: h.delete_schema(i)),
    ("get_dataset", lambda h, i: h.get_dataset(i)),
    ("delete_dataset", lambda h, i: h.delete_dataset(i)),
    ("get_mapping_set", lambda h, i: h.get_mapping_set(i)),
]

REFUSED_IDS = ["..", ".", "", "   ", " abc", "abc ", "a\nb", "a\x00b", "a\tb"]


@pytest.mark.parametrize(("method", "call"), PATH_CALLS, ids=[c[0] for c in PATH_CALLS])
@pytest.mark.parametrize("bad_id", REFUSED_IDS, ids=repr)
def test_unusable_ids_are_refused_before_any_request(hook, requests_mock, method, call, bad_id):
    with pytest.raises(AEPInputError) as info:
        call(hook, bad_id)
    assert "Fix:" in str(info.value)
    assert requests_mock.call_count == 0


ENCODED = [("../x", "..%2Fx"), ("a/b", "a%2Fb"), ("a?b=1", "a%3Fb%3D1"), ("a#b", "a%23b"), ("a%2e", "a%252e")]


@pytest.mark.parametrize(("method", "call"), PATH_CALLS, ids=[c[0] for c in PATH_CALLS])
@pytest.mark.parametrize(("raw", "encoded"), ENCODED, ids=[e[0] for e in ENCODED])
def test_other_ids_stay_one_encoded_segment(hook, ims, requests_mock, method, call, raw, encoded):
    seen: list[str] = []

    def record(request: Any, context: Any) -> Any:
        seen.append(urlsplit(request.url).path)
        context.status_code = 404
        return {"title": "nf"}

    import requests_mock as rm

    requests_mock.register_uri(rm.ANY, rm.ANY, json=record)
    requests_mock.post(
        "https://ims.example.test/ims/token/v3", json={"access_token": "T-abc", "expires_in": 3600}
    )
    with contextlib.suppress(AEPAPIError):  # the 404 is expected; only the path matters
        call(hook, raw)
    api_paths = [p for p in seen if not p.startswith("/ims/")]
    assert api_paths, "no request sent"
    assert all(encoded in p for p in api_paths), api_paths
    assert all("/.." not in p.replace("..%2F", "") for p in api_paths)


@pytest.mark.parametrize(
    "flow_id", [f"{FLOW_ID},{FLOW_ID[:-1]}0", "A,B", f'"{FLOW_ID}"', "f1", "", f"{FLOW_ID}&x=1"]
)
def test_run_filters_take_exactly_one_flow_id(hook, requests_mock, flow_id):
    with pytest.raises(AEPInputError, match="flow_id"):
        list(hook.list_runs(flow_id))
    with pytest.raises(AEPInputError, match="flow_id"):
        hook.create_run(flow_id, {})
    assert requests_mock.call_count == 0


def test_run_filter_sends_the_one_id(hook, ims, requests_mock):
    matcher = requests_mock.get(f"{FS}/runs", json={"items": []})
    list(hook.list_runs(FLOW_ID))
    assert matcher.last_request.qs["property"] == [f"flowid=={FLOW_ID}"]  # requests_mock lowercases


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("[::1]", 8765, "http://[::1]:8765"),
        ("[::1]:9000", None, "http://[::1]:9000"),
        ("::1", 8765, "http://[::1]:8765"),
        ("127.0.0.1", 8765, "http://127.0.0.1:8765"),
        ("[2001:db8::1]", 443, "https://[2001:db8::1]:443"),
        ("localhost", 8000, "http://localhost:8000"),
    ],
)
def test_ipv6_loopback_gets_the_loopback_scheme_rule(set_conn, host, port, expected):
    set_conn(host=host, port=port)
    assert AdobeExperiencePlatformHook().conn_settings.gateway_url == expected
