"""The four list styles page lazily and stop at the right place."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_aep.hooks import _pagination
from tests.hooks.conftest import CAT, DP, FS, SR


def _qs(request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)  # case preserved (requests_mock's .qs lowercases)


@pytest.mark.parametrize(
    "next_href",
    [
        "/data/foundation/flowservice/flows?continuationToken=Tok%2BEn%3D%3D&limit=2",
        "https://platform.example.test/data/foundation/flowservice/flows?limit=2&continuationToken=Tok%2BEn%3D%3D",
        "/flows?continuationToken=Tok%2BEn%3D%3D",
    ],
)
def test_flow_service_continuation_token(hook, ims, requests_mock, next_href):
    matcher = requests_mock.get(
        f"{FS}/flows",
        [
            {"json": {"items": [{"id": "a"}, {"id": "b"}], "_links": {"next": {"href": next_href}}}},
            {"json": {"items": [{"id": "c"}], "_links": {}}},
        ],
    )
    items = list(hook.list_flows(properties=["state==enabled"], orderby="-createdAt", limit=2))
    assert [i["id"] for i in items] == ["a", "b", "c"]
    first, second = (_qs(r) for r in matcher.request_history)
    assert first == {"property": ["state==enabled"], "orderby": ["-createdAt"], "limit": ["2"]}
    assert second == {**first, "continuationToken": ["Tok+En=="]}


def test_flow_service_is_lazy(hook, ims, requests_mock):
    matcher = requests_mock.get(
        f"{FS}/connections",
        [
            {
                "json": {
                    "items": [{"id": "a"}],
                    "_links": {"next": {"href": "/connections?continuationToken=t1"}},
                }
            },
            {"json": {"items": [{"id": "b"}]}},
        ],
    )
    iterator = hook.list_base_connections()
    assert matcher.call_count == 0
    assert next(iterator) == {"id": "a"}
    assert matcher.call_count == 1
    assert next(iterator) == {"id": "b"}
    assert matcher.call_count == 2


def test_flow_service_repeated_token_stops(hook, ims, requests_mock):
    page = {"items": [{"id": "a"}], "_links": {"next": {"href": "/flows?continuationToken=same"}}}
    matcher = requests_mock.get(f"{FS}/flows", json=page)
    assert len(list(hook.list_flows())) == 2
    assert matcher.call_count == 2


@pytest.mark.parametrize(
    ("body", "token"),
    [
        ({"_links": {"next": {"href": "/x?continuationToken=a%20b&limit=1"}}}, "a b"),
        ({"_links": {"next": "/x?continuationToken=plain"}}, "plain"),
        ({"_links": {"next": {"href": "/x?limit=1"}}}, None),
        ({"_links": {}}, None),
        ({}, None),
        (None, None),
    ],
)
def test_continuation_token(body, token):
    assert _pagination.continuation_token(body) == token


@pytest.mark.parametrize(
    ("sizes", "expected_starts"), [((100, 3), [0, 100]), ((100, 0), [0, 100]), ((7,), [0])]
)
def test_catalog_start_limit(hook, ims, requests_mock, sizes, expected_starts):
    pages = []
    offset = 0
    for size in sizes:
        pages.append({"json": {f"id{offset + i:03d}": {"name": f"d{offset + i}"} for i in range(size)}})
        offset += size
    matcher = requests_mock.get(f"{CAT}/dataSets", pages)
    items = list(hook.list_datasets(name="d", properties=["name", "schemaRef"]))
    assert len(items) == sum(sizes)
    assert items[0] == {"id": "id000", "name": "d0"}
    assert [_qs(r)["start"] for r in matcher.request_history] == [[str(s)] for s in expected_starts]
    assert _qs(matcher.last_request)["limit"] == ["100"]
    assert _qs(matcher.last_request)["name"] == ["d"]
    assert _qs(matcher.last_request)["properties"] == ["name,schemaRef"]


def test_schema_registry_orderby_start(hook, ims, requests_mock):
    matcher = requests_mock.get(
        f"{SR}/tenant/schemas",
        [
            {
                "json": {
                    "results": [{"title": "a"}, {"title": "b"}],
                    "_page": {"orderby": "title", "next": "b", "count": 2},
                }
            },
            {"json": {"results": [{"title": "c"}], "_page": {"orderby": "title", "next": None, "count": 1}}},
        ],
    )
    assert [s["title"] for s in hook.list_schemas()] == ["a", "b", "c"]
    first, second = (_qs(r) for r in matcher.request_history)
    assert first == {"orderby": ["title"], "limit": ["100"]}
    assert second == {"orderby": ["title"], "limit": ["100"], "start": ["b"]}


@pytest.mark.parametrize(
    ("pages", "expected_calls"),
    [
        ([(50, 60), (10, 60)], 2),  # count is the total
        ([(50, 50), (0, 0)], 2),  # ambiguous count: one more (empty) page
        ([(20, 20)], 1),  # short page
    ],
)
def test_data_prep_start_limit(hook, ims, requests_mock, pages, expected_calls):
    responses = []
    n = 0
    for size, count in pages:
        responses.append(
            {
                "json": {
                    "data": [{"id": f"m{n + i}"} for i in range(size)],
                    "_page": {"count": count, "limit": 50},
                }
            }
        )
        n += size
    matcher = requests_mock.get(f"{DP}/mappingSets", responses)
    assert len(list(hook.list_mapping_sets(name="maps"))) == n
    assert matcher.call_count == expected_calls
    assert [_qs(r)["start"] for r in matcher.request_history] == [
        [str(50 * i)] for i in range(expected_calls)
    ]
    assert all(_qs(r)["limit"] == ["50"] and _qs(r)["name"] == ["maps"] for r in matcher.request_history)
