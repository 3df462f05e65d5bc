"""The XCom keys are one public set of constants: stable values, and no key typed as a string elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from airflow_provider_aep import xcom_keys

PACKAGE = Path(xcom_keys.__file__).parent
# The values DAGs written before the constants existed pull: changing one breaks those DAGs.
PUBLISHED = {
    "CONNECTION_SPEC_ID": "connection_spec_id",
    "TABLE_NAME": "table_name",
    "COLUMNS": "columns",
    "META_ALT_ID": "meta_alt_id",
    "CLASS_ID": "class_id",
    "MAPPING_VERSION": "mapping_version",
    "FLOW_SPEC_VERSION": "flow_spec_version",
    "ETAG": "etag",
    "STATE": "state",
    "DELETED": "deleted",
    "TABLE": "table",
    "TENANT_ID": "tenant_id",
    "FIELDS": "fields",
    "MAPPING": "mapping",
    "COUNT": "count",
    "ALL_TABLES": "all_tables",
    "SOURCE_PROPERTY": "source_property",
    "NAMESPACE": "namespace",
    "CHANGED": "changed",
    "PLAN": "aep_plan",
    "RUN_ID": "run_id",
    "RUN_URL": "run_url",
    "RUN_SUMMARY": "run_summary",
    "UI_ORG": "aep_ui_org",
    "UI_SANDBOX": "aep_ui_sandbox",
}


def test_values_are_the_published_ones_and_all_lists_each_once() -> None:
    constants = {n: v for n, v in vars(xcom_keys).items() if n.isupper() and n != "ALL"}
    assert constants == PUBLISHED
    assert sorted(xcom_keys.ALL) == sorted(PUBLISHED.values())
    assert len(set(xcom_keys.ALL)) == len(xcom_keys.ALL)


def _literal_keys(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, key)`` of every XCom push/pull/XComArg in ``tree`` whose key is a string literal."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in {"xcom_push", "xcom_pull", "XComArg", "_xcom"}:
            continue
        keys = [kw.value for kw in node.keywords if kw.arg == "key"]
        if name == "xcom_push" and len(node.args) >= 2:  # the operators' xcom_push(context, key, value)
            keys.append(node.args[1] if isinstance(node.args[0], ast.Name) else node.args[0])
        elif name == "xcom_push" and node.args:
            keys.append(node.args[0])
        elif name == "_xcom" and len(node.args) >= 2:
            keys.append(node.args[1])
        found += [
            (node.lineno, k.value)
            for k in keys
            if isinstance(k, ast.Constant) and isinstance(k.value, str) and k.value != "return_value"
        ]
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for p in PACKAGE.rglob("*.py") if "emulator" not in p.parts),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_provider_code_pulls_and_pushes_through_the_constants(path: Path) -> None:
    assert _literal_keys(ast.parse(path.read_text(), str(path))) == []


def test_the_scan_finds_a_literal_key() -> None:
    code = (
        "ti.xcom_push(key='run_id', value=1)\n"
        "self.xcom_push(context, 'etag', e)\n"
        "XComArg(t, key='mapping_version')\n"
        "ti.xcom_push('return_value', 1)\n"
    )
    assert _literal_keys(ast.parse(code)) == [(1, "run_id"), (2, "etag"), (3, "mapping_version")]
