"""Operator extra links to the Adobe Experience Platform UI.

The links are driven by XCom values the operators push: the resource id (``return_value``), the
org (``aep_ui_org``: the connection extra ``ui_tenant`` when set, else the IMS org id) and the
sandbox (``aep_ui_sandbox``); tasks that know a run push that run's page (``run_url``), which
:class:`AEPFlowRunLink` opens. Org and sandbox come from the hook's own connection settings (plain or
``extra__adobe_experience_platform__``-prefixed extras, the task's ``sandbox_name`` override), so a
link opens the sandbox the task called. URL form::

    https://experience.adobe.com/#/@<tenant-or-org>/sname:<sandbox>/platform/source/dataflows/<flow id>
    https://experience.adobe.com/#/@<tenant-or-org>/sname:<sandbox>/platform/dataset/browse/<dataset id>
    https://experience.adobe.com/#/@<org>/sname:<sandbox>/platform/source/dataflows/<flow>/activity/<run id>
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.task import RETURN_VALUE_KEY

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

AEP_UI_BASE = "https://experience.adobe.com/#/"
XCOM_UI_ORG = xcom_keys.UI_ORG  # the old names of the keys, kept for DAGs that import them
XCOM_UI_SANDBOX = xcom_keys.UI_SANDBOX
XCOM_RUN_URL = xcom_keys.RUN_URL
_PREFIX = "extra__adobe_experience_platform__"


def _xcom(ti_key: TaskInstanceKey, key: str) -> Any:
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.get_value(ti_key=ti_key, key=key)


def pushed_value(operator: Any, ti_key: TaskInstanceKey, key: str) -> Any:
    """A value the task pushed. The worker computes links in the process that ran the task (also
    when it defers): that task knows what it pushed (``pushed_here``), so no XCom is read; a key it
    did not push is ``None``, not a 404 that Airflow's client logs as an error. Elsewhere (an
    operator that did not run here, or a process resumed after a deferral), the XCom."""
    pushed = getattr(operator, "pushed_here", None)
    if isinstance(pushed, dict):
        return pushed.get(key)
    return _xcom(ti_key, key)


def aep_ui_url(org: str, sandbox: str, section: str, resource_id: str) -> str:
    """Build an Experience Platform UI URL (``section`` e.g. ``platform/dataset/browse``)."""
    return (
        f"{AEP_UI_BASE}@{quote(org, safe='@.-_')}/sname:{quote(sandbox, safe='-_')}/"
        f"{section}/{quote(resource_id, safe='-')}"
    )


def ui_org_and_sandbox(hook: Any) -> tuple[str | None, str]:
    """``(org, sandbox)`` for UI links from the hook's settings: extra ``ui_tenant`` (plain or
    prefixed) else the IMS org id; the sandbox the hook calls. Never secrets; ``(None, ...)`` when
    the connection cannot be read (a link is a nicety, it never fails the task)."""
    org: str | None = None
    sandbox = "prod"
    try:
        extra = hook.connection.extra_dejson or {}
        tenant = extra.get("ui_tenant") or extra.get(_PREFIX + "ui_tenant")
        org = str(tenant) if tenant else str(hook.conn_settings.org_id)
        sandbox = str(hook.sandbox_name)
    except Exception:  # an unreadable connection fails the task elsewhere, with its own message
        return None, sandbox
    return org, sandbox


def run_page_url(org: str | None, sandbox: str, flow_id: str | None, run_id: str | None) -> str | None:
    """The run's page (the dataflow's activity for that run) in the AEP UI; None without an org."""
    if not org or not flow_id:
        return None
    if not run_id:
        return aep_ui_url(org, sandbox, "platform/source/dataflows", flow_id) + "/activity"
    return (
        aep_ui_url(org, sandbox, "platform/source/dataflows", flow_id)
        + f"/activity/{quote(run_id, safe='-')}"
    )


class AEPFlowRunLink(BaseOperatorLink):
    """Link to the page of the run the task started or awaited (XCom ``run_url``, pushed by the task)."""

    name = "AEP Flow Run"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL, or ``""`` until the task pushed it."""
        value = pushed_value(operator, ti_key, xcom_keys.RUN_URL)
        return str(value) if value else ""


class _AEPUILink(BaseOperatorLink):
    section = ""

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The UI URL, or ``""`` while the task has not pushed the values yet."""
        resource_id = pushed_value(operator, ti_key, RETURN_VALUE_KEY)
        org = pushed_value(operator, ti_key, xcom_keys.UI_ORG)
        sandbox = pushed_value(operator, ti_key, xcom_keys.UI_SANDBOX) or "prod"
        if not resource_id or not org:
            return ""
        return aep_ui_url(str(org), str(sandbox), self.section, str(resource_id))


class AEPDataflowLink(_AEPUILink):
    """Link to the dataflow (its runs) in the AEP Sources UI."""

    name = "AEP Dataflow"
    section = "platform/source/dataflows"


class AEPDatasetLink(_AEPUILink):
    """Link to the dataset in the AEP Datasets UI."""

    name = "AEP Dataset"
    section = "platform/dataset/browse"
