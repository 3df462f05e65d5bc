"""What every AEP task class shares: connection id, sandbox, one cached hook, UI colour and UI context.

:class:`AEPTaskMixin` sits right before Airflow's base class in every task class of the provider; the
other mixins only add behaviour on top of it::

    AEPBaseOperator(AEPTaskMixin, BaseOperator)                  create, lookup, delete, flow state
    AEPRunFlowOperator(AEPRetriggerMixin, AEPRunOutcomeMixin,    run a flow and wait
                       AEPRunLineageMixin, FlowRunWaitMixin,
                       AEPTaskMixin, BaseOperator)
    AEPFlowRunSensor(AEPRunOutcomeMixin, AEPRunLineageMixin,     wait for runs
                     FlowRunWaitMixin, AEPTaskMixin, BaseSensorOperator)

``AEPRetriggerMixin`` and ``AEPRunOutcomeMixin`` call the hook, so they derive from
:class:`AEPTaskMixin` themselves; ``FlowRunWaitMixin`` is handed the hook, and the lineage mixins read
``operator.hook``. The hook is built in :func:`build_hook` (through :meth:`AEPTaskMixin.make_hook`
for task classes) and nowhere else.

This module imports no hook at module level, so a DAG file that imports a task class stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

#: Template fields every task class has; a class adds its own after them.
AEP_TEMPLATE_FIELDS: tuple[str, ...] = ("aep_conn_id", "sandbox_name")
#: Background of every AEP task in the Airflow UI (Adobe red), and its text colour.
AEP_UI_COLOR = "#fa0f00"
AEP_UI_FGCOLOR = "#ffffff"
#: Airflow's own XCom key of a task's return value (``BaseXCom.XCOM_RETURN_KEY``).
RETURN_VALUE_KEY = "return_value"


def build_hook(aep_conn_id: str, sandbox_name: str | None) -> AdobeExperiencePlatformHook:
    """The hook of a task: the one place the provider's tasks (and task-flow helpers) build one.

    An empty ``sandbox_name`` (e.g. a param left blank) means the connection's sandbox.
    """
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

    return AdobeExperiencePlatformHook(aep_conn_id=aep_conn_id, sandbox_name=sandbox_name or None)


class AEPTaskMixin:
    """Connection id and sandbox (templated), the cached hook, UI colours and the UI-link context.

    Put it before Airflow's ``BaseOperator`` or ``BaseSensorOperator`` in the bases. A task class's
    ``__init__`` names ``aep_conn_id`` and ``sandbox_name`` in its own signature (so ``default_args``
    reach them) and passes them on to ``super().__init__``.

    :param aep_conn_id: Airflow connection of type ``adobe_experience_platform``.
    :param sandbox_name: sandbox to work in; default: the connection's ``sandbox_name`` extra.
    """

    template_fields: Sequence[str] = AEP_TEMPLATE_FIELDS
    ui_color: str = AEP_UI_COLOR
    ui_fgcolor: str = AEP_UI_FGCOLOR

    def __init__(self, *, aep_conn_id: str = "aep_default", sandbox_name: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.aep_conn_id = aep_conn_id
        self.sandbox_name = sandbox_name

    def make_hook(self) -> AdobeExperiencePlatformHook:
        """Build this task's hook (tests replace this method to tune the hook of every task class)."""
        return build_hook(self.aep_conn_id, self.sandbox_name)

    @cached_property
    def hook(self) -> AdobeExperiencePlatformHook:
        """The AEP hook, built on first use (at execute time, after templates are rendered)."""
        return self.make_hook()

    def ui_org_and_sandbox(self) -> tuple[str | None, str]:
        """Org (extra ``ui_tenant``, else the IMS org id) and sandbox for UI links, from the hook's
        settings; never secrets, ``(None, ...)`` when the connection cannot be read."""
        from airflow_provider_aep.links import ui_org_and_sandbox

        return ui_org_and_sandbox(self.hook)

    #: What this task pushed in this process, from its ``pre_execute`` on; the UI links read it
    #: instead of the XCom (see :func:`airflow_provider_aep.links.pushed_value`). ``None`` outside a
    #: running task, and in a process that resumes after a deferral (the values pushed before it
    #: live in XCom only).
    pushed_here: dict[str, Any] | None = None

    def pre_execute(self, context: Context) -> None:
        """Start recording what this process pushes (:attr:`pushed_here`)."""
        self.pushed_here = {}
        super().pre_execute(context)  # type: ignore[misc]

    def forget_pushed_here(self) -> None:
        """A resume after a deferral: what the task pushed before lives in XCom only."""
        self.pushed_here = None

    def push_ui_context(self, context: Context, resource_id: str | None = None) -> tuple[str | None, str]:
        """Push the org and sandbox the UI links need (no secrets); return them. ``resource_id``
        (the task's return value) is remembered for the links of this process."""
        org, sandbox = self.ui_org_and_sandbox()
        if org:
            self.xcom_push(context, xcom_keys.UI_ORG, str(org))
        self.xcom_push(context, xcom_keys.UI_SANDBOX, str(sandbox))
        if resource_id is not None and self.pushed_here is not None:
            self.pushed_here[RETURN_VALUE_KEY] = resource_id
        return org, sandbox

    def xcom_push(self, context: Context, key: str, value: Any) -> None:
        """Push ``value`` under ``key`` for this task instance (and remember it in
        :attr:`pushed_here` while the task runs)."""
        context["ti"].xcom_push(key=key, value=value)
        if self.pushed_here is not None:
            self.pushed_here[key] = value
