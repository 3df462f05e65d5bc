"""Listing helpers: Flow Service ``property=`` filters, ordering and paging; Catalog, Schema
Registry and Data Prep list styles."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .errors import APIError, catalog_error, flow_error, xdm_error
from .safe_regex import RegexError, compile_pattern

_OPS = ("==", "!=", ">=", "<=", ">", "<", "~")
_EXPR = re.compile(r"^\s*(!?)([A-Za-z0-9_.@:$\[\]\-]+)\s*(==|!=|>=|<=|>|<|~)?(.*)$", re.DOTALL)
_MISSING = object()


@dataclass
class Condition:
    """One ``property=`` expression: ``path op value[,value...]`` (or a bare path / ``!path``)."""

    path: str
    op: str | None
    values: list[str]
    negated: bool = False


def _strip_quotes(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _split_values(raw: str, quoting: bool = True) -> list[str]:
    """Split ``a,"b,c",d`` on commas outside quotes (``property=`` values; one pair of quotes is
    removed, nothing is unescaped: AEP documents no escape character).

    ``quoting=False`` is the Catalog simple filter ``<field>=v1,v2``: literal values split on
    every comma, nothing stripped (Catalog documents no quoting).
    """
    if not quoting:
        return raw.split(",")
    out: list[str] = []
    buf = ""
    quote: str | None = None
    for ch in raw:
        if quote:
            buf += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            buf += ch
        elif ch == ",":
            out.append(buf)
            buf = ""
        else:
            buf += ch
    out.append(buf)
    return [_strip_quotes(v) for v in out]


def parse_condition(expr: str) -> Condition | None:
    """Parse one property expression; ``None`` when it is malformed."""
    m = _EXPR.match(expr)
    if not m:
        return None
    negated, path, op, rest = m.group(1) == "!", m.group(2), m.group(3), m.group(4)
    if op is None:
        if rest.strip():
            return None
        return Condition(path=path, op=None, values=[], negated=negated)
    if rest.startswith(("=", "<", ">")):
        return None
    return Condition(path=path, op=op, values=_split_values(rest), negated=negated)


def resolve(obj: Any, path: str) -> list[Any]:
    """All values at dotted ``path`` in ``obj``; ``[]`` (or a list on the way) fans out."""
    current: list[Any] = [obj]
    for raw_part in path.split("."):
        part = raw_part[:-2] if raw_part.endswith("[]") else raw_part
        nxt: list[Any] = []
        for item in current:
            candidates = item if isinstance(item, list) else [item]
            for cand in candidates:
                if isinstance(cand, dict) and part in cand:
                    nxt.append(cand[part])
        current = nxt
    flat: list[Any] = []
    for value in current:
        if isinstance(value, list):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


def _as_number(value: Any) -> float | None:
    """A finite number from a stored number or a query string; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    number: float
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _compare(actual: Any, op: str, expected: str) -> bool:
    if op == "~":
        try:
            return compile_pattern(expected).search(str(actual))
        except RegexError:
            return False
    # A stored string (a name, a title) is always compared as a string: "NaN" or "1e3" as a
    # name must find itself. Only stored numbers (timestamps, counts) compare numerically.
    a_num = None if isinstance(actual, str) else _as_number(actual)
    e_num = _as_number(expected)
    if a_num is not None and e_num is not None:
        a: Any = a_num
        e: Any = e_num
    else:
        a = str(actual).lower()
        e = expected.lower()
    if op == "==":
        return bool(a == e)
    if op == "!=":
        return bool(a != e)
    if op == ">":
        return bool(a > e)
    if op == "<":
        return bool(a < e)
    if op == ">=":
        return bool(a >= e)
    if op == "<=":
        return bool(a <= e)
    return False


def matches(obj: dict[str, Any], cond: Condition) -> bool:
    """Does ``obj`` satisfy the condition?"""
    values = resolve(obj, cond.path)
    if cond.op is None:
        present = bool(values)
        return not present if cond.negated else present
    if cond.op == "!=":
        return all(all(_compare(v, "!=", e) for e in cond.values) for v in values)
    return any(_compare(v, cond.op, e) for v in values for e in cond.values)


def sort_items(items: list[dict[str, Any]], fields: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable sort by ``[(path, descending)]``; missing values sort last."""
    out = list(items)
    for path, desc in reversed(fields):
        present = [i for i in out if resolve(i, path)]
        missing = [i for i in out if not resolve(i, path)]

        def key(item: dict[str, Any], _p: str = path) -> tuple[int, Any]:
            v = resolve(item, _p)[0]
            n = _as_number(v)
            return (0, n) if n is not None else (1, str(v))

        present.sort(key=key, reverse=desc)
        out = present + missing
    return out


# --------------------------------------------------------------------------------- Flow Service


def _encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    pad = "=" * (-len(token) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(token + pad))
    except (ValueError, TypeError) as exc:
        raise flow_error(400, 1454, "The continuationToken is invalid.") from exc
    if not isinstance(data, dict) or not _token_fields_ok(data):
        raise flow_error(400, 1454, "The continuationToken is invalid.")
    return data


def _token_fields_ok(data: dict[str, Any]) -> bool:
    """A token is only ever one the emulator issued: check every field's type and range."""
    offset = data.get("offset", 0)
    limit = data.get("limit")
    props = data.get("property", [])
    order = data.get("orderby")
    return (
        isinstance(offset, int)
        and not isinstance(offset, bool)
        and 0 <= offset <= 2**31
        and (
            limit is None or (isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 2**31)
        )
        and isinstance(props, list)
        and all(isinstance(p, str) for p in props)
        and (order is None or isinstance(order, str))
    )


def regex_problem(conditions: Iterable[Condition]) -> str | None:
    """Why a ``~`` value cannot be used as a pattern (unsupported or malformed), or ``None``."""
    for cond in conditions:
        if cond.op != "~":
            continue
        for value in cond.values:
            try:
                compile_pattern(value)
            except RegexError as exc:
                return f"Invalid regular expression [{value}] for '~': {exc}."
    return None


def flow_list(
    items: Iterable[dict[str, Any]],
    query: list[tuple[str, str]],
    path: str,
    *,
    public: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Apply Flow Service listing parameters to ``items`` and build the response body.

    ``query`` is the raw multi-valued query string; ``path`` the service-relative path used in
    ``_links.next.href``.
    """
    params: dict[str, list[Any]] = {}
    for k, v in query:
        params.setdefault(k, []).append(v)
    token: str | None = params.get("continuationToken", [None])[0]
    state: dict[str, Any] = _decode_token(token) if token else {}
    properties = params.get("property") or state.get("property") or []
    orderby = (params.get("orderby") or params.get("orderBy") or [state.get("orderby")])[0]
    limit_raw = (params.get("limit") or [state.get("limit")])[0]
    count = (params.get("count") or ["false"])[0].lower() == "true"
    offset = int(state.get("offset", 0))
    if count and limit_raw is not None and "limit" in params:
        raise flow_error(400, 1401, "The parameters 'limit' and 'count' cannot be used together.")
    limit: int | None = None
    if limit_raw is not None:
        try:
            limit = int(limit_raw)
        except (TypeError, ValueError) as exc:
            raise flow_error(400, 1450, f"Invalid value [{limit_raw}] for parameter 'limit'.") from exc
        if limit < 1:
            raise flow_error(400, 1450, f"Invalid value [{limit_raw}] for parameter 'limit'.")
    conditions: list[Condition] = []
    for expr in properties:
        cond = parse_condition(expr)
        if cond is None:
            raise flow_error(400, 1448, f"The property expression [{expr}] is not valid.")
        if cond.op == "~":
            raise flow_error(400, 1440, f"The operator [~] in [{expr}] is not implemented.")
        if cond.op == "<=" and len(cond.values) > 1:
            raise flow_error(400, 1443, f"The operator [<=] in [{expr}] cannot take multiple values.")
        conditions.append(cond)
    rows = [i for i in items if all(matches(i, c) for c in conditions)]
    if orderby:
        fields = []
        for f in orderby.split(","):
            f = f.strip()
            if not f:
                continue
            desc = f.startswith("-")
            fields.append((f.lstrip("+-"), desc))
        rows = sort_items(rows, fields)
    if count:
        return {"count": len(rows)}
    body: dict[str, Any] = {}
    page = rows[offset:]
    if limit is not None:
        page = rows[offset : offset + limit]
        if offset + limit < len(rows):
            nxt = _encode_token(
                {"offset": offset + limit, "property": properties, "orderby": orderby, "limit": limit}
            )
            # The documented shape: /<resource>?continuationToken=... (the token carries the rest).
            body["_links"] = {"next": {"href": f"{path}?{urlencode({'continuationToken': nxt})}"}}
    body["items"] = [public(i) if public else i for i in page]
    body.setdefault("_links", {})
    return body


# ------------------------------------------------------------------------------------- Catalog

_CATALOG_RESERVED = {
    "limit",
    "start",
    "orderBy",
    "properties",
    "property",
    "requestDataSource",
    "createdAfter",
    "createdBefore",
    "tags",
}


def _epoch_ms(raw: str) -> float | None:
    """A finite, non-negative epoch (milliseconds) from a query value, or ``None``."""
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) and 0 <= value <= 2**63 else None


def catalog_list(items: dict[str, dict[str, Any]], query: list[tuple[str, str]]) -> dict[str, Any]:
    """Catalog listing: ``limit`` (1-100, default 20), ``start``, ``orderBy=asc:f|desc:f``,
    ``properties=`` projection, ``<field>=v1,v2`` / ``<field>=!v`` filters and ``property=``."""
    params: dict[str, list[str]] = {}
    for k, v in query:
        params.setdefault(k, []).append(v)
    try:
        limit = int(params.get("limit", ["20"])[0])
        start = int(params.get("start", ["0"])[0])
    except ValueError as exc:
        raise catalog_error(400, 1001, "limit and start must be integers.") from exc
    if not 1 <= limit <= 100:
        raise catalog_error(400, 1001, f"Invalid limit [{limit}]: must be between 1 and 100.")
    if start < 0:
        raise catalog_error(400, 1001, f"Invalid start [{start}].")
    rows = [(k, v) for k, v in items.items()]
    for key, values in params.items():
        if key in _CATALOG_RESERVED:
            continue
        for raw in values:
            if raw.startswith("!"):
                excluded = {s.lower() for s in _split_values(raw[1:], quoting=False)}
                rows = [(k, v) for k, v in rows if str(v.get(key, "")).lower() not in excluded]
            else:
                wanted = set(_split_values(raw, quoting=False))
                if key == "id":
                    rows = [(k, v) for k, v in rows if k in wanted]
                else:
                    rows = [(k, v) for k, v in rows if str(v.get(key)) in wanted]
    for expr in params.get("property", []):
        cond = parse_condition(expr)
        if cond is None or "." in cond.path:
            raise catalog_error(400, 1002, f"Invalid property expression [{expr}].")
        problem = regex_problem([cond])
        if problem:
            raise catalog_error(400, 1002, problem)
        rows = [(k, v) for k, v in rows if matches({**v, "id": k}, cond)]
    for key, keep_row in (("createdAfter", float.__gt__), ("createdBefore", float.__lt__)):
        if key in params:
            bound = _epoch_ms(params[key][0])
            if bound is None:
                raise catalog_error(
                    400, 1001, f"Invalid {key} [{params[key][0]}]: must be an epoch time in milliseconds."
                )
            rows = [(k, v) for k, v in rows if keep_row(float(v.get("created", 0)), bound)]
    order = params.get("orderBy", [""])[0]
    if order:
        fields = []
        for part in order.split(","):
            direction, _, field = part.partition(":")
            if not field:
                direction, field = "asc", direction
            if direction not in ("asc", "desc"):
                raise catalog_error(400, 1003, f"Invalid orderBy [{order}].")
            fields.append((field, direction == "desc"))
        tagged = sort_items([{**v, "__key": k} for k, v in rows], fields)
        rows = [(t["__key"], {kk: vv for kk, vv in t.items() if kk != "__key"}) for t in tagged]
    rows = rows[start : start + limit]
    projection = params.get("properties", [""])[0]
    out: dict[str, Any] = {}
    keep = {p.strip() for p in projection.split(",") if p.strip()}
    for key, obj in rows:
        out[key] = {f: obj[f] for f in keep if f in obj} if keep else obj
    return out


# ------------------------------------------------------------------------------ Schema Registry


def sr_list(
    items: list[dict[str, Any]],
    query: list[tuple[str, str]],
    path: str,
    *,
    short: bool,
) -> dict[str, Any]:
    """Schema Registry listing: ``orderby``, ``limit``/``start`` (both need ``orderby``; ``start`` is
    the primary sort value to continue after), ``property=`` filters."""
    params: dict[str, list[str]] = {}
    for k, v in query:
        params.setdefault(k, []).append(v)
    orderby = params.get("orderby", [""])[0]
    if ("limit" in params or "start" in params) and not orderby:
        # AEP silently orders by title when paging without an explicit order.
        orderby = "title"
    rows = list(items)
    for expr in params.get("property", []):
        cond = parse_condition(expr)
        if cond is None:
            raise xdm_error(400, 1002, f"Invalid property filter [{expr}].", "Invalid request")
        problem = regex_problem([cond])
        if problem:
            raise xdm_error(400, 1002, problem, "Invalid request")
        rows = [r for r in rows if matches(r, cond)]
    fields = [(f.strip().lstrip("+-"), f.strip().startswith("-")) for f in orderby.split(",") if f.strip()]
    if fields:
        rows = sort_items(rows, fields)
    if "start" in params and fields:
        primary, desc = fields[0]
        start = params["start"][0]
        cond = Condition(path=primary, op="<" if desc else ">", values=[start])
        rows = [r for r in rows if matches(r, cond)]
    limit = None
    if "limit" in params:
        try:
            limit = int(params["limit"][0])
        except ValueError as exc:
            raise xdm_error(400, 1002, "limit must be an integer.", "Invalid request") from exc
        if not 0 <= limit <= 500:
            raise xdm_error(400, 1002, "limit must be between 0 and 500.", "Invalid request")
    next_start = None
    page = rows
    if limit is not None and limit < len(rows):
        page = rows[:limit]
        if page and fields:
            vals = resolve(page[-1], fields[0][0])
            next_start = vals[0] if vals else None
    links: dict[str, Any] = {"next": None}
    if next_start is not None:
        keep = [(k, v) for k, v in query if k != "start"] + [("start", str(next_start))]
        links["next"] = {"href": f"{path}?{urlencode(keep)}"}
    results = [{k: r.get(k) for k in ("$id", "meta:altId", "version", "title")} if short else r for r in page]
    return {
        "results": results,
        "_page": {"orderby": orderby or None, "next": next_start, "count": len(results)},
        "_links": links,
    }


def ensure(condition: bool, error: APIError) -> None:
    """Raise ``error`` unless ``condition``."""
    if not condition:
        raise error
