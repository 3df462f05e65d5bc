"""Issue 11, defect 5: every list style ends, whatever the server does with its paging fields.

Each case is a server that never stops announcing another page: a fresh ``continuationToken`` or
``_page.next`` on every page, ``start`` ignored, or an endless supply of new items. The hook must
stop with :class:`AEPMalformedAnswerError` (an :class:`AEPAPIError`) after a bounded number of
requests instead of looping forever.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_aep.exceptions import AEPAPIError, AEPMalformedAnswerError
from airflow_provider_aep.hooks import _pagination
from tests.hooks.conftest import CAT, DP, FS, SR

_counter = itertools.count()


def _start(request: Any) -> int:
    return int(parse_qs(urlsplit(request.url).query).get("start", ["0"])[0])


def fs_fresh_token_same_items(request: Any, context: Any) -> dict:
    return {
        "items": [{"id": "a"}, {"id": "b"}],
        "_links": {"next": {"href": f"/flows?continuationToken=t{next(_counter)}"}},
    }


def fs_fresh_token_empty_pages(request: Any, context: Any) -> dict:
    return {"items": [], "_links": {"next": {"href": f"/flows?continuationToken=t{next(_counter)}"}}}


def fs_endless_new_items(request: Any, context: Any) -> dict:
    n = next(_counter)
    return {"items": [{"id": f"i{n}"}], "_links": {"next": {"href": f"/flows?continuationToken=t{n}"}}}


def catalog_ignores_start(request: Any, context: Any) -> dict:
    return {f"{i:024x}": {"name": f"d{i}"} for i in range(100)}  # a full page, always the same


def catalog_endless(request: Any, context: Any) -> dict:
    base = _start(request)
    return {f"{base + i:024x}": {"name": "d"} for i in range(100)}


def sr_fresh_next_same_results(request: Any, context: Any) -> dict:
    return {"results": [{"$id": "s1", "title": "a"}], "_page": {"next": f"z{next(_counter)}"}}


def sr_endless(request: Any, context: Any) -> dict:
    n = next(_counter)
    return {"results": [{"$id": f"s{n}", "title": f"t{n}"}], "_page": {"next": f"t{n}"}}


def dp_ignores_start(request: Any, context: Any) -> dict:
    return {"data": [{"id": f"m{i}"} for i in range(50)], "_page": {"count": 50, "limit": 50}}


def dp_endless(request: Any, context: Any) -> dict:
    base = _start(request)
    return {"data": [{"id": f"m{base + i}"} for i in range(50)], "_page": {"count": 50, "limit": 50}}


CASES: list[tuple[str, str, Callable[..., dict], Callable[[Any], Any]]] = [
    (
        "flow service: fresh token, same items",
        f"{FS}/flows",
        fs_fresh_token_same_items,
        lambda h: h.list_flows(),
    ),
    (
        "flow service: fresh token, empty pages",
        f"{FS}/flows",
        fs_fresh_token_empty_pages,
        lambda h: h.list_flows(),
    ),
    ("flow service: endless new items", f"{FS}/flows", fs_endless_new_items, lambda h: h.list_flows()),
    ("catalog: start ignored", f"{CAT}/dataSets", catalog_ignores_start, lambda h: h.list_datasets()),
    ("catalog: endless", f"{CAT}/dataSets", catalog_endless, lambda h: h.list_datasets()),
    (
        "schema registry: fresh next, same results",
        f"{SR}/tenant/schemas",
        sr_fresh_next_same_results,
        lambda h: h.list_schemas(),
    ),
    ("schema registry: endless", f"{SR}/tenant/schemas", sr_endless, lambda h: h.list_schemas()),
    ("data prep: start ignored", f"{DP}/mappingSets", dp_ignores_start, lambda h: h.list_mapping_sets()),
    ("data prep: endless", f"{DP}/mappingSets", dp_endless, lambda h: h.list_mapping_sets()),
]


@pytest.mark.parametrize(("label", "url", "server", "call"), CASES, ids=[c[0] for c in CASES])
def test_runaway_listing_stops_with_a_family_error(
    hook, ims, requests_mock, monkeypatch, label, url, server, call
):
    monkeypatch.setattr(_pagination, "MAX_PAGES", 25)
    matcher = requests_mock.get(url, json=server)
    with pytest.raises(AEPMalformedAnswerError) as info:
        list(call(hook))
    assert isinstance(info.value, AEPAPIError)
    assert matcher.call_count <= 25
    message = str(info.value)
    assert "does not advance" in message or "did not end after 25 pages" in message
    assert info.value.path == urlsplit(url).path


@pytest.mark.parametrize(("label", "url", "server", "call"), CASES, ids=[c[0] for c in CASES])
def test_finders_stop_too(hook, ims, requests_mock, monkeypatch, label, url, server, call):
    """The lookups behind idempotency use the same iterators: a runaway server cannot hang a task."""
    monkeypatch.setattr(_pagination, "MAX_PAGES", 25)
    finder = {
        f"{FS}/flows": lambda h: h.find_flow("absent"),
        f"{CAT}/dataSets": lambda h: h.find_dataset("absent"),
        f"{SR}/tenant/schemas": lambda h: h.find_schema("absent, really"),  # unfiltered scan
        f"{DP}/mappingSets": lambda h: h.find_mapping_set("absent"),
    }[url]
    requests_mock.get(url, json=server)
    with pytest.raises(AEPMalformedAnswerError):
        finder(hook)


def test_default_cap_is_bounded():
    assert 0 < _pagination.MAX_PAGES <= 1000
    assert 0 < _pagination.MAX_STALLED_PAGES <= 5


def test_a_short_stall_is_tolerated(hook, ims, requests_mock):
    """One empty page in the middle of a real listing is not a loop."""
    requests_mock.get(
        f"{FS}/flows",
        [
            {"json": {"items": [{"id": "a"}], "_links": {"next": {"href": "/flows?continuationToken=t1"}}}},
            {"json": {"items": [], "_links": {"next": {"href": "/flows?continuationToken=t2"}}}},
            {"json": {"items": [{"id": "b"}], "_links": {}}},
        ],
    )
    assert [f["id"] for f in hook.list_flows()] == ["a", "b"]
