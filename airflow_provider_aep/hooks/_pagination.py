"""Lazy page iterators for the four AEP list styles.

Each takes ``fetch(params) -> decoded JSON body`` (the hook's GET for one list endpoint, with
auth, retries and error handling) and the caller's base query parameters, and yields items one by
one, requesting the next page only when the caller gets there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

Params = dict[str, Any]
Fetch = Callable[[Params], Any]

CATALOG_PAGE_SIZE = 100
SCHEMA_REGISTRY_PAGE_SIZE = 100
DATA_PREP_PAGE_SIZE = 50


def continuation_token(body: Any) -> str | None:
    """``continuationToken`` of a Flow Service ``_links.next.href``, parsed as a URL."""
    if not isinstance(body, dict):
        return None
    links = body.get("_links") or {}
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else nxt if isinstance(nxt, str) else None
    if not href:
        return None
    values = parse_qs(urlsplit(href).query).get("continuationToken")
    return values[0] if values else None


def iter_flow_service(fetch: Fetch, params: Params) -> Iterator[dict]:
    """Flow Service: ``{items, _links.next.href}``; next page via ``continuationToken``."""
    seen: set[str] = set()
    page_params = dict(params)
    while True:
        body = fetch(page_params)
        yield from (body or {}).get("items") or []
        token = continuation_token(body)
        if not token or token in seen:
            return
        seen.add(token)
        page_params = {**params, "continuationToken": token}


def iter_catalog(fetch: Fetch, params: Params, limit: int = CATALOG_PAGE_SIZE) -> Iterator[dict]:
    """Catalog: objects keyed by id, ``start``/``limit``; a short page is the last one."""
    start = 0
    while True:
        body = fetch({**params, "start": start, "limit": limit}) or {}
        for object_id, obj in body.items():
            if isinstance(obj, dict):
                yield {**obj, "id": obj.get("id", object_id)}
        if len(body) < limit:
            return
        start += len(body)


def iter_schema_registry(
    fetch: Fetch, params: Params, orderby: str = "title", limit: int = SCHEMA_REGISTRY_PAGE_SIZE
) -> Iterator[dict]:
    """Schema Registry: ``{results, _page.next}``; next page ``start=<_page.next>``, stop on null."""
    page_params = {**params, "orderby": orderby, "limit": limit}
    seen: set[str] = set()
    while True:
        body = fetch(page_params) or {}
        yield from body.get("results") or []
        page = body.get("_page") or {}
        nxt = page.get("next") if isinstance(page, dict) else None
        if nxt in (None, "") or str(nxt) in seen:
            return
        seen.add(str(nxt))
        page_params = {**params, "orderby": orderby, "limit": limit, "start": nxt}


def iter_data_prep(fetch: Fetch, params: Params, limit: int = DATA_PREP_PAGE_SIZE) -> Iterator[dict]:
    """Data Prep: ``{data, _page{count, limit}}`` with ``start``/``limit``.

    Stops on an empty or short page, or once ``start`` reaches ``_page.count`` when that count is
    a total (larger than the page); a count equal to the page size is ambiguous and ignored.
    """
    start = 0
    while True:
        body = fetch({**params, "start": start, "limit": limit}) or {}
        items = body.get("data") or []
        yield from items
        start += len(items)
        page = body.get("_page") or {}
        count = page.get("count") if isinstance(page, dict) else None
        total = count if isinstance(count, int) and count > len(items) else None
        if not items or len(items) < limit or (total is not None and start >= total):
            return
