"""The JSON shapes of every write body the emulator accepts, taken from the types in Adobe's OpenAPI
specs (Flow Service, Schema Registry, Catalog, Data Prep), and the checks every body goes through
before a route reads it: nesting depth, non-finite numbers, unpaired surrogates, field types.

Only types are checked here (the routes check meaning: existing ids, spec rules...). Unknown fields
are allowed, as AEP allows them; a field that the spec types is refused when it has another type.
"""

from __future__ import annotations

import math
from typing import Any

#: Deepest nesting accepted in a body (AEP documents none; real bodies stay under 10 levels).
MAX_DEPTH = 64
#: Largest integer accepted anywhere in a body: AEP's epoch and interval fields are ``int64``.
INT64_MAX = 2**63 - 1

_STR: dict[str, Any] = {"type": "string"}
_OBJ: dict[str, Any] = {"type": "object"}
#: ``{id, version}`` (SpecInfoDTO); versions are strings in the spec, numbers are tolerated.
_SPEC_INFO: dict[str, Any] = {
    "type": "object",
    "properties": {"id": _STR, "version": {"type": ["string", "number"]}},
}
_EPOCH: dict[str, Any] = {"type": ["integer", "string"]}
_PATCH_OP: dict[str, Any] = {
    "type": "object",
    "required": ["op", "path"],
    "properties": {"op": _STR, "path": _STR, "from": _STR},
}
_PATCH: dict[str, Any] = {"type": "array", "items": _PATCH_OP}

CONNECTION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": _STR,
        "description": _STR,
        "connectionSpec": _SPEC_INFO,
        "auth": {"type": "object", "properties": {"specName": _STR, "params": _OBJ}},
    },
}
SOURCE_CONNECTION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": _STR,
        "description": _STR,
        "baseConnectionId": _STR,
        "connectionSpec": _SPEC_INFO,
        "data": {
            "type": "object",
            "properties": {
                "format": _STR,
                "schema": {"type": "object", "properties": {"id": _STR, "version": _STR}},
            },
        },
        "params": {
            "type": "object",
            "properties": {
                "tableName": _STR,
                "path": _STR,
                "columns": {"type": "array", "items": {"type": "object", "properties": {"name": _STR}}},
            },
        },
    },
}
TARGET_CONNECTION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": _STR,
        "description": _STR,
        "baseConnectionId": _STR,
        "connectionSpec": _SPEC_INFO,
        "data": {
            "type": "object",
            "properties": {
                "format": _STR,
                "schema": {"type": "object", "properties": {"id": _STR, "version": _STR}},
            },
        },
        "params": {"type": "object", "properties": {"dataSetId": _STR}},
    },
}
FLOW: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": _STR,
        "description": _STR,
        "flowSpec": _SPEC_INFO,
        "sourceConnectionIds": {"type": "array", "items": _STR},
        "targetConnectionIds": {"type": "array", "items": _STR},
        "transformations": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": _STR, "params": _OBJ}},
        },
        "scheduleParams": {
            "type": "object",
            "properties": {
                "startTime": _EPOCH,
                "frequency": _STR,
                "interval": {"type": ["integer", "string"]},
                "backfill": {"type": ["boolean", "string"]},
            },
        },
        "options": _OBJ,
    },
}
RUN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "flowId": _STR,
        "params": {
            "type": "object",
            "properties": {
                "startTime": _EPOCH,
                "windowStartTime": _EPOCH,
                "windowEndTime": _EPOCH,
                "deltaColumn": {"type": "object", "properties": {"name": _STR}},
            },
        },
    },
}
_ALL_OF: dict[str, Any] = {"type": "array", "items": _OBJ}
CLASS: dict[str, Any] = {
    "type": "object",
    "properties": {"title": _STR, "description": _STR, "type": _STR, "allOf": _ALL_OF},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": _STR,
        "description": _STR,
        "type": _STR,
        "allOf": _ALL_OF,
        "meta:class": _STR,
    },
}
DATASET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": _STR,
        "description": _STR,
        "schemaRef": {"type": "object", "properties": {"id": _STR, "contentType": _STR}},
        "tags": {"type": "object", "additionalProperties": {"type": "array", "items": _STR}},
        "fileDescription": _OBJ,
        "enableErrorDiagnostics": {"type": "boolean"},
    },
}
_NULLABLE_STR: dict[str, Any] = {"type": ["string", "null"]}
MAPPING_SET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": _NULLABLE_STR,
        "name": _STR,
        "description": _NULLABLE_STR,
        "xdmSchema": _STR,
        "xdmVersion": _STR,
        "outputSchema": {
            "type": "object",
            "properties": {"schemaRef": {"type": "object", "properties": {"id": _STR, "contentType": _STR}}},
        },
        "inputSchema": _OBJ,
        "mappings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sourceType": _STR,
                    "source": _STR,
                    "destination": _STR,
                    "sourceAttribute": _STR,
                    "destinationXdmPath": _STR,
                    "name": _STR,
                    "description": _NULLABLE_STR,
                    "identity": {"type": "boolean"},
                    "identityGroup": _NULLABLE_STR,
                    "namespaceCode": _NULLABLE_STR,
                },
            },
        },
    },
}

_FS = "/data/foundation/flowservice"
_SR = "/data/foundation/schemaregistry"
_CAT = "/data/foundation/catalog"
_DP = "/data/foundation/conversion"

#: (method, route path) -> accepted shapes (a body must match one of them).
BODY_SHAPES: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {
    ("POST", f"{_FS}/connections"): (CONNECTION,),
    ("PATCH", f"{_FS}/connections/{{connection_id}}"): (_PATCH, _PATCH_OP),
    ("PATCH", f"{_FS}/connections/{{connection_id}}/"): (_PATCH, _PATCH_OP),
    ("POST", f"{_FS}/sourceConnections"): (SOURCE_CONNECTION,),
    ("PATCH", f"{_FS}/sourceConnections/{{connection_id}}"): (_PATCH,),
    ("POST", f"{_FS}/targetConnections"): (TARGET_CONNECTION,),
    ("PATCH", f"{_FS}/targetConnections/{{connection_id}}"): (_PATCH,),
    ("POST", f"{_FS}/flows"): (FLOW,),
    ("PATCH", f"{_FS}/flows/{{flow_id}}"): (_PATCH,),
    ("POST", f"{_FS}/runs"): (RUN,),
    ("POST", f"{_SR}/tenant/classes"): (CLASS,),
    ("POST", f"{_SR}/tenant/schemas"): (SCHEMA,),
    ("POST", f"{_CAT}/dataSets"): (DATASET,),
    ("PATCH", f"{_CAT}/dataSets/{{dataset_id}}"): (DATASET, _PATCH),
    ("POST", f"{_DP}/mappingSets"): (MAPPING_SET,),
    ("PUT", f"{_DP}/mappingSets/{{mapping_id}}"): (MAPPING_SET,),
}

#: Shapes a stored resource must still have after a JSON Patch (route path prefix -> shape).
PATCHED_SHAPES: dict[str, dict[str, Any]] = {
    f"{_FS}/connections/": CONNECTION,
    f"{_FS}/sourceConnections/": SOURCE_CONNECTION,
    f"{_FS}/targetConnections/": TARGET_CONNECTION,
    f"{_FS}/flows/": FLOW,
    f"{_CAT}/dataSets/": DATASET,
}


def structure_problem(body: Any) -> str | None:
    """Why ``body`` (parsed JSON) cannot be stored safely, or ``None``.

    Refuses nesting deeper than :data:`MAX_DEPTH`, integers outside int64, numbers such as
    ``1e400`` that overflow a double, and strings (values or keys) with unpaired surrogates, which
    no UTF-8 answer could carry. Iterative: no recursion limit.
    """
    stack: list[tuple[Any, int, str]] = [(body, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return f"the body is nested more than {MAX_DEPTH} levels deep (at {where or 'the root'})"
            if isinstance(value, dict):
                for key, child in value.items():
                    if not _utf8_ok(key):
                        return f"a key under {where or 'the root'} is not valid Unicode text"
                    stack.append((child, depth + 1, f"{where}.{key}" if where else key))
            else:
                stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(value))
        elif isinstance(value, str):
            if not _utf8_ok(value):
                return f"'{where}' is not valid Unicode text (unpaired surrogate)"
        elif isinstance(value, int) and not isinstance(value, bool):
            if not -INT64_MAX - 1 <= value <= INT64_MAX:
                return f"'{where}' is a number outside the 64-bit integer range"
        elif isinstance(value, float) and not math.isfinite(value):
            return f"'{where}' is a number too large for a double"
    return None


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shape_errors(shapes: tuple[dict[str, Any], ...], body: Any) -> list[str]:
    """Type errors of ``body`` against the first shape whose top-level type matches (``[]`` = ok).

    Messages name the field and the expected type, never the value (bodies carry credentials).
    """
    import jsonschema

    kind = _json_type(body)
    chosen = next((s for s in shapes if kind in _types_of(s)), None)
    if chosen is None:
        names = " or ".join(sorted({t for s in shapes for t in _types_of(s)}))
        return [f"the body must be a JSON {names}"]
    validator = jsonschema.Draft7Validator(chosen)
    msgs = []
    for err in sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in err.absolute_path) or "the body"
        if err.validator == "type":
            expected = err.validator_value
            names = " or ".join(expected) if isinstance(expected, list) else str(expected)
            msgs.append(f"'{where}' must be of type {names}")
        elif err.validator == "required":
            msgs.append(f"'{where}': {err.message}")
        else:
            msgs.append(f"'{where}' does not satisfy '{err.validator}'")
    return msgs


def _types_of(shape: dict[str, Any]) -> list[str]:
    t = shape.get("type", [])
    return t if isinstance(t, list) else [t]


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
