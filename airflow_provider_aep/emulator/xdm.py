"""Standard XDM classes and field groups known to the emulator, and XDM value coercion.

:data:`STANDARD_RESOURCES` holds trimmed, fully expanded documents (``definitions`` carry the
fields inline instead of ``$ref`` to data types) of the global classes and field groups a source
ingestion schema typically uses. :func:`field_paths` flattens a class plus field groups into the
dotted leaf paths a mapping may write to; :func:`coerce_value` converts a source value to the XDM
type of such a path, the way Data Prep does, raising :class:`ValueError` when it cannot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone
from typing import Any

__all__ = [
    "ADHOC_CLASS_ID",
    "EXPERIENCE_EVENT_CLASS_ID",
    "PROFILE_CLASS_ID",
    "STANDARD_RESOURCES",
    "TENANT_ID",
    "TENANT_NAMESPACE",
    "coerce_value",
    "field_paths",
    "is_valid_destination",
    "normalise_path",
    "parse_datetime",
]

TENANT_ID = "emulatortenant"
TENANT_NAMESPACE = f"_{TENANT_ID}"

PROFILE_CLASS_ID = "https://ns.adobe.com/xdm/context/profile"
EXPERIENCE_EVENT_CLASS_ID = "https://ns.adobe.com/xdm/context/experienceevent"
ADHOC_CLASS_ID = "https://ns.adobe.com/xdm/data/adhoc"
PERSON_DETAILS_ID = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL_DETAILS_ID = "https://ns.adobe.com/xdm/context/profile-personal-details"
WORK_DETAILS_ID = "https://ns.adobe.com/xdm/context/profile-work-details"
IDENTITY_MAP_ID = "https://ns.adobe.com/xdm/context/identitymap"

_SCHEMA_DRAFT6 = "http://json-schema.org/draft-06/schema#"
_GLOBAL_LIB_VERSION = "1.49.2"

# --------------------------------------------------------------------------- field builders


def _field(xdm_name: str, title: str, description: str, json_type: str, xdm_type: str, **extra: Any) -> dict:
    return {
        "title": title,
        "description": description,
        "type": json_type,
        "meta:xdmType": xdm_type,
        "meta:xdmField": xdm_name,
        **extra,
    }


def _string(xdm_name: str, title: str, description: str, **extra: Any) -> dict:
    return _field(xdm_name, title, description, "string", "string", **extra)


def _datetime(xdm_name: str, title: str, description: str) -> dict:
    return _field(xdm_name, title, description, "string", "date-time", format="date-time")


def _object(xdm_name: str, title: str, description: str, properties: dict) -> dict:
    return _field(xdm_name, title, description, "object", "object", properties=properties)


def _phone(xdm_name: str, title: str, description: str) -> dict:
    return _object(
        xdm_name,
        title,
        description,
        {
            "number": _string("xdm:number", "Number", "The phone number, possibly with extension."),
            "extension": _string("xdm:extension", "Extension", "Internal dialing number."),
            "primary": _field(
                "xdm:primary", "Primary", "Primary number of the person.", "boolean", "boolean"
            ),
            "status": _string(
                "xdm:status",
                "Status",
                "Whether the number can be used.",
                enum=["active", "incomplete", "pending_verification", "blocked"],
            ),
        },
    )


def _email(xdm_name: str, title: str, description: str) -> dict:
    return _object(
        xdm_name,
        title,
        description,
        {
            "address": _string("xdm:address", "Address", "The email address.", format="email"),
            "primary": _field(
                "xdm:primary", "Primary", "Primary address of the person.", "boolean", "boolean"
            ),
            "label": _string("xdm:label", "Label", "Display name of the address."),
            "type": _string("xdm:type", "Type", "Kind of address.", enum=["personal", "work", "other"]),
        },
    )


def _address(xdm_name: str, title: str, description: str) -> dict:
    return _object(
        xdm_name,
        title,
        description,
        {
            "street1": _string("xdm:street1", "Street 1", "First line of the street address."),
            "street2": _string("xdm:street2", "Street 2", "Second line of the street address."),
            "city": _string("xdm:city", "City", "Town or city name."),
            "stateProvince": _string("xdm:stateProvince", "State or province", "State or province code."),
            "postalCode": _string("xdm:postalCode", "Postal code", "Postal (zip) code."),
            "country": _string("xdm:country", "Country", "Country name."),
            "countryCode": _string(
                "xdm:countryCode", "Country code", "ISO 3166-1 alpha-2 country code.", pattern="^[A-Z]{2}$"
            ),
        },
    )


_IDENTITY_MAP = {
    "title": "Identity map",
    "description": "Identities of the subject keyed by identity namespace code.",
    "type": "object",
    "meta:xdmType": "map",
    "meta:xdmField": "xdm:identityMap",
    "additionalProperties": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "title": "Identifier"},
                "authenticatedState": {
                    "type": "string",
                    "enum": ["ambiguous", "authenticated", "loggedOut"],
                    "default": "ambiguous",
                },
                "primary": {"type": "boolean", "default": False},
            },
        },
    },
}


def _registry_metadata(created_ms: int) -> dict:
    return {
        "repo:createdDate": created_ms,
        "repo:lastModifiedDate": created_ms,
        "xdm:createdClientId": "acp_xdm",
        "xdm:lastModifiedClientId": "acp_xdm",
        "meta:globalLibVersion": _GLOBAL_LIB_VERSION,
    }


def _alt_id(resource_id: str) -> str:
    return "_" + resource_id.removeprefix("https://ns.adobe.com/").replace("/", ".")


def _class_doc(
    resource_id: str,
    title: str,
    description: str,
    properties: dict,
    behaviour: str,
    required: list[str] | None = None,
) -> dict:
    key = resource_id.rsplit("/", 1)[-1]
    definition: dict[str, Any] = {"properties": properties}
    if required:
        definition["required"] = required
    return {
        "$id": resource_id,
        "meta:altId": _alt_id(resource_id),
        "meta:resourceType": "classes",
        "version": _GLOBAL_LIB_VERSION,
        "title": title,
        "type": "object",
        "description": description,
        "definitions": {key: definition} if properties else {},
        "allOf": [{"$ref": behaviour, "type": "object", "meta:xdmType": "object"}]
        + (
            [{"$ref": f"#/definitions/{key}", "type": "object", "meta:xdmType": "object"}]
            if properties
            else []
        ),
        "meta:extensible": True,
        "meta:abstract": True,
        "meta:extends": [behaviour],
        "meta:xdmType": "object",
        "meta:status": "stable",
        "meta:containerId": "global",
        "$schema": _SCHEMA_DRAFT6,
        "meta:registryMetadata": _registry_metadata(1_546_300_800_000),
    }


def _field_group_doc(
    resource_id: str, title: str, description: str, properties: dict, extends: list[str]
) -> dict:
    key = resource_id.rsplit("/", 1)[-1]
    return {
        "$id": resource_id,
        "meta:altId": _alt_id(resource_id),
        "meta:resourceType": "mixins",
        "version": _GLOBAL_LIB_VERSION,
        "title": title,
        "type": "object",
        "description": description,
        "definitions": {key: {"properties": properties}},
        "allOf": [{"$ref": f"#/definitions/{key}", "type": "object", "meta:xdmType": "object"}],
        "meta:extensible": True,
        "meta:abstract": True,
        "meta:intendedToExtend": list(extends),
        "meta:xdmType": "object",
        "meta:status": "stable",
        "meta:containerId": "global",
        "$schema": _SCHEMA_DRAFT6,
        "meta:registryMetadata": _registry_metadata(1_596_931_200_000),
    }


_RECORD_BEHAVIOUR = "https://ns.adobe.com/xdm/data/record"
_TIME_SERIES_BEHAVIOUR = "https://ns.adobe.com/xdm/data/time-series"
_ADHOC_BEHAVIOUR = "https://ns.adobe.com/xdm/data/adhoc"

_REPO = _object(
    "xdm:repo",
    "Repository metadata",
    "Metadata the platform maintains about the record.",
    {
        "createDate": _datetime("repo:createDate", "Create date", "When the record was first stored."),
        "modifyDate": _datetime("repo:modifyDate", "Modify date", "When the record was last changed."),
    },
)

_PROFILE_CLASS = _class_doc(
    PROFILE_CLASS_ID,
    "XDM Individual Profile",
    "Attributes and interests of one person, merged from every source that knows them.",
    {
        "_id": _string("@id", "Identifier", "Unique identifier of the record.", format="uri-reference"),
        "_repo": _REPO,
        "createdByBatchID": _string(
            "xdm:createdByBatchID",
            "Created by batch",
            "Batch that created the record.",
            format="uri-reference",
        ),
        "modifiedByBatchID": _string(
            "xdm:modifiedByBatchID",
            "Modified by batch",
            "Batch that last changed the record.",
            format="uri-reference",
        ),
        "repositoryCreatedBy": _string(
            "xdm:repositoryCreatedBy", "Created by", "User or client that created it."
        ),
        "repositoryLastModifiedBy": _string(
            "xdm:repositoryLastModifiedBy", "Last modified by", "User or client that last changed it."
        ),
        "personID": _string("xdm:personID", "Person ID", "Identifier of the person the profile describes."),
        "identityMap": _IDENTITY_MAP,
    },
    _RECORD_BEHAVIOUR,
)

_EXPERIENCE_EVENT_CLASS = _class_doc(
    EXPERIENCE_EVENT_CLASS_ID,
    "XDM ExperienceEvent",
    "A time-stamped fact about an interaction of a person with a brand.",
    {
        "_id": _string("@id", "Identifier", "Unique identifier of the event."),
        "timestamp": _datetime("xdm:timestamp", "Timestamp", "When the event happened."),
        "eventType": _string(
            "xdm:eventType",
            "Event type",
            "Primary category of the event.",
            **{
                "meta:enum": {"web.webpagedetails.pageViews": "Page views", "commerce.purchases": "Purchases"}
            },
        ),
        "eventMergeId": _string("xdm:eventMergeId", "Event merge ID", "Batch-wide id for merging events."),
        "producedBy": _string(
            "xdm:producedBy", "Produced by", "Producer of the event, such as self or system."
        ),
        "identityMap": _IDENTITY_MAP,
    },
    _TIME_SERIES_BEHAVIOUR,
    required=["_id", "timestamp"],
)

_ADHOC_CLASS = _class_doc(
    ADHOC_CLASS_ID,
    "Ad Hoc Schema",
    "Base of ad-hoc classes whose fields are namespaced and not meant for Profile.",
    {},
    _ADHOC_BEHAVIOUR,
)
# The ad-hoc base class is itself the behaviour; it does not extend anything else.
_ADHOC_CLASS["meta:extends"] = []
_ADHOC_CLASS["definitions"] = {"adhoc": {"properties": {}}}
_ADHOC_CLASS["allOf"] = [{"$ref": "#/definitions/adhoc", "type": "object", "meta:xdmType": "object"}]

_PERSON_DETAILS = _field_group_doc(
    PERSON_DETAILS_ID,
    "Demographic Details",
    "Name, gender, birth date and similar demographic facts about a person.",
    {
        "person": _object(
            "xdm:person",
            "Person",
            "An individual actor, contact or owner.",
            {
                "name": _object(
                    "xdm:name",
                    "Full name",
                    "Parts of the person's name.",
                    {
                        "courtesyTitle": _string(
                            "xdm:courtesyTitle", "Courtesy title", "Mr, Ms, Dr and so on."
                        ),
                        "firstName": _string("xdm:firstName", "First name", "Given name."),
                        "middleName": _string("xdm:middleName", "Middle name", "Middle name."),
                        "lastName": _string("xdm:lastName", "Last name", "Family name."),
                        "fullName": _string("xdm:fullName", "Full name", "Name as it is written in full."),
                        "suffix": _string("xdm:suffix", "Suffix", "Generation suffix such as Jr."),
                    },
                ),
                "birthDate": _field(
                    "xdm:birthDate", "Birth date", "Date of birth.", "string", "date", format="date"
                ),
                "birthDayAndMonth": _string(
                    "xdm:birthDayAndMonth",
                    "Birth day and month",
                    "Birthday as MM-DD.",
                    pattern="[0-1][0-9]-[0-9]{2}",
                ),
                "birthYear": _field(
                    "xdm:birthYear",
                    "Birth year",
                    "Year of birth.",
                    "integer",
                    "short",
                    minimum=1,
                    maximum=32767,
                ),
                "gender": _string(
                    "xdm:gender",
                    "Gender",
                    "Gender of the person.",
                    enum=["male", "female", "not_specified", "non_specific"],
                ),
                "maritalStatus": _string(
                    "xdm:maritalStatus",
                    "Marital status",
                    "Marital status of the person.",
                    enum=["married", "single", "divorced", "widowed", "separated", "unknown"],
                ),
            },
        )
    },
    [PROFILE_CLASS_ID],
)

_PERSONAL_DETAILS = _field_group_doc(
    PERSONAL_DETAILS_ID,
    "Personal Contact Details",
    "Home address, phone numbers and personal email address of a person.",
    {
        "faxPhone": _phone("xdm:faxPhone", "Fax phone", "Fax number."),
        "homeAddress": _address("xdm:homeAddress", "Home address", "Postal address of the home."),
        "homePhone": _phone("xdm:homePhone", "Home phone", "Landline at home."),
        "mobilePhone": _phone("xdm:mobilePhone", "Mobile phone", "Mobile phone number."),
        "personalEmail": _email("xdm:personalEmail", "Personal email", "Private email address."),
    },
    [PROFILE_CLASS_ID],
)

_WORK_DETAILS = _field_group_doc(
    WORK_DETAILS_ID,
    "Work Contact Details",
    "Work address, phone number, email address and employers of a person.",
    {
        "workAddress": _address("xdm:workAddress", "Work address", "Postal address of the workplace."),
        "workEmail": _email("xdm:workEmail", "Work email", "Email address at work."),
        "workPhone": _phone("xdm:workPhone", "Work phone", "Phone number at work."),
        "organizations": _field(
            "xdm:organizations",
            "Organizations",
            "Names of the organizations the person works for.",
            "array",
            "array",
            items={"type": "string", "meta:xdmType": "string"},
        ),
    },
    [PROFILE_CLASS_ID],
)

# The "IdentityMap" field group: a schema that includes it may be enabled for Profile without a
# primary identity descriptor (XDM-1528 otherwise).
_IDENTITY_MAP_GROUP = _field_group_doc(
    IDENTITY_MAP_ID,
    "IdentityMap",
    "Identities of the subject keyed by identity namespace code.",
    {"identityMap": _IDENTITY_MAP},
    [PROFILE_CLASS_ID, EXPERIENCE_EVENT_CLASS_ID],
)

STANDARD_RESOURCES: dict[str, dict] = {
    doc["$id"]: doc
    for doc in (
        _PROFILE_CLASS,
        _EXPERIENCE_EVENT_CLASS,
        _ADHOC_CLASS,
        _PERSON_DETAILS,
        _PERSONAL_DETAILS,
        _WORK_DETAILS,
        _IDENTITY_MAP_GROUP,
    )
}

# --------------------------------------------------------------------------- field paths

_SHORTHAND_TYPES: dict[str, dict] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "int": {"type": "integer"},
    "long": {"type": "integer"},
    "short": {"type": "integer"},
    "number": {"type": "number"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date-time": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
}


def _leaf_info(schema: Mapping[str, Any]) -> dict:
    info: dict[str, Any] = {"type": schema.get("type", "string")}
    for key in ("format", "minimum", "maximum"):
        if key in schema:
            info[key] = schema[key]
    if info["type"] == "array":
        info["items"] = _leaf_info(schema.get("items") or {"type": "string"})
    if schema.get("meta:xdmType") == "map":
        info["meta:xdmType"] = "map"
    return info


def _walk(properties: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, dict]]:
    for name, raw in properties.items():
        if isinstance(raw, str):
            if raw not in _SHORTHAND_TYPES:
                raise ValueError(f"field {prefix}{name}: unknown type {raw!r}")
            schema: Mapping[str, Any] = _SHORTHAND_TYPES[raw]
        elif isinstance(raw, Mapping):
            schema = raw
        else:
            raise ValueError(f"field {prefix}{name}: definition must be an object or a type name")
        path = f"{prefix}{name}"
        nested = schema.get("properties")
        if schema.get("type", "object" if nested else "string") == "object" and isinstance(nested, Mapping):
            if schema.get("meta:xdmType") != "map":
                yield from _walk(nested, path + ".")
                continue
        yield path, _leaf_info(schema)


def _resource_properties(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    definitions = doc.get("definitions") or {}
    refs = [
        str(entry["$ref"]).removeprefix("#/definitions/")
        for entry in doc.get("allOf") or []
        if isinstance(entry, Mapping) and str(entry.get("$ref", "")).startswith("#/definitions/")
    ]
    # Only the definitions the resource's allOf includes contribute fields (all when none is named).
    for key in refs or list(definitions):
        yield (definitions.get(key) or {}).get("properties") or {}


def field_paths(
    class_id: str,
    field_group_ids: list[str],
    adhoc_properties: dict | None = None,
    *,
    tenant_resources: Mapping[str, Mapping[str, Any]] | None = None,
    class_aliases: tuple[str, ...] = (),
) -> dict[str, dict]:
    """Flatten a class and its field groups into ``{dotted leaf path: {type, format?}}``.

    Objects are walked, not returned; map fields (``identityMap``) and arrays are leaves (an array
    entry carries ``items``; a map entry carries ``"meta:xdmType": "map"``).

    ``adhoc_properties`` are extra JSON-Schema properties (or type names such as ``"string"`` or
    ``"date-time"``); keys starting with ``_`` are taken as already namespaced (``_emulatortenant``
    or an ad-hoc ``_<hex>`` namespace), any other key is placed under ``_emulatortenant``.

    ``tenant_resources`` are tenant field groups (``$id`` -> document with ``definitions`` whose
    properties sit under ``_{TENANT_ID}``) that ``field_group_ids`` may name besides the standard
    ones; ``class_aliases`` are further class ids a field group may be intended for (a tenant
    ad-hoc class, which is walked as the ad-hoc base class).

    Raises KeyError naming an unknown ``$id`` and ValueError when ``class_id`` is not a class, an id
    in ``field_group_ids`` is not a field group, or a field group is not meant for the class.
    """
    try:
        class_doc = STANDARD_RESOURCES[class_id]
    except KeyError:
        raise KeyError(f"unknown XDM class {class_id!r}") from None
    if class_doc.get("meta:resourceType") != "classes":
        raise ValueError(f"{class_id!r} is a field group, not a class")
    paths: dict[str, dict] = {}
    docs: list[Mapping[str, Any]] = [class_doc]
    for group_id in field_group_ids:
        group = STANDARD_RESOURCES.get(group_id) or (tenant_resources or {}).get(group_id)
        if group is None:
            raise KeyError(f"unknown XDM field group {group_id!r}")
        if group.get("meta:resourceType") != "mixins":
            raise ValueError(f"{group_id!r} is a class, not a field group")
        intended = group.get("meta:intendedToExtend", [])
        if class_id not in intended and not set(class_aliases) & set(intended):
            raise ValueError(
                f"field group {group_id!r} cannot extend class {class_id!r} "
                f"(meta:intendedToExtend: {group.get('meta:intendedToExtend', [])})"
            )
        docs.append(group)
    for doc in docs:
        for properties in _resource_properties(doc):
            for path, info in _walk(properties, ""):
                paths[path] = info
    if adhoc_properties:
        plain = {k: v for k, v in adhoc_properties.items() if not k.startswith("_")}
        namespaced = {k: v for k, v in adhoc_properties.items() if k.startswith("_")}
        paths.update(_walk(namespaced, ""))
        paths.update(_walk(plain, TENANT_NAMESPACE + "."))
    return paths


def normalise_path(dest: str) -> str:
    """Accept ``a.b.c``, ``/a/b/c`` or ``a/b/c`` and return the dotted form."""
    dest = dest.strip()
    if "/" in dest:
        dest = dest.strip("/").replace("/", ".")
    return dest


def is_valid_destination(paths: Mapping[str, dict], dest: str) -> bool:
    """Whether a mapping may write ``dest``: a leaf path of ``paths`` or an entry inside a map field.

    Entries inside a map look like ``identityMap.Email.id`` (namespace, then a property of the
    identity object). Object paths such as ``person.name`` are not valid destinations.
    """
    dest = normalise_path(dest)
    if not dest or dest.startswith(".") or dest.endswith(".") or ".." in dest:
        return False
    if dest in paths:
        return True
    for path, info in paths.items():
        if info.get("meta:xdmType") == "map" and dest.startswith(path + "."):
            rest = dest[len(path) + 1 :].split(".")
            return len(rest) == 2 and rest[1] in ("id", "authenticatedState", "primary")
    return False


# --------------------------------------------------------------------------- coercion

_INT_RE = re.compile(r"^[+-]?\d+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|z|UTC|[+-]\d{2}:?\d{2})?$"
)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def parse_datetime(value: Any) -> datetime:
    """Parse ``yyyy-MM-dd HH:mm:ss``, ``yyyy-MM-ddTHH:mm:ss[.fff][Z|±hh:mm]`` or a datetime, as UTC.

    A value without an offset is taken as UTC (table-based sources must run in UTC).
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        match = _DATETIME_RE.match(value.strip())
        if not match:
            raise ValueError(f"{value!r} is not a date-time (expected yyyy-MM-dd HH:mm:ss or ISO 8601)")
        day, clock, zone = match.groups()
        if len(clock) == 5:
            clock += ":00"
        if "." in clock:
            main, frac = clock.split(".")
            clock = f"{main}.{frac[:6].ljust(6, '0')}"
        if zone in (None, "Z", "z", "UTC"):
            offset = "+00:00"
        else:
            offset = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
        try:
            moment = datetime.fromisoformat(f"{day}T{clock}{offset}")
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid date-time: {exc}") from None
    else:
        raise ValueError(f"{value!r} ({type(value).__name__}) is not a date-time string")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _format_datetime(moment: datetime) -> str:
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _coerce_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not an integer")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        result = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if _INT_RE.match(text):
            result = int(text)
        else:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{value!r} is not an integer") from None
            if not math.isfinite(number) or not number.is_integer():
                raise ValueError(f"{value!r} is not an integer")
            result = int(number)
    else:
        raise ValueError(f"{value!r} ({type(value).__name__}) is not an integer")
    return result


def _coerce_number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        raise ValueError(f"{value!r} ({type(value).__name__}) is not a number")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _coerce_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean")


def _coerce_string(value: Any, fmt: str | None) -> str:
    if fmt == "date-time":
        return _format_datetime(parse_datetime(value))
    if fmt == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, str):
            text = value.strip()
            if _DATE_RE.match(text):
                try:
                    return date.fromisoformat(text).isoformat()
                except ValueError:
                    raise ValueError(f"{value!r} is not a valid date") from None
            return parse_datetime(text).date().isoformat()
        raise ValueError(f"{value!r} ({type(value).__name__}) is not a date")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return value if isinstance(value, str) else str(value)
    raise ValueError(f"{value!r} ({type(value).__name__}) cannot be written to a string field")


def coerce_value(value: Any, type_info: Mapping[str, Any]) -> Any:
    """Convert ``value`` to the XDM type described by ``type_info`` (an entry of :func:`field_paths`).

    Strings become integers, numbers or booleans when they spell one; date-time strings in
    ``yyyy-MM-dd HH:mm:ss`` or ISO 8601 become ISO 8601 UTC (``2026-01-01T06:00:00Z``); dates become
    ``yyyy-MM-dd``. Raises ValueError for ``None`` and for any value that does not fit.
    """
    if value is None:
        raise ValueError("value is null")
    kind = type_info.get("type", "string")
    if kind == "string":
        return _coerce_string(value, type_info.get("format"))
    if kind == "integer":
        result = _coerce_integer(value)
        for bound, ok in (("minimum", result >= type_info.get("minimum", result)),
                          ("maximum", result <= type_info.get("maximum", result))):  # fmt: skip
            if not ok:
                raise ValueError(f"{value!r} is outside the {bound} {type_info[bound]}")
        return result
    if kind == "number":
        return _coerce_number(value)
    if kind == "boolean":
        return _coerce_boolean(value)
    if kind == "array":
        items = value if isinstance(value, (list, tuple)) else [value]
        item_info = type_info.get("items") or {"type": "string"}
        return [coerce_value(item, item_info) for item in items]
    if kind == "object":
        if not isinstance(value, Mapping):
            raise ValueError(f"{value!r} ({type(value).__name__}) is not an object")
        return dict(value)
    raise ValueError(f"unsupported XDM type {kind!r}")
