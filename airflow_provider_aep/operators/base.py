"""Shared base of the AEP operators: hook access, XCom helpers and idempotent create-or-reuse.

Identity is the resource *name* (the title for schemas and classes). Before creating, an operator
looks the name up; ``if_exists`` decides what happens when it exists:

* ``"reuse"`` (default): check the existing resource is compatible with the request and return
  its id (logged as "reused"); an incompatible one fails with :class:`AEPResourceConflictError`.
* ``"fail"``: raise :class:`AEPResourceExistsError`.
* ``"replace"``: delete it, then create a new one.

A create whose answer was lost (:class:`~airflow_provider_aep.exceptions.AEPResponseLostError`)
is never re-sent: the name is looked up again and the committed resource's id is returned; only
if nothing was committed is the error re-raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_aep.exceptions import AEPError, AEPInputError, AEPResponseLostError
from airflow_provider_aep.links import XCOM_UI_ORG, XCOM_UI_SANDBOX
from airflow_provider_aep.validation import IF_EXISTS_CHOICES, check_enum, is_templated

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

__all__ = [
    "XCOM_UI_ORG",
    "XCOM_UI_SANDBOX",
    "AEPBaseOperator",
    "AEPCreateOperatorBase",
    "AEPResourceConflictError",
    "AEPResourceExistsError",
    "Outcome",
]


class AEPResourceExistsError(AEPError):
    """A resource with the requested name exists and ``if_exists="fail"`` was given."""


class AEPResourceConflictError(AEPError):
    """A resource with the requested name exists but does not match the request."""


@dataclass
class Outcome:
    """Result of :meth:`AEPBaseOperator.ensure`."""

    id: str
    action: str  # "created" | "reused" | "recovered" | "replaced"
    resource: dict[str, Any]


class AEPBaseOperator(BaseOperator):
    """Base class of every AEP operator.

    :param aep_conn_id: Airflow connection of type ``adobe_experience_platform``.
    :param sandbox_name: sandbox to work in; default: the connection's ``sandbox_name`` extra.
    """

    template_fields: Sequence[str] = ("aep_conn_id", "sandbox_name")
    ui_color = "#fa0f00"  # Adobe red
    ui_fgcolor = "#ffffff"

    def __init__(self, *, aep_conn_id: str = "aep_default", sandbox_name: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.sandbox_name = sandbox_name

    @cached_property
    def hook(self) -> AdobeExperiencePlatformHook:
        """The AEP hook (created on first use, i.e. at execute time)."""
        from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

        return AdobeExperiencePlatformHook(
            aep_conn_id=self.aep_conn_id, sandbox_name=self.sandbox_name or None
        )

    def has_templated_values(self) -> bool:
        """True while any templated field still holds a Jinja string or an XComArg.

        Used to decide whether ``__init__`` can validate (static values) or must leave it to
        ``execute()`` (after rendering).
        """
        return any(is_templated(getattr(self, f, None)) for f in self.template_fields)

    # ----------------------------------------------------------------- XCom helpers
    @staticmethod
    def xcom_push(context: Context, key: str, value: Any) -> None:
        """Push *value* under *key* for this task instance."""
        context["ti"].xcom_push(key=key, value=value)

    def push_ui_context(self, context: Context) -> None:
        """Push the org/tenant and sandbox the extra links need (no secrets)."""
        from airflow.sdk import BaseHook

        try:
            conn = BaseHook.get_connection(self.aep_conn_id)
            extra = conn.extra_dejson or {}
        except Exception:  # a link is a nicety; never fail the task for it
            extra = {}
        org = extra.get("ui_tenant") or extra.get("ims_org_id")
        sandbox = self.sandbox_name or extra.get("sandbox_name") or "prod"
        if org:
            self.xcom_push(context, XCOM_UI_ORG, str(org))
        self.xcom_push(context, XCOM_UI_SANDBOX, str(sandbox))


class AEPCreateOperatorBase(AEPBaseOperator):
    """Base of the create operators: ``if_exists`` handling and lost-answer recovery.

    :param if_exists: ``"reuse"`` (default), ``"fail"`` or ``"replace"`` when a resource with the
        same name already exists.
    """

    template_fields: Sequence[str] = (*AEPBaseOperator.template_fields, "if_exists")
    #: Whether "replace" is possible for this resource kind.
    supports_replace = True

    def __init__(self, *, if_exists: str = "reuse", **kwargs: Any):
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

    def ensure(
        self,
        *,
        kind: str,
        name: str,
        find: Callable[[], dict[str, Any] | None],
        create: Callable[[], dict[str, Any]],
        id_of: Callable[[dict[str, Any]], str] = lambda r: str(r["id"]),
        mismatch: Callable[[dict[str, Any]], str | None] | None = None,
        delete: Callable[[str], None] | None = None,
        if_exists: str | None = None,
    ) -> Outcome:
        """Create the resource called *name* unless it exists (see module docstring).

        :param find: look the name up; ``None`` when absent.
        :param create: send the create request; returns the parsed answer.
        :param id_of: the id of a found resource or of a create answer.
        :param mismatch: describe why a found resource does not match the request (``None`` = fine).
        :param delete: delete by id (for ``if_exists="replace"``).
        :param if_exists: override the operator's ``if_exists`` for this resource.
        """
        if_exists = if_exists or self.check_if_exists()
        existing = find()
        replaced = False
        if existing is not None:
            existing_id = id_of(existing)
            if if_exists == "fail":
                raise AEPResourceExistsError(
                    f"{kind} {name!r} already exists (id {existing_id}) and if_exists='fail'. "
                    "Fix: choose another name, or use if_exists='reuse' or 'replace'."
                )
            if if_exists == "reuse":
                problem = mismatch(existing) if mismatch else None
                if problem:
                    raise AEPResourceConflictError(
                        f"{kind} {name!r} already exists (id {existing_id}) but {problem}. Fix: choose "
                        "another name, or use if_exists='replace' to delete and recreate it."
                    )
                self.log.info("Reused existing %s %r: id=%s", kind, name, existing_id)
                return Outcome(existing_id, "reused", existing)
            if delete is None:  # pragma: no cover - guarded by supports_replace
                raise AEPInputError("if_exists", f"'replace' is not supported for {kind}.", "Use 'reuse'.")
            self.log.info("Deleting existing %s %r (id=%s) to replace it", kind, name, existing_id)
            delete(existing_id)
            replaced = True
        try:
            answer = create()
        except AEPResponseLostError:
            self.log.warning("The answer to creating %s %r was lost; looking it up by name", kind, name)
            found = find()
            if found is None:
                self.log.error("%s %r was not committed; not re-sending the create", kind, name)
                raise
            problem = mismatch(found) if mismatch else None
            if problem:
                raise AEPResourceConflictError(
                    f"the answer to creating {kind} {name!r} was lost and the resource found under that "
                    f"name (id {id_of(found)}) does not match: {problem}. Fix: inspect it in AEP and "
                    "rerun with if_exists='replace' or another name."
                ) from None
            found_id = id_of(found)
            self.log.info("Recovered %s %r after a lost answer: id=%s (committed once)", kind, name, found_id)
            return Outcome(found_id, "recovered", found)
        new_id = id_of(answer)
        self.log.info("%s %s %r: id=%s", "Replaced" if replaced else "Created", kind, name, new_id)
        return Outcome(new_id, "replaced" if replaced else "created", answer)


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
