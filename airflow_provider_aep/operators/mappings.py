"""Data Prep operator: the mapping set from source columns to the target XDM schema."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_aep import xcom_keys
from airflow_provider_aep.constants import XED_FULL_V1
from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators._converge import UNKNOWN, Diff
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, first_problem
from airflow_provider_aep.validation import (
    check_enum,
    check_name,
    check_schema_id,
    check_xdm_path,
    column_names,
    exactly_one,
    is_schema_alt_id,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

SOURCE_TYPES = ("ATTRIBUTE", "EXPRESSION", "STATIC")


@dataclass(frozen=True)
class MappingSetRequest:
    """A validated mapping set: what :class:`AEPCreateMappingSetOperator` sends.

    :param kind: which argument gave the mappings (``mapping``, ``mappings`` or ``legacy_body``).
    :param schema_id: the target schema (``$id``, or a ``meta:altId`` still to resolve).
    :param entries: the mappings, in the vocabulary of *kind*.
    :param name: the explicit name, ``None`` for a name derived from the content.
    """

    kind: str
    schema_id: str
    entries: tuple[dict[str, Any], ...]
    name: str | None


@dataclass(frozen=True)
class _Vocabulary:
    """Where a kind's entries are (for messages) and what its source/destination keys are."""

    field: str
    source: str
    destination: str

    def where(self, i: int, entry: Mapping[str, Any]) -> str:
        """The parameter an error about entry *i* names."""
        if self.field == "mapping":
            return f"mapping[{entry[self.source]!r}]"
        return f"{self.field}[{i}].destination"


_CURRENT = _Vocabulary("mappings", "source", "destination")
_LEGACY = _Vocabulary("legacy_body.mappings", "sourceAttribute", "destinationXdmPath")


def _non_empty_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, Mapping)) and bool(value)


def _from_mapping(mapping: Any, schema_id: str) -> list[dict[str, Any]]:
    """``{source column: XDM path}`` as current ATTRIBUTE entries."""
    if not isinstance(mapping, Mapping) or not mapping:
        raise AEPInputError(
            "mapping",
            f"must be a non-empty dict of source column -> XDM path, got {mapping!r}.",
            'Pass e.g. {"Id": "_id"}.',
        )
    return [{"sourceType": "ATTRIBUTE", "source": s, "destination": d} for s, d in mapping.items()]


def _from_mappings(mappings: Any, schema_id: str) -> list[dict[str, Any]]:
    """The full current list; ``sourceType`` defaults to ATTRIBUTE."""
    if not _non_empty_list(mappings):
        raise AEPInputError(
            "mappings", "must be a non-empty list of {sourceType, source, destination}.", "Pass a list."
        )
    entries = []
    for i, m in enumerate(mappings):
        if not isinstance(m, Mapping) or "source" not in m or "destination" not in m:
            raise AEPInputError(
                f"mappings[{i}]",
                f"must have 'source' and 'destination', got {m!r}.",
                'Use {"sourceType": "ATTRIBUTE", "source": ..., "destination": ...}.',
            )
        entry = {"sourceType": "ATTRIBUTE", **m}
        check_enum(f"mappings[{i}].sourceType", entry["sourceType"], SOURCE_TYPES)
        entries.append(entry)
    return entries


def _from_legacy_body(body: Any, schema_id: str) -> list[dict[str, Any]]:
    """The 2020 body: its ``xdmSchema`` must be *schema_id*; entries in the legacy vocabulary."""
    if not isinstance(body, Mapping) or not isinstance(body.get("mappings"), list) or not body["mappings"]:
        raise AEPInputError(
            "legacy_body",
            "must be a dict with a non-empty 'mappings' list.",
            "Pass the legacy body: xdmSchema, mappings[{sourceAttribute, destinationXdmPath}].",
        )
    legacy_schema = body.get("xdmSchema")
    if legacy_schema is not None and check_schema_id("legacy_body.xdmSchema", legacy_schema) != schema_id:
        raise AEPInputError(
            "legacy_body.xdmSchema",
            f"{legacy_schema!r} differs from schema_id {schema_id!r}.",
            "Make them the same target schema.",
        )
    entries = []
    for i, m in enumerate(body["mappings"]):
        if not isinstance(m, Mapping) or "sourceAttribute" not in m or "destinationXdmPath" not in m:
            raise AEPInputError(
                f"legacy_body.mappings[{i}]",
                f"needs sourceAttribute and destinationXdmPath, got {m!r}.",
                "Use the legacy vocabulary throughout.",
            )
        entries.append(dict(m))
    return entries


_KINDS = ("mapping", "mappings", "legacy_body")
#: Each kind: its vocabulary and the reader that turns the argument into entries.
_READERS: dict[str, tuple[_Vocabulary, Callable[[Any, str], list[dict[str, Any]]]]] = {
    "mapping": (_Vocabulary("mapping", "source", "destination"), _from_mapping),
    "mappings": (_CURRENT, _from_mappings),
    "legacy_body": (_LEGACY, _from_legacy_body),
}


def _check_entries(entries: list[dict[str, Any]], words: _Vocabulary, known: list[str] | None) -> None:
    """Per entry: a valid destination path, a source, no destination written twice, and (when the
    source columns are known) every ATTRIBUTE source is one of them."""
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        dst = check_xdm_path(words.where(i, entry), entry[words.destination])
        src = entry[words.source]
        if not isinstance(src, str) or not src.strip():
            raise AEPInputError(f"{words.field}[{i}]", f"source {src!r} is empty.", "Name the source column.")
        if dst in seen:
            raise AEPInputError(
                words.field,
                f"destination {dst!r} is written by both {seen[dst]!r} and {src!r}.",
                "Map each XDM field from one source only.",
            )
        seen[dst] = src
        if known is not None and entry.get("sourceType", "ATTRIBUTE") == "ATTRIBUTE" and src not in known:
            raise AEPInputError(
                words.field,
                f"source column {src!r} is not a column of the source table.",
                f"Use one of: {', '.join(known[:40])}.",
            )


def _pairs(mappings: Any) -> list[tuple[str, str]]:
    """(source, destination) pairs of a mapping list in either vocabulary."""
    out = []
    for m in mappings or []:
        if isinstance(m, Mapping):
            src = m.get("source", m.get("sourceAttribute"))
            dst = m.get("destination", m.get("destinationXdmPath"))
            out.append((str(src), str(dst)))
    return sorted(out)


def _output_schema(doc: Mapping[str, Any]) -> str | None:
    for path in (("outputSchema", "schemaRef", "id"), ("outputSchemaRef", "id"), ("xdmSchema",)):
        cur: Any = doc
        for key in path:
            cur = cur.get(key) if isinstance(cur, Mapping) else None
        if isinstance(cur, str) and cur:
            return cur
    return None


class AEPCreateMappingSetOperator(AEPCreateOperatorBase):
    """Create (or reuse) a Data Prep mapping set.

    Give exactly one of:

    * ``mapping``: the simple form ``{source column: XDM destination path}``; sent as the current
      body with ``sourceType: ATTRIBUTE``;
    * ``mappings``: the full current list (``[{sourceType, source, destination, ...}]``);
    * ``legacy_body``: the 2020 body (``xdmSchema``, ``mappings[{sourceAttribute,
      destinationXdmPath, ...}]``), sent as is (``name`` is added when it has none, so that the
      mapping set can be found again).

    Checked locally before any request: destination path syntax, no destination written twice,
    and, when ``source_columns`` is known (names or ``/explore`` column dicts, e.g. the source
    connection task's ``columns`` XCom), every ATTRIBUTE source is one of them.

    :param schema_id: target schema ``$id`` (altId is resolved).
    :param name: mapping set name, its identity for reuse; default: derived from the schema and
        the mappings (the same input gives the same name, so reruns reuse it).

    Returns the mapping set id; pushes ``mapping_version`` (a string, as flows expect it).
    Data Prep cannot delete mapping sets: with ``if_exists="converge"`` (default) and ``"replace"``
    changed mappings are written in place (``PUT``) as the next version of the same id, which the
    dataflow operator then moves its flow to (no new flow, no re-ingest).
    A concurrent twin (two runs created the name at once) cannot be deleted either: every racer
    adopts the oldest, and the losing copy stays, unused, renamed ``<name> (unused twin <id>)`` so
    that the name finds exactly one mapping set.
    """

    resource_kind = "mapping set"
    plan_xcom_keys = ("mapping_version",)

    template_fields: Sequence[str] = (
        *AEPCreateOperatorBase.template_fields,
        "schema_id",
        "mapping",
        "mappings",
        "legacy_body",
        "source_columns",
        "name",
    )
    template_fields_renderers = {
        "mapping": "json",
        "mappings": "json",
        "legacy_body": "json",
        "source_columns": "json",
    }

    def __init__(
        self,
        *,
        schema_id: str | XComArg,
        mapping: Mapping[str, str] | str | None = None,
        mappings: Sequence[Mapping[str, Any]] | None = None,
        legacy_body: Mapping[str, Any] | None = None,
        source_columns: Sequence[str] | Sequence[Mapping[str, Any]] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schema_id = schema_id
        self.mapping = mapping
        self.mappings = mappings
        self.legacy_body = legacy_body
        self.source_columns = source_columns
        self.name = name
        if not self.has_templated_values():
            self._validate()

    def _validate(self) -> MappingSetRequest:
        kind = exactly_one(self, _KINDS, 'mapping={"Id": "_id", "Name": "person.name.fullName"}')
        known = (
            column_names("source_columns", self.source_columns) if self.source_columns is not None else None
        )
        schema_id = check_schema_id("schema_id", self.schema_id)
        vocabulary, read = _READERS[kind]
        entries = read(getattr(self, kind), schema_id)
        _check_entries(entries, vocabulary, known)
        name = check_name("name", self.name, "conversion") if self.name is not None else None
        return MappingSetRequest(kind, schema_id, tuple(entries), name)

    @staticmethod
    def default_name(schema_id: str, entries: list[dict[str, Any]]) -> str:
        """Deterministic name from the schema and the mappings."""
        digest = hashlib.sha256(
            json.dumps([schema_id, _pairs(entries)], sort_keys=True).encode()
        ).hexdigest()[:24]
        return f"airflow-mapping-{digest}"

    def plan_lookup(self) -> tuple[str, Any] | None:
        """Name and finder for plans whose schema is not created yet (only with an explicit name)."""
        if self.name is None:
            return None
        name = check_name("name", self.name, "conversion")
        return name, lambda: self.hook.find_mapping_set(name)

    def _rename_twin(self, twin_id: str, body: dict[str, Any]) -> str:
        """Data Prep cannot delete: move this task's losing concurrent twin out of the name (a
        ``PUT`` of the same content under ``<name> (unused twin <id>)``, its next version)."""
        new_name = f"{body.get('name')} (unused twin {twin_id})"
        self.hook.request("PUT", "conversion", f"/mappingSets/{twin_id}", json={**body, "name": new_name})
        return new_name

    def execute(self, context: Context) -> str:
        """Create, converge or reuse the mapping set and return its id."""
        req = self._validate()
        schema_id = req.schema_id
        if is_schema_alt_id(schema_id):
            schema_id = self.hook.get_schema(schema_id)["$id"]
        entries = list(req.entries)
        name = req.name or self.default_name(schema_id, entries)

        def body() -> dict[str, Any]:
            if req.kind == "legacy_body":
                b = dict(self.legacy_body or {})
                b.setdefault("name", name)
                return b
            return {
                "name": name,
                "outputSchema": {"schemaRef": {"id": schema_id, "contentType": XED_FULL_V1}},
                "mappings": entries,
            }

        def mismatch(found: dict[str, Any]) -> str | None:
            doc = self.hook.get_mapping_set(found["id"])
            found_schema = _output_schema(doc)
            found_pairs = _pairs(doc.get("mappings"))
            return first_problem(
                f"it maps to schema {found_schema!r}, not {schema_id!r}"
                if found_schema and found_schema != schema_id
                else None,
                f"its mappings are {found_pairs}, not {_pairs(entries)}"
                if doc.get("mappings") is not None and found_pairs != _pairs(entries)
                else None,
            )

        docs: dict[str, dict[str, Any]] = {}

        def doc_of(found: dict[str, Any]) -> dict[str, Any]:
            key = str(found["id"])
            if key not in docs:
                docs[key] = self.hook.get_mapping_set(key)
            return docs[key]

        def diff(found: dict[str, Any]) -> Diff:
            doc = doc_of(found)
            d = Diff()
            found_schema = _output_schema(doc)
            if found_schema:
                d.add(
                    "outputSchema.schemaRef.id",
                    found_schema,
                    schema_id,
                    refused="a flow's mapping must target its target connection's schema (1425-400)",
                    fix="use another mapping-set name for another schema",
                )
            if doc.get("mappings") is not None:
                d.add(
                    "mappings",
                    [list(p) for p in _pairs(doc.get("mappings"))],
                    [list(p) for p in _pairs(entries)],
                    note=f"PUT: new version {int(doc.get('version') or 0) + 1} of the same mapping set",
                )
            return d

        def apply(found: dict[str, Any], d: Diff) -> dict[str, Any]:
            answer = self.hook.update_mapping_set(str(found["id"]), body())
            version = answer.get("version")
            if version is None:
                version = self.hook.get_mapping_set(str(found["id"])).get("version", 0)
            self.log.info("Mapping set %r: id=%s, new version %s", name, found["id"], version)
            return {"version": version}

        if_exists = self.check_if_exists()
        if if_exists == "replace" and not self._plan_only:
            found = self.hook.find_mapping_set(name)
            if found is not None:
                # Data Prep cannot delete: PUT writes the new content as the next version
                answer = self.hook.request(
                    "PUT", "conversion", f"/mappingSets/{found['id']}", json=body()
                ).json()
                version = answer.get("version") if isinstance(answer, dict) else None
                if version is None:
                    version = self.hook.get_mapping_set(found["id"]).get("version", 0)
                self.log.info("Replaced mapping set %r: id=%s, new version %s", name, found["id"], version)
                self.xcom_push(context, xcom_keys.MAPPING_VERSION, str(version))
                return str(found["id"])
        outcome = self.ensure(
            kind="mapping set",
            name=name,
            find=lambda: self.hook.find_mapping_set(name),
            find_all=lambda: self.hook.find_all_mapping_sets(name),
            create=lambda: self.hook.create_mapping_set(body()),
            mismatch=mismatch,
            rename_twin=lambda twin_id: self._rename_twin(twin_id, body()),
            if_exists="reuse" if if_exists == "replace" and not self._plan_only else if_exists,
            diff=diff,
            apply=apply,
        )
        if outcome.id == UNKNOWN:
            version = UNKNOWN
        elif self._plan_only:
            current = doc_of(outcome.resource)
            version = int(current.get("version") or 0) + (1 if diff(outcome.resource).updates else 0)
        else:
            version = outcome.resource.get("version")
        if version is None:
            version = self.hook.get_mapping_set(outcome.id).get("version", 0)
        self.xcom_push(context, xcom_keys.MAPPING_VERSION, str(version))
        return outcome.id
