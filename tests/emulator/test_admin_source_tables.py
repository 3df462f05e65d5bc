"""Admin API: adding source tables (``POST /_emulator/sources/{spec}/tables``), e.g. for the
100-table benchmark, and the tables showing up in explore."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import FS, SSC, Api

DATE_TIME = {"type": "string", "format": "date-time"}
COLUMNS = [
    {"name": "Id", "type": "string", "xdm": {"type": "string"}},
    {"name": "Updated", "type": "string", "meta:xdmType": "date-time", "xdm": DATE_TIME},
]


def _add(api: Api, body: dict[str, Any], spec: str = SSC) -> Any:
    return api.client.post(f"/_emulator/sources/{spec}/tables", json=body)


def test_clone_a_sample_table_and_explore_it(api: Api) -> None:
    for i in range(3):
        r = _add(api, {"name": f"Account_{i:03d}", "label": f"Account {i}", "copy_of": "Account"})
        assert r.status_code == 201 and r.json() == {"table": f"Account_{i:03d}", "rows": 200}, r.text
    base = api.base_connection()
    root = api.get(f"{FS}/connections/{base}/explore", params={"objectType": "root"}).json()
    assert {"name": "Account 1", "path": "Account_001"} in [{k: t[k] for k in ("name", "path")} for t in root]
    cols = api.get(
        f"{FS}/connections/{base}/explore", params={"objectType": "table", "object": "Account_002"}
    )
    original = api.get(
        f"{FS}/connections/{base}/explore", params={"objectType": "table", "object": "Account"}
    )
    assert cols.json() == original.json()
    assert api.source_connection(base, table="Account_002")
    # the clone is independent of the original
    api.client.post(f"/_emulator/sources/{SSC}/tables/Account_000/rows", json=[{"Id": "x"}])
    assert api.client.get("/_emulator/sources").json()[SSC]["Account"] == 200


def test_define_a_new_table(api: Api) -> None:
    rows = [{"Id": "a", "Updated": "2026-01-01 00:00:00"}]
    r = _add(
        api,
        {"name": "Widget__c", "label": "Widget", "columns": COLUMNS, "delta_column": "Updated", "rows": rows},
    )
    assert r.status_code == 201 and r.json()["rows"] == 1
    base = api.base_connection()
    cols = api.get(
        f"{FS}/connections/{base}/explore", params={"objectType": "table", "object": "Widget__c"}
    ).json()
    assert [c["name"] for c in cols["schema"]["columns"]] == ["Id", "Updated"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"name": "Account", "copy_of": "Case"}, 409, "already exists"),
        ({"name": "X", "copy_of": "Nope"}, 400, "copy_of"),
        ({"name": "", "copy_of": "Case"}, 400, "'name'"),
        ({"name": "X", "columns": [{"name": "Id"}], "delta_column": "Id"}, 400, "'columns'"),
        ({"name": "X", "columns": COLUMNS, "delta_column": "Nope"}, 400, "delta_column"),
        ({"name": "X", "columns": COLUMNS, "delta_column": "Id", "rows": [1]}, 400, "'rows'"),
    ],
    ids=["taken", "unknown-base", "no-name", "bad-columns", "bad-delta", "bad-rows"],
)
def test_add_table_validation(api: Api, body: dict[str, Any], status: int, fragment: str) -> None:
    r = _add(api, body)
    assert r.status_code == status and fragment in r.json()["detail"], r.text


def test_unknown_source_is_404(api: Api) -> None:
    assert (
        _add(
            api, {"name": "X", "copy_of": "Account"}, spec="00000000-0000-0000-0000-000000000000"
        ).status_code
        == 404
    )
