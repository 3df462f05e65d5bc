"""Built-in sample source systems, connection specs and flow specs of the AEP emulator.

Everything here is deterministic: rows are generated from fixed word lists and arithmetic on the
row index, never from an unseeded random generator, so two emulator processes serve identical data.

* :func:`new_source_catalog` returns the source tables (connection spec id -> table name ->
  :class:`SampleTable`) as a fresh deep copy each call, so callers may append rows freely.
* :data:`CONNECTION_SPECS` and :data:`FLOW_SPECS` are the documents served by
  ``GET /connectionSpecs`` and ``GET /flowSpecs``; auth, source, target and schedule sections carry
  Draft 7 JSON Schemas that the emulator validates request bodies against.
* :data:`SECRET_AUTH_PARAMS` names the ``auth.params`` keys that must never be echoed back.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "CONNECTION_SPECS",
    "CRM_TO_AEP_FLOW_SPEC_ID",
    "DATA_LAKE_SPEC_ID",
    "FLOW_SPECS",
    "GENERIC_ODATA_SPEC_ID",
    "JAVA_TO_STRFTIME",
    "SALESFORCE_SERVICE_CLOUD_SPEC_ID",
    "SAMPLE_ROW_COUNT",
    "SAMPLE_START",
    "SAMPLE_STEP",
    "SCHEDULE_SPEC_SCHEMA",
    "SECRET_AUTH_PARAMS",
    "SERVICENOW_SPEC_ID",
    "SOURCES_PROVIDER_ID",
    "SampleTable",
    "format_timestamp",
    "new_source_catalog",
    "secret_params_of",
]

SALESFORCE_SERVICE_CLOUD_SPEC_ID = "cb66ab34-8619-49cb-96d1-39b37ede86ea"
SERVICENOW_SPEC_ID = "eb13cb25-47ab-407f-ba89-c0125281c563"
GENERIC_ODATA_SPEC_ID = "8e6b41a8-d998-4545-ad7d-c6a9fff406c3"
DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
SOURCES_PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
# Provider of the platform-internal Data Lake connection spec.
PLATFORM_PROVIDER_ID = "521eee4d-8cbe-4906-bb48-fb6bd4450033"

SAMPLE_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SAMPLE_STEP = timedelta(hours=6)
SAMPLE_ROW_COUNT = 200

SF_FORMAT = "yyyy-MM-dd HH:mm:ss"
ODATA_FORMAT = "yyyy-MM-ddTHH:mm:ssZ"
JAVA_TO_STRFTIME = {
    SF_FORMAT: "%Y-%m-%d %H:%M:%S",
    ODATA_FORMAT: "%Y-%m-%dT%H:%M:%SZ",
    "yyyy-MM-dd'T'HH:mm:ss'Z'": "%Y-%m-%dT%H:%M:%SZ",
    "yyyy-MM-dd": "%Y-%m-%d",
}

_JSON_SCHEMA_DRAFT7 = "http://json-schema.org/draft-07/schema#"


@dataclass
class SampleTable:
    """One table of a sample source system.

    ``columns`` uses the ``/explore?objectType=table`` column format
    (``{name, type, "meta:xdmType", xdm: {type, format?}}``); ``rows`` are plain dicts keyed by
    column name, ordered by ``delta_column``; timestamps are strings in ``timestamp_format``
    (the Java-style pattern AEP uses in ``deltaColumn.dateFormat``).
    Salesforce and ServiceNow tables carry a ``label`` ("Accepted Event Relation") besides the API
    name (``AcceptedEventRelation``), as AEP's explore lists them.
    """

    name: str
    columns: list[dict]
    rows: list[dict] = field(default_factory=list)
    delta_column: str = ""
    timestamp_format: str = SF_FORMAT
    #: Display label that ``/explore?objectType=root`` returns as ``name`` (the API name ``name``
    #: is the ``path``); empty means the same as ``name`` (OData entity sets).
    label: str = ""

    def column_names(self) -> list[str]:
        """Names of the columns, in declaration order."""
        return [c["name"] for c in self.columns]


def format_timestamp(moment: datetime, java_format: str) -> str:
    """Render ``moment`` (converted to UTC) in one of the supported Java-style date formats."""
    try:
        pattern = JAVA_TO_STRFTIME[java_format]
    except KeyError:
        raise ValueError(f"unsupported timestamp format {java_format!r}") from None
    return moment.astimezone(timezone.utc).strftime(pattern)


# --------------------------------------------------------------------------- columns


_LONG_LIMIT = 2**53  # XDM "long": the integers a JSON number holds exactly
#: kind -> (column ``type``, ``meta:xdmType``, ``xdm``) of an /explore column.
_COLUMN_KINDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "string": ("string", "string", {"type": "string"}),
    "integer": ("integer", "int", {"type": "integer", "minimum": -2147483648, "maximum": 2147483647}),
    "long": ("integer", "long", {"type": "integer", "minimum": -_LONG_LIMIT, "maximum": _LONG_LIMIT}),
    "number": ("number", "number", {"type": "number"}),
    "boolean": ("boolean", "boolean", {"type": "boolean"}),
    "date": ("string", "date", {"type": "string", "format": "date"}),
    "date-time": ("string", "date-time", {"type": "string", "format": "date-time"}),
}


def _col(name: str, kind: str = "string") -> dict:
    """A column in /explore format; ``kind`` is string, integer (XDM int), long, number (double),
    boolean, date or date-time."""
    try:
        json_type, xdm_type, xdm = _COLUMN_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown column kind {kind!r}") from None
    return {"name": name, "type": json_type, "meta:xdmType": xdm_type, "xdm": dict(xdm)}


# --------------------------------------------------------------------------- word lists

_FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Mateo", "Sofia", "Ethan",
    "Amelia", "Hiroshi", "Priya", "Jonas", "Chloe", "Diego", "Fatima", "Oskar", "Grace", "Tomas",
]  # fmt: skip
_LAST_NAMES = [
    "Smith", "Garcia", "Nguyen", "Muller", "Rossi", "Tanaka", "Kowalski", "Silva", "Johnson", "Dubois",
    "Okafor", "Larsen", "Patel", "Schmidt", "Moreau", "Andersen", "Costa", "Fischer", "Kim", "Novak",
]  # fmt: skip
_COMPANY_WORDS = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne", "Soylent",
    "Hooli", "Vandelay", "Massive", "Pied Piper", "Aperture", "Blue Sun", "Gringotts", "Oscorp",
    "Monarch", "Nakatomi",
]  # fmt: skip
_COMPANY_SUFFIXES = ["Inc.", "Ltd.", "GmbH", "Group", "Holdings", "Partners", "Labs", "Corp.", "S.A.", "LLC"]
_INDUSTRIES = [
    "Technology", "Manufacturing", "Retail", "Healthcare", "Finance", "Energy", "Education",
    "Hospitality", "Media", "Transportation", "Telecommunications", "Agriculture",
]  # fmt: skip
# (city, country, phone country code)
_CITIES = [
    ("San Francisco", "USA", "+1"), ("New York", "USA", "+1"), ("Chicago", "USA", "+1"),
    ("Toronto", "Canada", "+1"), ("London", "UK", "+44"), ("Berlin", "Germany", "+49"),
    ("Munich", "Germany", "+49"), ("Paris", "France", "+33"), ("Lyon", "France", "+33"),
    ("Madrid", "Spain", "+34"), ("Lisbon", "Portugal", "+351"), ("Sao Paulo", "Brazil", "+55"),
    ("Mexico City", "Mexico", "+52"), ("Tokyo", "Japan", "+81"), ("Osaka", "Japan", "+81"),
    ("Sydney", "Australia", "+61"), ("Stockholm", "Sweden", "+46"), ("Warsaw", "Poland", "+48"),
    ("Milan", "Italy", "+39"), ("Dublin", "Ireland", "+353"),
]  # fmt: skip
_CASE_SUBJECTS = [
    "Cannot log in to customer portal", "Invoice shows wrong amount", "Shipment arrived damaged",
    "Request for product demo", "Password reset link expired", "Integration API returns 500",
    "Upgrade subscription plan", "Missing items in order", "Refund not received",
    "Data export takes too long", "Change billing address", "Feature request: dark mode",
]  # fmt: skip
_CASE_STATUSES = ["New", "Working", "Escalated", "Closed"]
_CASE_PRIORITIES = ["Low", "Medium", "High"]
_INCIDENT_DESCRIPTIONS = [
    "Email not syncing on mobile device", "VPN connection drops every few minutes",
    "Printer on floor 3 out of toner", "Unable to access shared drive", "Laptop battery swelling",
    "SAP login fails with timeout", "Wi-Fi slow in meeting room B", "Outlook calendar not updating",
    "Request new monitor", "Badge reader at main entrance offline", "Software install request: IDE",
    "Disk space low on build server",
]  # fmt: skip
_INCIDENT_STATES = ["New", "In Progress", "On Hold", "Resolved", "Closed", "Canceled"]

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _base62(n: int, width: int) -> str:
    out = ""
    for _ in range(width):
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out


def _sf_id(key_prefix: str, index: int) -> str:
    """An 18-character Salesforce record id: 15-char case-sensitive id plus the 3-char checksum."""
    record = (index * 2654435761 + 1234567) % (62**6)
    body = f"{key_prefix}5g0000{_base62(record, 6)}"
    suffix = ""
    for chunk in range(3):
        bits = 0
        for j, ch in enumerate(body[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << j
        suffix += _SF_SUFFIX_CHARS[bits]
    return body + suffix


def _sys_id(table: str, index: int) -> str:
    """A ServiceNow ``sys_id`` (32 lowercase hex characters), stable for (table, index)."""
    return hashlib.md5(f"{table}:{index}".encode(), usedforsecurity=False).hexdigest()


def _phone(code: str, index: int, salt: int) -> str:
    area = 200 + (index * 37 + salt * 11) % 800
    digits = f"{(index * 7919 + salt * 104729) % 10_000_000:07d}"
    return f"{code} {area} {digits[:3]} {digits[3:]}"


def _person(index: int) -> tuple[str, str]:
    """A (first, last) pair, unique for index < 200."""
    return _FIRST_NAMES[index % 20], _LAST_NAMES[(index // 20 + index) % 20]


def _company(index: int) -> str:
    """A company name, unique for index < 200."""
    return f"{_COMPANY_WORDS[index % 20]} {_COMPANY_SUFFIXES[(index // 20 + index) % 10]}"


def _domain(company: str) -> str:
    return company.split(" ")[0].lower().replace(".", "") + ".example.com"


def _modified(index: int) -> datetime:
    return SAMPLE_START + SAMPLE_STEP * index


def _created(index: int) -> datetime:
    """A creation time at or before :func:`_modified` (up to ~30 days earlier)."""
    return _modified(index) - timedelta(days=index % 31, hours=(index * 5) % 24)


# --------------------------------------------------------------------------- tables


def _salesforce_tables(n: int) -> dict[str, SampleTable]:
    fmt = SF_FORMAT
    accounts: list[dict] = []
    for i in range(n):
        city, _country, code = _CITIES[(i * 3) % len(_CITIES)]
        accounts.append(
            {
                "Id": _sf_id("001", i),
                "Name": _company(i),
                "Phone": _phone(code, i, 1),
                "Industry": _INDUSTRIES[(i * 5) % len(_INDUSTRIES)],
                "BillingCity": city,
                "CreatedDate": format_timestamp(_created(i), fmt),
                "LastModifiedDate": format_timestamp(_modified(i), fmt),
            }
        )
    contacts: list[dict] = []
    for i in range(n):
        first, last = _person(i)
        account = accounts[(i * 7) % n]
        code = _CITIES[(((i * 7) % n) * 3) % len(_CITIES)][2]
        contacts.append(
            {
                "Id": _sf_id("003", i),
                "AccountId": account["Id"],
                "FirstName": first,
                "LastName": last,
                "Email": f"{first}.{last}@{_domain(account['Name'])}".lower(),
                "Phone": _phone(code, i, 2),
                "CreatedDate": format_timestamp(_created(i), fmt),
                "LastModifiedDate": format_timestamp(_modified(i), fmt),
            }
        )
    cases: list[dict] = []
    for i in range(n):
        cases.append(
            {
                "Id": _sf_id("500", i),
                "AccountId": accounts[(i * 11) % n]["Id"],
                "Subject": _CASE_SUBJECTS[i % len(_CASE_SUBJECTS)],
                "Status": _CASE_STATUSES[(i * 3) % len(_CASE_STATUSES)],
                "Priority": _CASE_PRIORITIES[(i * 7) % len(_CASE_PRIORITIES)],
                "CreatedDate": format_timestamp(_created(i), fmt),
                "LastModifiedDate": format_timestamp(_modified(i), fmt),
            }
        )
    return {
        "Account": _table(
            "Account",
            "Id Name Phone Industry BillingCity CreatedDate:date-time LastModifiedDate:date-time",
            accounts,
            fmt,
        ),
        "Contact": _table(
            "Contact",
            "Id AccountId FirstName LastName Email Phone CreatedDate:date-time LastModifiedDate:date-time",
            contacts,
            fmt,
        ),
        "Case": _table(
            "Case",
            "Id AccountId Subject Status Priority CreatedDate:date-time LastModifiedDate:date-time",
            cases,
            fmt,
        ),
        **_salesforce_more_tables(n, accounts),
    }


_OPPORTUNITY_STAGES = ["Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"]
_LEAD_STATUSES = [
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]


def _salesforce_more_tables(n: int, accounts: list[dict]) -> dict[str, SampleTable]:
    """Opportunity, Lead and the custom object Invoice__c: every XDM scalar type, a label that
    differs from the API name, and a column (``Owner.Name``) whose name is not a valid XDM field."""
    fmt = SF_FORMAT
    opportunities, leads, invoices = [], [], []
    for i in range(n):
        stage = _OPPORTUNITY_STAGES[(i * 5) % len(_OPPORTUNITY_STAGES)]
        first, last = _person((i * 7) % n)
        opportunities.append(
            {
                "Id": _sf_id("006", i),
                "AccountId": accounts[(i * 3) % n]["Id"],
                "Name": f"{_company(i)} renewal {2026 + i % 3}",
                "StageName": stage,
                "Amount": round(1000 + ((i * 7919) % 250_000) / 3.0, 2),
                "Probability": 10 * ((i * 3) % 11),
                "CloseDate": (SAMPLE_START.date() + timedelta(days=30 + i)).isoformat(),
                "IsClosed": stage.startswith("Closed"),
                "IsWon": stage == "Closed Won",
                "Owner.Name": f"{first} {last}",
                "CreatedDate": format_timestamp(_created(i), fmt),
                "LastModifiedDate": format_timestamp(_modified(i), fmt),
            }
        )
        first, last = _person(i)
        company = _company((i * 11) % n)
        leads.append(
            {
                "Id": _sf_id("00Q", i),
                "FirstName": first,
                "LastName": last,
                "Company": company,
                "Email": f"{first}.{last}@lead.{_domain(company)}".lower(),
                "Status": _LEAD_STATUSES[i % len(_LEAD_STATUSES)],
                "NumberOfEmployees": 5 + (i * 37) % 5000,
                "AnnualRevenue": float(100_000 * (1 + (i * 13) % 997)),
                "HasOptedOutOfEmail": i % 4 == 0,
                "CreatedDate": format_timestamp(_created(i), fmt),
                "LastModifiedDate": format_timestamp(_modified(i), fmt),
            }
        )
        invoices.append(
            {
                "Id": _sf_id("a01", i),
                "Name": f"INV-{2026_00000 + i}",
                "Account__c": accounts[(i * 17) % n]["Id"],
                "Amount__c": round(50 + ((i * 104729) % 90_000) / 7.0, 2),
                "Paid__c": i % 3 != 0,
                "DueDate__c": (SAMPLE_START.date() + timedelta(days=14 + 2 * i)).isoformat(),
                "LedgerSequence__c": 2**40 + i * 1_000_003,
                "CreatedDate": format_timestamp(_created(i), fmt),
                "LastModifiedDate": format_timestamp(_modified(i), fmt),
            }
        )
    return {
        "Opportunity": _table(
            "Opportunity",
            "Id AccountId Name StageName Amount:number Probability:integer CloseDate:date "
            "IsClosed:boolean IsWon:boolean Owner.Name CreatedDate:date-time LastModifiedDate:date-time",
            opportunities,
            fmt,
        ),
        "Lead": _table(
            "Lead",
            "Id FirstName LastName Company Email Status NumberOfEmployees:integer AnnualRevenue:number "
            "HasOptedOutOfEmail:boolean CreatedDate:date-time LastModifiedDate:date-time",
            leads,
            fmt,
        ),
        "Invoice__c": _table(
            "Invoice__c",
            "Id Name Account__c Amount__c:number Paid__c:boolean DueDate__c:date LedgerSequence__c:long "
            "CreatedDate:date-time LastModifiedDate:date-time",
            invoices,
            fmt,
            label="Invoice",
        ),
    }


def _table(name: str, columns: str, rows: list[dict], fmt: str, label: str = "") -> SampleTable:
    """A sample table from space-separated ``Name`` / ``Name:kind`` column specs (kind defaults to
    string); the last column is the delta column."""
    cols = [_col(*spec.rsplit(":", 1)) if ":" in spec else _col(spec) for spec in columns.split()]
    return SampleTable(
        name=name,
        columns=cols,
        rows=rows,
        delta_column=cols[-1]["name"],
        timestamp_format=fmt,
        label=label or name,
    )


def _servicenow_tables(n: int) -> dict[str, SampleTable]:
    fmt = SF_FORMAT
    incidents = [
        {
            "sys_id": _sys_id("incident", i),
            "number": f"INC{10001 + i:07d}",
            "short_description": _INCIDENT_DESCRIPTIONS[(i * 5) % len(_INCIDENT_DESCRIPTIONS)],
            "priority": 1 + (i * 3) % 5,
            "state": _INCIDENT_STATES[i % len(_INCIDENT_STATES)],
            "opened_at": format_timestamp(_created(i), fmt),
            "sys_updated_on": format_timestamp(_modified(i), fmt),
        }
        for i in range(n)
    ]
    users = []
    for i in range(n):
        first, last = _person(i)
        users.append(
            {
                "sys_id": _sys_id("sys_user", i),
                "user_name": f"{first}.{last}".lower(),
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}@servicedesk.example.com".lower(),
                "sys_created_on": format_timestamp(_created(i), fmt),
                "sys_updated_on": format_timestamp(_modified(i), fmt),
            }
        )
    return {
        "incident": _table(
            "incident",
            "sys_id number short_description priority:integer state opened_at:date-time "
            "sys_updated_on:date-time",
            incidents,
            fmt,
            label="Incident",
        ),
        "sys_user": _table(
            "sys_user",
            "sys_id user_name first_name last_name email sys_created_on:date-time sys_updated_on:date-time",
            users,
            fmt,
            label="User",
        ),
    }


def _odata_tables(n: int) -> dict[str, SampleTable]:
    fmt = ODATA_FORMAT
    customers = []
    for i in range(n):
        company = _company(i)
        city, country, code = _CITIES[(i * 7) % len(_CITIES)]
        first, last = _person((i * 3) % n)
        letters = "".join(ch for ch in company.upper() if ch.isalpha())[:3]
        customers.append(
            {
                "CustomerID": letters + _B62[10 + (i // 26) % 26] + _B62[10 + i % 26],
                "CompanyName": company,
                "ContactName": f"{first} {last}",
                "City": city,
                "Country": country,
                "Phone": _phone(code, i, 3),
                "ModifiedDate": format_timestamp(_modified(i), fmt),
            }
        )
    orders = []
    for i in range(n):
        customer = customers[(i * 13) % n]
        orders.append(
            {
                "OrderID": 10248 + i,
                "CustomerID": customer["CustomerID"],
                "EmployeeID": 1 + (i * 5) % 9,
                "OrderDate": format_timestamp(_created(i), fmt),
                "ShipCity": customer["City"],
                "Freight": round(((i * 37) % 1000) / 7.3 + 1.5, 2),
                "ModifiedDate": format_timestamp(_modified(i), fmt),
            }
        )
    return {
        "Orders": _table(
            "Orders",
            "OrderID:integer CustomerID EmployeeID:integer OrderDate:date-time ShipCity Freight:number "
            "ModifiedDate:date-time",
            orders,
            fmt,
        ),
        "Customers": _table(
            "Customers",
            "CustomerID CompanyName ContactName City Country Phone ModifiedDate:date-time",
            customers,
            fmt,
        ),
    }


@functools.lru_cache(maxsize=1)
def _catalog_template() -> dict[str, dict[str, SampleTable]]:
    return {
        SALESFORCE_SERVICE_CLOUD_SPEC_ID: _salesforce_tables(SAMPLE_ROW_COUNT),
        SERVICENOW_SPEC_ID: _servicenow_tables(SAMPLE_ROW_COUNT),
        GENERIC_ODATA_SPEC_ID: _odata_tables(SAMPLE_ROW_COUNT),
    }


def new_source_catalog() -> dict[str, dict[str, SampleTable]]:
    """Return a fresh, independent copy of every sample source table.

    Keyed by connection spec id, then table name. Mutating the result (appending rows) never
    affects later calls.
    """
    return copy.deepcopy(_catalog_template())


# --------------------------------------------------------------------------- connection specs

SECRET_AUTH_PARAMS: frozenset[str] = frozenset(
    {
        "password",
        "securityToken",
        "clientSecret",
        "accessToken",
        "refreshToken",
        "privateKey",
        "sasToken",
        "connectionString",
    }
)


def _auth_spec(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {
        "name": name,
        "type": name,
        "spec": {
            "$schema": _JSON_SCHEMA_DRAFT7,
            "type": "object",
            "description": description,
            "properties": properties,
            "required": required,
        },
    }


def _secret(description: str) -> dict:
    return {"type": "string", "description": description, "format": "password"}


def _text(description: str, **extra: Any) -> dict:
    return {"type": "string", "description": description, **extra}


_TABULAR_SOURCE_SPEC = {
    "$schema": _JSON_SCHEMA_DRAFT7,
    "type": "object",
    "description": "Parameters of a source connection that reads one table of this source.",
    "properties": {
        "tableName": _text("Name (path) of the table to read, as listed by explore."),
        "columns": {
            "type": "array",
            "description": "Columns of the table, in the format returned by explore.",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                "required": ["name"],
            },
        },
        "path": _text("Legacy form of tableName used together with an ad-hoc schema."),
    },
    "anyOf": [{"required": ["tableName"]}, {"required": ["path"]}],
}


def _source_spec(category: str, label: str, icon: str, doc_slug: str) -> dict:
    return {
        "name": "Table",
        "type": "Table",
        "spec": copy.deepcopy(_TABULAR_SOURCE_SPEC),
        "attributes": {
            "uiAttributes": {
                "isSource": True,
                "isPreview": False,
                "isBeta": False,
                "category": category,
                "icon": icon,
                "description": f"Ingest tables from {label} on a schedule or on demand.",
                "label": label,
                "documentationLink": f"https://www.adobe.com/go/sources-{doc_slug}-en",
            }
        },
    }


_EXPLORE_SPEC = {
    "name": "Table",
    "type": "Table",
    "requestSpec": {"$schema": _JSON_SCHEMA_DRAFT7, "type": "object"},
    "responseSpec": {
        "$schema": _JSON_SCHEMA_DRAFT7,
        "type": "object",
        "properties": {
            "format": {"type": "string"},
            "schema": {
                "type": "object",
                "properties": {"columns": {"type": "array", "items": {"type": "object"}}},
            },
        },
    },
}


def _source_connection_spec(
    spec_id: str, name: str, label: str, category: str, auth_specs: list[dict], doc_slug: str
) -> dict:
    return {
        "id": spec_id,
        "name": name,
        "providerId": SOURCES_PROVIDER_ID,
        "version": "1.0",
        "authSpec": auth_specs,
        "sourceSpec": _source_spec(category, label, name, doc_slug),
        "exploreSpec": copy.deepcopy(_EXPLORE_SPEC),
        "attributes": {
            "category": category,
            "connectorName": label,
            "isSource": True,
            "isPreview": False,
            "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
        },
        "permissionsInfo": {
            "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
            "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
        },
    }


_SF_ENV_URL = "Salesforce instance URL, for example https://acme.my.salesforce.com."
_SF_API_VERSION = "Salesforce REST API version as a decimal string, for example 60.0."

CONNECTION_SPECS: list[dict] = [
    _source_connection_spec(
        SALESFORCE_SERVICE_CLOUD_SPEC_ID,
        "salesforce-service-cloud",
        "Salesforce Service Cloud",
        "customerSuccess",
        [
            # environmentUrl is optional for Basic: the 2020 bodies (no environmentUrl) were valid
            # for this same spec version 1.0, and Salesforce then defaults to its login host.
            _auth_spec(
                "Basic Authentication",
                "Username, password and security token of a Salesforce Service Cloud user.",
                {
                    "environmentUrl": _text(_SF_ENV_URL + " Defaults to https://login.salesforce.com."),
                    "username": _text("Salesforce username."),
                    "password": _secret("Password of the Salesforce user."),
                    "securityToken": _secret("Security token of the Salesforce user."),
                    "apiVersion": _text(_SF_API_VERSION + " The latest version is used when blank."),
                },
                ["username", "password", "securityToken"],
            ),
            _auth_spec(
                "OAuth2 Client Credential",
                "Client credentials of a Salesforce connected app.",
                {
                    "environmentUrl": _text(_SF_ENV_URL),
                    "clientId": _text("Consumer key of the connected app."),
                    "clientSecret": _secret("Consumer secret of the connected app."),
                    "apiVersion": _text(_SF_API_VERSION),
                },
                ["environmentUrl", "clientId", "clientSecret", "apiVersion"],
            ),
        ],
        "salesforce-service-cloud",
    ),
    _source_connection_spec(
        SERVICENOW_SPEC_ID,
        "service-now",
        "ServiceNow",
        "customerSuccess",
        [
            _auth_spec(
                "Basic Authentication",
                "Instance endpoint and credentials of a ServiceNow user.",
                {
                    "endpoint": _text("Instance URL, for example https://acme.service-now.com."),
                    "username": _text("ServiceNow username."),
                    "password": _secret("Password of the ServiceNow user."),
                },
                ["endpoint", "username", "password"],
            )
        ],
        "servicenow",
    ),
    _source_connection_spec(
        GENERIC_ODATA_SPEC_ID,
        "generic-odata",
        "Generic OData",
        "protocols",
        [
            _auth_spec(
                "Anonymous Authentication",
                "Root URL of an OData service that needs no credentials.",
                {"url": _text("Root URL of the OData service.", format="uri")},
                ["url"],
            )
        ],
        "odata",
    ),
    {
        "id": DATA_LAKE_SPEC_ID,
        # The name public clients look the spec up by (aepp: getConnectionSpecIdFromName("datalake")).
        "name": "datalake",
        "providerId": PLATFORM_PROVIDER_ID,
        "version": "1.0",
        "authSpec": [],
        "targetSpec": {
            "name": "Data Lake",
            "type": "DataSet",
            "spec": {
                "$schema": _JSON_SCHEMA_DRAFT7,
                "type": "object",
                "description": "Parameters of a target connection that writes into a dataset.",
                "properties": {
                    "dataSetId": _text("Id of the Catalog dataset the flow writes to (24 hex characters).")
                },
                "required": ["dataSetId"],
            },
            "attributes": {
                "uiAttributes": {
                    "isDestination": False,
                    "category": "dataLake",
                    "icon": "dataLake",
                    "label": "Data Lake",
                    "description": "Datasets of Experience Platform.",
                }
            },
        },
        "attributes": {"category": "dataLake", "connectorName": "Data Lake", "isSource": False},
    },
]


def secret_params_of(connection_spec: dict) -> set[str]:
    """Names of the secret auth params of ``connection_spec`` (``format: password`` or a known name)."""
    names = set(SECRET_AUTH_PARAMS)
    for auth in connection_spec.get("authSpec") or []:
        for prop, schema in (auth.get("spec", {}).get("properties") or {}).items():
            if isinstance(schema, dict) and schema.get("format") == "password":
                names.add(prop)
    return names


# --------------------------------------------------------------------------- flow specs

# The 27 source specs of the CRMToAEP flow spec printed by the 2020-2021 tutorials …
_CRM_TO_AEP_SOURCES_V1 = [
    "3416976c-a9ca-4bba-901a-1f08f66978ff",
    "38ad80fe-8b06-4938-94f4-d4ee80266b07",
    "d771e9c1-4f26-40dc-8617-ce58c4b53702",
    "3c9b37f8-13a6-43d8-bad3-b863b941fedd",
    "cc6a4487-9e91-433e-a3a3-9cf6626c1806",
    "3000eb99-cd47-43f3-827c-43caf170f015",
    "26d738e0-8963-47ea-aadf-c60de735468a",
    "74a1c565-4e59-48d7-9d67-7c03b8a13137",
    "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5",
    "4f63aa36-bd48-4e33-bb83-49fbcd11c708",
    SALESFORCE_SERVICE_CLOUD_SPEC_ID,
    SERVICENOW_SPEC_ID,
    "1f372ff9-38a4-4492-96f5-b9a4e4bd00ec",
    "37b6bf40-d318-4655-90be-5cd6f65d334b",
    "a49bcc7d-8038-43af-b1e4-5a7a089a7d79",
    "221c7626-58f6-4eec-8ee2-042b0226f03b",
    "a8b6a1a4-5735-42b4-952c-85dce0ac38b5",
    "6a8d82bc-1caf-45d1-908d-cadabc9d63a6",
    "aac9bbd4-6c01-46ce-b47e-51c6f0f6db3f",
    GENERIC_ODATA_SPEC_ID,
    "ecde33f2-c56f-46cc-bdea-ad151c16cd69",
    "102706fb-a5cd-42ee-afe0-bc42f017ff43",
    "09182899-b429-40c9-a15a-bf3ddbc8ced7",
    "0479cc14-7651-4354-b233-7480606c2ac3",
    "d6b52d86-f0f8-475f-89d4-ce54c8527328",
    "a8f4d393-1a6b-43f3-931f-91a16ed857f4",
    "1fe283f6-9bec-11ea-bb37-0242ac130002",
]
# … plus the 9 the current documentation adds.
_CRM_TO_AEP_SOURCES_ADDED = [
    "fcad62f3-09b0-41d3-be11-449d5a621b69",
    "ea1c2a08-b722-11eb-8529-0242ac130003",
    "35d6c4d8-c9a9-11eb-b8bc-0242ac130003",
    "ff4274f2-c9a9-11eb-b8bc-0242ac130003",
    "ba5126ec-c9ac-11eb-b8bc-0242ac130003",
    "b2e08744-4f1a-40ce-af30-7abac3e23cf3",
    "929e4450-0237-4ed2-9404-b7e1e0a00309",
    "2acf109f-9b66-4d5e-bc18-ebb2adcff8d5",
    "2fa8af9c-2d1a-43ea-a253-f00a00c74412",
]

SCHEDULE_SPEC_SCHEMA: dict = {
    "$schema": _JSON_SCHEMA_DRAFT7,
    "type": "object",
    "properties": {
        "startTime": {"type": "integer", "description": "First run time, epoch seconds."},
        "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
        "interval": {"type": "integer", "description": "Number of frequency units between runs."},
        "backfill": {"type": "boolean", "default": True},
    },
    "required": ["startTime", "frequency"],
    "if": {"properties": {"frequency": {"const": "once"}}},
    "then": {"allOf": [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]},
    "else": {
        "required": ["interval"],
        "if": {"properties": {"frequency": {"const": "minute"}}},
        "then": {"properties": {"interval": {"minimum": 15}}},
        "else": {"properties": {"interval": {"minimum": 1}}},
    },
}

FLOW_SPECS: list[dict] = [
    {
        "id": CRM_TO_AEP_FLOW_SPEC_ID,
        "name": "CRMToAEP",
        "providerId": SOURCES_PROVIDER_ID,
        "version": "1.0",
        "sourceConnectionSpecIds": _CRM_TO_AEP_SOURCES_V1 + _CRM_TO_AEP_SOURCES_ADDED,
        "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
        "optionSpec": {
            "name": "OptionSpec",
            "spec": {
                "$schema": _JSON_SCHEMA_DRAFT7,
                "type": "object",
                "properties": {
                    "errorDiagnosticsEnabled": {
                        "title": "Error diagnostics",
                        "description": "Keep detailed and sample row errors of each run.",
                        "type": "boolean",
                        "default": False,
                    },
                    "partialIngestionPercent": {
                        "title": "Partial ingestion threshold",
                        "description": "Highest percentage of failed rows that still lets a run succeed.",
                        "type": "number",
                        "exclusiveMinimum": 0,
                    },
                },
            },
        },
        "transformationSpecs": [
            {
                "name": "Copy",
                "spec": {
                    "$schema": _JSON_SCHEMA_DRAFT7,
                    "type": "object",
                    "properties": {
                        "deltaColumn": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "dateFormat": {"type": "string"},
                                "timezone": {"type": "string"},
                            },
                            "required": ["name"],
                        }
                    },
                    "required": ["deltaColumn"],
                },
            },
            {
                "name": "Mapping",
                "spec": {
                    "$schema": _JSON_SCHEMA_DRAFT7,
                    "type": "object",
                    "description": "Data Prep mapping set applied to every row.",
                    "properties": {"mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}},
                },
            },
        ],
        "scheduleSpec": {"name": "PeriodicSchedule", "type": "Periodic", "spec": SCHEDULE_SPEC_SCHEMA},
        "runSpec": {
            "name": "ProviderParams",
            "spec": {
                "$schema": _JSON_SCHEMA_DRAFT7,
                "type": "object",
                "properties": {
                    "startTime": {"type": "integer", "description": "Run start, epoch seconds."},
                    "windowStartTime": {"type": "integer", "description": "Window start, epoch seconds."},
                    "windowEndTime": {"type": "integer", "description": "Window end, epoch seconds."},
                    "deltaColumn": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                },
                "required": ["startTime", "windowStartTime", "windowEndTime", "deltaColumn"],
            },
        },
        "attributes": {
            "isSourceFlow": True,
            "flacValidationSupported": True,
            "frequency": "batch",
            "notification": {"category": "sources", "flowRun": {"enabled": True}},
        },
        "permissionsInfo": {
            "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
            "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
        },
    }
]
