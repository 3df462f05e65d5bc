"""Request parsing and validation helpers shared by the route modules."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .errors import APIError, dataprep_error, flow_error, service_error, xdm_error

if TYPE_CHECKING:
    from fastapi import Request

    from .auth import RequestContext
    from .state import EmulatorState

SECRET_KEYS = {
    "password",
    "clientsecret",
    "client_secret",
    "securitytoken",
    "security_token",
    "token",
    "accesstoken",
    "access_token",
    "refreshtoken",
    "refresh_token",
    "secret",
    "privatekey",
    "private_key",
    "apikey",
    "api_key",
    "sastoken",
    "connectionstring",
    "secretaccesskey",
}
MASK = "********"


def is_secret_key(key: str) -> bool:
    """Is this auth parameter a secret (never echoed)?"""
    k = key.lower()
    return k in SECRET_KEYS or k.endswith(("password", "secret", "token"))


def mask_params(params: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``params`` with every secret value masked."""
    return {k: (MASK if is_secret_key(k) and v not in (None, "") else v) for k, v in params.items()}


def ctx(request: Request) -> RequestContext:
    """The gateway context attached by the app's outer layer."""
    return request.state.aep  # type: ignore[no-any-return]


def emu(request: Request) -> EmulatorState:
    """The emulator state of the app serving ``request``."""
    return request.app.state.emulator  # type: ignore[no-any-return]


def _bad_body(service: str, detail: str) -> APIError:
    if service == "flowservice":
        return flow_error(400, 1100, detail)
    if service == "schemaregistry":
        return xdm_error(400, 1001, detail, "Invalid request")
    if service == "catalog":
        return service_error("CAT", 400, 1000, detail)
    if service == "identity":
        return service_error("IDN", 400, 1000, detail)
    return dataprep_error(400, 1000, detail)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def read_json(request: Request, service: str, *, expect: type | tuple[type, ...] = dict) -> Any:
    """Parse the JSON body; malformed, too deep or wrongly-typed bodies give the service's 400.

    Besides the JSON syntax, the body must be storable (see :func:`shapes.structure_problem`:
    nesting depth, int64 range, valid Unicode; ``NaN``/``Infinity`` are not JSON) and match the
    spec's shape for this route (field types), so that nothing a client sends can break a later
    answer.
    """
    from .shapes import BODY_SHAPES, shape_errors, structure_problem

    raw = await request.body()
    if not raw.strip():
        raise _bad_body(service, "The request body is missing.")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise _bad_body(service, "The request body is nested too deeply.") from exc
    except ValueError as exc:
        raise _bad_body(service, f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, expect):
        names = expect.__name__ if isinstance(expect, type) else "/".join(t.__name__ for t in expect)
        raise _bad_body(service, f"The request body must be a JSON {'object' if names == 'dict' else names}.")
    problem = structure_problem(body)
    if problem:
        raise _bad_body(service, f"Invalid request body: {problem}.")
    route = request.scope.get("route")
    shapes = BODY_SHAPES.get((request.method, getattr(route, "path", "")))
    if shapes:
        errors = shape_errors(shapes, body)
        if errors:
            raise _bad_body(service, "Invalid request body: " + "; ".join(errors[:5]) + ".")
    return body


def check_patched(request: Request, service: str, doc: dict[str, Any]) -> None:
    """After a JSON Patch: the resource must still have its spec shape (a 400 otherwise)."""
    from .shapes import PATCHED_SHAPES, shape_errors, structure_problem

    problem = structure_problem(doc)
    if problem:
        raise _bad_body(service, f"Invalid patch: {problem}.")
    route = getattr(request.scope.get("route"), "path", "")
    shape = next((s for prefix, s in PATCHED_SHAPES.items() if route.startswith(prefix)), None)
    if shape is not None:
        errors = shape_errors((shape,), doc)
        if errors:
            raise _bad_body(service, "Invalid patch: " + "; ".join(errors[:5]) + ".")


def jsonschema_errors(schema: dict[str, Any], instance: Any, *, echo_values: bool = True) -> list[str]:
    """Human-readable validation errors of ``instance`` against ``schema`` (draft from $schema).

    With ``echo_values=False`` the messages never contain the offending values (credentials).
    """
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator = cls(schema)
    out = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in err.absolute_path)
        if echo_values or err.validator in ("required", "additionalProperties"):
            msg = err.message
        else:
            msg = f"value does not satisfy '{err.validator}' {json.dumps(err.validator_value, default=str)}"
        out.append(f"{where + ': ' if where else ''}{msg}")
    return out


def coerce_schedule(params: dict[str, Any]) -> dict[str, Any]:
    """Coerce the tutorials' string values (``"15"``, ``"true"``, ``"1590792316"``) to int/bool."""
    out = dict(params)
    for key in ("startTime", "interval", "endTime"):
        v = out.get(key)
        if isinstance(v, str) and len(v) <= 40 and v.strip().lstrip("-").isdigit():
            out[key] = int(v.strip())
        elif isinstance(v, float) and v.is_integer():
            out[key] = int(v)
    b = out.get("backfill")
    if isinstance(b, str) and b.strip().lower() in ("true", "false"):
        out["backfill"] = b.strip().lower() == "true"
    if isinstance(out.get("frequency"), str):
        out["frequency"] = out["frequency"].strip().lower()
    return out


def epoch_seconds(value: Any) -> float | None:
    """Epoch seconds from int/str/float, accepting milliseconds (13 digits) too.

    ``None`` for anything else, including NaN, infinities, negative times and times past int64
    milliseconds, so that no stored time can overflow a later computation.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        num = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(num) or num < 0 or num > MAX_EPOCH_MS:
        return None
    if num > 1e11:
        num /= 1000.0
    return num


#: Largest epoch accepted (int64 milliseconds, as AEP stores times).
MAX_EPOCH_MS = float(2**63 - 1)
FREQUENCY_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
