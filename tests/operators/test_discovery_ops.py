"""Discovery operators against the emulator: list a source's tables, read one table's columns."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators.connections import AEPCreateBaseConnectionOperator
from airflow_provider_aep.operators.discovery import (
    AEPGetTableColumnsOperator,
    AEPListSourceTablesOperator,
    select_tables,
)
from tests.operators.conftest import api_requests

TABLES = [
    {"name": "Accepted Event Relation", "path": "AcceptedEventRelation"},
    {"name": "Account", "path": "Account"},
    {"name": "Case", "path": "Case"},
    {"name": "Contact", "path": "Contact"},
]


@pytest.fixture
def base(aep: Any, run_op: Any) -> str:
    base_id, _ = run_op(
        AEPCreateBaseConnectionOperator(task_id="b", name="disc-ssc", source_conn_id="ssc_basic")
    )
    return str(base_id)


@pytest.mark.parametrize(
    ("include", "exclude", "paths"),
    [
        (None, None, ["AcceptedEventRelation", "Account", "Case", "Contact"]),
        ("Ac*", None, ["AcceptedEventRelation", "Account"]),
        (["account", "case"], None, ["Account", "Case"]),  # case-insensitive, whole name
        ("Accepted Event*", None, ["AcceptedEventRelation"]),  # the label matches too
        ("re:^C(ase|ontact)$", None, ["Case", "Contact"]),
        (None, ["re:.*Relation", "Case"], ["Account", "Contact"]),
        ("C*", "Contact", ["Case"]),  # exclude wins
        ("Acc", None, []),  # globs match whole names
    ],
)
def test_select_tables(include: Any, exclude: Any, paths: list[str]) -> None:
    assert [t["path"] for t in select_tables(list(reversed(TABLES)), include, exclude)] == paths


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"include": "re:("}, "include"),
        ({"exclude": [""]}, "exclude[0]"),
        ({"include": 3}, "include"),
        ({"base_connection_id": "not-a-uuid"}, "base_connection_id"),
    ],
)
def test_bad_inputs_fail_at_parse_time(kwargs: dict[str, Any], field: str) -> None:
    args = {"base_connection_id": "0b7b1b1e-1111-4a4a-8b8b-123456789abc", **kwargs}
    with pytest.raises(AEPInputError) as err:
        AEPListSourceTablesOperator(task_id="t", **args)
    assert err.value.field == field


def test_lists_the_sample_tables(aep: Any, base: str, run_op: Any) -> None:
    tables, x = run_op(AEPListSourceTablesOperator(task_id="t", base_connection_id=base))
    assert tables and all(set(t) == {"name", "path"} for t in tables)
    assert [t["path"] for t in tables] == sorted(t["path"] for t in tables)
    assert {"Account", "Contact", "Case"} <= {t["path"] for t in tables}
    assert x["count"] == len(tables) == x["all_tables"]
    paths, x = run_op(
        AEPListSourceTablesOperator(task_id="t", base_connection_id=base, include="c*", return_paths=True)
    )
    assert "Contact" in paths and "Case" in paths and "Account" not in paths
    assert x["count"] == len(paths) < x["all_tables"]


def test_nothing_selected_fails_with_the_table_list(aep: Any, base: str, run_op: Any) -> None:
    with pytest.raises(AEPInputError, match=r"no table .* matches.*Account"):
        run_op(AEPListSourceTablesOperator(task_id="t", base_connection_id=base, include="Nope*"))
    tables, _ = run_op(
        AEPListSourceTablesOperator(task_id="t", base_connection_id=base, include="Nope*", allow_empty=True)
    )
    assert tables == []


def test_reads_columns_with_xdm_types(aep: Any, base: str, run_op: Any) -> None:
    aep.clear_requests()
    cols, x = run_op(
        AEPGetTableColumnsOperator(
            task_id="c", base_connection_id=base, table={"path": "Account", "name": "Account"}
        )
    )
    by_name = {c["name"]: c for c in cols}
    assert by_name["Id"]["xdmType"] == "string" and by_name["Id"]["field"] == "Id"
    assert by_name["LastModifiedDate"]["xdmType"] == "date-time"
    assert x["table"] == "Account" and [c["name"] for c in x["columns"]] == [c["name"] for c in cols]
    assert all(r["method"] == "GET" for r in api_requests(aep))


def test_unknown_table_names_the_tables(aep: Any, base: str, run_op: Any) -> None:
    with pytest.raises(AEPInputError, match=r"'Nope' is not a table .*Account"):
        run_op(AEPGetTableColumnsOperator(task_id="c", base_connection_id=base, table="Nope"))


def test_new_operator_modules_import_light() -> None:
    """Importing them at DAG-parse time loads no hook, HTTP client or non-provider module."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from airflow.sdk import BaseOperator, BaseOperatorLink\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_aep.operators.discovery, airflow_provider_aep.operators.field_groups\n"
        "import airflow_provider_aep.operators.profile, airflow_provider_aep.xdm_types\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    added = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own printed list
    assert all(name.startswith("airflow_provider_aep") for name in added), added
    assert "airflow_provider_aep.hooks.aep" not in added


def test_plan_before_the_base_connection_exists_lists_nothing(aep: Any, run_op: Any) -> None:
    op = AEPListSourceTablesOperator(task_id="t", base_connection_id="{{ base }}", plan_only=True)
    op.base_connection_id = "(known after create)"
    aep.clear_requests()
    tables, x = run_op(op)
    assert tables == [] and x["aep_plan"][0]["action"] == "unknown"
    assert api_requests(aep) == []
