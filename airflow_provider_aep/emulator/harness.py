"""Handles on the AEP emulator for tests: a served emulator, an in-process app, the Airflow connection.

The pytest fixtures that build them live in :mod:`airflow_provider_aep.emulator.pytest_plugin`;
this module is imported only when a fixture (or a test) uses it. FastAPI and uvicorn are imported
when an emulator is built, not here.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    import pytest

CLIENT_ID = "emulator-client"
CLIENT_SECRET = "emulator-secret"  # noqa: S105 - the emulator's documented test secret
ORG_ID = "EMULATORORG@AdobeOrg"
SANDBOX = "prod"
SCOPES = "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"


class AEPEmulatorHandle:
    """Handle on a running emulator: URLs, the Airflow connection for it and admin helpers."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.org_id = ORG_ID
        self.sandbox = SANDBOX

    # --------------------------------------------------------------------- Airflow connection
    def connection_extra(self) -> dict[str, Any]:
        """The ``extra`` of the Airflow connection."""
        return {
            "ims_org_id": self.org_id,
            "sandbox_name": self.sandbox,
            "ims_url": self.url,
            "scopes": SCOPES,
        }

    def connection_json(self) -> str:
        """The Airflow connection as JSON (usable as ``AIRFLOW_CONN_<ID>``)."""
        return json.dumps(
            {
                "conn_type": "adobe_experience_platform",
                "login": self.client_id,
                "password": self.client_secret,
                "host": self.url,
                "extra": self.connection_extra(),
            }
        )

    def connection_uri(self) -> str:
        """The Airflow connection as URI (host URL-encoded, extras as query)."""
        login = quote(self.client_id, safe="")
        secret = quote(self.client_secret, safe="")
        return (
            f"adobe-experience-platform://{login}:{secret}"
            f"@{quote(self.url, safe='')}/?{urlencode(self.connection_extra())}"
        )

    def set_env(self, monkeypatch: pytest.MonkeyPatch, conn_id: str = "aep_default") -> None:
        """Expose the connection as ``AIRFLOW_CONN_<CONN_ID>``."""
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", self.connection_json())

    # --------------------------------------------------------------------------------- admin
    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        import requests

        resp = requests.request(method, f"{self.url}/_emulator{path}", json=body, timeout=30)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def reset(self, *, faults: bool = True, config: bool = True) -> None:
        """Forget all resources (and, by default, faults and config)."""
        self._admin("POST", "/reset", {"faults": faults, "config": config})

    def requests(self) -> list[dict[str, Any]]:
        """The request log."""
        return self._admin("GET", "/requests")  # type: ignore[no-any-return]

    def clear_requests(self) -> None:
        """Clear the request log."""
        self._admin("DELETE", "/requests")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the fault configuration (keys of the contract's faults JSON)."""
        return self._admin("PUT", "/faults", faults)  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._admin("PUT", "/faults", {})

    def set_config(self, **config: Any) -> dict[str, Any]:
        """Update run_duration_seconds / time_scale / token_ttl_seconds / ..."""
        return self._admin("PUT", "/config", config)  # type: ignore[no-any-return]

    def records(self, dataset_id: str) -> list[dict[str, Any]]:
        """Records written into a dataset by finished runs."""
        return self._admin("GET", f"/datasets/{dataset_id}/records")  # type: ignore[no-any-return]

    def add_source_rows(self, connection_spec_id: str, table: str, rows: list[dict[str, Any]]) -> None:
        """Append rows to a sample source table."""
        self._admin("POST", f"/sources/{connection_spec_id}/tables/{table}/rows", rows)

    def add_source_table(self, connection_spec_id: str, name: str, **table: Any) -> None:
        """Add a source table: ``copy_of="Account"`` (and ``label=``) clones a sample table, or
        ``columns=``, ``delta_column=``, ``rows=`` define one (see ``POST /_emulator/sources/.../tables``)."""
        self._admin("POST", f"/sources/{connection_spec_id}/tables", {"name": name, **table})

    def state(self) -> dict[str, Any]:
        """Resource counts per org/sandbox."""
        return self._admin("GET", "/state")  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------ API convenience
    def token(self) -> str:
        """A fresh access token for the emulator client."""
        import requests

        resp = requests.post(
            f"{self.url}/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": SCOPES,
            },
            timeout=30,
        )
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def headers(self, token: str | None = None, sandbox: str | None = None) -> dict[str, str]:
        """Platform headers for direct calls."""
        return {
            "Authorization": f"Bearer {token or self.token()}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": self.org_id,
            "x-sandbox-name": sandbox or self.sandbox,
        }


class EmulatorServer:
    """The emulator served by uvicorn in a background thread on a free 127.0.0.1 port."""

    def __init__(self) -> None:
        import uvicorn

        from .app import create_app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.app = create_app()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="error", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,method-assign]
        self.thread = threading.Thread(target=self.server.run, name="aep-emulator", daemon=True)

    def start(self) -> None:
        """Start serving; returns once uvicorn accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the AEP emulator did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=5)


class InProcessEmulator:
    """A fresh in-process emulator app with a ``TestClient`` (unpacks as ``app, client``)."""

    def __init__(self, config: Any = None) -> None:
        from fastapi.testclient import TestClient

        from .app import create_app

        self.app = create_app(config)
        self.client = TestClient(self.app)
        self.client_id = CLIENT_ID
        self.org_id = ORG_ID
        self.sandbox = SANDBOX
        self._token: str | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.app, self.client))

    @property
    def state(self) -> Any:
        """The emulator state of the app."""
        return self.app.state.emulator

    def token(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> str:
        """Issue a token."""
        resp = self.client.post(
            "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
                "scope": SCOPES,
            },
        )
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def headers(self, sandbox: str | None = None, org: str | None = None) -> dict[str, str]:
        """Platform headers with a cached token."""
        if self._token is None:
            self._token = self.token()
        return {
            "Authorization": f"Bearer {self._token}",
            "x-api-key": CLIENT_ID,
            "x-gw-ims-org-id": org or ORG_ID,
            "x-sandbox-name": sandbox or SANDBOX,
        }
