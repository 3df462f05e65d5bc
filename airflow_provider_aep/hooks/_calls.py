"""Shared decoding helpers of the resource mixins (JSON answers, ``{items: [...]}`` unwrapping)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import (
    AEPInputError,
    AEPMalformedAnswerError,
    AEPNotFoundError,
    AEPResponseLostError,
)
from airflow_provider_aep.hooks._errors import safe_path, scrub

if TYPE_CHECKING:
    import requests

SERVICE_BASE_PATHS = {
    "flowservice": "/data/foundation/flowservice",
    "schemaregistry": "/data/foundation/schemaregistry",
    "catalog": "/data/foundation/catalog",
    "conversion": "/data/foundation/conversion",
    "export": "/data/foundation/export",  # Data Access: row-error diagnostics
    "identity": "/data/core/idnamespace",  # Identity Service: identity namespaces
}


def decode_answer(method: str, service: str, path: str, response: Any, secrets: Iterable[str | None]) -> Any:
    """The JSON body of a successful answer (``None`` when empty), for both transports.

    ``response`` is a ``requests.Response`` or an ``httpx.Response``.
    """
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        # A create answered with garbage may still have been committed: say so, and let the
        # caller look the resource up (AEPResponseLostError) instead of re-sending it.
        cls = AEPResponseLostError if method.upper() == "POST" else AEPMalformedAnswerError
        text = scrub(" ".join(response.text.split())[:200], secrets) or "(empty)"
        raise cls(
            method.upper(),
            SERVICE_BASE_PATHS[service] + safe_path(path),
            response.status_code,
            title="Answer is not JSON",
            detail=text + ("; the request may have been committed" if cls is AEPResponseLostError else ""),
        ) from None


def first_item(body: Any) -> Any:
    """``items[0]`` of an ``{items: [...]}`` answer (``None`` if empty), else the body itself."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return body["items"][0] if body["items"] else None
    return body


def one_item(body: Any, service: str, path: str) -> dict:
    """The single resource of a GET answer: empty ``items`` is not found, anything else malformed."""
    where = SERVICE_BASE_PATHS[service] + safe_path(path)
    if isinstance(body, dict) and body.get("items") == []:
        raise AEPNotFoundError("GET", where, 404, title="Empty answer")
    item = first_item(body)
    if not isinstance(item, dict) or not item:
        raise AEPMalformedAnswerError(
            "GET",
            where,
            200,
            title="Malformed answer",
            detail=f"expected one object, got {str(body)[:200]}",
        )
    return item


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
        return decode_answer(method, service, path, response, self._secrets())

    @staticmethod
    def _first_item(body: Any) -> Any:
        return first_item(body)

    def _get_one(self, service: str, path: str, **kwargs: Any) -> dict:
        return one_item(self._call("GET", service, path, **kwargs), service, path)

    def _create(self, service: str, path: str, body: dict, id_key: str = "id", **kwargs: Any) -> dict:
        """POST a create; the answer must carry the new resource's ``id_key``.

        An answer without one (``{}``, ``{"items": []}``, a list...) raises
        :class:`AEPResponseLostError`: the create may have been committed, so the caller looks the
        resource up by name rather than re-sending it.
        """
        if not isinstance(body, dict):
            raise AEPInputError("body", f"must be a dict, got {type(body).__name__}.", "pass a JSON object.")
        answer = self._call("POST", service, path, json=body, **kwargs)
        result = self._first_item(answer)
        if not isinstance(result, dict) or not isinstance(result.get(id_key), str) or not result[id_key]:
            raise AEPResponseLostError(
                "POST",
                SERVICE_BASE_PATHS[service] + safe_path(path),
                200,
                title=f"Create answer carries no {id_key!r}",
                detail=f"unusable answer {str(answer)[:200]}; the request may have been committed",
            )
        return result
