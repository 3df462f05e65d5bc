"""Data Prep operator: the mapping set from source columns to the target XDM schema."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPInputError
from airflow_provider_aep.operators._converge import UNKNOWN, Diff
from airflow_provider_aep.operators.base import AEPCreateOperatorBase, first_problem
from airflow_provider_aep.validation import (
    XED_FULL_V1,
    check_name,
    check_schema_id,
    check_xdm_path,
    column_names,
    is_schema_alt_id,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

SOURCE_TYPES = ("ATTRIBUTE", "EXPRESSION", "STATIC")


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

    def _validate(self) -> dict[str, Any]:
        given = [k for k in ("mapping", "mappings", "legacy_body") if getattr(self, k) is not None]
        if len(given) != 1:
            raise AEPInputError(
                "mapping",
                "exactly one of mapping, mappings and legacy_body must be given"
                + (f" (got {', '.join(given)})." if given else "."),
                'Pass e.g. mapping={"Id": "_id", "Name": "person.name.fullName"}.',
            )
        kind = given[0]
        known = (
            column_names("source_columns", self.source_columns) if self.source_columns is not None else None
        )
        schema_id = check_schema_id("schema_id", self.schema_id)
        entries: list[dict[str, Any]]
        if kind == "mapping":
            if not isinstance(self.mapping, Mapping) or not self.mapping:
                raise AEPInputError(
                    "mapping",
                    f"must be a non-empty dict of source column -> XDM path, got {self.mapping!r}.",
                    'Pass e.g. {"Id": "_id"}.',
                )
            entries = [
                {"sourceType": "ATTRIBUTE", "source": s, "destination": d} for s, d in self.mapping.items()
            ]
            src_key, dst_key, field = "source", "destination", "mapping"
        elif kind == "mappings":
            if (
                isinstance(self.mappings, (str, Mapping))
                or not isinstance(self.mappings, Sequence)
                or not self.mappings
            ):
                raise AEPInputError(
                    "mappings",
                    "must be a non-empty list of {sourceType, source, destination}.",
                    "Pass a list.",
                )
            entries = []
            for i, m in enumerate(self.mappings):
                if not isinstance(m, Mapping) or "source" not in m or "destination" not in m:
                    raise AEPInputError(
                        f"mappings[{i}]",
                        f"must have 'source' and 'destination', got {m!r}.",
                        'Use {"sourceType": "ATTRIBUTE", "source": ..., "destination": ...}.',
                    )
                entry = dict(m)
                entry.setdefault("sourceType", "ATTRIBUTE")
                if entry["sourceType"] not in SOURCE_TYPES:
                    raise AEPInputError(
                        f"mappings[{i}].sourceType",
                        f"{entry['sourceType']!r} is not supported.",
                        f"Use one of: {', '.join(SOURCE_TYPES)}.",
                    )
                entries.append(entry)
            src_key, dst_key, field = "source", "destination", "mappings"
        else:
            body = self.legacy_body
            if (
                not isinstance(body, Mapping)
                or not isinstance(body.get("mappings"), list)
                or not body["mappings"]
            ):
                raise AEPInputError(
                    "legacy_body",
                    "must be a dict with a non-empty 'mappings' list.",
                    "Pass the legacy body: xdmSchema, mappings[{sourceAttribute, destinationXdmPath}].",
                )
            legacy_schema = body.get("xdmSchema")
            if legacy_schema is not None:
                check_schema_id("legacy_body.xdmSchema", legacy_schema)
                if legacy_schema != schema_id:
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
            src_key, dst_key, field = "sourceAttribute", "destinationXdmPath", "legacy_body.mappings"
        seen: dict[str, str] = {}
        for i, entry in enumerate(entries):
            dst = check_xdm_path(
                f"{field}[{i}].destination" if field != "mapping" else f"mapping[{entry[src_key]!r}]",
                entry[dst_key],
            )
            src = entry[src_key]
            if not isinstance(src, str) or not src.strip():
                raise AEPInputError(f"{field}[{i}]", f"source {src!r} is empty.", "Name the source column.")
            if dst in seen:
                raise AEPInputError(
                    field,
                    f"destination {dst!r} is written by both {seen[dst]!r} and {src!r}.",
                    "Map each XDM field from one source only.",
                )
            seen[dst] = src
            if known is not None and entry.get("sourceType", "ATTRIBUTE") == "ATTRIBUTE" and src not in known:
                raise AEPInputError(
                    field,
                    f"source column {src!r} is not a column of the source table.",
                    f"Use one of: {', '.join(known[:40])}.",
                )
        name = check_name("name", self.name, "conversion") if self.name is not None else None
        return {"kind": kind, "schema": schema_id, "entries": entries, "name": name}

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
        v = self._validate()
        schema_id = v["schema"]
        if is_schema_alt_id(schema_id):
            schema_id = self.hook.get_schema(schema_id)["$id"]
        entries = v["entries"]
        name = v["name"] or self.default_name(schema_id, entries)

        def body() -> dict[str, Any]:
            if v["kind"] == "legacy_body":
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
                self.xcom_push(context, "mapping_version", str(version))
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
        self.xcom_push(context, "mapping_version", str(version))
        return outcome.id
