"""AEP identifiers the provider owns: the Data Lake target and the standard XDM resources it defaults to.

Import these instead of copying the literals (the example DAGs do)::

    from airflow_provider_aep.constants import DEFAULT_FIELD_GROUPS, PROFILE_CLASS

The per-source identifiers (connection spec ids, flow spec names, delta columns) are in
:mod:`airflow_provider_aep.sources`. Only plain strings live here: importing it costs nothing.
"""

from __future__ import annotations

#: Data Lake connection spec: the target spec of every source flow, and the dataset base connection.
DATA_LAKE_CONNECTION_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
#: Schema version string AEP requires on target connections and mapping output schemas.
XED_FULL_V1 = "application/vnd.adobe.xed-full+json;version=1"
#: Content type the tutorials use for dataset schema refs and legacy ad-hoc source connections.
XED_FULL_NOTEXT_V1 = "application/vnd.adobe.xed-full-notext+json; version=1"

#: XDM Individual Profile class: the default class of :class:`AEPCreateSchemaOperator`.
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
#: The ad-hoc class every (legacy) ad-hoc class extends.
ADHOC_CLASS = "https://ns.adobe.com/xdm/data/adhoc"
#: Standard profile field groups (``person.name.*``; ``mobilePhone``, ``homeAddress``, ``personalEmail``).
PROFILE_PERSON_DETAILS = "https://ns.adobe.com/xdm/context/profile-person-details"
PROFILE_PERSONAL_DETAILS = "https://ns.adobe.com/xdm/context/profile-personal-details"
#: Default field groups of :class:`AEPCreateSchemaOperator` (a tuple: never mutate a default).
DEFAULT_FIELD_GROUPS: tuple[str, ...] = (PROFILE_PERSON_DETAILS, PROFILE_PERSONAL_DETAILS)

#: Name of the flow spec that moves every table source of :mod:`airflow_provider_aep.sources` to the
#: Data Lake.
CRM_TO_AEP_FLOW_SPEC = "CRMToAEP"
