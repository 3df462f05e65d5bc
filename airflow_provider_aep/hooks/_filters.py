"""Name filters of the four AEP list styles, and the names each of them can find again.

Idempotency rests on finding a resource by its name, so a name the server-side filter cannot
match exactly would be created again on every run. What AEP documents (API notes, section 4):

* **Flow Service** ``property=name==<value>``: string values may be double-quoted, which keeps
  commas (the OR separator) and operators inside the value. No escape character is documented,
  so a name containing ``"`` or ``\\`` cannot be quoted reliably: such names are refused.
* **Catalog** ``name=<v>[,<v2>]``: the value is literal, a comma means OR and a leading ``!``
  means NOT; no quoting is documented. Names with a comma, a leading ``!`` or surrounding spaces
  are refused.
* **Schema Registry** ``property=title==<value>``: the documented examples are unquoted and no
  quoting is documented. A title made only of characters with no filter meaning is sent as is;
  any other title is looked up without a filter (every page, exact match on the client), which
  always works, one request per 100 tenant resources.
* **Data Prep** ``name=<value>``: one literal query value (no operators), always usable.

Every style then keeps only exact matches on the client, so a filter may return more, never less.
"""

from __future__ import annotations

import re

from airflow_provider_aep.exceptions import AEPInputError

LOOKUP_STYLES = ("flowservice", "catalog", "schemaregistry", "conversion")

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Schema Registry: characters with no meaning in a property expression or its value list.
_SR_PLAIN_RE = re.compile(r"[A-Za-z0-9_.:@/ \-]+")


def lookup_name_problem(style: str, name: str) -> tuple[str, str] | None:
    """``(problem, fix)`` when *name* cannot be found again through *style*'s filter, else ``None``."""
    if style not in LOOKUP_STYLES:
        raise ValueError(f"unknown lookup style {style!r}")
    if _CONTROL_RE.search(name):
        return "contains a control character.", "Use a single-line name without tabs or control characters."
    if style == "flowservice":
        bad = sorted({c for c in name if c in '"\\'})
        if bad:
            return (
                f"contains {' and '.join(repr(c) for c in bad)}: Flow Service's property filter quotes names "
                "with double quotes and documents no escape, so this name could not be found again and "
                "every rerun would create a duplicate.",
                "Rename it without double quotes and backslashes (single quotes are fine).",
            )
    if style == "catalog":
        if "," in name:
            return (
                "contains a comma: Catalog's name filter reads a comma as OR and documents no quoting, so "
                "this dataset could not be found again and every rerun would create a duplicate.",
                "Rename it without commas (e.g. use ';' or ' - ').",
            )
        if name.startswith("!"):
            return (
                "starts with '!': Catalog's name filter reads a leading '!' as NOT.",
                "Rename it so that it does not start with '!'.",
            )
        if name != name.strip():
            return (
                "starts or ends with a space, which Catalog's name filter does not keep reliably.",
                "Remove the leading and trailing spaces.",
            )
    return None


def check_lookup_name(style: str, field: str, name: str) -> str:
    """Raise :class:`AEPInputError` (naming *field*) unless *style*'s filter can find *name* again."""
    problem = lookup_name_problem(style, name)
    if problem:
        raise AEPInputError(field, *problem)
    return name


def flow_service_value(field: str, value: str) -> str:
    """``"value"`` for a Flow Service ``property=`` filter (refused when it cannot be quoted)."""
    check_lookup_name("flowservice", field, value)
    return '"' + value + '"'


def schema_registry_title_filter(title: str) -> str | None:
    """``title==<title>`` when the title can be sent unquoted, else ``None`` (list without a filter)."""
    if title == title.strip() and _SR_PLAIN_RE.fullmatch(title):
        return f"title=={title}"
    return None
