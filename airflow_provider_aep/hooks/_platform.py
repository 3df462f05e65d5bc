"""Schema Registry, Catalog and Data Prep resource methods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_aep.exceptions import (
    AEPInputError,
    AEPMalformedAnswerError,
    AEPNotFoundError,
    AEPResponseLostError,
)
from airflow_provider_aep.hooks import _pagination
from airflow_provider_aep.hooks._calls import SERVICE_BASE_PATHS, ResourceCalls
from airflow_provider_aep.hooks._connection import path_segment as _segment
from airflow_provider_aep.hooks._filters import check_lookup_name, schema_registry_title_filter

XED_ACCEPT = "application/vnd.adobe.xed+json; version=1"
XED_FULL_ACCEPT = "application/vnd.adobe.xed-full+json; version=1"
XED_ID_ACCEPT = "application/vnd.adobe.xed-id+json"
#: Descriptor listings use the ``xdm`` (not ``xed``) vocabulary, without a version.
XDM_DESCRIPTORS_ACCEPT = "application/vnd.adobe.xdm+json"
JSON_PATCH = "application/json-patch+json"
DATASET_REF_PREFIX = "@/dataSets/"


class PlatformMixin(ResourceCalls):
    """Schema Registry (tenant container), Catalog and Data Prep calls of the hook."""

    # ------------------------------------------------------------------ Schema Registry
    def _sr_list(self, path: str, properties: list[str] | None) -> Iterator[dict]:
        params: dict[str, Any] = {"property": list(properties)} if properties else {}
        return _pagination.iter_schema_registry(
            lambda p: self._call("GET", "schemaregistry", path, params=p, accept=XED_ID_ACCEPT),
            params,
            where=SERVICE_BASE_PATHS["schemaregistry"] + path,
        )

    def _sr_find_all(self, path: str, title: str) -> list[dict]:
        """Every tenant resource of ``path`` with this title (Schema Registry allows one, but a
        gateway or an older registry may list more)."""
        if not isinstance(title, str) or not title:
            raise AEPInputError("title", "must be a non-empty string.", "pass the title.")
        check_lookup_name("schemaregistry", "title", title)
        title_filter = schema_registry_title_filter(title)
        where = SERVICE_BASE_PATHS["schemaregistry"] + path
        return [
            _pagination.require_id(item, "$id", where)
            for item in self._sr_list(path, [title_filter] if title_filter else None)
            if item.get("title") == title
        ]

    def _sr_find(self, path: str, title: str) -> dict | None:
        found = self._sr_find_all(path, title)
        return min(found, key=lambda i: str(i.get("$id"))) if found else None

    def create_class(self, body: dict) -> dict:
        """``POST /tenant/classes``; returns the class (``$id``, ``meta:altId``...)."""
        return self._create("schemaregistry", "/tenant/classes", body, id_key="$id")

    def list_classes(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Tenant classes (``{$id, meta:altId, version, title}``), lazily paged."""
        return self._sr_list("/tenant/classes", properties)

    def get_class(self, class_id: str) -> dict:
        """One tenant class by ``meta:altId`` or ``$id``."""
        return self._get_one(
            "schemaregistry", f"/tenant/classes/{_segment('class_id', class_id)}", accept=XED_ACCEPT
        )

    def delete_class(self, class_id: str) -> None:
        """``DELETE /tenant/classes/{id}``."""
        self._call("DELETE", "schemaregistry", f"/tenant/classes/{_segment('class_id', class_id)}")

    def find_class(self, title: str) -> dict | None:
        """Tenant class with this title or ``None``."""
        return self._sr_find("/tenant/classes", title)

    def find_all_classes(self, title: str) -> list[dict]:
        """Every tenant class with this title."""
        return self._sr_find_all("/tenant/classes", title)

    def create_schema(self, body: dict) -> dict:
        """``POST /tenant/schemas``; returns the schema (``$id``, ``meta:altId``...)."""
        return self._create("schemaregistry", "/tenant/schemas", body, id_key="$id")

    def get_schema(self, schema_id: str, full: bool = False) -> dict:
        """One tenant schema by ``meta:altId`` or ``$id``; ``full`` resolves every reference."""
        return self._get_one(
            "schemaregistry",
            f"/tenant/schemas/{_segment('schema_id', schema_id)}",
            accept=XED_FULL_ACCEPT if full else XED_ACCEPT,
        )

    def list_schemas(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Tenant schemas (``{$id, meta:altId, version, title}``), lazily paged."""
        return self._sr_list("/tenant/schemas", properties)

    def delete_schema(self, schema_id: str) -> None:
        """``DELETE /tenant/schemas/{id}``."""
        self._call("DELETE", "schemaregistry", f"/tenant/schemas/{_segment('schema_id', schema_id)}")

    def find_schema(self, title: str) -> dict | None:
        """Tenant schema with this title or ``None``."""
        return self._sr_find("/tenant/schemas", title)

    def find_all_schemas(self, title: str) -> list[dict]:
        """Every tenant schema with this title."""
        return self._sr_find_all("/tenant/schemas", title)

    def patch_schema(self, schema_id: str, operations: list) -> dict:
        """``PATCH /tenant/schemas/{id}`` (JSON Patch, e.g. add a field group); returns the schema."""
        return self._sr_patch("/tenant/schemas", "schema_id", schema_id, operations)

    def get_tenant_id(self) -> str:
        """The org's Schema Registry tenant id (``GET /stats`` ``tenantId``, without the leading
        ``_``); read once per hook, then cached."""
        cached = self.__dict__.get("_aep_tenant_id")
        if isinstance(cached, str):
            return cached
        body = self._call("GET", "schemaregistry", "/stats", accept="application/json")
        tenant = body.get("tenantId") if isinstance(body, dict) else None
        if isinstance(tenant, str) and tenant.startswith("_"):
            tenant = tenant[1:]
        if not isinstance(tenant, str) or not tenant:
            raise AEPMalformedAnswerError(
                "GET",
                SERVICE_BASE_PATHS["schemaregistry"] + "/stats",
                200,
                title="No tenantId",
                detail=f"expected {{tenantId: ...}}, got {str(body)[:200]}",
            )
        self.__dict__["_aep_tenant_id"] = tenant
        return tenant

    def create_field_group(self, body: dict) -> dict:
        """``POST /tenant/fieldgroups``; returns the field group (``$id``, ``meta:altId``...)."""
        return self._create("schemaregistry", "/tenant/fieldgroups", body, id_key="$id")

    def get_field_group(self, field_group_id: str, full: bool = False) -> dict:
        """One tenant field group by ``meta:altId`` or ``$id``."""
        return self._get_one(
            "schemaregistry",
            f"/tenant/fieldgroups/{_segment('field_group_id', field_group_id)}",
            accept=XED_FULL_ACCEPT if full else XED_ACCEPT,
        )

    def list_field_groups(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Tenant field groups (``{$id, meta:altId, version, title}``), lazily paged."""
        return self._sr_list("/tenant/fieldgroups", properties)

    def find_field_group(self, title: str) -> dict | None:
        """Tenant field group with this title or ``None``."""
        return self._sr_find("/tenant/fieldgroups", title)

    def find_all_field_groups(self, title: str) -> list[dict]:
        """Every tenant field group with this title."""
        return self._sr_find_all("/tenant/fieldgroups", title)

    def patch_field_group(self, field_group_id: str, operations: list) -> dict:
        """``PATCH /tenant/fieldgroups/{id}`` (JSON Patch, e.g. add a field); returns the group."""
        return self._sr_patch("/tenant/fieldgroups", "field_group_id", field_group_id, operations)

    def delete_field_group(self, field_group_id: str) -> None:
        """``DELETE /tenant/fieldgroups/{id}``."""
        self._call(
            "DELETE", "schemaregistry", f"/tenant/fieldgroups/{_segment('field_group_id', field_group_id)}"
        )

    def create_descriptor(self, body: dict) -> dict:
        """``POST /tenant/descriptors``; returns the descriptor (with its ``@id``)."""
        return self._create("schemaregistry", "/tenant/descriptors", body, id_key="@id")

    def list_descriptors(
        self, descriptor_type: str | None = None, source_schema: str | None = None
    ) -> list[dict]:
        """Tenant descriptors (full objects), optionally of one ``@type`` and one source schema.

        AEP groups the listing by ``@type`` (``{"xdm:descriptorIdentity": [...], ...}``); a flat
        list or ``{results: [...]}`` is read too. Filters are applied to what AEP returns.
        """
        body = self._call("GET", "schemaregistry", "/tenant/descriptors", accept=XDM_DESCRIPTORS_ACCEPT)
        items: list[Any] = []
        if isinstance(body, list):
            items = body
        elif isinstance(body, dict):
            if isinstance(body.get("results"), list):
                items = body["results"]
            else:
                for kind, group in body.items():
                    if isinstance(group, list):
                        items.extend(
                            {"@type": kind, **d} if isinstance(d, dict) and "@type" not in d else d
                            for d in group
                        )
        out = [d for d in items if isinstance(d, dict)]
        if descriptor_type is not None:
            out = [d for d in out if d.get("@type") == descriptor_type]
        if source_schema is not None:
            out = [d for d in out if d.get("xdm:sourceSchema") == source_schema]
        return out

    def delete_descriptor(self, descriptor_id: str) -> None:
        """``DELETE /tenant/descriptors/{id}``."""
        self._call(
            "DELETE", "schemaregistry", f"/tenant/descriptors/{_segment('descriptor_id', descriptor_id)}"
        )

    def _sr_patch(self, collection: str, field: str, resource_id: str, operations: list) -> dict:
        if not isinstance(operations, list) or not operations:
            raise AEPInputError(
                "operations",
                "must be a non-empty list of JSON Patch operations.",
                "pass [{op, path, value}].",
            )
        body = self._call(
            "PATCH",
            "schemaregistry",
            f"{collection}/{_segment(field, resource_id)}",
            json=operations,
            accept=XED_ACCEPT,
        )
        return body if isinstance(body, dict) else {}

    # ------------------------------------------------------------------ Identity Service
    def list_identity_namespaces(self) -> list[dict]:
        """``GET /data/core/idnamespace/identities``: the namespaces the org can use
        (``{id, code, name, idType, status, custom, ...}``)."""
        body = self._call("GET", "identity", "/identities")
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            body = body["items"]
        if not isinstance(body, list):
            raise AEPMalformedAnswerError(
                "GET",
                SERVICE_BASE_PATHS["identity"] + "/identities",
                200,
                title="Malformed answer",
                detail=f"expected a list of namespaces, got {str(body)[:200]}",
            )
        return [n for n in body if isinstance(n, dict)]

    # ------------------------------------------------------------------ Catalog
    def create_dataset(self, body: dict) -> str:
        """``POST /dataSets``; returns the bare dataset id (``@/dataSets/<id>`` stripped)."""
        if not isinstance(body, dict):
            raise AEPInputError("body", f"must be a dict, got {type(body).__name__}.", "pass a JSON object.")
        result = self._call("POST", "catalog", "/dataSets", json=body)
        ref = result[0] if isinstance(result, list) and len(result) == 1 else None
        dataset_id = ref[len(DATASET_REF_PREFIX) :] if isinstance(ref, str) else ""
        if (
            not isinstance(ref, str)
            or not ref.lower().startswith(DATASET_REF_PREFIX.lower())
            or not dataset_id
            or "/" in dataset_id
        ):
            # The create may have been committed: the caller looks the name up instead of re-sending.
            raise AEPResponseLostError(
                "POST",
                SERVICE_BASE_PATHS["catalog"] + "/dataSets",
                200,
                title="Unexpected dataset create answer",
                detail=f"expected ['@/dataSets/<id>'], got {str(result)[:200]}; "
                "the request may have been committed",
            )
        return dataset_id

    def get_dataset(self, dataset_id: str) -> dict:
        """``GET /dataSets/{id}``: the dataset object, with ``id`` added."""
        body = self._call("GET", "catalog", f"/dataSets/{_segment('dataset_id', dataset_id)}")
        if isinstance(body, dict):
            obj = body.get(dataset_id)
            if obj is None and len(body) == 1:
                obj = next(iter(body.values()))
            if isinstance(obj, dict):
                return {**obj, "id": obj.get("id", dataset_id)}
        raise AEPNotFoundError(
            "GET", SERVICE_BASE_PATHS["catalog"] + f"/dataSets/{dataset_id}", 404, title="Empty answer"
        )

    def list_datasets(self, name: str | None = None, properties: list[str] | None = None) -> Iterator[dict]:
        """Datasets (each with ``id``); ``name`` filters server-side, ``properties`` picks fields."""
        params: dict[str, Any] = {}
        if name:
            params["name"] = name
        if properties:
            params["properties"] = ",".join(properties)
        return _pagination.iter_catalog(
            lambda p: self._call("GET", "catalog", "/dataSets", params=p),
            params,
            where=SERVICE_BASE_PATHS["catalog"] + "/dataSets",
        )

    def delete_dataset(self, dataset_id: str) -> None:
        """``DELETE /dataSets/{id}``."""
        self._call("DELETE", "catalog", f"/dataSets/{_segment('dataset_id', dataset_id)}")

    def patch_dataset(self, dataset_id: str, fields: dict) -> None:
        """``PATCH /dataSets/{id}`` with the changed fields only (name, description, tags)."""
        if not isinstance(fields, dict) or not fields:
            raise AEPInputError("fields", "must be a non-empty dict.", "pass e.g. {'description': ...}.")
        self._call("PATCH", "catalog", f"/dataSets/{_segment('dataset_id', dataset_id)}", json=fields)

    def patch_dataset_operations(self, dataset_id: str, operations: list) -> None:
        """``PATCH /dataSets/{id}`` as JSON Patch (``application/json-patch+json``), e.g. adding
        ``/tags/unifiedProfile``."""
        if not isinstance(operations, list) or not operations:
            raise AEPInputError(
                "operations",
                "must be a non-empty list of JSON Patch operations.",
                "pass [{op, path, value}].",
            )
        self._call(
            "PATCH",
            "catalog",
            f"/dataSets/{_segment('dataset_id', dataset_id)}",
            json=operations,
            headers={"Content-Type": JSON_PATCH},
        )

    def find_all_datasets(self, name: str) -> list[dict]:
        """Every dataset called ``name`` (Catalog does not keep names unique)."""
        if not isinstance(name, str) or not name:
            raise AEPInputError("name", "must be a non-empty string.", "pass the dataset name.")
        check_lookup_name("catalog", "name", name)
        return [d for d in self.list_datasets(name=name) if d.get("name") == name]

    def find_dataset(self, name: str) -> dict | None:
        """Dataset called ``name`` (the oldest if several) or ``None``."""
        found = self.find_all_datasets(name)
        return (
            min(found, key=lambda d: (d.get("created") is None, d.get("created") or 0, str(d.get("id"))))
            if found
            else None
        )

    # ------------------------------------------------------------------ Data Prep
    def create_mapping_set(self, body: dict) -> dict:
        """``POST /mappingSets``; returns ``{id, version, ...}``."""
        return self._create("conversion", "/mappingSets", body)

    def update_mapping_set(self, mapping_set_id: str, body: dict) -> dict:
        """``PUT /mappingSets/{id}``: the new content becomes the next version of the same id."""
        if not isinstance(body, dict):
            raise AEPInputError("body", f"must be a dict, got {type(body).__name__}.", "pass a JSON object.")
        answer = self._call(
            "PUT", "conversion", f"/mappingSets/{_segment('mapping_set_id', mapping_set_id)}", json=body
        )
        return answer if isinstance(answer, dict) else {}

    def get_mapping_set(self, mapping_set_id: str, version: int | None = None) -> dict:
        """``GET /mappingSets/{id}[?version=]``."""
        params = {"version": int(version)} if version is not None else None
        return self._get_one(
            "conversion", f"/mappingSets/{_segment('mapping_set_id', mapping_set_id)}", params=params
        )

    def list_mapping_sets(self, name: str | None = None) -> Iterator[dict]:
        """Mapping sets, lazily paged; ``name`` filters server-side."""
        params: dict[str, Any] = {"name": name} if name else {}
        return _pagination.iter_data_prep(
            lambda p: self._call("GET", "conversion", "/mappingSets", params=p),
            params,
            where=SERVICE_BASE_PATHS["conversion"] + "/mappingSets",
        )

    def find_all_mapping_sets(self, name: str) -> list[dict]:
        """Every mapping set called ``name`` (Data Prep does not keep names unique)."""
        if not isinstance(name, str) or not name:
            raise AEPInputError("name", "must be a non-empty string.", "pass the mapping set name.")
        check_lookup_name("conversion", "name", name)
        where = SERVICE_BASE_PATHS["conversion"] + "/mappingSets"
        return [
            _pagination.require_id(m, "id", where)
            for m in self.list_mapping_sets(name=name)
            if m.get("name") == name
        ]

    def find_mapping_set(self, name: str) -> dict | None:
        """Mapping set called ``name`` (the oldest if several) or ``None``."""
        found = self.find_all_mapping_sets(name)
        if not found:
            return None
        return min(
            found, key=lambda m: (m.get("createdDate") is None, m.get("createdDate") or 0, str(m.get("id")))
        )
