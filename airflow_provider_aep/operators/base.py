"""Shared base of the AEP operators: hook access, XCom helpers and idempotent create-or-reuse.

Identity is the resource *name* (the title for schemas and classes). Before creating, an operator
looks the name up; ``if_exists`` decides what happens when it exists (details and plan mode in
:mod:`._converge`):

* ``"converge"`` (default): bring the existing resource in line with the task by the smallest
  change AEP allows in place (PATCH/PUT, same id); a change AEP forbids fails before any write.
* ``"reuse"``: check the existing resource is compatible with the request and return its id
  (logged as "reused", with any drift logged as a diff); an incompatible one fails with
  :class:`AEPResourceConflictError`.
* ``"fail"``: raise :class:`AEPResourceExistsError`.
* ``"replace"``: log what is lost, delete it, then create a new one.

A create whose answer was lost (:class:`~airflow_provider_aep.exceptions.AEPResponseLostError`)
is never re-sent: the name is looked up again, with back-off for the late-commit window (a gateway
504 can still commit), and the committed resource's id is returned; only if nothing was committed
within the window is the error re-raised.

AEP keeps no name unique, so concurrent runs of one declaration can create twins. When the operator
passes ``find_all``, a create is followed by a twin check: every racer keeps the oldest (creation
time, then id), and a racer whose copy lost deletes it and adopts the winner (see
:mod:`~airflow_provider_aep.operators._twins`). A lookup that finds several uses the oldest and
logs the others.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPError,
    AEPInputError,
    AEPNotFoundError,
    AEPResourceConflictError,  # re-exported: it lived here before exceptions.py held the family
    AEPResourceExistsError,
    AEPResponseLostError,
)
from airflow_provider_aep.links import XCOM_UI_ORG, XCOM_UI_SANDBOX
from airflow_provider_aep.operators._converge import (
    LOSSES,
    UNKNOWN,
    WRITE_ONLY,
    ApplyFn,
    Diff,
    DiffFn,
    PlanRecord,
    is_unknown,
    plan_requested,
    refusal_message,
)
from airflow_provider_aep.operators._twins import is_name_taken, oldest_first, poll_for_commit
from airflow_provider_aep.task import AEP_TEMPLATE_FIELDS, AEPTaskMixin
from airflow_provider_aep.validation import IF_EXISTS_CHOICES, check_enum, is_templated

if TYPE_CHECKING:
    from airflow.sdk import Context


__all__ = [
    "XCOM_UI_ORG",
    "XCOM_UI_SANDBOX",
    "AEPBaseOperator",
    "AEPCreateOperatorBase",
    "AEPResourceConflictError",
    "AEPResourceExistsError",
    "Outcome",
]


@dataclass
class Outcome:
    """Result of :meth:`AEPBaseOperator.ensure`."""

    id: str
    action: str  # "created" | "reused" | "updated" | "recovered" | "replaced" | "planned" | "adopted"
    resource: dict[str, Any]


def _plan_aware(execute: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an operator's ``execute``: decide plan mode, short-cut unknown inputs, push the plan."""

    @functools.wraps(execute)
    def wrapper(self: AEPBaseOperator, context: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_in_plan_wrapper", False):  # super().execute() of a subclass
            return execute(self, context, *args, **kwargs)
        self._plan_only = plan_requested(context, getattr(self, "plan_only", None))
        self._plan_records = []
        if not self._plan_only:
            return execute(self, context, *args, **kwargs)
        self._in_plan_wrapper = True
        try:
            unknown = [f for f in self.template_fields if is_unknown(getattr(self, f, None))]
            if unknown:
                result = self.plan_with_unknown_inputs(context, unknown)
            else:
                result = execute(self, context, *args, **kwargs)
        finally:
            self._in_plan_wrapper = False
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is not None:
            ti.xcom_push(key=xcom_keys.PLAN, value=[r.as_dict() for r in self._plan_records])
        return result

    wrapper.__aep_plan_aware__ = True  # type: ignore[attr-defined]
    return wrapper


class AEPBaseOperator(AEPTaskMixin, BaseOperator):
    """Base class of the AEP operators that create, look up or change resources: the shared task
    parts of :class:`~airflow_provider_aep.task.AEPTaskMixin`, plus plan mode.

    :param aep_conn_id: Airflow connection of type ``adobe_experience_platform``.
    :param sandbox_name: sandbox to work in; default: the connection's ``sandbox_name`` extra.
    :param plan_only: ``True``: only report what a run would do (GETs only); default: the DAG's
        ``plan_only`` param.
    """

    template_fields: Sequence[str] = AEP_TEMPLATE_FIELDS

    #: XCom keys besides ``return_value`` (pushed as :data:`UNKNOWN` when planning unknown inputs).
    plan_xcom_keys: Sequence[str] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        execute = cls.__dict__.get("execute")
        if execute is not None and not getattr(execute, "__aep_plan_aware__", False):
            cls.execute = _plan_aware(execute)  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        aep_conn_id: str = "aep_default",
        sandbox_name: str | None = None,
        plan_only: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(aep_conn_id=aep_conn_id, sandbox_name=sandbox_name, **kwargs)
        #: ``True``: only report what a run would do (GETs only); ``None``: the DAG's ``plan_only`` param.
        self.plan_only = plan_only
        self._plan_only = False
        self._plan_records: list[PlanRecord] = []

    # ----------------------------------------------------------------- plan mode
    def plan(self, record: PlanRecord) -> None:
        """Record and log what a run would do to one resource (plan mode only)."""
        self._plan_records.append(record)
        self.log.info("PLAN %s", record.render())

    def plan_write(self, kind: str, name: str, action: str, resource_id: str, detail: str) -> bool:
        """In plan mode, record a write this task would make and return ``True`` (skip it)."""
        if not self._plan_only:
            return False
        self.plan(PlanRecord(kind, name, action, resource_id, detail=detail))
        return True

    def plan_with_unknown_inputs(self, context: Context, fields: list[str]) -> Any:
        """Plan mode when an input is only known after an upstream create (no request is sent)."""
        self.plan(
            PlanRecord(
                type(self).__name__,
                self.task_id,
                "unknown",
                detail=f"inputs {fields} are {UNKNOWN}",
            )
        )
        for key in self.plan_xcom_keys:
            self.xcom_push(context, key, UNKNOWN)
        return UNKNOWN

    def has_templated_values(self) -> bool:
        """True while any templated field still holds a Jinja string or an XComArg.

        Used to decide whether ``__init__`` can validate (static values) or must leave it to
        ``execute()`` (after rendering).
        """
        return any(is_templated(getattr(self, f, None)) for f in self.template_fields)


class AEPCreateOperatorBase(AEPBaseOperator):
    """Base of the create operators: ``if_exists`` handling and lost-answer recovery.

    :param if_exists: ``"converge"`` (default), ``"reuse"``, ``"fail"`` or ``"replace"`` when a
        resource with the same name already exists.
    """

    template_fields: Sequence[str] = (*AEPBaseOperator.template_fields, "if_exists")
    #: Whether "replace" is possible for this resource kind.
    supports_replace = True
    #: Resource kind shown in logs and plans.
    resource_kind = "resource"

    def __init__(self, *, if_exists: str = "converge", **kwargs: Any):
        super().__init__(**kwargs)
        self.if_exists = if_exists
        if not is_templated(if_exists):
            self.check_if_exists()

    def check_if_exists(self) -> str:
        """Validate ``if_exists``."""
        value = check_enum("if_exists", self.if_exists, IF_EXISTS_CHOICES)
        if value == "replace" and not self.supports_replace:
            raise AEPInputError(
                "if_exists", f"'replace' is not supported by {type(self).__name__}.", "Use 'reuse' or 'fail'."
            )
        return value

    def plan_lookup(self) -> tuple[str, Callable[[], dict[str, Any] | None]] | None:
        """``(name, find)`` of this task's resource for plans with unknown inputs (``None``: n/a)."""
        return None

    def plan_with_unknown_inputs(self, context: Context, fields: list[str]) -> Any:
        """Plan mode with upstream ids still unknown: look the name up (GET) and report."""
        lookup = self.plan_lookup()
        if lookup is None:
            return super().plan_with_unknown_inputs(context, fields)
        name, find = lookup
        existing = find()
        result = UNKNOWN
        if existing is None:
            self.plan(PlanRecord(self.resource_kind, name, "create", detail=f"inputs {fields} {UNKNOWN}"))
        else:
            rid = str(existing.get("id") or existing.get("$id") or UNKNOWN)
            self.plan(
                PlanRecord(
                    self.resource_kind,
                    name,
                    "unknown",
                    rid,
                    detail=f"exists, but inputs {fields} are {UNKNOWN}: it will be compared with "
                    "them once they exist",
                )
            )
            result = rid
        for key in self.plan_xcom_keys:
            self.xcom_push(context, key, UNKNOWN)
        return result

    def _handle_existing(
        self,
        *,
        kind: str,
        name: str,
        existing: dict[str, Any],
        existing_id: str,
        if_exists: str,
        mismatch: Callable[[dict[str, Any]], str | None] | None,
        diff: DiffFn | None,
        apply: ApplyFn | None,
        delete: Callable[[str], None] | None,
    ) -> Outcome | None:
        """The existing-resource branch of :meth:`ensure`; ``None`` = deleted, create it anew."""
        if if_exists == "fail":
            raise AEPResourceExistsError(
                f"{kind} {name!r} already exists (id {existing_id}) and if_exists='fail'. "
                "Fix: choose another name, or use if_exists='converge', 'reuse' or 'replace'."
            )
        if if_exists == "replace":
            if delete is None:  # pragma: no cover - guarded by supports_replace
                raise AEPInputError("if_exists", f"'replace' is not supported for {kind}.", "Use 'converge'.")
            found = diff(existing) if diff else Diff()
            if found:
                self.log.info(
                    "%s %r (id=%s) differs from the DAG:\n%s", kind, name, existing_id, found.render()
                )
            self.log.warning(
                "if_exists='replace': deleting %s %r (id=%s). Lost: %s.",
                kind,
                name,
                existing_id,
                LOSSES.get(kind, "its id and everything that refers to it"),
            )
            delete(existing_id)
            return None
        if if_exists == "reuse" or diff is None:
            problem = mismatch(existing) if mismatch else None
            if problem:
                raise AEPResourceConflictError(
                    f"{kind} {name!r} already exists (id {existing_id}) but {problem}. Fix: choose "
                    "another name, or use if_exists='replace' to delete and recreate it."
                )
            drift = diff(existing) if diff else Diff()
            # write-only secrets are re-sent by converge, never compared: not drift
            drift = Diff([c for c in drift.changes if c.have != WRITE_ONLY])
            if drift:
                self.log.warning(
                    "%s %r (id=%s) differs from the DAG; if_exists='reuse' leaves it as is:\n%s",
                    kind,
                    name,
                    existing_id,
                    drift.render(),
                )
            self.log.info("Reused existing %s %r: id=%s", kind, name, existing_id)
            return Outcome(existing_id, "reused", existing)
        # converge
        found = diff(existing)
        if found.refusals:
            self.log.error("%s %r (id=%s) differs from the DAG:\n%s", kind, name, existing_id, found.render())
            raise AEPResourceConflictError(
                refusal_message(kind, name, existing_id, found)
                + ". Or use if_exists='replace' (deletes it) or another name."
            )
        if not found:
            self.log.info("Reused existing %s %r: id=%s (unchanged)", kind, name, existing_id)
            return Outcome(existing_id, "reused", existing)
        self.log.info("Converging %s %r (id=%s) in place:\n%s", kind, name, existing_id, found.render())
        assert apply is not None
        resource = apply(existing, found)
        self.log.info("Reused existing %s %r: id=%s (updated in place)", kind, name, existing_id)
        return Outcome(existing_id, "updated", {**existing, **resource})

    def _plan_existing(
        self,
        kind: str,
        name: str,
        existing: dict[str, Any] | None,
        id_of: Callable[[dict[str, Any]], str],
        if_exists: str,
        mismatch: Callable[[dict[str, Any]], str | None] | None,
        diff: DiffFn | None,
    ) -> Outcome:
        """Plan mode: report what :meth:`ensure` would do, with GETs only."""
        if existing is None:
            self.plan(PlanRecord(kind, name, "create"))
            return Outcome(UNKNOWN, "planned", {})
        rid = id_of(existing)
        found = diff(existing) if diff else Diff()
        problem = mismatch(existing) if mismatch and (diff is None or if_exists == "reuse") else None
        if if_exists == "fail":
            record = PlanRecord(kind, name, "conflict", rid, found.changes, "exists and if_exists='fail'")
        elif if_exists == "replace":
            record = PlanRecord(
                kind,
                name,
                "replace",
                rid,
                found.changes,
                "deleted and recreated; lost: " + LOSSES.get(kind, "its id"),
            )
        elif problem:
            record = PlanRecord(kind, name, "conflict", rid, found.changes, problem)
        elif if_exists == "reuse":
            record = PlanRecord(
                kind, name, "unchanged", rid, found.changes, "reuse leaves drift as is" if found else None
            )
        elif found.refusals:
            record = PlanRecord(kind, name, "conflict", rid, found.changes, "AEP forbids these in place")
        elif found:
            record = PlanRecord(kind, name, "update", rid, found.changes)
        else:
            record = PlanRecord(kind, name, "unchanged", rid)
        self.plan(record)
        return Outcome(rid, "planned", existing)

    def ensure(
        self,
        *,
        kind: str,
        name: str,
        find: Callable[[], dict[str, Any] | None],
        create: Callable[[], dict[str, Any] | Outcome],
        id_of: Callable[[dict[str, Any]], str] = lambda r: str(r["id"]),
        mismatch: Callable[[dict[str, Any]], str | None] | None = None,
        delete: Callable[[str], None] | None = None,
        if_exists: str | None = None,
        diff: DiffFn | None = None,
        apply: ApplyFn | None = None,
        find_all: Callable[[], list[dict[str, Any]]] | None = None,
        delete_twin: Callable[[str], None] | None = None,
        twin_note: Callable[[str], str | None] | None = None,
        rename_twin: Callable[[str], str] | None = None,
    ) -> Outcome:
        """Create the resource called *name* unless it exists (see module docstring).

        :param find: look the name up; ``None`` when absent.
        :param create: send the create request; returns the parsed answer (or an :class:`Outcome`
            when it found the resource created by another run instead).
        :param id_of: the id of a found resource or of a create answer.
        :param mismatch: describe why a found resource does not match the request (``None`` = fine).
        :param delete: delete by id (for ``if_exists="replace"``).
        :param if_exists: override the operator's ``if_exists`` for this resource.
        :param diff: field-level difference between a found resource and the request (converge).
        :param apply: write the allowed changes of a diff in place; returns resource fields to merge.
        :param find_all: every resource with the name (AEP allows several); when given, lookups
            use it, several matches converge on the oldest, and a create is followed by a twin
            check (see :mod:`~airflow_provider_aep.operators._twins`).
        :param delete_twin: delete this task's own copy when a concurrent twin is older (default:
            ``delete``); ``None`` for kinds AEP cannot delete (the copy is left and reported).
        :param twin_note: extra words for the log about a losing copy before it is deleted (e.g.
            a flow's runs that already started).
        :param rename_twin: for kinds AEP cannot delete: move this task's losing copy out of the
            name (returns its new name), so later lookups find one resource.
        """
        if_exists = if_exists or self.check_if_exists()
        existing = self.lookup_named(kind, name, find, find_all, id_of)
        if self._plan_only:
            return self._plan_existing(kind, name, existing, id_of, if_exists, mismatch, diff)
        replaced = False
        if existing is not None:
            handled = self._handle_existing(
                kind=kind,
                name=name,
                existing=existing,
                existing_id=id_of(existing),
                if_exists=if_exists,
                mismatch=mismatch,
                diff=diff,
                apply=apply,
                delete=delete,
            )
            if handled is not None:
                return handled
            replaced = True
        try:
            answer = create()
            if isinstance(answer, Outcome):  # another run created it (see _create_lock)
                problem = mismatch(answer.resource) if mismatch else None
                if problem:
                    raise AEPResourceConflictError(
                        f"{kind} {name!r} was created concurrently by another run (id {answer.id}) and "
                        f"does not match this task's declaration: {problem}. Fix: give the two "
                        "declarations different names."
                    )
                return answer
        except AEPResponseLostError as lost:
            return self.recover_lost_create(kind, name, lost, find, find_all, id_of, mismatch)
        except AEPAPIError as error:
            if not is_name_taken(error):
                raise
            return self.adopt_refused_create(kind, name, error, find, find_all, id_of, mismatch)
        new_id = id_of(answer)
        self.log.info("%s %s %r: id=%s", "Replaced" if replaced else "Created", kind, name, new_id)
        outcome = Outcome(new_id, "replaced" if replaced else "created", answer)
        if find_all is None:
            return outcome
        return self.converge_twins(
            kind,
            name,
            outcome,
            find_all,
            id_of,
            mismatch,
            delete_twin if delete_twin is not None or delete is None else delete,
            twin_note,
            rename_twin,
        )

    # ------------------------------------------------ one resource per name (see _converge)
    def lookup_named(
        self,
        kind: str,
        name: str,
        find: Callable[[], dict[str, Any] | None],
        find_all: Callable[[], list[dict[str, Any]]] | None,
        id_of: Callable[[dict[str, Any]], str],
    ) -> dict[str, Any] | None:
        """The resource called *name*; several (twins of an earlier race or made outside Airflow)
        converge on the oldest, the one every concurrent run picks, and the others are reported."""
        if find_all is None:
            return find()
        found = oldest_first(find_all(), id_of)
        if len(found) > 1:
            others = ", ".join(id_of(f) for f in found[1:])
            self.log.warning(
                "%d %ss are called %r (AEP does not keep names unique): using the oldest, id=%s; "
                "not touching the other(s), id=%s, which this task did not create (left by a "
                "concurrent run or made outside Airflow). Fix: delete them once nothing uses them.",
                len(found),
                kind,
                name,
                id_of(found[0]),
                others,
            )
        return found[0] if found else None

    def late_commit_window(self) -> float:
        """Seconds to keep looking for a late commit after a lost answer (connection extra
        ``late_commit_wait_seconds``)."""
        return float(self.hook.retry_policy.late_commit_wait_seconds)

    def recover_lost_create(
        self,
        kind: str,
        name: str,
        lost: AEPResponseLostError,
        find: Callable[[], dict[str, Any] | None],
        find_all: Callable[[], list[dict[str, Any]]] | None,
        id_of: Callable[[dict[str, Any]], str],
        mismatch: Callable[[dict[str, Any]], str | None] | None,
    ) -> Outcome:
        """A create whose answer was lost: look the name up, with back-off, for the late-commit
        window; adopt what was committed, else re-raise (the POST is never sent again here, and a
        task retry only comes after the window, so a late commit is found by then)."""
        window = self.late_commit_window()
        self.log.warning(
            "The answer to creating %s %r was lost; looking it up by name for up to %.0f s (a gateway "
            "timeout can still commit)",
            kind,
            name,
            window,
        )
        lookup = find_all if find_all is not None else (lambda: [f] if (f := find()) is not None else [])
        found_all, lookups, waited = poll_for_commit(lookup, window)
        if not found_all:
            self.log.error(
                "%s %r was not committed (%d lookups over %.1f s); not re-sending the create",
                kind,
                name,
                lookups,
                waited,
            )
            raise lost
        found_all = oldest_first(found_all, id_of)
        found = found_all[0]
        if len(found_all) > 1:
            self.log.warning(
                "After the lost answer %d %ss are called %r: using the oldest, id=%s; the other(s), "
                "id=%s, may include this task's own late commit, which cannot be told apart. Fix: "
                "delete the unused one(s).",
                len(found_all),
                kind,
                name,
                id_of(found),
                ", ".join(id_of(f) for f in found_all[1:]),
            )
        problem = mismatch(found) if mismatch else None
        if problem:
            raise AEPResourceConflictError(
                f"the answer to creating {kind} {name!r} was lost and the resource found under that "
                f"name (id {id_of(found)}) does not match: {problem}. Fix: inspect it in AEP and "
                "rerun with if_exists='replace' or another name."
            ) from None
        found_id = id_of(found)
        self.log.info(
            "Recovered %s %r after a lost answer: id=%s (committed once, seen after %.1f s)",
            kind,
            name,
            found_id,
            waited,
        )
        return Outcome(found_id, "recovered", found)

    def adopt_refused_create(
        self,
        kind: str,
        name: str,
        error: AEPAPIError,
        find: Callable[[], dict[str, Any] | None],
        find_all: Callable[[], list[dict[str, Any]]] | None,
        id_of: Callable[[dict[str, Any]], str],
        mismatch: Callable[[dict[str, Any]], str | None] | None,
    ) -> Outcome:
        """AEP refused the create because the name is taken (Schema Registry titles are unique):
        a concurrent run created it between our lookup and our create; adopt it if it matches."""
        found = self.lookup_named(kind, name, find, find_all, id_of)
        if found is None:
            raise error
        problem = mismatch(found) if mismatch else None
        if problem:
            raise AEPResourceConflictError(
                f"{kind} {name!r} was created concurrently by another run (id {id_of(found)}) and does "
                f"not match: {problem}. Fix: give the two declarations different names."
            ) from None
        found_id = id_of(found)
        self.log.warning(
            "Concurrent create: AEP refused a second %s %r (%s); adopted the one another run created "
            "a moment earlier, id=%s",
            kind,
            name,
            error.code or error.status,
            found_id,
        )
        return Outcome(found_id, "adopted", found)

    def converge_twins(
        self,
        kind: str,
        name: str,
        outcome: Outcome,
        find_all: Callable[[], list[dict[str, Any]]],
        id_of: Callable[[dict[str, Any]], str],
        mismatch: Callable[[dict[str, Any]], str | None] | None,
        delete_twin: Callable[[str], None] | None,
        twin_note: Callable[[str], str | None] | None,
        rename_twin: Callable[[str], str] | None = None,
    ) -> Outcome:
        """Right after a create, list the name: if a concurrent run created a twin, every racer
        keeps the oldest (ties by id); a losing copy is deleted by its creator (this task) while its
        id has not left the task, or left and reported when AEP cannot delete it."""
        ours = outcome.id
        twins = oldest_first(find_all(), id_of)
        if not twins or ours not in {id_of(t) for t in twins}:
            if len(twins) > 0:
                self.log.warning(
                    "%s %r id=%s is not listed yet while %d other(s) are (id=%s); keeping it. Check "
                    "for duplicates once AEP lists it.",
                    kind,
                    name,
                    ours,
                    len(twins),
                    ", ".join(id_of(t) for t in twins),
                )
            return outcome
        winner = twins[0]
        winner_id = id_of(winner)
        if winner_id == ours:
            if len(twins) > 1:
                self.log.warning(
                    "Concurrent create: %d %ss called %r exist; this task's id=%s is the oldest and is "
                    "kept; the newer twin(s), id=%s, are their creators' to delete",
                    len(twins),
                    kind,
                    name,
                    ours,
                    ", ".join(id_of(t) for t in twins[1:]),
                )
            return outcome
        note = twin_note(ours) if twin_note else None
        problem = mismatch(winner) if mismatch else None
        if delete_twin is None:
            renamed = self.rename_own_twin(kind, ours, rename_twin) if rename_twin else None
            self.log.warning(
                "Concurrent create: another run created %s %r a moment earlier (id=%s, the oldest); this "
                "task adopts it. AEP cannot delete a %s, so this task's copy id=%s stays, unused%s.%s",
                kind,
                name,
                winner_id,
                kind,
                ours,
                f", renamed {renamed!r} so that the name finds one" if renamed else "",
                f" {note}" if note else "",
            )
        else:
            self.log.warning(
                "Concurrent create: another run created %s %r a moment earlier (id=%s, the oldest); "
                "deleting this task's twin id=%s and adopting id=%s.%s",
                kind,
                name,
                winner_id,
                ours,
                winner_id,
                f" {note}" if note else "",
            )
            self.delete_own_twin(kind, ours, delete_twin)
        if problem:
            raise AEPResourceConflictError(
                f"{kind} {name!r} was created concurrently by another run (id {winner_id}) and does not "
                f"match this task's declaration: {problem}. Fix: give the two declarations different "
                "names."
            )
        return Outcome(winner_id, "adopted", winner)

    def rename_own_twin(self, kind: str, twin_id: str, rename_twin: Callable[[str], str]) -> str | None:
        """Rename this task's losing copy (kinds without DELETE); errors leave it under the name."""
        try:
            return rename_twin(twin_id)
        except AEPError as error:
            self.log.error(
                "Could not rename this task's twin %s id=%s (%s); it keeps the name. Fix: rename it.",
                kind,
                twin_id,
                error,
            )
            return None

    def delete_own_twin(self, kind: str, twin_id: str, delete_twin: Callable[[str], None]) -> None:
        """Delete this task's losing copy; a 404 means it is gone already, other errors leave it."""
        try:
            delete_twin(twin_id)
        except AEPNotFoundError:
            return
        except AEPError as error:
            self.log.error(
                "Could not delete this task's twin %s id=%s (%s); it stays, unused. Fix: delete it.",
                kind,
                twin_id,
                error,
            )


def differs(label: str, wanted: Any, found: Any) -> str | None:
    """Helper for ``mismatch`` callbacks: a message when *found* != *wanted*."""
    if wanted != found:
        return f"its {label} is {found!r}, not {wanted!r}"
    return None


def first_problem(*problems: str | None) -> str | None:
    """The first non-empty problem description."""
    for problem in problems:
        if problem:
            return problem
    return None
