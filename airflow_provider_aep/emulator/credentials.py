"""Which source-system credentials are currently valid (for credential-rotation scenarios).

By default every credential is accepted (a secret value starting with ``invalid`` fails the
connection test). ``PUT /_emulator/sources/{spec}/credentials`` with a list of auth-param subsets,
e.g. ``[{"username": "u", "password": "new"}]``, makes only matching base connections valid for
that connection spec: a flow run whose base connection holds other credentials fails with
``CONNECTOR-1001-500`` like a real source login failure, and ``/test`` fails too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .validation import mask_params

if TYPE_CHECKING:
    from .state import EmulatorState, SandboxState

#: connection spec id -> accepted auth-param subsets (absent: everything is accepted).
_ATTR = "valid_source_credentials"


def rules(state: EmulatorState) -> dict[str, list[dict[str, Any]]]:
    """The accepted-credential rules of this emulator (created on first use)."""
    found = getattr(state, _ATTR, None)
    if found is None:
        found = {}
        setattr(state, _ATTR, found)
    return found


def valid(state: EmulatorState, spec_id: str, params: dict[str, Any]) -> bool:
    """Whether a base connection with these auth params can log in to the source now."""
    accepted = rules(state).get(spec_id)
    if accepted is None:
        return True
    return any(all(params.get(k) == v for k, v in rule.items()) for rule in accepted)


def base_connection_valid(state: EmulatorState, sb: SandboxState, connection_id: str) -> bool:
    """Validity of a stored base connection's credentials."""
    conn = sb.connections.get(connection_id)
    if conn is None:
        return False
    spec_id = str((conn.get("connectionSpec") or {}).get("id"))
    return valid(state, spec_id, sb.secrets.get(connection_id, {}))


def report(state: EmulatorState, spec_id: str) -> dict[str, Any]:
    """Admin view: the rules (secrets masked) and each base connection's validity."""
    accepted = rules(state).get(spec_id)
    connections = []
    for sb in state.sandboxes.values():
        for cid, conn in sb.connections.items():
            if (conn.get("connectionSpec") or {}).get("id") == spec_id:
                connections.append(
                    {
                        "id": cid,
                        "name": conn.get("name"),
                        "sandbox": sb.name,
                        "valid": base_connection_valid(state, sb, cid),
                    }
                )
    return {
        "connectionSpecId": spec_id,
        "restricted": accepted is not None,
        "accepted": [mask_params(r) for r in accepted or []],
        "connections": connections,
    }
