"""AEP datasets as Airflow Assets: the ``aep://`` URI scheme, its normaliser and its OpenLineage twin.

URI scheme (registered by the provider under ``asset-uris``)::

    aep://<org>/<sandbox>/datasets/<dataset id>

* ``<org>``: the IMS organization id without its ``@AdobeOrg`` suffix, upper case (a ``@`` cannot
  stand in a URI authority without meaning "user info"), e.g. ``1234ABCD5678EF90``;
* ``<sandbox>``: the sandbox name (AEP sandbox names are lower case);
* ``<dataset id>``: the Catalog dataset id (24 hex digits, lower case).

The OpenLineage dataset of the same AEP dataset has namespace ``aep://<org>/<sandbox>`` and name
``datasets/<dataset id>`` (namespace + ``/`` + name is the asset URI), so Airflow's asset lineage
and the provider's OpenLineage events name it identically.

This module stays cheap to import (standard library only): the DAG-parse path loads it when an
``aep://`` asset is declared. OpenLineage is imported only inside :func:`convert_asset_to_openlineage`.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Asset

SCHEME = "aep"
ORG_SUFFIX = "@AdobeOrg"
_DATASET_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_SANDBOX = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
_ORG = re.compile(r"^[A-Za-z0-9]{1,100}$")


def org_part(ims_org_id: str) -> str:
    """The ``<org>`` URI part of an IMS org id (``ABC@AdobeOrg`` -> ``ABC``)."""
    org = urllib.parse.unquote(str(ims_org_id)).strip()
    if org.lower().endswith(ORG_SUFFIX.lower()):
        org = org[: -len(ORG_SUFFIX)]
    if not _ORG.match(org):
        raise ValueError(f"{ims_org_id!r} is not an IMS org id such as 1234ABCD5678EF90@AdobeOrg")
    return org.upper()


def aep_namespace(ims_org_id: str, sandbox: str) -> str:
    """OpenLineage namespace of the datasets of one org and sandbox: ``aep://<org>/<sandbox>``."""
    return f"{SCHEME}://{org_part(ims_org_id)}/{_sandbox(sandbox)}"


def dataset_name(dataset_id: str) -> str:
    """OpenLineage name of an AEP dataset inside its namespace: ``datasets/<id>``."""
    return f"datasets/{_dataset_id(dataset_id)}"


def dataset_uri(ims_org_id: str, sandbox: str, dataset_id: str) -> str:
    """The asset URI of an AEP dataset: ``aep://<org>/<sandbox>/datasets/<id>``."""
    return f"{aep_namespace(ims_org_id, sandbox)}/{dataset_name(dataset_id)}"


def dataset_asset(ims_org_id: str, sandbox: str, dataset_id: str, name: str | None = None) -> Asset:
    """An Airflow :class:`~airflow.sdk.Asset` for an AEP dataset (``name`` defaults to the URI)."""
    from airflow.sdk import Asset

    uri = dataset_uri(ims_org_id, sandbox, dataset_id)
    return Asset(uri=uri, name=name or uri, group="aep-dataset")


def _sandbox(value: str) -> str:
    sandbox = str(value).strip().lower()
    if not _SANDBOX.match(sandbox):
        raise ValueError(f"{value!r} is not an AEP sandbox name (lower-case letters, digits and '-')")
    return sandbox


def _dataset_id(value: str) -> str:
    if not _DATASET_ID.match(str(value)):
        raise ValueError(f"{value!r} is not an AEP dataset id (24 hex digits)")
    return str(value).lower()


def sanitize_uri(uri: urllib.parse.SplitResult) -> urllib.parse.SplitResult:
    """Airflow's asset-URI normaliser for ``aep://``: canonical case, refuse anything malformed.

    Accepts ``<org>``, ``<org>@AdobeOrg`` and ``<org>%40AdobeOrg`` as the authority.
    """
    netloc = uri.netloc
    if uri.username and (uri.hostname or "").lower() == "adobeorg" and not uri.password:
        netloc = uri.username  # "ORG@AdobeOrg" parsed as user info
    try:
        org = org_part(netloc)
        parts = [p for p in uri.path.split("/") if p]
        if len(parts) != 3 or parts[1] != "datasets":
            raise ValueError(f"path {uri.path!r} is not /<sandbox>/datasets/<dataset id>")
        sandbox, _, dataset_id = parts
        path = f"/{_sandbox(sandbox)}/datasets/{_dataset_id(dataset_id)}"
    except ValueError as exc:
        raise ValueError(f"Invalid AEP dataset URI {urllib.parse.urlunsplit(uri)!r}: {exc}") from None
    if uri.query:
        raise ValueError("AEP dataset URIs take no query string")
    return uri._replace(netloc=org, path=path, query="", fragment="")


def parse_uri(uri: str) -> tuple[str, str, str]:
    """``(org, sandbox, dataset_id)`` of a canonical or raw ``aep://`` URI."""
    split = sanitize_uri(urllib.parse.urlsplit(uri))
    _, sandbox, _, dataset_id = split.path.split("/")
    return split.netloc, sandbox, dataset_id


def convert_asset_to_openlineage(asset: Any, lineage_context: Any = None) -> Any:
    """Airflow asset -> OpenLineage dataset (``aep://<org>/<sandbox>`` + ``datasets/<id>``)."""
    from openlineage.client.event_v2 import Dataset as OpenLineageDataset

    org, sandbox, dataset_id = parse_uri(asset.uri)
    return OpenLineageDataset(namespace=f"{SCHEME}://{org}/{sandbox}", name=f"datasets/{dataset_id}")
