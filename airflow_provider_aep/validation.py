"""Local validators shared by the AEP operators.

Every check raises :class:`~airflow_provider_aep.exceptions.AEPInputError` naming the parameter,
the problem and the fix, so that a bad value fails the task *before* any request is sent.
Only the standard library is imported at module level; ``jsonschema`` is imported lazily.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from airflow_provider_aep.constants import (  # re-exported from their historical home
    DATA_LAKE_CONNECTION_SPEC_ID as DATA_LAKE_CONNECTION_SPEC_ID,
)
from airflow_provider_aep.constants import XED_FULL_NOTEXT_V1 as XED_FULL_NOTEXT_V1
from airflow_provider_aep.constants import XED_FULL_V1 as XED_FULL_V1
from airflow_provider_aep.exceptions import AEPInputError

SCHEDULE_FREQUENCIES = ("once", "minute", "hour", "day", "week")
IF_EXISTS_CHOICES = ("converge", "reuse", "fail", "replace")

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATASET_RE = re.compile(r"^[0-9a-fA-F]{24}$")
_MAPPING_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_SCHEMA_URL_RE = re.compile(r"^https://ns\.adobe\.com/[A-Za-z0-9_.-]+/schemas/[0-9a-fA-F]+$")
_SCHEMA_ALT_RE = re.compile(r"^_[A-Za-z0-9_-]+\.schemas\.[0-9a-fA-F]+$")
# Classes and field groups: tenant resources (…/classes/<hex>, …/mixins/<hex>, …/fieldgroups/<hex>)
# and standard ones (https://ns.adobe.com/xdm/context/profile, …/xdm/data/adhoc).
_XDM_URL_RE = re.compile(r"^https://ns\.adobe\.com/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_XDM_ALT_RE = re.compile(r"^_[A-Za-z0-9_-]+\.[a-z]+\.[0-9a-fA-F]+$")
_XDM_PATH_SEGMENT = r"[A-Za-z_][A-Za-z0-9_]*(\[(\d+|\*)\])?"
_XDM_PATH_RE = re.compile(rf"^{_XDM_PATH_SEGMENT}(\.{_XDM_PATH_SEGMENT})*$")
_COLUMN_NAME_RE = re.compile(r"^[^\s.][^\n\r\t]*$")
_ETAG_OR_VERSION_RE = re.compile(r"^\d+$")

#: Field types accepted by the ad-hoc class operator, with the JSON Schema each becomes.
ADHOC_FIELD_TYPES: dict[str, dict[str, str]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
}
COLUMN_TYPES = ("string", "number", "integer", "boolean", "date", "date-time", "object", "array")


@dataclass(frozen=True)
class Rule:
    """A named cross-field rule: when ``broken(subject)`` holds, the input fails naming *field*.

    Validators list their rules in a table and run them with :func:`check_rules`, so that each
    rule is one line of data (field, test, problem, fix) instead of a branch of a long chain.

    :param field: the parameter the error names.
    :param broken: true when the subject breaks the rule.
    :param problem: what is wrong (or a function of the subject that says it).
    :param fix: how to fix it.
    """

    field: str
    broken: Callable[[Any], bool]
    problem: str | Callable[[Any], str]
    fix: str

    def check(self, subject: Any) -> None:
        """Raise :class:`AEPInputError` when *subject* breaks the rule."""
        if self.broken(subject):
            problem = self.problem(subject) if callable(self.problem) else self.problem
            raise AEPInputError(self.field, problem, self.fix)


def check_rules(subject: Any, rules: Iterable[Rule]) -> None:
    """Check *rules* in order; the first broken one raises."""
    for rule in rules:
        rule.check(subject)


def exactly_one(subject: Any, names: Sequence[str], example: str) -> str:
    """The one of the attributes *names* of *subject* that is set (not ``None``); else an error
    naming the first of them."""
    given = [n for n in names if getattr(subject, n) is not None]
    if len(given) != 1:
        raise AEPInputError(
            names[0],
            f"exactly one of {', '.join(names[:-1])} and {names[-1]} must be given"
            + (f" (got {', '.join(given)})." if given else "."),
            f"Pass e.g. {example}.",
        )
    return given[0]


def is_templated(value: Any) -> bool:
    """True if *value* is not yet a concrete value (a Jinja string or an XComArg / mapped arg)."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_templated(k) or is_templated(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(is_templated(v) for v in value)
    return not isinstance(value, (int, float, bool, datetime, date, type(None)))


def require_str(field: str, value: Any, what: str = "a non-empty string") -> str:
    """Return *value* stripped; raise if it is not a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise AEPInputError(field, f"must be {what}, got {_show(value)}.", f"Pass {field}=<{what}>.")
    return value.strip()


def check_name(field: str, value: Any, lookup: str | None = None) -> str:
    """Validate a resource name/title (the identity used for idempotent reuse).

    :param lookup: the service whose name filter finds the resource again (``flowservice``,
        ``catalog``, ``schemaregistry``, ``conversion``): names that filter cannot find
        reliably are refused here, before any request (see :mod:`airflow_provider_aep.hooks._filters`).
    """
    name = require_str(field, value, "a non-empty name")
    if len(name) > 256:
        raise AEPInputError(
            field, f"is {len(name)} characters long.", "Use a name of at most 256 characters."
        )
    if any(c in name for c in "\r\n\t"):
        raise AEPInputError(field, "contains a line break or tab.", "Use a single-line name.")
    check_text(field, name)
    if lookup is not None:
        from airflow_provider_aep.hooks._filters import check_lookup_name

        check_lookup_name(lookup, field, name)
    return name


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def check_text(
    field: str, value: str, fix: str = "Remove line breaks, tabs and other control characters."
) -> str:
    """Refuse control characters (a newline in a header value is header injection)."""
    if _CONTROL_RE.search(value):
        raise AEPInputError(field, f"contains a control character ({_show(value)}).", fix)
    return value


def check_number(
    field: str,
    value: Any,
    *,
    minimum: float,
    maximum: float,
    integer: bool = False,
    min_exclusive: bool = False,
    fix: str,
) -> float:
    """A finite number (or numeric string) within ``[minimum, maximum]``; bools are refused.

    Returns a ``float`` (an ``int`` when ``integer``). NaN, infinities, values that do not fit a
    float and out-of-range values raise :class:`AEPInputError` naming *field* and *fix*.
    """
    number: float | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = float(value) if abs(value) <= 2**63 else math.inf
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    else:
        seconds = getattr(value, "total_seconds", None)  # timedelta
        number = float(seconds()) if callable(seconds) else None
    if number is None or not math.isfinite(number):
        raise AEPInputError(field, f"must be a finite number, got {_show(value)}.", fix)
    low_ok = number > minimum if min_exclusive else number >= minimum
    if not low_ok or number > maximum:
        bound = f"{'>' if min_exclusive else '>='} {minimum:g} and <= {maximum:g}"
        raise AEPInputError(field, f"must be {bound}, got {_show(value)}.", fix)
    if integer:
        if number != int(number):
            raise AEPInputError(field, f"must be a whole number, got {_show(value)}.", fix)
        return int(number)
    return number


def check_uuid(field: str, value: Any) -> str:
    """Flow Service ids (connections, flows, specs) are UUIDs."""
    text = require_str(field, value, "a Flow Service id (UUID)")
    if not _UUID_RE.match(text):
        raise AEPInputError(
            field,
            f"{text!r} is not a UUID (Flow Service ids look like 8-4-4-4-12 hex digits).",
            "Pass the 'id' returned when the resource was created, e.g. from the upstream task's XCom.",
        )
    return text


def check_dataset_id(field: str, value: Any) -> str:
    """Catalog dataset ids are 24 hex characters (an ``@/dataSets/`` prefix is stripped)."""
    text = require_str(field, value, "a dataset id (24 hex characters)")
    for prefix in ("@/dataSets/", "@/datasets/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if not _DATASET_RE.match(text):
        raise AEPInputError(
            field,
            f"{text!r} is not a dataset id (24 hex characters).",
            "Pass the bare dataset id returned by AEPCreateDatasetOperator.",
        )
    return text


def check_mapping_id(field: str, value: Any) -> str:
    """Data Prep mapping-set ids are 32 hex characters without hyphens."""
    text = require_str(field, value, "a mapping set id (32 hex characters)")
    if not _MAPPING_RE.match(text):
        raise AEPInputError(
            field,
            f"{text!r} is not a mapping set id (32 hex characters, no hyphens).",
            "Pass the id returned by AEPCreateMappingSetOperator.",
        )
    return text


def check_mapping_version(field: str, value: Any) -> str:
    """Mapping versions are non-negative integers, sent to Flow Service as strings."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise AEPInputError(field, f"must be a version number, got {_show(value)}.", 'Pass e.g. "0".')
    text = str(value).strip()
    if not _ETAG_OR_VERSION_RE.match(text) or len(text) > 10:
        raise AEPInputError(field, f"{text!r} is not a version number.", 'Pass e.g. "0".')
    return text


def is_schema_alt_id(value: str) -> bool:
    """True for a ``meta:altId`` such as ``_tenant.schemas.<hex>``."""
    return bool(_SCHEMA_ALT_RE.match(value))


def check_schema_id(field: str, value: Any) -> str:
    """A tenant schema id: ``$id`` URL (``https://ns.adobe.com/<tenant>/schemas/<hex>``) or altId."""
    text = require_str(field, value, "a schema $id or meta:altId")
    if not (_SCHEMA_URL_RE.match(text) or _SCHEMA_ALT_RE.match(text)):
        raise AEPInputError(
            field,
            f"{text!r} is neither a schema $id (https://ns.adobe.com/<tenant>/schemas/<hex>) "
            "nor a meta:altId (_<tenant>.schemas.<hex>).",
            "Pass the value returned by AEPCreateSchemaOperator (return value or meta_alt_id).",
        )
    return text


def check_xdm_ref(field: str, value: Any) -> str:
    """A class or field-group reference: ``https://ns.adobe.com/...`` URL or a tenant altId."""
    text = require_str(field, value, "an XDM $id URL")
    if not (_XDM_URL_RE.match(text) or _XDM_ALT_RE.match(text)):
        raise AEPInputError(
            field,
            f"{text!r} is not an XDM resource id.",
            "Use a URL such as https://ns.adobe.com/xdm/context/profile or a tenant meta:altId.",
        )
    return text


def check_enum(field: str, value: Any, choices: Sequence[str]) -> str:
    """Value must be one of *choices* (exact match)."""
    if value not in choices:
        raise AEPInputError(
            field, f"{_show(value)} is not supported.", f"Use one of: {', '.join(map(str, choices))}."
        )
    return str(value)


def check_date_format(field: str, value: Any) -> str:
    """A Java ``DateTimeFormatter`` pattern for the delta column, as AEP's Copy transformation reads it.

    Catches the tutorials' ``YYYY-MM-DD`` (week-based year and day-of-year, which silently picks the
    wrong rows around new year) and patterns without a year, month and day.
    """
    text = require_str(field, value, "a date format such as yyyy-MM-dd HH:mm:ss")
    if "YYYY" in text or "DD" in text:
        raise AEPInputError(
            field,
            f"{text!r} uses 'YYYY' (week-based year) or 'DD' (day of year).",
            "Use 'yyyy' and 'dd', e.g. 'yyyy-MM-dd HH:mm:ss' (OData: \"yyyy-MM-dd'T'HH:mm:ss'Z'\").",
        )
    if not all(part in text for part in ("yy", "MM", "dd")):
        raise AEPInputError(
            field,
            f"{text!r} lacks a year (yy), month (MM) or day (dd).",
            "Use a full date-time pattern such as 'yyyy-MM-dd HH:mm:ss'.",
        )
    return text


def check_tags(field: str, value: Any) -> dict[str, list[str]] | None:
    """Catalog tags: ``{name: [values]}`` with string names and values (``None`` for no tags)."""
    if value is None or value == {}:
        return None
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and k and isinstance(v, list) and all(isinstance(i, str) for i in v)
        for k, v in value.items()
    )
    if not ok:
        raise AEPInputError(
            field,
            f"must map tag names to lists of strings, got {_show(value)}.",
            'Pass e.g. {"team": ["crm"]} (unifiedProfile/unifiedIdentity are reserved by AEP).',
        )
    return value


def check_xdm_path(field: str, path: Any) -> str:
    """Syntax of an XDM destination path (dot-separated identifiers, optional ``[n]``)."""
    text = require_str(field, path, "an XDM path such as person.name.firstName")
    if text.startswith("/") or not _XDM_PATH_RE.match(text):
        raise AEPInputError(
            field,
            f"destination {text!r} is not a valid XDM path.",
            "Use dot-separated field names without spaces, e.g. person.name.firstName or _tenant.field.",
        )
    return text


def normalize_columns(field: str, columns: Any) -> list[dict[str, Any]]:
    """Validate and normalise source columns.

    Accepts the ``/explore`` column dicts (``{name, type, xdm?, meta:xdmType?}``) or plain names
    (each becomes a string column). Rejects empty lists, duplicate or empty names and wrong shapes.
    """
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Iterable):
        raise AEPInputError(
            field,
            f"must be a list of column dicts or names, got {_show(columns)}.",
            'Pass e.g. [{"name": "Id", "type": "string"}] or ["Id", "Name"], or None to read /explore.',
        )
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, col in enumerate(columns):
        where = f"{field}[{i}]"
        if isinstance(col, str):
            col = {"name": col, "type": "string", "xdm": {"type": "string"}}
        if not isinstance(col, Mapping):
            raise AEPInputError(
                where,
                f"must be a column dict or a name, got {_show(col)}.",
                'Use {"name": ..., "type": ...}.',
            )
        name = col.get("name")
        if not isinstance(name, str) or not name.strip():
            raise AEPInputError(where, "has no 'name'.", 'Every column needs {"name": <column name>, ...}.')
        if not _COLUMN_NAME_RE.match(name):
            raise AEPInputError(
                where, f"column name {name!r} is malformed.", "Use the column name as in the source."
            )
        ctype = col.get("type", "string")
        if ctype not in COLUMN_TYPES:
            raise AEPInputError(
                where,
                f"column {name!r} has unknown type {_show(ctype)}.",
                f"Use one of: {', '.join(COLUMN_TYPES)}.",
            )
        xdm = col.get("xdm")
        if xdm is not None and (not isinstance(xdm, Mapping) or not isinstance(xdm.get("type"), str)):
            raise AEPInputError(
                where, f"column {name!r} has a malformed 'xdm' entry.", 'Use "xdm": {"type": "string", ...}.'
            )
        if name in seen:
            raise AEPInputError(field, f"column {name!r} is listed twice.", "List every column once.")
        seen.add(name)
        out = dict(col)
        out.setdefault("type", ctype)
        out.setdefault(
            "xdm",
            {"type": ctype} if ctype in ("string", "number", "integer", "boolean") else {"type": "string"},
        )
        result.append(out)
    if not result:
        raise AEPInputError(
            field, "is empty.", "List at least one column, or pass None to read them from /explore."
        )
    return result


def column_names(field: str, columns: Any) -> list[str]:
    """Names from a list of column names or ``/explore`` column dicts (validated)."""
    return [c["name"] for c in normalize_columns(field, columns)]


_YEAR_3000 = 32_503_680_000  # 3000-01-01T00:00:00Z in epoch seconds
#: Numbers at or above this are epoch milliseconds (1e11 epoch seconds would be the year 5138).
_EPOCH_MS_THRESHOLD = 1e11
_TIME_FIX = (
    "Pass a timezone-aware datetime (e.g. data_interval_start), epoch seconds or milliseconds, "
    "or an ISO 8601 string with an offset such as 2026-01-01T00:00:00Z."
)


def parse_time(field: str, value: Any) -> float | None:
    """The ONE time parser of every operator, sensor and trigger: epoch seconds, or None if unset.

    Policy (the README's "Times" section):

    * a timezone-aware ``datetime`` (pendulum values such as ``data_interval_start`` included), an
      ISO 8601 string *with* an offset (``Z``, ``+00:00``; what ``{{ data_interval_start }}``
      renders to), or a ``date`` or ``YYYY-MM-DD`` string (00:00 UTC of that day);
    * a number or digit string: epoch **seconds**, or epoch **milliseconds** when it is 1e11 or more
      (what AEP itself returns, e.g. ``startedAtUTC``); converted to seconds;
    * refused with :class:`AEPInputError`: naive datetimes and ISO strings without an offset (the
      zone would be a guess, and a wrong guess silently shifts the window by hours), values after
      the year 3000 once read as milliseconds (microseconds), negative values, anything else.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise AEPInputError(field, f"must be a time, got {value!r}.", _TIME_FIX)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise AEPInputError(
                field,
                f"{value!r} is a naive datetime (no timezone); the window would be a guess.",
                "Use a timezone-aware datetime, e.g. datetime(2026, 1, 1, tzinfo=timezone.utc).",
            )
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, str):
        text = value.strip()
        if not _is_number(text):
            if len(text) == 10 and text[4] == "-" and text[7] == "-":  # a date: as a date object
                try:
                    day = date.fromisoformat(text)
                except ValueError:
                    raise AEPInputError(field, f"{text!r} is not a time.", _TIME_FIX) from None
                return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
            try:
                parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
            except ValueError:
                raise AEPInputError(field, f"{text!r} is not a time.", _TIME_FIX) from None
            if parsed.tzinfo is None:
                raise AEPInputError(
                    field, f"{text!r} has no UTC offset.", "Append 'Z' or '+00:00' (AEP works in UTC)."
                )
            return parsed.timestamp()
        number = float(text)
    elif isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float (10**400)
            number = math.inf
    else:
        raise AEPInputError(field, f"must be a time, got {_show(value)}.", _TIME_FIX)
    if not math.isfinite(number):
        raise AEPInputError(field, f"{_show(value)} is not a time.", _TIME_FIX)
    seconds = number / 1000.0 if abs(number) >= _EPOCH_MS_THRESHOLD else number
    if seconds > _YEAR_3000:
        raise AEPInputError(
            field,
            f"{value!r} is after the year 3000 even read as epoch milliseconds (microseconds?).",
            "Pass epoch seconds (10 digits) or milliseconds (13 digits), or a datetime.",
        )
    if seconds < 0:
        raise AEPInputError(field, f"{value!r} is negative.", "Pass a time after 1970.")
    return seconds


#: Fastest poll against AEP (rate-limited) and against a loopback emulator; slowest poll.
MIN_POLL_INTERVAL = 1.0
MIN_POLL_INTERVAL_LOOPBACK = 0.01
MAX_POLL_INTERVAL = 86400.0
#: Longest wait a sensor or run operator accepts (a year).
MAX_WAIT_TIMEOUT = 366 * 86400.0


def check_poll_interval(field: str, value: Any, *, loopback: bool = False) -> float:
    """Seconds between status checks: finite, at least 1 s against AEP (0.01 s against a loopback
    emulator), at most a day. ``0`` polled hundreds of times a second."""
    minimum = MIN_POLL_INTERVAL_LOOPBACK if loopback else MIN_POLL_INTERVAL
    return check_number(
        field,
        value,
        minimum=minimum,
        maximum=MAX_POLL_INTERVAL,
        fix=f"Use seconds between {minimum:g} and {MAX_POLL_INTERVAL:g}, e.g. 30 (AEP is rate-limited).",
    )


def check_wait_timeout(field: str, value: Any) -> float | None:
    """A wait timeout in seconds (or ``None``): finite, positive, at most a year."""
    if value is None:
        return None
    return check_number(
        field,
        value,
        minimum=0,
        maximum=MAX_WAIT_TIMEOUT,
        min_exclusive=True,
        fix="Use seconds, e.g. 3600 (at most a year), or None to wait until execution_timeout.",
    )


def check_count(field: str, value: Any, maximum: int) -> int:
    """A whole number between 0 and *maximum*."""
    return int(
        check_number(
            field,
            value,
            minimum=0,
            maximum=maximum,
            integer=True,
            fix=f"Use a whole number from 0 to {maximum}.",
        )
    )


#: Longest schedule interval per frequency: one year.
MAX_INTERVAL = {"minute": 525_600, "hour": 8_760, "day": 366, "week": 53}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_epoch_seconds(field: str, value: Any, *, now: datetime | None = None) -> int:
    """:func:`parse_time` as whole epoch seconds; ``None`` means now (a dataflow's start time)."""
    seconds = parse_time(field, value)
    if seconds is None:
        return int((now or datetime.now(timezone.utc)).timestamp())
    return int(seconds)


def build_schedule(frequency: Any, interval: Any, backfill: Any, start_time: int) -> dict[str, Any]:
    """Check the schedule with the known CRMToAEP rules and return ``scheduleParams``.

    ``once`` takes no interval and no backfill; ``minute`` needs interval >= 15; the others >= 1.
    ``None`` interval/backfill mean the defaults (1, or 15 for ``minute``; backfill true).
    """
    freq = check_enum("frequency", frequency, SCHEDULE_FREQUENCIES)
    params: dict[str, Any] = {"startTime": start_time, "frequency": freq}
    if freq == "once":
        _check_once(interval, backfill)
        return params
    params["interval"] = _schedule_interval(freq, interval)
    params["backfill"] = _schedule_backfill(backfill)
    return params


def _check_once(interval: Any, backfill: Any) -> None:
    """A one-time flow takes neither an interval nor a backfill."""
    for name, val in (("interval", interval), ("backfill", backfill)):
        if val is not None:
            raise AEPInputError(
                name,
                f"must not be set when frequency='once' (got {_show(val)}).",
                f"Drop {name}, or use a periodic frequency (minute, hour, day, week).",
            )


def _schedule_interval(freq: str, interval: Any) -> int:
    """A whole number of *freq* units: at least 15 minutes or 1 of the others, at most a year."""
    minimum = 15 if freq == "minute" else 1
    if interval is None:
        return minimum
    if isinstance(interval, str) and interval.strip().isdigit():
        interval = int(interval)
    if isinstance(interval, bool) or not isinstance(interval, int):
        raise AEPInputError(
            "interval", f"must be an integer, got {_show(interval)}.", "Pass e.g. interval=1."
        )
    if interval < minimum:
        raise AEPInputError(
            "interval",
            f"{interval} is below the minimum of {minimum} for frequency={freq!r}.",
            f"Use interval >= {minimum}"
            + (" (AEP's shortest schedule is 15 minutes)." if freq == "minute" else "."),
        )
    if interval > MAX_INTERVAL[freq]:
        raise AEPInputError(
            "interval",
            f"{_show(interval)} {freq}s is longer than a year.",
            f"Use interval <= {MAX_INTERVAL[freq]} for frequency={freq!r}, or frequency='once'.",
        )
    return interval


def _schedule_backfill(backfill: Any) -> bool:
    """True or false (the strings too); ``None`` means true."""
    if backfill is None:
        return True
    if isinstance(backfill, str) and backfill.lower() in ("true", "false"):
        return backfill.lower() == "true"
    if not isinstance(backfill, bool):
        raise AEPInputError(
            "backfill", f"must be true or false, got {_show(backfill)}.", "Pass backfill=True or False."
        )
    return backfill


def validate_against_json_schema(field: str, instance: Any, schema: Mapping[str, Any] | None) -> None:
    """Validate *instance* against a JSON Schema published in a flow spec (no-op if absent)."""
    if not schema:
        return
    import jsonschema  # lazy: only needed when a flow is created

    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    errors = sorted(validator_cls(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path)
        raise AEPInputError(
            f"{field}.{where}" if where else field,
            f"rejected by the flow spec's schema: {_one_line(err.message)}.",
            "Adjust the value to the flow spec (GET /flowSpecs) rules.",
        )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 200 else flat[:197] + "..."
