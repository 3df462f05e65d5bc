"""A flow given by id or by name: ``flow_id=`` or ``flow_name=`` (exactly one), resolved at execute time.

Flows made in the AEP UI are known by their name; ``flow_name`` finds the one flow with exactly that
name through Flow Service's ``property=name=="<name>"`` filter (names that filter cannot match, with
``"`` or ``\\``, are refused before any request). Zero or several matches raise a one-line
:class:`~airflow_provider_aep.exceptions.AEPInputError` naming what was found; the resolved id is
logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.validation import check_name, check_uuid, is_templated

if TYPE_CHECKING:
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

#: Matches listed in an "ambiguous name" error (the message stays one readable line).
MAX_LISTED = 5


def check_flow_ref(flow_id: Any, flow_name: Any, *, required: bool = True) -> None:
    """Exactly one of ``flow_id``/``flow_name`` (at most one when not ``required``); concrete values
    are checked now, templated ones at execute time."""
    if flow_id is not None and flow_name is not None:
        raise AEPInputError(
            "flow_id/flow_name", "both are given.", "Pass either flow_id or flow_name, not both."
        )
    if required and flow_id is None and flow_name is None:
        raise AEPInputError(
            "flow_id/flow_name", "neither is given.", "Pass flow_id (a UUID) or flow_name (the flow's name)."
        )
    if flow_id is not None and not is_templated(flow_id):
        check_uuid("flow_id", flow_id)
    if flow_name is not None and not is_templated(flow_name):
        check_name("flow_name", flow_name, "flowservice")


def check_flow_name(flow_name: Any) -> str:
    """The rendered ``flow_name``, or :class:`AEPInputError` (no request is sent)."""
    return check_name("flow_name", flow_name, "flowservice")


def find_flows_named(hook: AdobeExperiencePlatformHook, name: str) -> list[dict[str, Any]]:
    """Every flow whose name is exactly ``name`` (server-side filter, exact match on the client)."""
    from airflow_provider_aep.hooks._filters import flow_service_value

    quoted = flow_service_value("flow_name", name)
    return [f for f in hook.list_flows(properties=[f"name=={quoted}"]) if f.get("name") == name]


def resolve_flow_id(
    hook: AdobeExperiencePlatformHook,
    flow_id: Any,
    flow_name: Any,
    log: Any,
    *,
    missing_ok: bool = False,
) -> str | None:
    """The flow id: ``flow_id`` checked, or the one flow named ``flow_name`` (logged).

    :param missing_ok: return ``None`` instead of raising when no flow has that name (delete).
    """
    if flow_name is None:
        return check_uuid("flow_id", flow_id)
    name = check_flow_name(flow_name)
    matches = find_flows_named(hook, name)
    sandbox = getattr(hook, "sandbox_name", None) or "?"
    if len(matches) == 1 and matches[0].get("id"):
        resolved = check_uuid("flow_id", str(matches[0]["id"]))
        log.info("flow_name %r resolved to flow %s (sandbox %s)", name, resolved, sandbox)
        return resolved
    if not matches:
        if missing_ok:
            log.info("No flow named %r in sandbox %s", name, sandbox)
            return None
        raise AEPInputError(
            "flow_name",
            f"no flow is named {name!r} in sandbox {sandbox!r}.",
            "Check the name (exact, case-sensitive) in the AEP UI (Sources > Dataflows), the sandbox, "
            "or pass flow_id.",
        )
    listed = ", ".join(str(m.get("id")) for m in matches[:MAX_LISTED])
    more = f" (+{len(matches) - MAX_LISTED} more)" if len(matches) > MAX_LISTED else ""
    raise AEPInputError(
        "flow_name",
        f"{len(matches)} flows are named {name!r} in sandbox {sandbox!r}: {listed}{more}.",
        "Rename all but one of them in AEP, or pass flow_id.",
    )
