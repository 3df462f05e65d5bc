"""Issue 11, defect 7: malformed 200 answers stay in the exception family.

Every create, get, list and find is fed each malformed body; nothing may escape as ``KeyError``,
``AttributeError``, ``TypeError`` or ``ValueError``. A create answered without an id raises
:class:`AEPResponseLostError` (it may have been committed), which is what the operators' recovery
lookup handles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPAPIError, AEPError, AEPResponseLostError
from tests.hooks.conftest import CAT, DP, FS, SR

FLOW_ID = "3fb0418e-1804-45d6-8d56-dd51f05c0baf"

CREATES: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("base connection", f"{FS}/connections", lambda h: h.create_base_connection({"name": "n"})),
    ("source connection", f"{FS}/sourceConnections", lambda h: h.create_source_connection({"name": "n"})),
    ("target connection", f"{FS}/targetConnections", lambda h: h.create_target_connection({"name": "n"})),
    ("flow", f"{FS}/flows", lambda h: h.create_flow({"name": "n"})),
    ("run", f"{FS}/runs", lambda h: h.create_run(FLOW_ID, {})),
    ("class", f"{SR}/tenant/classes", lambda h: h.create_class({"title": "t"})),
    ("schema", f"{SR}/tenant/schemas", lambda h: h.create_schema({"title": "t"})),
    ("dataset", f"{CAT}/dataSets", lambda h: h.create_dataset({"name": "n"})),
    ("mapping set", f"{DP}/mappingSets", lambda h: h.create_mapping_set({"mappings": []})),
]

BAD_CREATE_ANSWERS: list[tuple[str, dict[str, Any]]] = [
    ("empty object", {"json": {}}),
    ("empty items", {"json": {"items": []}}),
    ("items of strings", {"json": {"items": ["x"]}}),
    ("id not a string", {"json": {"id": 5, "$id": 5}}),
    ("empty id", {"json": {"id": "", "$id": ""}}),
    ("a list", {"json": ["@/dataSets/"]}),
    ("null", {"text": "null"}),
    ("not JSON", {"text": "<html>gateway</html>"}),
]


@pytest.mark.parametrize(("kind", "url", "call"), CREATES, ids=[c[0] for c in CREATES])
@pytest.mark.parametrize(("label", "answer"), BAD_CREATE_ANSWERS, ids=[a[0] for a in BAD_CREATE_ANSWERS])
def test_create_without_usable_id_may_have_committed(
    hook, ims, requests_mock, kind, url, call, label, answer
):
    requests_mock.post(url, status_code=200, **answer)
    with pytest.raises(AEPResponseLostError) as info:
        call(hook)
    assert "may have been committed" in str(info.value)


LISTS: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("flows", f"{FS}/flows", lambda h: list(h.list_flows())),
    ("find base connection", f"{FS}/connections", lambda h: h.find_base_connection("n")),
    ("find source connection", f"{FS}/sourceConnections", lambda h: h.find_source_connection("n")),
    ("find target connection", f"{FS}/targetConnections", lambda h: h.find_target_connection("n")),
    ("find flow", f"{FS}/flows", lambda h: h.find_flow("n")),
    ("flow spec", f"{FS}/flowSpecs", lambda h: h.get_flow_spec_by_name("n")),
    ("runs", f"{FS}/runs", lambda h: list(h.list_runs(FLOW_ID))),
    ("find schema", f"{SR}/tenant/schemas", lambda h: h.find_schema("n")),
    ("find class", f"{SR}/tenant/classes", lambda h: h.find_class("n")),
    ("find dataset", f"{CAT}/dataSets", lambda h: h.find_dataset("n")),
    ("find mapping set", f"{DP}/mappingSets", lambda h: h.find_mapping_set("n")),
]

BAD_LIST_ANSWERS: list[tuple[str, dict[str, Any]]] = [
    ("string", {"json": "nope"}),
    ("list", {"json": [1, 2]}),
    ("null", {"text": "null"}),
    ("not JSON", {"text": "<html>oops</html>"}),
    ("items/results/data of strings", {"json": {"items": ["x"], "results": ["x"], "data": ["x"], "k": "x"}}),
    ("items/results/data not lists", {"json": {"items": 5, "results": {"a": 1}, "data": "x", "k": 5}}),
    (
        "matching item without id",
        {"json": {"items": [{"name": "n"}], "results": [{"title": "n"}], "data": [{"name": "n"}]}},
    ),
]


@pytest.mark.parametrize(("kind", "url", "call"), LISTS, ids=[c[0] for c in LISTS])
@pytest.mark.parametrize(("label", "answer"), BAD_LIST_ANSWERS, ids=[a[0] for a in BAD_LIST_ANSWERS])
def test_malformed_list_answers_raise_family_errors(hook, ims, requests_mock, kind, url, call, label, answer):
    requests_mock.get(url, status_code=200, **answer)
    try:
        call(hook)
    except AEPError as exc:
        assert isinstance(exc, AEPAPIError), exc
    # A body that happens to be acceptable for one style (a Catalog object of objects) may pass;
    # anything else is an AEPError, never KeyError/AttributeError/TypeError.


@pytest.mark.parametrize(
    ("url", "call"),
    [
        (f"{FS}/flows/{FLOW_ID}", lambda h: h.get_flow(FLOW_ID)),
        (f"{FS}/connections/c1", lambda h: h.get_base_connection("c1")),
        (f"{FS}/runs/r1", lambda h: h.get_run("r1")),
        (f"{SR}/tenant/schemas/_t.schemas.1", lambda h: h.get_schema("_t.schemas.1")),
        (f"{DP}/mappingSets/m1", lambda h: h.get_mapping_set("m1")),
        (f"{CAT}/dataSets/d1", lambda h: h.get_dataset("d1")),
    ],
)
@pytest.mark.parametrize("body", [{}, {"items": ["x"]}, [], "x", None], ids=repr)
def test_malformed_single_gets_raise_family_errors(hook, ims, requests_mock, url, call, body):
    requests_mock.get(url, json=body)
    with pytest.raises(AEPAPIError):
        call(hook)


def test_malformed_list_is_rejected_not_skipped(hook, ims, requests_mock):
    """A page whose items are not objects is an error, not an empty result (which would create twice)."""
    requests_mock.get(f"{FS}/flows", json={"items": ["flow-1"]})
    with pytest.raises(AEPAPIError, match="not a list of objects"):
        hook.find_flow("n")
