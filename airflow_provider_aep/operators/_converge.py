"""Day-2 convergence of an existing AEP resource: field-level diff, policies and plan mode.

The create operators find their resource by name (see :mod:`.base`). When it exists, the
``if_exists`` policy decides what happens, based on a :class:`Diff` between what AEP has and what
the task declares:

* ``"converge"`` (default): refused changes (those AEP forbids in place) fail before any write,
  one line per field with the value AEP has, the value the DAG wants and the fix; otherwise the
  allowed changes are written in place (PATCH/PUT) and the resource keeps its id.
* ``"reuse"``: nothing is written; an incompatible resource fails as before, any other drift is
  logged as a field-level diff.
* ``"fail"``: fail when the resource exists.
* ``"replace"``: the only policy that deletes; it logs what is lost first.

In plan mode (``plan_only``), nothing is written at all: the operator reports what a run would
do (``create``, ``unchanged``, ``update`` with the diff, ``conflict``) and returns
:data:`UNKNOWN` for ids that do not exist yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_aep import xcom_keys

#: Stands for an id (or any value) that only exists once the resource has been created.
UNKNOWN = "(known after create)"
#: XCom key under which every AEP operator pushes its plan record(s) in plan mode.
PLAN_XCOM_KEY = xcom_keys.PLAN  # the old name of the key, kept for code that imports it
#: Shown instead of a secret value (secrets are write-only in AEP and never compared).
WRITE_ONLY = "(write-only secret)"


def show(value: Any) -> str:
    """Compact, stable rendering of a value in a diff line."""
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):  # pragma: no cover - defensive
        return repr(value)


@dataclass(frozen=True)
class Change:
    """One field that differs between AEP and the DAG.

    :param field: dotted path of the field (``scheduleParams.interval``).
    :param have: the value AEP has (:data:`WRITE_ONLY` for secrets).
    :param want: the value the DAG declares.
    :param refused: the AEP rule when the change cannot be made in place (``None`` = allowed).
    :param fix: how to get there when refused.
    :param note: extra information for an allowed change (e.g. "new mapping-set version").
    """

    field: str
    have: Any
    want: Any
    refused: str | None = None
    fix: str | None = None
    note: str | None = None

    def line(self) -> str:
        """``field: AEP has X, the DAG wants Y`` (plus the rule and fix when refused)."""
        text = f"{self.field}: AEP has {show(self.have)}, the DAG wants {show(self.want)}"
        if self.note:
            text += f" ({self.note})"
        if self.refused:
            text += f" — refused: {self.refused}"
            if self.fix:
                text += f". Fix: {self.fix}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the plan XCom."""
        out: dict[str, Any] = {"field": self.field, "have": self.have, "want": self.want}
        if self.refused:
            out["refused"] = self.refused
            out["fix"] = self.fix
        if self.note:
            out["note"] = self.note
        return json.loads(json.dumps(out, default=str))


@dataclass
class Diff:
    """Field-level difference of one resource."""

    changes: list[Change] = field(default_factory=list)

    def add(
        self,
        name: str,
        have: Any,
        want: Any,
        *,
        refused: str | None = None,
        fix: str | None = None,
        note: str | None = None,
    ) -> None:
        """Record a change when *have* != *want*."""
        if have != want:
            self.changes.append(Change(name, have, want, refused, fix, note))

    @property
    def updates(self) -> list[Change]:
        """Changes AEP allows in place."""
        return [c for c in self.changes if not c.refused]

    @property
    def refusals(self) -> list[Change]:
        """Changes AEP forbids in place."""
        return [c for c in self.changes if c.refused]

    def render(self, indent: str = "  ") -> str:
        """One line per change (``~`` allowed, ``!`` refused)."""
        return "\n".join(f"{indent}{'!' if c.refused else '~'} {c.line()}" for c in self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)


@dataclass
class PlanRecord:
    """What a run would do to one resource (the plan XCom holds a list of these as dicts)."""

    kind: str
    name: str
    action: str  # create | unchanged | update | conflict | delete | replace | run | wait | unknown
    id: str = UNKNOWN
    changes: list[Change] = field(default_factory=list)
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "id": self.id,
            "changes": [c.as_dict() for c in self.changes],
        }
        if self.detail:
            out["detail"] = self.detail
        return out

    def render(self) -> str:
        """Human-readable block: header line then one line per change."""
        head = f"{self.action.upper():<9} {self.kind} {self.name!r} (id {self.id})"
        if self.detail:
            head += f": {self.detail}"
        lines = [head] + [f"    {'!' if c.refused else '~'} {c.line()}" for c in self.changes]
        return "\n".join(lines)


def is_unknown(value: Any) -> bool:
    """True if *value* is (or contains) :data:`UNKNOWN`."""
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return False


def plan_requested(context: Mapping[str, Any] | None, own: Any = None) -> bool:
    """Whether this task runs in plan mode: the operator's ``plan_only`` or the DAG param/conf."""
    if own is not None and not (isinstance(own, str) and "{{" in own):
        return _truthy(own)
    if not context:
        return False
    params = context.get("params") or {}
    if isinstance(params, Mapping) and "plan_only" in params:
        return _truthy(params.get("plan_only"))
    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None)
    if isinstance(conf, Mapping) and "plan_only" in conf:
        return _truthy(conf.get("plan_only"))
    return False


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


#: What ``if_exists="replace"`` loses, per resource kind (logged before the delete).
LOSSES: dict[str, str] = {
    "dataflow": "its run history and delta watermark; the new flow starts from scratch and, with "
    "backfill=true, ingests every source row again (duplicates in the dataset)",
    "base connection": "its id; every source connection and flow using it must be recreated "
    "(AEP refuses the delete while flows use it, 1418-400)",
    "source connection": "its id; flows using it must be recreated (refused while used, 1418-400)",
    "target connection": "its id; flows using it must be recreated (refused while used, 1418-400)",
    "dataset": "every batch and record ingested into it",
    "schema": "its id; datasets using it must be recreated (refused while used)",
    "dataset base connection": "its id; target connections using it must be recreated",
}


def refusal_message(kind: str, name: str, resource_id: str, diff: Diff) -> str:
    """One line naming each refused field, both values, the AEP rule and the fix."""
    parts = "; ".join(c.line() for c in diff.refusals)
    return f"{kind} {name!r} (id {resource_id}) cannot be converged in place, nothing was written: {parts}"


ApplyFn = Callable[[dict[str, Any], Diff], dict[str, Any]]
DiffFn = Callable[[dict[str, Any]], Diff]
