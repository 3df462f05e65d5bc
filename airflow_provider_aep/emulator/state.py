"""In-memory state of the emulator: configuration, clock, tokens and per-(org, sandbox) stores."""

from __future__ import annotations

import asyncio
import copy
import math
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

TENANT_ID = "emulatortenant"


@dataclass
class EmulatorConfig:
    """Runtime configuration (``GET|PUT /_emulator/config``)."""

    run_duration_seconds: float = 3.0
    time_scale: float = 1.0
    token_ttl_seconds: int = 86399
    tenant_id: str = TENANT_ID
    #: ``{client_id: client_secret}``; ``None`` accepts any client id with a non-empty secret.
    allowed_clients: dict[str, str] | None = None
    #: Known sandbox names; ``None`` accepts any lowercase name.
    sandboxes: list[str] | None = None
    #: Initial fault configuration (faults JSON of the contract).
    faults: dict[str, Any] | None = None
    max_request_log: int = 10000

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: EmulatorConfig | None = None) -> EmulatorConfig:
        """Build a config from ``data`` (unknown keys raise ``KeyError``), starting from ``base``."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        for key, value in data.items():
            _check_config_value(key, value)
        merged = asdict(base) if base else {}
        merged.update(data)
        return cls(**merged)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return asdict(self)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_config_value(key: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``key`` when ``value`` has the wrong type or range."""
    if key == "run_duration_seconds":
        if not _is_number(value) or not 0 <= value <= 86400:
            raise ValueError("run_duration_seconds must be a number of seconds between 0 and 86400")
    elif key == "time_scale":
        if not _is_number(value) or not 0 < value <= 1e6:
            raise ValueError("time_scale must be a number greater than 0 and at most 1000000")
    elif key == "token_ttl_seconds":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**8:
            raise ValueError("token_ttl_seconds must be an integer between 0 and 100000000")
    elif key == "tenant_id":
        if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9_]{1,64}", value):
            raise ValueError("tenant_id must be 1-64 lowercase letters, digits or '_'")
    elif key == "allowed_clients":
        if value is not None and (
            not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
        ):
            raise ValueError("allowed_clients must be null or an object mapping client ids to secrets")
    elif key == "sandboxes":
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise ValueError("sandboxes must be null or a list of sandbox names")
    elif key == "faults":
        if value is not None and not isinstance(value, dict):
            raise ValueError("faults must be null or an object (see PUT /_emulator/faults)")
        if value:
            from .faults import FaultConfig

            FaultConfig.from_dict(value)
    elif key == "max_request_log":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**6:
            raise ValueError("max_request_log must be an integer between 0 and 1000000")


def new_id() -> str:
    """A Flow Service style UUID."""
    return str(uuid.uuid4())


def new_etag() -> str:
    """A quoted etag such as ``"2900a761-0000-0200-0000-5ed18cea0000"`` (quotes included)."""
    return f'"{secrets.token_hex(4)}-0000-0200-0000-{secrets.token_hex(6)}"'


def hex_id(n: int) -> str:
    """``n`` lowercase hex characters."""
    return secrets.token_hex((n + 1) // 2)[:n]


class Clock:
    """Emulated time: ``time_scale`` emulated seconds per real second, anchored at start."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self._real_anchor = time.time()
        self._emu_anchor = self._real_anchor
        self.time_scale = time_scale

    def now(self) -> float:
        """Emulated epoch seconds."""
        return self._emu_anchor + (time.time() - self._real_anchor) * self.time_scale

    def now_ms(self) -> int:
        """Emulated epoch milliseconds."""
        return int(self.now() * 1000)

    def set_scale(self, time_scale: float) -> None:
        """Change the scale without a jump in emulated time."""
        emu = self.now()
        self._real_anchor = time.time()
        self._emu_anchor = emu
        self.time_scale = time_scale


@dataclass
class RunRuntime:
    """Internal bookkeeping of one flow run."""

    run_id: str
    flow_id: str
    real_done_at: float
    started_at_ms: int
    window_start: float | None
    window_end: float | None
    delta_column: str | None
    scheduled: bool
    finished: bool = False


@dataclass
class FlowRuntime:
    """Internal bookkeeping of one flow: schedule cursor, watermark and run ids."""

    next_run_at: float | None
    watermark: str | None = None
    first_window_start: float | None = None
    run_ids: list[str] = field(default_factory=list)


@dataclass
class SandboxState:
    """All resources of one (org, sandbox)."""

    org: str
    name: str
    sandbox_id: str
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    source_connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    flow_runtime: dict[str, FlowRuntime] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_runtime: dict[str, RunRuntime] = field(default_factory=dict)
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Tenant field groups by ``$id`` (``https://ns.adobe.com/{tenant}/mixins/<hex>``).
    fieldgroups: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Schema descriptors by ``@id`` (40 hex).
    descriptors: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Custom identity namespaces by ``code``.
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    mapping_sets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Data Access row errors of runs whose flow has error diagnostics enabled: batch id -> lines.
    row_errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Secrets of base connections (never returned): connection id -> auth.params.
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Number of resources of each kind."""
        return {
            "connections": len(self.connections),
            "sourceConnections": len(self.source_connections),
            "targetConnections": len(self.target_connections),
            "flows": len(self.flows),
            "runs": len(self.runs),
            "classes": len(self.classes),
            "schemas": len(self.schemas),
            "fieldGroups": len(self.fieldgroups),
            "descriptors": len(self.descriptors),
            "dataSets": len(self.datasets),
            "mappingSets": len(self.mapping_sets),
        }


@dataclass
class Token:
    """An issued IMS access token."""

    client_id: str
    expires_at: float
    scope: str


class EmulatorState:
    """Everything the emulator knows; one per app (``app.state.emulator``)."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock = Clock(self.config.time_scale)
        self.tokens: dict[str, Token] = {}
        self.sandboxes: dict[tuple[str, str], SandboxState] = {}
        self.request_log: list[dict[str, Any]] = []
        #: dataset id -> records written by runs (datasets are unique across sandboxes).
        self.records: dict[str, list[dict[str, Any]]] = {}
        self._source_catalog: dict[str, dict[str, Any]] | None = None
        self.injector: Any = None
        self.faults_dict: dict[str, Any] = {}
        #: Requests accepted by the late-commit fault whose backend commit is still to come.
        self.pending_commits: set[asyncio.Task[None]] = set()
        self.set_faults(self.config.faults or {})

    # ----------------------------------------------------------------------------- lifecycle
    def reset(self) -> None:
        """Forget every resource, token, record and log entry (config and faults are kept); the
        emulated clock returns to real time (a fast-forward of a previous test does not leak), and
        late commits still pending are cancelled, so they cannot land in the fresh state."""
        self.clock = Clock(self.config.time_scale)
        for task in list(self.pending_commits):
            task.cancel()
        self.pending_commits.clear()
        self.tokens.clear()
        self.sandboxes.clear()
        self.request_log.clear()
        self.records.clear()
        self._source_catalog = None
        self.__dict__.pop("valid_source_credentials", None)
        # nothing is left that remembers emulated time: re-anchor the clock on real time, so a
        # test that sped the clock up does not leave later tests in the future
        self.clock = Clock(self.clock.time_scale)

    def set_faults(self, data: dict[str, Any]) -> None:
        """Install a fault configuration (contract's faults JSON)."""
        try:
            from . import faults  # type: ignore[attr-defined,unused-ignore]
        except ImportError:  # the fault module is optional while it is being written
            if data:
                raise ValueError("fault injection is not available") from None
            self.injector = None
            self.faults_dict = {}
            return
        cfg = faults.FaultConfig.from_dict(data or {})
        self.injector = faults.FaultInjector(cfg)
        self.faults_dict = cfg.to_dict()

    def update_config(self, data: dict[str, Any]) -> None:
        """Apply a partial config update."""
        self.config = EmulatorConfig.from_dict(data, self.config)
        if self.clock.time_scale != self.config.time_scale:
            self.clock.set_scale(self.config.time_scale)

    # ------------------------------------------------------------------------------- lookups
    @property
    def source_catalog(self) -> dict[str, dict[str, Any]]:
        """Sample source tables: connection spec id -> table name -> SampleTable."""
        if self._source_catalog is None:
            from .samples import new_source_catalog

            self._source_catalog = new_source_catalog()
        return self._source_catalog

    def sandbox(self, org: str, name: str) -> SandboxState:
        """The (created on first use) state of one sandbox."""
        key = (org, name)
        sb = self.sandboxes.get(key)
        if sb is None:
            sb = SandboxState(
                org=org, name=name, sandbox_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{org}/{name}"))
            )
            self.sandboxes[key] = sb
        return sb

    def issue_token(self, client_id: str, scope: str) -> tuple[str, int]:
        """Create a bearer token; returns (token, expires_in seconds)."""
        ttl = self.config.token_ttl_seconds
        if self.injector is not None:
            fault_ttl = self.injector.token_ttl()
            if fault_ttl is not None:
                ttl = int(fault_ttl)
        token = "emu." + secrets.token_urlsafe(32)
        self.tokens[token] = Token(client_id=client_id, expires_at=time.time() + ttl, scope=scope)
        return token, ttl

    def find_schema_anywhere(self, schema_id: str) -> dict[str, Any] | None:
        """Schema by $id in any sandbox (used for dataset lookups by admin endpoints)."""
        for sb in self.sandboxes.values():
            if schema_id in sb.schemas:
                return sb.schemas[schema_id]
        return None

    def counts(self) -> list[dict[str, Any]]:
        """Resource counts per org/sandbox."""
        return [
            {"org": org, "sandbox": name, "counts": sb.counts()}
            for (org, name), sb in sorted(self.sandboxes.items())
        ]


def public_copy(obj: dict[str, Any]) -> dict[str, Any]:
    """Deep copy for answering (stored objects are never handed out)."""
    return copy.deepcopy(obj)
