"""The example DAGs as a user meets them in the Airflow UI and in production, without running them.

For every DAG file in ``dags/``:

* its docs (``doc_md``) are Markdown: rendered with a CommonMark parser (the UI's react-markdown is
  CommonMark too), diagrams are code blocks and no reStructuredText construct is left;
* every param of the trigger form has a title and a description;
* it imports the provider's constants instead of re-declaring them (no spec ids, XDM ids...);
* it polls AEP at a realistic interval (the emulator-only speed-up lives in the provider, and never
  applies to a real AEP host);
* unpausing it queues few runs.
"""

from __future__ import annotations

import ast
import datetime
import re
import types
from pathlib import Path
from typing import Any

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_"))
#: Realistic poll interval against AEP (the sensor's documented default; the API is rate-limited).
MIN_POLL_SECONDS = 30.0
#: Most runs a fresh unpause may queue (one per data interval that has already ended).
MAX_RUNS_ON_UNPAUSE = 1
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _dag_of(path: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path), safe_mode=False)
    assert bag.import_errors == {}
    (dag,) = bag.dags.values()
    return dag


@pytest.fixture(scope="module")
def dags() -> dict[str, Any]:
    return {path.name: _dag_of(path) for path in DAG_FILES}


def test_every_dag_file_is_checked(dags: dict[str, Any]) -> None:
    assert len(dags) >= 6, sorted(dags)


# ----------------------------------------------------------------------------------------- docs


def _outside_fences(markdown: str) -> str:
    return re.sub(r"^```.*?^```[ \t]*$", "", markdown, flags=re.M | re.S)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_doc_md_is_markdown_without_rst(dags: dict[str, Any], path: Path) -> None:
    from markdown_it import MarkdownIt

    doc = dags[path.name].doc_md
    assert doc and doc.strip(), "the DAG has no docs"
    prose = _outside_fences(doc)
    problems = [
        line
        for line in prose.splitlines()
        if line.rstrip().endswith("::")  # an RST literal block: the UI shows a stray "::"
        or "``" in line  # RST inline literal
        or re.search(r":(?:param|mod|func|class|meth|data|attr|ref)[: ]", line)  # RST field / role
        or re.match(r"\s*\.\. \w", line)  # RST directive
    ]
    assert not problems, "reStructuredText in doc_md:\n" + "\n".join(problems)

    tokens = MarkdownIt("commonmark").parse(doc)
    code = "\n".join(t.content for t in tokens if t.type in ("fence", "code_block"))
    text = "\n".join(t.content for t in tokens if t.type == "inline")
    # Diagrams (box-drawing arrows) are code blocks, never reflowed into a paragraph.
    assert "─►" not in text and "┘" not in text, "a diagram outside a fenced code block"
    if "─►" in doc:
        assert "─►" in code
    # Markdown, not one long paragraph: the doc renders something structured (list, header, code).
    kinds = {t.type for t in tokens}
    assert kinds & {"bullet_list_open", "heading_open", "fence"}, kinds


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_docs_do_not_call_params_module_constants(dags: dict[str, Any], path: Path) -> None:
    doc = dags[path.name].doc_md
    assert "constants below" not in doc and "module constant" not in doc
    params = set(dags[path.name].params.keys())
    if "aep_conn_id" in params:  # the docs name the params that pick the AEP connection
        assert "aep_conn_id" in doc and "sandbox_name" in doc


# --------------------------------------------------------------------------------------- params


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_every_param_has_a_title_and_a_description(dags: dict[str, Any], path: Path) -> None:
    dag = dags[path.name]
    for name in dag.params:
        param = dag.params.get_param(name)
        title = param.schema.get("title")
        assert isinstance(title, str) and title.strip(), f"param {name!r} has no title"
        assert param.description and len(param.description) > 15, f"param {name!r}: {param.description!r}"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_aep_tasks_take_connection_and_sandbox_from_params(dags: dict[str, Any], path: Path) -> None:
    dag = dags[path.name]
    aep_tasks = [t for t in dag.tasks if hasattr(t, "aep_conn_id")]
    for task in aep_tasks:
        assert task.aep_conn_id == "{{ params.aep_conn_id }}", task.task_id
        assert task.sandbox_name == "{{ params.sandbox_name }}", task.task_id
    if aep_tasks:
        assert {"aep_conn_id", "sandbox_name"} <= set(dag.params.keys())
        assert dag.render_template_as_native_obj is True  # an empty sandbox renders to None


# ------------------------------------------------------------------------------------ constants


def _strings(node: ast.AST) -> list[str]:
    """Every string literal in *node* that is a value (dict keys are names, not values)."""
    keys = {id(key) for child in ast.walk(node) if isinstance(child, ast.Dict) for key in child.keys}
    return [
        child.value
        for child in ast.walk(node)
        if isinstance(child, ast.Constant) and isinstance(child.value, str) and id(child) not in keys
    ]


def _module_level_strings(source: str) -> set[str]:
    tree = ast.parse(source)
    values: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            values.update(_strings(stmt.value))
    return values


def _provider_constants() -> set[str]:
    """String values the provider declares at module level (spec ids, XDM ids, flow spec names...)."""
    import airflow_provider_aep

    package = Path(airflow_provider_aep.__file__).parent
    values: set[str] = set()
    for module in package.rglob("*.py"):
        if "emulator" in module.parts:
            continue
        values |= _module_level_strings(module.read_text())
    # Identifiers only: ids, URLs and names, not the words a message or a mapping also uses.
    return {
        v for v in values if UUID.fullmatch(v) or v.startswith("https://ns.adobe.com/") or v == "CRMToAEP"
    }


def test_the_provider_declares_the_constants_the_dags_need() -> None:
    constants = _provider_constants()
    assert "cb66ab34-8619-49cb-96d1-39b37ede86ea" in constants  # Salesforce Service Cloud spec
    assert "https://ns.adobe.com/xdm/context/profile" in constants
    assert "CRMToAEP" in constants


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_no_provider_constant_is_redeclared(path: Path) -> None:
    source = path.read_text()
    assert not UUID.search(source), f"{path.name} spells out a UUID: import it from the provider"
    assert "https://ns.adobe.com/" not in source, f"{path.name} spells out an XDM id: import it"
    redeclared = _module_level_strings(source) & _provider_constants()
    assert not redeclared, redeclared
    every_literal = set(_strings(ast.parse(source)))
    assert not every_literal & _provider_constants(), every_literal & _provider_constants()
    # XCom keys are the provider's constants too (xcom_keys), never retyped strings.
    literal_keys = [
        node.value.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.keyword)
        and node.arg == "key"
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    assert not literal_keys, (
        f"{path.name} retypes XCom keys {literal_keys}: use airflow_provider_aep.xcom_keys"
    )


# ------------------------------------------------------------------------------------ schedules


def _wait_intervals(dag: Any) -> dict[str, float]:
    intervals: dict[str, float] = {}
    for task in dag.tasks:
        if task.task_type == "AEPFlowRunSensor":
            intervals[task.task_id] = float(task.poke_interval)
        elif task.task_type == "AEPRunFlowOperator":
            intervals[task.task_id] = float(task.poll_interval)
    return intervals


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_waits_poll_aep_at_a_realistic_interval(dags: dict[str, Any], path: Path) -> None:
    intervals = _wait_intervals(dags[path.name])
    too_fast = {task: seconds for task, seconds in intervals.items() if seconds < MIN_POLL_SECONDS}
    assert not too_fast, f"AEP is rate-limited: poll every {MIN_POLL_SECONDS:g} s or more, not {too_fast}"


def test_waiting_dags_exist(dags: dict[str, Any]) -> None:
    """The interval check above looks at something: five DAGs wait for AEP runs."""
    waiting = [name for name, dag in dags.items() if _wait_intervals(dag)]
    assert len(waiting) >= 5, waiting


class _Waiter:
    """The wait mixin's settings check, alone (no operator): it only needs a logger."""

    def __init__(self) -> None:
        import logging

        from airflow_provider_aep.wait import FlowRunWaitMixin

        self.log = logging.getLogger("test")
        self.max_transient_errors = 10
        self.check = types.MethodType(FlowRunWaitMixin.check_wait_settings, self)


def _hook(url: str) -> Any:
    return types.SimpleNamespace(conn_settings=types.SimpleNamespace(gateway_url=url))


def test_emulator_poll_cap_applies_to_a_loopback_aep_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_aep.exceptions import AEPInputError
    from airflow_provider_aep.wait import EMULATOR_POLL_ENV

    waiter = _Waiter()
    monkeypatch.delenv(EMULATOR_POLL_ENV, raising=False)
    assert waiter.check(_hook("http://127.0.0.1:8080"), "poke_interval", 30) == 30
    monkeypatch.setenv(EMULATOR_POLL_ENV, "0.5")
    assert waiter.check(_hook("http://127.0.0.1:8080"), "poke_interval", 30) == 0.5
    assert waiter.check(_hook("http://localhost:9"), "poll_interval", 30.0) == 0.5
    # A cap, not a replacement: a wait that already polls faster keeps its interval.
    assert waiter.check(_hook("http://127.0.0.1:8080"), "poke_interval", 0.2) == 0.2
    # Never against AEP itself, whatever the environment says.
    assert waiter.check(_hook("https://platform.adobe.io"), "poke_interval", 30) == 30
    monkeypatch.setenv(EMULATOR_POLL_ENV, "0")
    with pytest.raises(AEPInputError, match=EMULATOR_POLL_ENV):
        waiter.check(_hook("http://127.0.0.1:8080"), "poke_interval", 30)


def _runs_queued_on_unpause(dag: Any, now: datetime.datetime) -> int:
    """How many runs the scheduler creates at once when the DAG is unpaused for the first time at *now*."""
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import TimeRestriction

    scheduled = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    restriction = TimeRestriction(
        earliest=scheduled.start_date, latest=scheduled.end_date, catchup=scheduled.catchup
    )
    last, runs = None, 0
    while runs < 10_000:
        info = scheduled.timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        if info is None or info.run_after > now:
            break
        runs += 1
        last = info.data_interval
    return runs


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_unpausing_queues_few_runs(dags: dict[str, Any], path: Path) -> None:
    dag = dags[path.name]
    now = datetime.datetime.now(datetime.timezone.utc)
    assert _runs_queued_on_unpause(dag, now) <= MAX_RUNS_ON_UNPAUSE


def test_the_unpause_count_sees_a_catch_up(dags: dict[str, Any]) -> None:
    """The count above is real: the on-demand DAG with catch-up on would queue a run per past day."""
    dag = dags["aep_on_demand_ingestion.py"]
    assert dag.doc_md and "catchup" in dag.doc_md  # the docs say what unpausing does
    original = dag.catchup
    try:
        dag.catchup = True
        days = (datetime.datetime.now(datetime.timezone.utc) - dag.start_date).days
        assert _runs_queued_on_unpause(dag, datetime.datetime.now(datetime.timezone.utc)) >= days - 1
    finally:
        dag.catchup = original


def test_chain_teardown_names_the_missing_tasks() -> None:
    """The shared teardown of the ingestion DAGs fails at parse time, naming the tasks it needs."""
    from airflow.sdk import DAG

    from airflow_provider_aep.exceptions import AEPInputError
    from airflow_provider_aep.operators.connections import AEPCreateBaseConnectionOperator
    from airflow_provider_aep.operators.delete import delete_ingestion_on_teardown

    with DAG(dag_id="teardown_without_chain", schedule=None) as dag:
        AEPCreateBaseConnectionOperator(
            task_id="create_base_connection", name="x base", source="generic_odata", source_conn_id="odata"
        )
        with pytest.raises(AEPInputError, match=r"create_dataflow.*create_dataset") as caught:
            delete_ingestion_on_teardown(dag, after="wait_for_first_run")
    assert "wait_for_first_run" in str(caught.value) and "create_base_connection" not in str(caught.value)
