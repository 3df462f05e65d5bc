"""Shared decoding helpers of the resource mixins (JSON answers, ``{items: [...]}`` unwrapping)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import AEPAPIError, AEPInputError, AEPNotFoundError
from airflow_provider_aep.hooks._errors import safe_path, scrub

if TYPE_CHECKING:
    import requests

SERVICE_BASE_PATHS = {
    "flowservice": "/data/foundation/flowservice",
    "schemaregistry": "/data/foundation/schemaregistry",
    "catalog": "/data/foundation/catalog",
    "conversion": "/data/foundation/conversion",
}


class ResourceCalls:
    """Base of the resource mixins; the hook provides :meth:`request`, ``sandbox_name`` and secrets."""

    if TYPE_CHECKING:

        @property
        def sandbox_name(self) -> str: ...

        def request(
            self,
            method: str,
            service: str,
            path: str,
            *,
            params: dict[str, Any] | None = None,
            json: Any = None,
            headers: dict[str, str] | None = None,
            sandbox_name: str | None = None,
            if_match: str | None = None,
            accept: str | None = None,
        ) -> requests.Response: ...

        def _secrets(self) -> list[str | None]: ...

    def _call(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request` and decode the JSON answer (``None`` for an empty body)."""
        response = self.request(method, service, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AEPAPIError(
                method.upper(),
                SERVICE_BASE_PATHS[service] + safe_path(path),
                response.status_code,
                title="Answer is not JSON",
                detail=scrub(" ".join(response.text.split())[:200], self._secrets()),
            ) from None

    @staticmethod
    def _first_item(body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            return body["items"][0] if body["items"] else None
        return body

    def _get_one(self, service: str, path: str, **kwargs: Any) -> dict:
        body = self._call("GET", service, path, **kwargs)
        item = self._first_item(body)
        if not isinstance(item, dict):
            raise AEPNotFoundError("GET", SERVICE_BASE_PATHS[service] + path, 404, title="Empty answer")
        return item

    def _create(self, service: str, path: str, body: dict, **kwargs: Any) -> dict:
        if not isinstance(body, dict):
            raise AEPInputError("body", f"must be a dict, got {type(body).__name__}.", "pass a JSON object.")
        result = self._first_item(self._call("POST", service, path, json=body, **kwargs))
        return result if isinstance(result, dict) else {"result": result}
