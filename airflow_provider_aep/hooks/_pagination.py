"""Lazy page iterators for the four AEP list styles.

Each takes ``fetch(params) -> decoded JSON body`` (the hook's GET for one list endpoint, with
auth, retries and error handling) and the caller's base query parameters, and yields items one by
one, requesting the next page only when the caller gets there.

Every iterator is bounded: a body of the wrong shape raises :class:`AEPMalformedAnswerError`, and
so does a list that does not end, whatever the server does with its paging fields (a fresh
``continuationToken`` or ``_page.next`` on every page, ``start`` ignored...): at most
:data:`MAX_PAGES` pages, and at most :data:`MAX_STALLED_PAGES` pages in a row that bring no item
not seen before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_aep.exceptions import AEPMalformedAnswerError

Params = dict[str, Any]
Fetch = Callable[[Params], Any]

CATALOG_PAGE_SIZE = 100
SCHEMA_REGISTRY_PAGE_SIZE = 100
DATA_PREP_PAGE_SIZE = 50
#: Hard cap on the pages of one listing (100,000 items at 100 per page).
MAX_PAGES = 1000
#: Consecutive pages without a new item after which a listing is declared stuck.
MAX_STALLED_PAGES = 3


def malformed(where: str, problem: str) -> AEPMalformedAnswerError:
    """The family error for an unusable 200 answer of ``GET <where>``."""
    return AEPMalformedAnswerError("GET", where, 200, title="Malformed answer", detail=problem)


def require_id(item: dict, key: str, where: str) -> dict:
    """*item* when it carries a non-empty string ``key`` (``id``, ``$id``), else a family error."""
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise malformed(where, f"a listed resource has no {key!r}: {str(item)[:200]}")
    return item


def _objects(body: Any, key: str, where: str) -> list[dict]:
    if not isinstance(body, dict):
        raise malformed(where, f"expected a JSON object with {key!r}, got {type(body).__name__}")
    items = body.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise malformed(where, f"{key!r} is not a list of objects: {str(items)[:200]}")
    return items


class _Progress:
    """Counts pages and new items of one listing; raises when it runs away."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.pages = 0
        self.stalled = 0
        self.seen: set[str] = set()

    def page(self, keys: list[str], more: bool) -> None:
        """Record one page (``keys`` identify its items); ``more``: the server says pages follow."""
        self.pages += 1
        new = [k for k in keys if k not in self.seen]
        self.seen.update(new)
        self.stalled = 0 if new else self.stalled + 1
        if not more:
            return
        if self.stalled >= MAX_STALLED_PAGES:
            raise malformed(
                self.where,
                f"the list does not advance: {self.stalled} pages in a row brought no new item while the "
                "server kept announcing more (paging parameter ignored?); stopped",
            )
        if self.pages >= MAX_PAGES:
            raise malformed(
                self.where,
                f"the list did not end after {MAX_PAGES} pages ({len(self.seen)} items); stopped. "
                "Narrow the listing with a filter",
            )


def _key(item: dict, *id_keys: str) -> str:
    for k in id_keys:
        value = item.get(k)
        if isinstance(value, str) and value:
            return value
    return json.dumps(item, sort_keys=True, default=str)


def continuation_token(body: Any) -> str | None:
    """``continuationToken`` of a Flow Service ``_links.next.href``, parsed as a URL."""
    if not isinstance(body, dict):
        return None
    links = body.get("_links") or {}
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else nxt if isinstance(nxt, str) else None
    if not href or not isinstance(href, str):
        return None
    values = parse_qs(urlsplit(href).query).get("continuationToken")
    return values[0] if values else None


class FlowServicePages:
    """Sans-IO state of one Flow Service listing: which page to ask for next, and its items.

    The sync hook (:func:`iter_flow_service`) and the trigger's async client drive the same object,
    so the paging rules (follow ``continuationToken``, stop on a repeated one, shape checks, the
    page caps of :class:`_Progress`) exist once.
    """

    def __init__(self, params: Params, where: str = "list") -> None:
        self._params = dict(params)
        self._next: Params | None = dict(params)
        self._seen: set[str] = set()
        self._where = where
        self._progress = _Progress(where)

    def next_params(self) -> Params | None:
        """Query parameters of the next page, or ``None`` when the listing is complete."""
        return self._next

    def take(self, body: Any) -> list[dict]:
        """Record the answer to :meth:`next_params`; return that page's items (or raise)."""
        items = _objects(body, "items", self._where)
        token = continuation_token(body)
        more = bool(token) and token not in self._seen
        self._progress.page([_key(i, "id") for i in items], more)
        if more:
            assert token is not None
            self._seen.add(token)
            self._next = {**self._params, "continuationToken": token}
        else:
            self._next = None
        return items


def iter_flow_service(fetch: Fetch, params: Params, where: str = "list") -> Iterator[dict]:
    """Flow Service: ``{items, _links.next.href}``; next page via ``continuationToken``."""
    pages = FlowServicePages(params, where)
    while (page_params := pages.next_params()) is not None:
        yield from pages.take(fetch(page_params))


def iter_catalog(
    fetch: Fetch, params: Params, limit: int = CATALOG_PAGE_SIZE, where: str = "list"
) -> Iterator[dict]:
    """Catalog: objects keyed by id, ``start``/``limit``; a short page is the last one."""
    progress = _Progress(where)
    start = 0
    while True:
        body = fetch({**params, "start": start, "limit": limit})
        if not isinstance(body, dict) or not all(isinstance(o, dict) for o in body.values()):
            raise malformed(where, f"expected an object of objects keyed by id, got {str(body)[:200]}")
        more = len(body) >= limit
        progress.page(list(body), more)
        for object_id, obj in body.items():
            yield {**obj, "id": obj.get("id", object_id)}
        if not more:
            return
        start += len(body)


def iter_schema_registry(
    fetch: Fetch,
    params: Params,
    orderby: str = "title",
    limit: int = SCHEMA_REGISTRY_PAGE_SIZE,
    where: str = "list",
) -> Iterator[dict]:
    """Schema Registry: ``{results, _page.next}``; next page ``start=<_page.next>``, stop on null."""
    page_params = {**params, "orderby": orderby, "limit": limit}
    progress = _Progress(where)
    seen: set[str] = set()
    while True:
        body = fetch(page_params)
        results = _objects(body, "results", where)
        page = body.get("_page") or {}
        nxt = page.get("next") if isinstance(page, dict) else None
        more = nxt not in (None, "") and str(nxt) not in seen
        progress.page([_key(r, "$id", "meta:altId") for r in results], more)
        yield from results
        if not more:
            return
        seen.add(str(nxt))
        page_params = {**params, "orderby": orderby, "limit": limit, "start": nxt}


def iter_data_prep(
    fetch: Fetch, params: Params, limit: int = DATA_PREP_PAGE_SIZE, where: str = "list"
) -> Iterator[dict]:
    """Data Prep: ``{data, _page{count, limit}}`` with ``start``/``limit``.

    Stops on an empty or short page, or once ``start`` reaches ``_page.count`` when that count is
    a total (larger than the page); a count equal to the page size is ambiguous and ignored.
    """
    progress = _Progress(where)
    start = 0
    while True:
        body = fetch({**params, "start": start, "limit": limit})
        items = _objects(body, "data", where)
        start += len(items)
        page = body.get("_page") or {}
        count = page.get("count") if isinstance(page, dict) else None
        total = count if isinstance(count, int) and count > len(items) else None
        more = not (not items or len(items) < limit or (total is not None and start >= total))
        progress.page([_key(i, "id") for i in items], more)
        yield from items
        if not more:
            return
