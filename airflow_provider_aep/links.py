"""Operator extra links to the Adobe Experience Platform UI.

The links are driven by XCom values the operators push: the resource id (``return_value``), the
org (``aep_ui_org``: the connection extra ``ui_tenant`` when set, else the IMS org id) and the
sandbox (``aep_ui_sandbox``). URL form::

    https://experience.adobe.com/#/@<tenant-or-org>/sname:<sandbox>/platform/source/dataflows/<flow id>
    https://experience.adobe.com/#/@<tenant-or-org>/sname:<sandbox>/platform/dataset/browse/<dataset id>
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

AEP_UI_BASE = "https://experience.adobe.com/#/"
XCOM_UI_ORG = "aep_ui_org"
XCOM_UI_SANDBOX = "aep_ui_sandbox"


def _xcom(ti_key: TaskInstanceKey, key: str) -> Any:
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.get_value(ti_key=ti_key, key=key)


def aep_ui_url(org: str, sandbox: str, section: str, resource_id: str) -> str:
    """Build an Experience Platform UI URL (``section`` e.g. ``platform/dataset/browse``)."""
    return (
        f"{AEP_UI_BASE}@{quote(org, safe='@.-_')}/sname:{quote(sandbox, safe='-_')}/"
        f"{section}/{quote(resource_id, safe='-')}"
    )


class _AEPUILink(BaseOperatorLink):
    section = ""

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The UI URL, or ``""`` while the task has not pushed the values yet."""
        resource_id = _xcom(ti_key, "return_value")
        org = _xcom(ti_key, XCOM_UI_ORG)
        sandbox = _xcom(ti_key, XCOM_UI_SANDBOX) or "prod"
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
