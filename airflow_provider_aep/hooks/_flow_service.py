"""Flow Service resource methods: specs, base/source/target connections, flows and runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPInputError,
    AEPMalformedAnswerError,
    AEPNotFoundError,
)
from airflow_provider_aep.hooks import _pagination
from airflow_provider_aep.hooks._calls import SERVICE_BASE_PATHS, ResourceCalls
from airflow_provider_aep.hooks._connection import path_segment as _segment
from airflow_provider_aep.hooks._filters import flow_service_value
from airflow_provider_aep.validation import check_uuid


def oldest(items: list[dict]) -> dict:
    """The oldest of same-named resources (``createdAt``, then id): the one every caller picks."""
    return min(items, key=lambda i: (i.get("createdAt") is None, i.get("createdAt") or 0, str(i.get("id"))))


def list_params(
    properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Query parameters of a Flow Service listing (``property`` repeated, ``orderby``, ``limit``)."""
    params: dict[str, Any] = {}
    if properties:
        params["property"] = list(properties)
    if orderby:
        params["orderby"] = orderby
    if limit:
        params["limit"] = int(limit)
    return params


def _explore_malformed(connection_id: str, expected: str, body: Any) -> AEPMalformedAnswerError:
    return AEPMalformedAnswerError(
        "GET",
        SERVICE_BASE_PATHS["flowservice"] + f"/connections/{connection_id}/explore",
        200,
        title="Malformed answer",
        detail=f"expected {expected}, got {str(body)[:200]}",
    )


def run_path(run_id: str) -> str:
    """``/runs/{id}``, the id validated and encoded (used by the hook and the async trigger client)."""
    return f"/runs/{_segment('run_id', run_id)}"


def runs_query(
    flow_id: str, properties: list[str] | None = None, orderby: str | None = None
) -> dict[str, Any]:
    """``_fs_list`` arguments listing the runs of ``flow_id`` (one UUID) plus ``properties``.

    Used by the hook's :meth:`FlowServiceMixin.list_runs` and by the trigger's async client.
    """
    flow_id = check_uuid("flow_id", flow_id)
    return {"properties": [f"flowId=={flow_id}", *(properties or [])], "orderby": orderby}


class FlowServiceMixin(ResourceCalls):
    """Flow Service calls of :class:`~airflow_provider_aep.hooks.aep.AdobeExperiencePlatformHook`."""

    def _fs_list(
        self,
        path: str,
        properties: list[str] | None = None,
        orderby: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict]:
        params = list_params(properties, orderby, limit)
        return _pagination.iter_flow_service(
            lambda p: self._call("GET", "flowservice", path, params=p),
            params,
            where=SERVICE_BASE_PATHS["flowservice"] + path,
        )

    def _fs_find_all(self, path: str, name: str) -> list[dict]:
        """Every resource of ``path`` called exactly ``name`` (AEP does not keep names unique)."""
        if not isinstance(name, str) or not name:
            raise AEPInputError("name", "must be a non-empty string.", "pass the resource name.")
        path_label = SERVICE_BASE_PATHS["flowservice"] + path
        return [
            _pagination.require_id(item, "id", path_label)
            for item in self._fs_list(path, [f"name=={flow_service_value('name', name)}"])
            if item.get("name") == name
        ]

    def _fs_find(self, path: str, name: str) -> dict | None:
        found = self._fs_find_all(path, name)
        return oldest(found) if found else None

    # ------------------------------------------------------------------ specs
    def list_connection_specs(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Connection specs (``property`` filters such as ``name=="service-now"``)."""
        return self._fs_list("/connectionSpecs", properties)

    def get_connection_spec(self, spec_id: str) -> dict:
        """One connection spec."""
        return self._get_one("flowservice", f"/connectionSpecs/{_segment('spec_id', spec_id)}")

    def list_flow_specs(self, properties: list[str] | None = None) -> Iterator[dict]:
        """Flow specs."""
        return self._fs_list("/flowSpecs", properties)

    def get_flow_spec_by_name(self, name: str = "CRMToAEP") -> dict:
        """The flow spec called ``name``; :class:`AEPNotFoundError` when there is none."""
        spec = self._fs_find("/flowSpecs", name)
        if spec is None:
            raise AEPNotFoundError(
                "GET",
                SERVICE_BASE_PATHS["flowservice"] + "/flowSpecs",
                404,
                title="Flow spec not found",
                detail=f"no flow spec named {name!r} in sandbox {self.sandbox_name!r}",
            )
        return spec

    # ------------------------------------------------------------------ base connections
    def create_base_connection(self, body: dict) -> dict:
        """``POST /connections``; returns ``{id, etag}``."""
        return self._create("flowservice", "/connections", body)

    def get_base_connection(self, connection_id: str) -> dict:
        """``GET /connections/{id}`` (unwrapped)."""
        return self._get_one("flowservice", f"/connections/{_segment('connection_id', connection_id)}")

    def list_base_connections(
        self, properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
    ) -> Iterator[dict]:
        """Base connections, lazily paged."""
        return self._fs_list("/connections", properties, orderby, limit)

    def delete_base_connection(self, connection_id: str) -> None:
        """``DELETE /connections/{id}``."""
        self._call("DELETE", "flowservice", f"/connections/{_segment('connection_id', connection_id)}")

    def test_base_connection(self, connection_id: str) -> dict:
        """``GET /connections/{id}/test``: connectivity check of the source credentials."""
        body = self._call(
            "GET", "flowservice", f"/connections/{_segment('connection_id', connection_id)}/test"
        )
        return body if isinstance(body, dict) else {"result": body}

    def explore_base_connection(
        self, connection_id: str, object_type: str = "root", object_path: str | None = None
    ) -> Any:
        """``GET /connections/{id}/explore?objectType=...&object=...`` (tables or a table schema)."""
        params = {"objectType": object_type}
        if object_path is not None:
            params["object"] = object_path
        return self._call(
            "GET",
            "flowservice",
            f"/connections/{_segment('connection_id', connection_id)}/explore",
            params=params,
        )

    def list_source_tables(self, connection_id: str) -> list[dict]:
        """The tables behind a base connection (``/explore?objectType=root``), each
        ``{name, path}``: ``name`` is what the source shows (Salesforce: the label), ``path`` what
        the API uses (Salesforce: the API name), in the order AEP lists them; folders skipped."""
        body = self.explore_base_connection(connection_id, "root")
        if isinstance(body, dict):
            body = body.get("items", body.get("results"))
        if not isinstance(body, list):
            raise _explore_malformed(connection_id, "a list of tables", body)
        out: list[dict] = []
        for item in body:
            if not isinstance(item, dict) or str(item.get("type", "table")).lower() != "table":
                continue
            path = item.get("path") or item.get("name")
            if isinstance(path, str) and path:
                name = item.get("name")
                out.append({"name": name if isinstance(name, str) and name else path, "path": path})
        return out

    def get_table_columns(self, connection_id: str, table_path: str) -> list[dict]:
        """The columns of one table (``/explore?objectType=table&object=<path>``), as AEP lists them
        (``{name, type, meta:xdmType?, xdm?}``)."""
        if not isinstance(table_path, str) or not table_path:
            raise AEPInputError("table", "must be a non-empty table path.", "pass the table's API name.")
        body = self.explore_base_connection(connection_id, "table", table_path)
        columns = ((body or {}).get("schema") or {}).get("columns") if isinstance(body, dict) else None
        if not isinstance(columns, list):
            raise _explore_malformed(connection_id, "{schema: {columns: [...]}}", body)
        return [c for c in columns if isinstance(c, dict)]

    def find_base_connection(self, name: str) -> dict | None:
        """Base connection called ``name`` (the oldest if several) or ``None``."""
        return self._fs_find("/connections", name)

    def find_all_base_connections(self, name: str) -> list[dict]:
        """Every one of the base connections called ``name`` (AEP allows several)."""
        return self._fs_find_all("/connections", name)

    def _fs_patch(self, collection: str, field: str, resource_id: str, operations: list, etag: str) -> dict:
        """JSON-Patch ``/{collection}/{id}`` under ``If-Match: etag``; returns ``{id, etag}`` if given."""
        if not isinstance(operations, list) or not operations:
            raise AEPInputError(
                "operations",
                "must be a non-empty list of JSON Patch operations.",
                "pass [{op, path, value}].",
            )
        if not isinstance(etag, str) or not etag:
            raise AEPInputError("etag", "is required (If-Match).", "pass the etag of the last GET.")
        body = self._call(
            "PATCH",
            "flowservice",
            f"/{collection}/{_segment(field, resource_id)}",
            json=operations,
            if_match=etag,
        )
        result = self._first_item(body)
        return result if isinstance(result, dict) else {}

    def patch_base_connection(self, connection_id: str, operations: list, etag: str) -> dict:
        """``PATCH /connections/{id}`` with ``If-Match`` (e.g. ``replace /auth/params``)."""
        return self._fs_patch("connections", "connection_id", connection_id, operations, etag)

    def patch_source_connection(self, source_connection_id: str, operations: list, etag: str) -> dict:
        """``PATCH /sourceConnections/{id}`` with ``If-Match``."""
        return self._fs_patch(
            "sourceConnections", "source_connection_id", source_connection_id, operations, etag
        )

    def patch_target_connection(self, target_connection_id: str, operations: list, etag: str) -> dict:
        """``PATCH /targetConnections/{id}`` with ``If-Match``."""
        return self._fs_patch(
            "targetConnections", "target_connection_id", target_connection_id, operations, etag
        )

    # ------------------------------------------------------------------ source / target connections
    def create_source_connection(self, body: dict) -> dict:
        """``POST /sourceConnections``; returns ``{id, etag}``."""
        return self._create("flowservice", "/sourceConnections", body)

    def get_source_connection(self, source_connection_id: str) -> dict:
        """``GET /sourceConnections/{id}`` (unwrapped)."""
        return self._get_one(
            "flowservice", f"/sourceConnections/{_segment('source_connection_id', source_connection_id)}"
        )

    def list_source_connections(
        self, properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
    ) -> Iterator[dict]:
        """Source connections, lazily paged."""
        return self._fs_list("/sourceConnections", properties, orderby, limit)

    def delete_source_connection(self, source_connection_id: str) -> None:
        """``DELETE /sourceConnections/{id}``."""
        self._call(
            "DELETE",
            "flowservice",
            f"/sourceConnections/{_segment('source_connection_id', source_connection_id)}",
        )

    def find_source_connection(self, name: str) -> dict | None:
        """Source connection called ``name`` (the oldest if several) or ``None``."""
        return self._fs_find("/sourceConnections", name)

    def find_all_source_connections(self, name: str) -> list[dict]:
        """Every one of the source connections called ``name`` (AEP allows several)."""
        return self._fs_find_all("/sourceConnections", name)

    def create_target_connection(self, body: dict) -> dict:
        """``POST /targetConnections``; returns ``{id, etag}``."""
        return self._create("flowservice", "/targetConnections", body)

    def get_target_connection(self, target_connection_id: str) -> dict:
        """``GET /targetConnections/{id}`` (unwrapped)."""
        return self._get_one(
            "flowservice", f"/targetConnections/{_segment('target_connection_id', target_connection_id)}"
        )

    def list_target_connections(
        self, properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
    ) -> Iterator[dict]:
        """Target connections, lazily paged."""
        return self._fs_list("/targetConnections", properties, orderby, limit)

    def delete_target_connection(self, target_connection_id: str) -> None:
        """``DELETE /targetConnections/{id}``."""
        self._call(
            "DELETE",
            "flowservice",
            f"/targetConnections/{_segment('target_connection_id', target_connection_id)}",
        )

    def find_target_connection(self, name: str) -> dict | None:
        """Target connection called ``name`` (the oldest if several) or ``None``."""
        return self._fs_find("/targetConnections", name)

    def find_all_target_connections(self, name: str) -> list[dict]:
        """Every one of the target connections called ``name`` (AEP allows several)."""
        return self._fs_find_all("/targetConnections", name)

    # ------------------------------------------------------------------ flows
    def create_flow(self, body: dict) -> dict:
        """``POST /flows``; returns ``{id, etag}``."""
        return self._create("flowservice", "/flows", body)

    def get_flow(self, flow_id: str) -> dict:
        """``GET /flows/{id}`` (unwrapped)."""
        return self._get_one("flowservice", f"/flows/{_segment('flow_id', flow_id)}")

    def list_flows(
        self, properties: list[str] | None = None, orderby: str | None = None, limit: int | None = None
    ) -> Iterator[dict]:
        """Flows, lazily paged."""
        return self._fs_list("/flows", properties, orderby, limit)

    def find_flow(self, name: str) -> dict | None:
        """Flow called ``name`` (the oldest if several) or ``None``."""
        return self._fs_find("/flows", name)

    def find_all_flows(self, name: str) -> list[dict]:
        """Every one of the flows called ``name`` (AEP allows several)."""
        return self._fs_find_all("/flows", name)

    def patch_flow(self, flow_id: str, operations: list[dict], etag: str | None = None) -> dict:
        """JSON-Patch a flow with ``If-Match`` (the current etag is fetched when not given)."""
        if not isinstance(operations, list) or not operations:
            raise AEPInputError(
                "operations",
                "must be a non-empty list of JSON Patch operations.",
                "pass [{op, path, value}].",
            )
        segment = _segment("flow_id", flow_id)
        if etag is None:
            etag = self.get_flow(flow_id).get("etag")
            if not etag:
                raise AEPAPIError(
                    "GET",
                    SERVICE_BASE_PATHS["flowservice"] + f"/flows/{segment}",
                    200,
                    title="Flow has no etag",
                )
        body = self._call("PATCH", "flowservice", f"/flows/{segment}", json=operations, if_match=etag)
        result = self._first_item(body)
        return result if isinstance(result, dict) else {}

    def set_flow_state(self, flow_id: str, enabled: bool) -> dict:
        """``POST /flows/{id}/action?op=enable|disable``; returns ``{id, etag}``."""
        body = self._call(
            "POST",
            "flowservice",
            f"/flows/{_segment('flow_id', flow_id)}/action",
            params={"op": "enable" if enabled else "disable"},
        )
        result = self._first_item(body)
        return result if isinstance(result, dict) else {}

    def delete_flow(self, flow_id: str) -> None:
        """``DELETE /flows/{id}``."""
        self._call("DELETE", "flowservice", f"/flows/{_segment('flow_id', flow_id)}")

    # ------------------------------------------------------------------ runs
    def create_run(self, flow_id: str, params: dict) -> dict:
        """``POST /runs`` with ``{flowId, params}``; returns ``{id, etag}``."""
        flow_id = check_uuid("flow_id", flow_id)
        return self._create("flowservice", "/runs", {"flowId": flow_id, "params": dict(params or {})})

    def retrigger_run(self, run_id: str) -> str:
        """``POST /runs/{id}/action?op=RE_TRIGGER`` (no body): re-run a failed run's window as a new run.

        Returns the new run's id. Sent once: the answer being lost raises (the caller looks the new
        run up instead of sending again).
        """
        path = f"/runs/{_segment('run_id', run_id)}/action"
        body = self._call(
            "POST",
            "flowservice",
            path,
            params={"op": "RE_TRIGGER"},
            headers={"Content-Type": "application/json"},
        )
        result = self._first_item(body)
        new_id = result.get("id") if isinstance(result, dict) else None
        if not isinstance(new_id, str) or not new_id:
            raise AEPMalformedAnswerError(
                "POST", SERVICE_BASE_PATHS["flowservice"] + path, 200, detail="the answer names no new run id"
            )
        return new_id

    def get_run(self, run_id: str) -> dict:
        """``GET /runs/{id}`` (unwrapped)."""
        return self._get_one("flowservice", run_path(run_id))

    def list_runs(
        self, flow_id: str, properties: list[str] | None = None, orderby: str | None = None
    ) -> Iterator[dict]:
        """Runs of a flow (``property=flowId==<id>`` plus ``properties``), lazily paged.

        ``flow_id`` must be one UUID: a comma would turn the filter into "runs of any of these flows".
        """
        return self._fs_list("/runs", **runs_query(flow_id, properties, orderby))
