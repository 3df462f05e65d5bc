"""Emulator robustness (issue 11, defect 10): no malformed request gets a 5xx, every refusal is a
400 in the service's error shape, and no bad input poisons the state.

Built as tables of the class of defect: for every write route, every field of a valid body is
replaced by each wrongly typed value of :data:`WRONG_VALUES`, and each body is also sent whole as
each of :data:`RAW_BODIES` (nesting depth, NaN/Infinity, huge numbers, bad Unicode...); every list
route gets :data:`LIST_QUERIES` (bad tokens, filters, limits, dates, regexes). After each bad input
everything stored must still serialise and every schedule still advance; after each route's table
every list route of the sandbox answers 200; after all the tables, the whole
workflow (create everything, a flow, its first run, PATCH, teardown) still works. The request log
also proves that the generic guard never fired: every refusal came from a root-cause check.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from emu_helpers import CAT, DATA_LAKE, DP, FS, SR, SSC, SSC_BASIC, XED_FULL, Api

from airflow_provider_aep.emulator.app import create_app
from airflow_provider_aep.emulator.pytest_plugin import InProcessEmulator

#: Wrongly typed values put in place of each field (strings only where a string is not expected).
WRONG_VALUES: list[Any] = [
    None,
    -1,
    2.5,
    True,
    [{"x": 1}],
    {"nested": {"x": [1]}},
    "NaN",
    "9" * 400,
    2**63,
    "",
]

#: Bodies sent raw (bytes) to every write route.
RAW_BODIES: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"42",
    b"{",
    b"\xff\xfe\x00",
    b'{"name": NaN}',
    b'{"name": Infinity, "x": -Infinity}',
    b'{"name": 1e400}',
    b'{"name": ' + b"9" * 5000 + b"}",
    b'{"name": "\\ud800"}',
    b'{"\\udfff": 1}',
    b'{"a":' * 100 + b"1" + b"}" * 100,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
]


def _token(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


#: Query strings sent to every list route.
LIST_QUERIES: list[dict[str, str]] = [
    {"limit": "abc"},
    {"limit": "-1"},
    {"limit": "0"},
    {"limit": "9" * 5000},
    {"limit": "NaN"},
    {"limit": "1e3"},
    {"start": "abc"},
    {"start": "-5"},
    {"start": "9" * 5000},
    {"continuationToken": "!!!not-base64!!!"},
    {"continuationToken": "\u00e9\u00e9"},
    {"continuationToken": base64.urlsafe_b64encode(b"\xff\xfe").decode()},
    {"continuationToken": _token([1, 2])},
    {"continuationToken": _token({"offset": "x"})},
    {"continuationToken": _token({"offset": -3})},
    {"continuationToken": _token({"offset": 10**40})},
    {"continuationToken": _token({"offset": 0, "property": 5})},
    {"continuationToken": _token({"offset": 0, "property": [{"a": 1}]})},
    {"continuationToken": _token({"offset": 0, "orderby": 5})},
    {"continuationToken": _token({"offset": 0, "limit": "x"})},
    {"continuationToken": _token({"offset": 0, "limit": 0})},
    {"property": "=="},
    {"property": "name=="},
    {"property": "name~(a+)+$"},
    {"property": "name~(?=x)"},
    {"property": "name~["},
    {"property": "name~" + "a" * 300},
    {"property": "!!!"},
    {"property": "name>NaN"},
    {"orderby": "+"},
    {"orderby": "-name,,+id"},
    {"orderBy": "sideways:name"},
    {"orderBy": ":"},
    {"createdAfter": "abc"},
    {"createdAfter": "NaN"},
    {"createdBefore": "inf"},
    {"createdBefore": "-1"},
    {"createdAfter": "9" * 400},
    {"count": "true", "limit": "2"},
    {"properties": "name,,,"},
    {"name": "\u0000"},
    {"version": "x"},
]

_SERVICE_CODE = {FS: "FLOW", SR: "XDM", CAT: "CAT", DP: "DP", "/data/core/": "IDN"}


def assert_aep_error(resp: Any, path: str, what: str) -> None:
    """A 4xx answer in the error shape of the service that ``path`` belongs to."""
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code < 400:
        return
    body = resp.json()
    assert isinstance(body, dict), what
    assert body.get("status") == resp.status_code, f"{what}: {body}"
    prefix = next(p for p in _SERVICE_CODE if path.startswith(p))
    code = _SERVICE_CODE[prefix]
    assert re.search(rf"/{code}-\w+-{resp.status_code}$", str(body.get("type", ""))), f"{what}: {body}"
    detail = (body.get("report") or {}).get("detailed-message") or body.get("detail")
    assert isinstance(detail, str) and detail, f"{what}: {body}"
    assert "Traceback" not in resp.text


def leaves(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path (keys and list indexes) in ``doc``, containers included."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from leaves(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i)
            yield from leaves(v, (*prefix, i))


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


class Workflow:
    """The resources of one sandbox, and the checks that it still works."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.w = api.world()
        self.flow = api.flow(self.w)
        self.once = api.flow(self.w, name="once", scheduleParams={"startTime": 1, "frequency": "once"})

    def state_ok(self, what: str) -> None:
        """Cheap check after each bad input: everything stored still serialises as UTF-8 JSON and
        the scheduler still advances every flow (a poisoned value would break one of the two)."""
        from airflow_provider_aep.emulator.scheduler import advance

        state = self.api.emu.state
        for sb in state.sandboxes.values():
            advance(state, sb)
            stores = (sb.connections, sb.source_connections, sb.target_connections, sb.flows, sb.runs)
            stores += (sb.datasets, sb.schemas, sb.classes, sb.mapping_sets)
            json.dumps(stores, allow_nan=False, ensure_ascii=False).encode("utf-8")
            stopped = [
                fid
                for fid, rt in sb.flow_runtime.items()
                if rt.next_run_at is None
                and sb.flows[fid]["state"] == "enabled"
                and sb.flows[fid]["scheduleParams"].get("frequency") != "once"
            ]
            assert stopped == [], f"after {what}: schedules stopped {stopped}"

    def lists_answer(self, what: str) -> None:
        """Every list route of the sandbox answers 200 (nothing stored broke a read)."""
        srh = {"Accept": "application/vnd.adobe.xed-id+json"}
        for path, headers in (
            (f"{FS}/flows", {}),
            (f"{FS}/runs", {}),
            (f"{FS}/connections", {}),
            (f"{FS}/sourceConnections", {}),
            (f"{FS}/targetConnections", {}),
            (f"{CAT}/dataSets", {}),
            (f"{SR}/tenant/schemas", srh),
            (f"{DP}/mappingSets", {}),
        ):
            r = self.api.get(path, headers=headers)
            assert r.status_code == 200, f"after {what}: GET {path} -> {r.status_code} {r.text[:200]}"

    def full_cycle(self, tag: str) -> None:
        """Create a fresh set of resources and a flow, see its first run finish, PATCH, tear down."""
        api = self.api
        base = api.base_connection(name=f"base-{tag}")
        src = api.source_connection(base, name=f"src-{tag}")
        schema = api.schema(title=f"schema-{tag}")
        ds = api.dataset(schema, name=f"ds-{tag}")
        tgt = api.target_connection(schema, ds, name=f"tgt-{tag}")
        mapping = api.mapping(schema)
        world = {"source": src, "target": tgt, "mapping": mapping}
        fid = api.flow(world, name=f"flow-{tag}")
        deadline = time.monotonic() + 60  # a hang guard: the run takes well under a second
        state = None
        while time.monotonic() < deadline:
            runs = api.get(f"{FS}/runs", params={"property": f"flowId=={fid}"}).json()["items"]
            state = runs[0]["metrics"]["statusSummary"]["status"] if runs else None
            if state in ("success", "partialSuccess", "failed"):
                break
            time.sleep(0.02)
        assert state == "success", f"after {tag}: first run ended {state}"
        etag = api.get(f"{FS}/flows/{fid}").json()["items"][0]["etag"]
        r = api.patch(
            f"{FS}/flows/{fid}",
            [{"op": "replace", "path": "/name", "value": f"renamed-{tag}"}],
            headers={"If-Match": etag},
        )
        assert r.status_code == 200, r.text
        for path in (f"{FS}/flows/{fid}", f"{FS}/targetConnections/{tgt}", f"{FS}/sourceConnections/{src}"):
            assert api.delete(path).status_code == 204
        assert api.delete(f"{FS}/connections/{base}").status_code == 204


@pytest.fixture
def flowing(api: Api) -> Iterator[Workflow]:
    # One event-loop portal for the whole test instead of one per request (5-10x faster).
    with api.client:
        yield Workflow(api)


def _write_routes(wf: Workflow) -> list[tuple[str, str, Any, dict[str, str]]]:
    """(method, path, valid body, extra headers) of every write route."""
    w, api = wf.w, wf.api
    flow_etag = api.get(f"{FS}/flows/{wf.flow}").json()["items"][0]["etag"]
    base_etag = api.get(f"{FS}/connections/{w['base']}").json()["items"][0]["etag"]
    src_etag = api.get(f"{FS}/sourceConnections/{w['source']}").json()["items"][0]["etag"]
    tgt_etag = api.get(f"{FS}/targetConnections/{w['target']}").json()["items"][0]["etag"]
    cols = api.get(
        f"{FS}/connections/{w['base']}/explore", params={"objectType": "table", "object": "Account"}
    ).json()["schema"]["columns"]
    patch_op = [{"op": "replace", "path": "/description", "value": "d"}]
    return [
        (
            "POST",
            f"{FS}/connections",
            {
                "name": "c",
                "description": "d",
                "connectionSpec": {"id": SSC, "version": "1.0"},
                "auth": SSC_BASIC,
            },
            {},
        ),
        (
            "POST",
            f"{FS}/sourceConnections",
            {
                "name": "s",
                "baseConnectionId": w["base"],
                "data": {"format": "tabular"},
                "params": {"tableName": "Account", "columns": cols[:2]},
                "connectionSpec": {"id": SSC, "version": "1.0"},
            },
            {},
        ),
        (
            "POST",
            f"{FS}/targetConnections",
            {
                "name": "t",
                "data": {"format": "parquet_xdm", "schema": {"id": w["schema"], "version": XED_FULL}},
                "params": {"dataSetId": w["dataset"]},
                "connectionSpec": {"id": DATA_LAKE, "version": "1.0"},
            },
            {},
        ),
        ("POST", f"{FS}/flows", api.flow_body(w, name="f2"), {}),
        ("POST", f"{FS}/runs", {"flowId": wf.once, "params": {"windowStartTime": 1, "windowEndTime": 2}}, {}),
        ("PATCH", f"{FS}/flows/{wf.flow}", patch_op, {"If-Match": flow_etag}),
        ("PATCH", f"{FS}/connections/{w['base']}", patch_op, {"If-Match": base_etag}),
        ("PATCH", f"{FS}/sourceConnections/{w['source']}", patch_op, {"If-Match": src_etag}),
        ("PATCH", f"{FS}/targetConnections/{w['target']}", patch_op, {"If-Match": tgt_etag}),
        (
            "POST",
            f"{SR}/tenant/classes",
            {
                "title": "k",
                "description": "d",
                "type": "object",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                    {"properties": {"_adhoc": {"type": "object", "properties": {"f": {"type": "string"}}}}},
                ],
            },
            {},
        ),
        (
            "POST",
            f"{SR}/tenant/schemas",
            {
                "title": "s2",
                "description": "d",
                "type": "object",
                "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}],
            },
            {},
        ),
        (
            "POST",
            f"{CAT}/dataSets",
            {"name": "d2", "schemaRef": {"id": w["schema"], "contentType": XED_FULL}},
            {},
        ),
        ("PATCH", f"{CAT}/dataSets/{w['dataset']}", {"description": "d", "tags": {"t": ["v"]}}, {}),
        (
            "POST",
            f"{DP}/mappingSets",
            {
                "outputSchema": {"schemaRef": {"id": w["schema"], "contentType": XED_FULL}},
                "mappings": [{"sourceType": "ATTRIBUTE", "source": "Id", "destination": "_id", "name": "Id"}],
            },
            {},
        ),
        (
            "PUT",
            f"{DP}/mappingSets/{w['mapping']}",
            {
                "outputSchema": {"schemaRef": {"id": w["schema"], "contentType": XED_FULL}},
                "mappings": [{"sourceType": "ATTRIBUTE", "source": "Id", "destination": "_id"}],
            },
            {},
        ),
    ]


def gateway_routes() -> list[tuple[str, str]]:
    """(method, path template) of every gateway route the emulator serves."""
    app = create_app()
    out = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            path = str(getattr(route, "path", ""))
            if path.startswith(("/data/foundation/", "/data/core/")) and method in (
                "GET",
                "POST",
                "PUT",
                "PATCH",
                "DELETE",
            ):
                out.append((method, path))
    return out


def _fill(path: str, wf: Workflow) -> str:
    """A path template with the ids of the workflow's resources (``unknown`` when none fits)."""
    w = wf.w
    alt_id = "_emulatortenant.schemas." + w["schema"].rsplit("/", 1)[-1]
    ids = {
        "connection_id": w["source"]
        if "/sourceConnections/" in path
        else w["target"]
        if "/targetConnections/" in path
        else w["base"],
        "flow_id": wf.flow,
        "dataset_id": w["dataset"],
        "mapping_id": w["mapping"],
        "spec_id": DATA_LAKE,
        "schema_id": alt_id,
        "kind": "classes",
        "resource_id": "https://ns.adobe.com/xdm/context/profile",
    }
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: ids.get(m.group(1), "unknown"), path)


def _send(
    api: Api, method: str, path: str, headers: dict[str, str], *, body: Any = None, raw: bytes | None = None
) -> Any:
    h = {**api.h(), "Content-Type": "application/json", **headers}
    content = raw if raw is not None else json.dumps(body).encode()
    return api.client.request(method, path, content=content, headers=h)


def _unhandled(api: Api) -> list[dict[str, Any]]:
    return [e for e in api.emu.state.request_log if e.get("unhandled")]


def test_every_write_route_refuses_malformed_bodies_with_aep_errors(api: Api, flowing: Workflow) -> None:
    routes = _write_routes(flowing)
    sent = 0
    for method, path, valid, headers in routes:
        r = _send(api, method, path, headers, body=valid)
        assert r.status_code < 300, f"valid body of {method} {path}: {r.status_code} {r.text[:300]}"
        if method == "PATCH" and path.startswith(FS):  # the etag moved: use the new one
            headers = {"If-Match": r.json()["etag"]}
        bad_bodies = [replaced(valid, p, v) for p in leaves(valid) for v in WRONG_VALUES]
        for bad in bad_bodies:
            r = _send(api, method, path, headers, body=bad)
            assert_aep_error(r, path, f"{method} {path} {json.dumps(bad)[:200]}")
            if method == "PATCH" and path.startswith(FS) and r.status_code == 200:
                headers = {"If-Match": r.json()["etag"]}
            flowing.state_ok(f"{method} {path} {json.dumps(bad)[:200]}")
            sent += 1
        for raw in RAW_BODIES:
            r = _send(api, method, path, headers, raw=raw)
            assert r.status_code == 400, f"{method} {path} {raw[:60]!r}: {r.status_code}"
            assert_aep_error(r, path, f"{method} {path} {raw[:60]!r}")
            flowing.state_ok(f"{method} {path} {raw[:60]!r}")
            sent += 1
        flowing.lists_answer(f"the malformed bodies of {method} {path}")
    assert sent > 1000  # the table really is that large
    assert _unhandled(api) == []  # every refusal came from a check, not from the generic guard
    flowing.full_cycle("after-writes")


def test_every_list_route_refuses_bad_queries_with_aep_errors(api: Api, flowing: Workflow) -> None:
    api.dataset(flowing.w["schema"], name="a" * 40 + "!")
    srh = {"Accept": "application/vnd.adobe.xed-id+json"}
    # Every list route of the app (GET without a path parameter), so that new ones are covered too.
    routes = [
        (path, srh if path.startswith(SR) else {}) for method, path in gateway_routes() if method == "GET"
    ]
    routes = [(p, h) for p, h in routes if "{" not in p]
    assert len(routes) >= 11
    for path, headers in routes:
        for query in LIST_QUERIES:
            # CPU time of this process (the in-process emulator answers in it), not wall time: a
            # busy machine delays a request by seconds without it costing more.
            t0 = time.process_time()
            r = api.get(path, params=query, headers=headers)
            took = time.process_time() - t0
            assert_aep_error(r, path, f"GET {path} {query}")
            assert took < 2.0, f"GET {path} {query} took {took:.1f} s of CPU"
            flowing.state_ok(f"GET {path} {query}")
        flowing.lists_answer(f"the bad queries of GET {path}")
    assert _unhandled(api) == []
    flowing.full_cycle("after-lists")


def test_every_write_route_of_the_app_survives_raw_malformed_bodies(api: Api, flowing: Workflow) -> None:
    """Routes discovered from the app (new ones included): raw malformed bodies and top-level
    wrong types never get a 5xx, always the service's error shape, and never hit the guard."""
    writes = [(m, p) for m, p in gateway_routes() if m in ("POST", "PUT", "PATCH")]
    assert len(writes) >= 16
    generic: list[bytes] = [*RAW_BODIES, b"{}", b'{"name": 5, "description": []}', b'[{"op": 5}]']
    for method, template in writes:
        path = _fill(template, flowing)
        headers: dict[str, str] = {}
        current = api.get(path)
        if current.status_code == 200 and isinstance(current.json(), dict):
            items = current.json().get("items") or [{}]
            if isinstance(items[0], dict) and items[0].get("etag"):
                headers["If-Match"] = items[0]["etag"]
        for raw in generic:
            r = _send(api, method, path, headers, raw=raw)
            assert_aep_error(r, path, f"{method} {template} {raw[:60]!r}")
            flowing.state_ok(f"{method} {template} {raw[:60]!r}")
    assert _unhandled(api) == []
    flowing.lists_answer("the raw bodies of every write route")


@pytest.mark.parametrize(
    ("path", "headers"),
    [(f"{CAT}/dataSets", {}), (f"{SR}/tenant/schemas", {"Accept": "application/vnd.adobe.xed-id+json"})],
)
def test_regex_filter_is_linear_time(
    api: Api, world: dict[str, str], path: str, headers: dict[str, str]
) -> None:
    """``(a+)+$`` against 'aaa…!' backtracks for minutes in ``re``; the filter answers at once."""
    name = "a" * 3000 + "!"
    api.dataset(world["schema"], name=name)
    api.schema(title=name)
    field = "name" if path.startswith(CAT) else "title"
    for pattern in ("(a+)+$", "(a|aa)+$", "(.*a){20}$", "^(a?){25}a{25}$"):
        # CPU time of this process (the in-process emulator runs the filter in it), not wall time:
        # a busy machine delays the request, but only backtracking makes it cost seconds of CPU.
        t0 = time.process_time()
        r = api.get(path, params={"property": f"{field}~{pattern}"}, headers=headers)
        took = time.process_time() - t0
        assert r.status_code == 200, r.text
        assert took < 1.0, f"{pattern}: {took:.2f} s of CPU"
    hits = api.get(path, params={"property": f"{field}~^a+!$"}, headers=headers).json()
    found = hits if path.startswith(CAT) else {r["title"]: r for r in hits["results"]}
    assert any(name == (v.get("name") or v.get("title") or k) for k, v in found.items())


def test_a_poisoned_flow_cannot_break_the_sandbox(api: Api, flowing: Workflow) -> None:
    """Defence in depth: a stored flow whose schedule overflows float arithmetic (as one with
    ``interval=10**400`` did) stops its own schedule; every read of the sandbox still answers."""
    sb = next(iter(api.emu.state.sandboxes.values()))
    flow = sb.flows[flowing.flow]
    flow["scheduleParams"]["interval"] = 10**400
    sb.flow_runtime[flowing.flow].next_run_at = 0.0
    flowing.lists_answer("a flow with interval=10**400")
    assert api.get(f"{FS}/flows/{flowing.flow}").status_code == 200
    assert sb.flow_runtime[flowing.flow].next_run_at is None
    flowing.full_cycle("after-poison")


@pytest.mark.parametrize("interval", [10**400, "1" * 400, 2**63, "9" * 5000, 1e300])
def test_huge_schedule_values_are_refused(api: Api, world: dict[str, str], interval: Any) -> None:
    body = api.flow_body(world)
    body["scheduleParams"]["interval"] = interval
    r = _send(api, "POST", f"{FS}/flows", {}, raw=json.dumps(body).encode())
    assert r.status_code == 400
    assert_aep_error(r, f"{FS}/flows", str(interval)[:40])
    assert "interval" in r.json()["report"]["detailed-message"]
    r = api.get(f"{FS}/flows")
    assert r.status_code == 200 and r.json()["items"] == []


CONFIG_BAD: list[dict[str, Any]] = [
    {"time_scale": "fast"},
    {"time_scale": 0},
    {"time_scale": -1},
    {"time_scale": None},
    {"time_scale": [1]},
    {"time_scale": 1e300},
    {"run_duration_seconds": "3"},
    {"run_duration_seconds": -1},
    {"run_duration_seconds": True},
    {"token_ttl_seconds": 1.5},
    {"token_ttl_seconds": "60"},
    {"token_ttl_seconds": -1},
    {"tenant_id": 5},
    {"tenant_id": "Bad Tenant!"},
    {"allowed_clients": ["a"]},
    {"allowed_clients": {"a": 1}},
    {"sandboxes": "prod"},
    {"sandboxes": [1]},
    {"faults": "none"},
    {"faults": {"error_rate": 7}},
    {"max_request_log": "10"},
    {"max_request_log": -1},
    {"no_such_key": 1},
]


@pytest.mark.parametrize("bad", CONFIG_BAD, ids=lambda b: json.dumps(b)[:40])
def test_admin_config_refuses_wrong_types_and_stays_usable(
    emu: InProcessEmulator, bad: dict[str, Any]
) -> None:
    before = emu.client.get("/_emulator/config").json()
    r = emu.client.put("/_emulator/config", json=bad)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400 and next(iter(bad)) in r.json()["detail"]
    assert emu.client.get("/_emulator/config").json() == before
    assert emu.client.post("/_emulator/reset", json={"config": True, "faults": True}).status_code == 200
    assert emu.client.get(f"{FS}/connections", headers=emu.headers()).status_code == 200


@pytest.mark.parametrize(
    "raw", [b"{", b'{"time_scale": NaN}', b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b"[1]", b'"x"']
)
def test_admin_api_refuses_malformed_json(emu: InProcessEmulator, raw: bytes) -> None:
    for path in ("/_emulator/config", "/_emulator/faults"):
        r = emu.client.put(path, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.status_code)
        assert r.json()["status"] == 400
    r = emu.client.post("/_emulator/reset", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400)
    assert emu.client.post("/_emulator/reset").status_code == 200


@pytest.mark.parametrize(
    ("client_host", "remote_allowed", "expected"),
    [
        ("127.0.0.1", False, 200),
        ("::1", False, 200),
        ("::ffff:127.0.0.1", False, 200),
        ("10.1.2.3", False, 403),
        ("192.168.0.7", False, 403),
        ("2001:db8::1", False, 403),
        ("10.1.2.3", True, 200),
    ],
)
def test_admin_api_answers_loopback_callers_only(
    client_host: str, remote_allowed: bool, expected: int
) -> None:
    from fastapi.testclient import TestClient

    app = create_app(admin_remote=remote_allowed)
    with TestClient(app, client=(client_host, 40000)) as client:
        for method, path in (
            ("GET", "/_emulator/state"),
            ("POST", "/_emulator/reset"),
            ("PUT", "/_emulator/faults"),
        ):
            r = client.request(method, path, json={} if method == "PUT" else None)
            assert r.status_code == expected, (client_host, method, path, r.text)
            if expected == 403:
                assert "--admin-remote" in r.json()["detail"]
        # The gateway itself is not restricted: it has its own (token) authentication.
        r = client.get(f"{FS}/connections")
        assert r.status_code == 403 and r.json()["error_code"] == "403010"


def test_cli_defaults_bind_loopback_and_banner_brackets_ipv6() -> None:
    from airflow_provider_aep.emulator.cli import base_url, build_parser

    args = build_parser().parse_args([])
    assert args.host == "127.0.0.1" and args.admin_remote is False
    assert base_url("::1", 8765) == "http://[::1]:8765"
    assert base_url("127.0.0.1", 8765) == "http://127.0.0.1:8765"
    assert base_url("[::1]", 1) == "http://[::1]:1"


def _unknown_route_cases() -> list[tuple[str, str]]:
    return [
        ("GET", f"{FS}/nothingHere"),
        ("PUT", f"{FS}/flows"),
        ("GET", f"{SR}/tenant/nothing"),
        ("DELETE", f"{CAT}/dataSets"),
        ("GET", f"{DP}/nothing/here"),
    ]


@pytest.mark.parametrize(("method", "path"), _unknown_route_cases())
def test_unknown_gateway_routes_answer_in_the_service_shape(api: Api, method: str, path: str) -> None:
    r = api.client.request(method, path, headers=api.h())
    assert r.status_code in (404, 405)
    assert_aep_error(r, path, f"{method} {path}")


def test_the_generic_guard_answers_400_in_the_service_shape(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception no check anticipated (simulated here) still answers 400, never 500."""
    from airflow_provider_aep.emulator import routes_flowservice

    def boom(*_a: Any, **_k: Any) -> Any:
        raise ZeroDivisionError("simulated")

    monkeypatch.setattr(routes_flowservice, "flow_list", boom)
    r = api.get(f"{FS}/flows")
    assert r.status_code == 400
    assert_aep_error(r, f"{FS}/flows", "guard")
    assert "ZeroDivisionError" in r.json()["report"]["detailed-message"]
    assert [e["path"] for e in _unhandled(api)] == [f"{FS}/flows"]


def test_ipv6_banner_is_a_usable_url() -> None:
    """``--host ::1`` prints ``http://[::1]:PORT`` (a URL clients can call), not ``http://::1:PORT``."""
    import signal
    import socket
    import subprocess
    import sys

    import requests

    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_aep.emulator", "--host", "::1", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"AEP emulator listening on http://[::1]:{port}"
        url = line.rsplit(" ", 1)[-1]
        assert requests.get(f"{url}/_emulator/state", timeout=10).status_code == 200  # loopback caller
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("length", [b"abc", b"9" * 5000, b"-1", b""])
def test_malformed_content_length_header_is_not_a_500(api: Api, length: bytes) -> None:
    """uvicorn refuses these itself; the app must not crash either when a server passes them on."""
    headers = {**{k: v.encode() for k, v in api.h().items()}, "content-type": b"application/json"}
    r = api.client.post(f"{CAT}/dataSets", headers={**headers, "content-length": length}, content=b"{}")
    assert_aep_error(r, f"{CAT}/dataSets", repr(length))
    assert r.status_code == 400
