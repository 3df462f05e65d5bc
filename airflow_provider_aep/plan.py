"""Plan a whole DAG against a sandbox: what a run would do to each AEP resource, with zero writes.

``python -m airflow_provider_aep.plan <dag_id> [--dags-folder dags/] [--conf '{"interval": 4}']``

Every task runs in this process in dependency order with ``plan_only`` set, so each AEP operator
only sends GETs (plus the IMS token request) and reports ``create``, ``unchanged``, ``update``
(with the field-level diff) or ``conflict``; ids of resources that do not exist yet flow
downstream as ``(known after create)``. No Airflow metadata database is used (XComs are kept in
memory) and nothing is written to AEP. The exit status is 1 when a resource is in conflict.

Connections come from the usual Airflow sources (``AIRFLOW_CONN_*`` variables, secrets backends).
Mapped tasks are reported, not expanded; plan them with the ``plan_only`` DAG param.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.operators._converge import UNKNOWN

_NOTSET: Any = object()


class _PlanTI:
    """The bits of a task instance that templates, XComArgs and operators use, in memory."""

    def __init__(self, store: dict[tuple[str, str], Any], dag_id: str, task_id: str) -> None:
        self._store = store
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = "plan"
        self.map_index = -1
        self.try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        self._store[(self.task_id, key)] = value

    def xcom_pull(
        self,
        task_ids: str | list[str] | None = None,
        key: str = "return_value",
        default: Any = None,
        **_: Any,
    ) -> Any:
        if isinstance(task_ids, (list, tuple)):
            return [self._store.get((t, key), None) for t in task_ids]
        value = self._store.get((task_ids or self.task_id, key), _NOTSET)
        if value is _NOTSET:
            return default
        return value


@dataclass
class TaskPlan:
    """What one task would do."""

    task_id: str
    state: str  # planned | skipped | mapped | failed
    records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _topological(dag: Any) -> Iterator[Any]:
    done: set[str] = set()
    tasks = dict(dag.task_dict)
    while tasks:
        ready = [t for tid, t in tasks.items() if set(t.upstream_task_ids) <= done]
        if not ready:  # pragma: no cover - a DAG is acyclic
            raise RuntimeError("cycle in the DAG")
        for task in sorted(ready, key=lambda t: t.task_id):
            done.add(task.task_id)
            del tasks[task.task_id]
            yield task


def _params(dag: Any, conf: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in dag.params:
        params[key] = dag.params[key]
    params.update(conf)
    params["plan_only"] = True
    return params


def plan_dag(dag: Any, conf: Mapping[str, Any] | None = None) -> list[TaskPlan]:
    """Run every task of *dag* in plan mode, in dependency order; return what each would do."""
    from airflow.sdk.exceptions import AirflowSkipException

    conf = {**(conf or {}), "plan_only": True}
    params = _params(dag, conf)
    store: dict[tuple[str, str], Any] = {}
    dag_run = SimpleNamespace(
        conf=dict(conf), run_id="plan", data_interval_start=None, data_interval_end=None, logical_date=None
    )
    env = dag.get_template_env()
    out: list[TaskPlan] = []
    for original in _topological(dag):
        if getattr(original, "is_mapped", False) or type(original).__name__ == "MappedOperator":
            out.append(TaskPlan(original.task_id, "mapped", error="mapped task: plan it with plan_only"))
            continue
        task = copy.deepcopy(original)
        ti = _PlanTI(store, dag.dag_id, task.task_id)
        context: dict[str, Any] = {
            "params": params,
            "dag_run": dag_run,
            "ti": ti,
            "task_instance": ti,
            "task": task,
            "dag": dag,
            "run_id": "plan",
            "logical_date": None,
            "data_interval_start": None,
            "data_interval_end": None,
            "conf": None,
            "var": {"value": SimpleNamespace(), "json": SimpleNamespace()},
        }
        try:
            hook = getattr(task, "_pre_execute_hook", None)
            if hook is not None:
                hook(context)
            task.render_template_fields(context, jinja_env=env)
            result = task.execute(context)
        except AirflowSkipException as exc:
            out.append(TaskPlan(task.task_id, "skipped", error=str(exc)))
            continue
        except Exception as exc:
            out.append(TaskPlan(task.task_id, "failed", error=f"{type(exc).__name__}: {exc}"))
            ti.xcom_push("return_value", UNKNOWN)
            continue
        ti.xcom_push("return_value", result)
        records = store.get((task.task_id, xcom_keys.PLAN)) or []
        out.append(TaskPlan(task.task_id, "planned", list(records)))
    return out


def render(plans: list[TaskPlan]) -> str:
    """The human-readable plan: one block per resource, changes indented."""
    lines: list[str] = []
    for plan in plans:
        if plan.state != "planned":
            lines.append(f"{plan.task_id}: {plan.state}" + (f" ({plan.error})" if plan.error else ""))
            continue
        if not plan.records:
            lines.append(f"{plan.task_id}: no AEP change")
        for rec in plan.records:
            head = f"{plan.task_id}: {rec['action'].upper()} {rec['kind']} {rec['name']!r} (id {rec['id']})"
            if rec.get("detail"):
                head += f": {rec['detail']}"
            lines.append(head)
            for change in rec.get("changes") or []:
                mark = "!" if change.get("refused") else "~"
                have, want = json.dumps(change["have"]), json.dumps(change["want"])
                text = f"    {mark} {change['field']}: {have} -> {want}"
                if change.get("note"):
                    text += f" ({change['note']})"
                if change.get("refused"):
                    text += f" refused: {change['refused']}. Fix: {change.get('fix')}"
                lines.append(text)
    return "\n".join(lines)


def has_conflict(plans: list[TaskPlan]) -> bool:
    """True when a resource would be refused (or a task failed to plan)."""
    return any(p.state == "failed" or any(r.get("action") == "conflict" for r in p.records) for p in plans)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_aep.plan",
        description="Show what a run of a DAG would change in AEP (GETs only, nothing is written).",
    )
    parser.add_argument("dag_id")
    parser.add_argument("--dags-folder", default="dags", help="folder with the DAG files (default: dags)")
    parser.add_argument("--conf", default="{}", help="DAG run conf as JSON, as for a trigger")
    parser.add_argument("--json", action="store_true", help="print the plan records as JSON")
    args = parser.parse_args(argv)
    try:
        conf = json.loads(args.conf)
    except ValueError as exc:
        parser.error(f"--conf is not JSON: {exc}")
    if not isinstance(conf, dict):
        parser.error("--conf must be a JSON object")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=args.dags_folder, safe_mode=False)
    dag = bag.dags.get(args.dag_id)
    if dag is None:
        print(f"no DAG {args.dag_id!r} in {args.dags_folder} ({sorted(bag.dags)})", file=sys.stderr)
        return 2
    plans = plan_dag(dag, conf)
    if args.json:
        print(json.dumps([p.__dict__ for p in plans], indent=2, default=str))
    else:
        print(render(plans))
    return 1 if has_conflict(plans) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
