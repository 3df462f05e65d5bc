"""Every task class of the provider has one shape: AEPTaskMixin's connection id, sandbox, hook and colours."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, BaseOperator

import airflow_provider_aep
from airflow_provider_aep import task as task_module
from airflow_provider_aep import xcom_keys
from airflow_provider_aep.operators.delete import AEPDeleteResourceOperator
from airflow_provider_aep.operators.runs import AEPRunFlowOperator
from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator
from airflow_provider_aep.sensors.flow_run import AEPFlowRunSensor
from airflow_provider_aep.task import AEP_UI_COLOR, AEP_UI_FGCOLOR, AEPTaskMixin

PACKAGE = Path(airflow_provider_aep.__file__).parent
FLOW = "0b6e3c51-8f44-4bd4-a7d6-0e1c7d2b3f90"


def _task_classes() -> list[type[BaseOperator]]:
    """Every BaseOperator subclass defined in the provider (the emulator is not the provider)."""
    found: dict[str, type[BaseOperator]] = {}
    for info in pkgutil.walk_packages([str(PACKAGE)], "airflow_provider_aep."):
        if ".emulator" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseOperator)
                and obj.__module__.startswith("airflow_provider_aep.")
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


TASK_CLASSES = _task_classes()


def test_the_family_is_found() -> None:
    names = {c.__name__ for c in TASK_CLASSES}
    assert {
        "AEPRunFlowOperator",
        "AEPFlowRunSensor",
        "AEPCreateSchemaOperator",
        "AEPDeleteResourceOperator",
    } <= names
    assert {"AEPGetFlowSpecOperator", "AEPBaseOperator", "AEPCreateOperatorBase"} <= names
    assert len(TASK_CLASSES) >= 20


@pytest.mark.parametrize("cls", TASK_CLASSES, ids=lambda c: c.__name__)
def test_every_task_class_has_the_shared_shape(cls: type[BaseOperator]) -> None:
    mro = cls.__mro__
    assert issubclass(cls, AEPTaskMixin)
    # the mixin sits right before Airflow's base, so its attributes win over Airflow's defaults
    assert mro.index(AEPTaskMixin) < mro.index(BaseOperator)
    assert tuple(cls.template_fields[:2]) == ("aep_conn_id", "sandbox_name")
    assert (cls.ui_color, cls.ui_fgcolor) == (AEP_UI_COLOR, AEP_UI_FGCOLOR)
    # one hook: no class re-defines how it is built or cached
    for attr in ("hook", "make_hook", "ui_org_and_sandbox", "push_ui_context"):
        owners = [k for k in mro if attr in vars(k)]
        assert owners == [AEPTaskMixin], (attr, owners)
    # default_args reach the two fields: some wrapped __init__ of the chain names them
    inits = [vars(k)["__init__"] for k in mro if issubclass(k, BaseOperator) and "__init__" in vars(k)]
    names = {p for init in inits[:-1] for p in inspect.signature(init).parameters}  # [-1]: BaseOperator
    assert {"aep_conn_id", "sandbox_name"} <= names


@pytest.mark.parametrize("cls", TASK_CLASSES, ids=lambda c: c.__name__)
def test_every_task_class_builds_its_hook_in_the_one_place(
    cls: type[BaseOperator], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[dict[str, Any]] = []

    class FakeHook:
        def __init__(self, **kwargs: Any) -> None:
            built.append(kwargs)

    monkeypatch.setattr("airflow_provider_aep.hooks.aep.AdobeExperiencePlatformHook", FakeHook)
    task = cls.__new__(cls)  # no constructor: the hook depends on the two fields only
    vars(task).update(aep_conn_id="conn_x", sandbox_name="sb_x")
    first = task.hook  # type: ignore[attr-defined]
    assert isinstance(first, FakeHook) and task.hook is first  # type: ignore[attr-defined]
    assert built == [{"aep_conn_id": "conn_x", "sandbox_name": "sb_x"}]


def test_no_module_but_the_mixin_constructs_the_hook() -> None:
    builders = set()
    for path in PACKAGE.rglob("*.py"):
        if "emulator" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "AdobeExperiencePlatformHook":
                builders.add(path.relative_to(PACKAGE).as_posix())
    assert builders == {"task.py"}


def test_an_empty_sandbox_means_the_connection_s(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "airflow_provider_aep.hooks.aep.AdobeExperiencePlatformHook", lambda **kw: built.append(kw)
    )
    task = AEPFlowRunSensor(task_id="s", flow_id=FLOW, sandbox_name="")
    task.make_hook()
    assert built == [{"aep_conn_id": "aep_default", "sandbox_name": None}]


def _build(cls: type[BaseOperator], **kwargs: Any) -> Any:
    required = {
        AEPRunFlowOperator: {"flow_id": FLOW},
        AEPFlowRunSensor: {"flow_id": FLOW},
        AEPCreateSchemaOperator: {"title": "Accounts"},
        AEPDeleteResourceOperator: {"resource_type": "dataset", "resource_id": "5f0c1b2a3d4e5f6a7b8c9d0e"},
    }[cls]
    return cls(task_id="t", **required, **kwargs)


CONSTRUCTED = [AEPRunFlowOperator, AEPFlowRunSensor, AEPCreateSchemaOperator, AEPDeleteResourceOperator]


@pytest.mark.parametrize("cls", CONSTRUCTED, ids=lambda c: c.__name__)
def test_constructor_arguments_and_default_args_set_the_fields(cls: type[BaseOperator]) -> None:
    task = _build(cls, aep_conn_id="c1", sandbox_name="dev")
    assert (task.aep_conn_id, task.sandbox_name) == ("c1", "dev")
    assert (_build(cls).aep_conn_id, _build(cls).sandbox_name) == ("aep_default", None)
    dag_args = {"aep_conn_id": "from_defaults", "sandbox_name": "sb_defaults"}
    with DAG(
        "d2", schedule=None, default_args=dag_args, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)
    ):
        in_dag = _build(cls)
    assert (in_dag.aep_conn_id, in_dag.sandbox_name) == ("from_defaults", "sb_defaults")


@pytest.mark.parametrize("cls", CONSTRUCTED, ids=lambda c: c.__name__)
def test_the_fields_are_templated(cls: type[BaseOperator]) -> None:
    task = _build(cls, aep_conn_id="{{ params.conn }}", sandbox_name="{{ params.sandbox }}")
    context: Any = {"params": {"conn": "rendered_conn", "sandbox": "rendered_sb"}}
    task.render_template_fields(context)
    assert (task.aep_conn_id, task.sandbox_name) == ("rendered_conn", "rendered_sb")


class _TI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.mark.parametrize("cls", CONSTRUCTED, ids=lambda c: c.__name__)
def test_every_task_pushes_the_same_ui_context(
    cls: type[BaseOperator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_module.AEPTaskMixin, "ui_org_and_sandbox", lambda self: ("org@AdobeOrg", "dev"))
    ti = _TI()
    assert _build(cls).push_ui_context({"ti": ti}) == ("org@AdobeOrg", "dev")
    assert ti.xcom == {xcom_keys.UI_ORG: "org@AdobeOrg", xcom_keys.UI_SANDBOX: "dev"}
