"""Event trigger for ``AssetWatcher``: one event per newly finished successful run of an AEP dataflow.

For dataflows that AEP runs on its own schedule: a DAG scheduled on an asset watched by this
trigger runs once per AEP ingestion, with no sensor task and no worker slot held::

    from airflow.sdk import Asset, AssetWatcher
    from airflow_provider_aep.triggers.flow_run_event import AEPFlowRunEventTrigger

    accounts = Asset(
        "aep://<org>/<sandbox>/datasets/<dataset id>",
        watchers=[AssetWatcher(name="accounts_flow", trigger=AEPFlowRunEventTrigger(flow_id="<flow id>"))],
    )

**Position.** The trigger remembers the newest run it has reported (its completion time and the
ids completed at that instant) in the watched asset's state store (``asset_state_store``, kept in
Airflow's metadata DB), so a triggerer restart resumes where it stopped: no run is missed and none
is reported twice. On its very first start it records the newest run already finished and reports
only later ones (``emit_existing=True`` reports the finished runs of the look-back window too).
The position is written right after the event is handed to the triggerer; only a crash in that
instant can repeat one event, never lose one.

**Manners** (the same transport as :class:`~airflow_provider_aep.triggers.flow_run.AEPFlowRunTrigger`):
one list call per ``poll_interval`` with the native async client
(:class:`~airflow_provider_aep.hooks._async.AsyncAEPClient`): no thread per request, one pooled
client per event loop, the connection's ``trigger_max_in_flight`` bound, one IMS token for the
whole process, and a 429 (``Retry-After`` honoured) slows every wait of the process down together.
Its retry policy is :data:`~airflow_provider_aep.wait.ASYNC_TRIGGER_RETRY` unless ``retry_policy``
says otherwise. 429/5xx/connection errors left after those retries back off (doubling, up to 8 poll
intervals) and never stop the watcher. The listing is the flow-run trigger's
(:func:`~airflow_provider_aep.wait.runs_request`, :func:`~airflow_provider_aep.wait.alist_runs`).
The watcher runs until the triggerer cancels it; the client is closed then.

Event payload (the asset event's ``extra["payload"]``): ``flow_id``, ``run_id``, ``status``,
``records_read``, ``records_written``, ``records_failed``, ``bytes_written``, ``started_at``,
``completed_at`` (epoch seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_aep.hooks._async import AsyncAEPClient
from airflow_provider_aep.hooks._retry import RetryPolicy
from airflow_provider_aep.runs_status import RunState, RunStatus, WaitTarget
from airflow_provider_aep.wait import ASYNC_TRIGGER_RETRY, TRANSIENT_ERRORS, alist_runs, runs_request

#: Statuses that count as "the data landed".
REPORTED = (RunStatus.SUCCESS, RunStatus.PARTIAL_SUCCESS)
MAX_BACKOFF_POLLS = 8


class AEPFlowRunEventTrigger(BaseEventTrigger):
    """Yield one event per newly finished successful run of ``flow_id`` (see module docstring).

    :param flow_id: the dataflow (UUID).
    :param aep_conn_id: Airflow connection id.
    :param sandbox_name: sandbox override.
    :param poll_interval: seconds between two list calls (default 60).
    :param lookback_hours: runs that started up to this long before the position are listed
        (a run that started earlier but finishes later is still seen); default 24.
    :param include_partial_success: report partial successes too (default True).
    :param emit_existing: on the very first start, report the runs already finished in the
        look-back window instead of starting after them.
    :param retry_policy: keyword arguments of ``RetryPolicy`` (JSON-safe) for each poll's requests,
        or ``None`` for :data:`~airflow_provider_aep.wait.ASYNC_TRIGGER_RETRY` (the flow-run trigger's).
    """

    def __init__(
        self,
        *,
        flow_id: str,
        aep_conn_id: str = "aep_default",
        sandbox_name: str | None = None,
        poll_interval: float = 60.0,
        lookback_hours: float = 24.0,
        include_partial_success: bool = True,
        emit_existing: bool = False,
        retry_policy: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        from airflow_provider_aep.sensors.flow_run import validate_uuid

        self.flow_id = validate_uuid("flow_id", flow_id)
        self.aep_conn_id = aep_conn_id
        self.sandbox_name = sandbox_name
        self.poll_interval = float(poll_interval)
        if self.poll_interval <= 0:
            from airflow_provider_aep.exceptions import AEPInputError

            raise AEPInputError("poll_interval", f"must be positive, got {poll_interval!r}.", "Use e.g. 60.")
        self.lookback_hours = float(lookback_hours)
        self.include_partial_success = bool(include_partial_success)
        self.emit_existing = bool(emit_existing)
        self.retry_policy = dict(retry_policy) if retry_policy else None
        self._memory_position: dict[str, Any] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and JSON-safe kwargs (stable across DAG parses: no clock values)."""
        return (
            f"{self.__class__.__module__}.{self.__class__.__qualname__}",
            {
                "flow_id": self.flow_id,
                "aep_conn_id": self.aep_conn_id,
                "sandbox_name": self.sandbox_name,
                "poll_interval": self.poll_interval,
                "lookback_hours": self.lookback_hours,
                "include_partial_success": self.include_partial_success,
                "emit_existing": self.emit_existing,
                "retry_policy": self.retry_policy,
            },
        )

    # ------------------------------------------------------------------ position (state store)
    @property
    def position_key(self) -> str:
        """Key of the position in the watched asset's state store."""
        return f"aep-flow-runs:{self.flow_id}"

    async def load_position(self) -> dict[str, Any] | None:
        """The stored position ``{"completed_at": float, "seen": [run ids]}``, or None."""
        store = self.asset_state_store
        if store is None:
            return self._memory_position
        value = await store.aget(self.position_key)
        return value if isinstance(value, dict) else None

    async def save_position(self, position: dict[str, Any]) -> None:
        """Persist the position (in memory only when no state store was injected, e.g. in tests)."""
        self._memory_position = position
        store = self.asset_state_store
        if store is not None:
            await store.aset(self.position_key, position)

    # ------------------------------------------------------------------ polling
    def _client(self) -> Any:
        """The async AEP client of this watcher (a seam for tests), built as the flow-run trigger's."""
        policy = RetryPolicy(**(self.retry_policy or ASYNC_TRIGGER_RETRY))
        return AsyncAEPClient(self.aep_conn_id, self.sandbox_name, policy, log=self.log)

    async def _finished_runs(self, client: Any, since: float | None) -> list[RunState]:
        """Successful (or partially successful) finished runs, oldest completion first."""
        properties = None
        if since is not None:
            lower = max(since - self.lookback_hours * 3600, 0)
            _, properties = runs_request(WaitTarget(flow_id=self.flow_id, started_after=lower))
        await client.open()
        wanted = REPORTED if self.include_partial_success else (RunStatus.SUCCESS,)
        states = [RunState.from_run(r) for r in await alist_runs(client, self.flow_id, properties)]
        done = [s for s in states if s.run_status in wanted and s.completed_at is not None]
        done.sort(key=lambda s: (s.completed_at or 0.0, s.run_id))
        return done

    @staticmethod
    def _is_new(state: RunState, position: dict[str, Any]) -> bool:
        completed = float(state.completed_at or 0.0)
        mark = float(position.get("completed_at") or 0.0)
        return completed > mark or (completed == mark and state.run_id not in position.get("seen", []))

    @staticmethod
    def _advance(position: dict[str, Any], state: RunState) -> dict[str, Any]:
        completed = float(state.completed_at or 0.0)
        if completed > float(position.get("completed_at") or 0.0):
            return {"completed_at": completed, "seen": [state.run_id]}
        return {"completed_at": completed, "seen": [*position.get("seen", []), state.run_id]}

    def _payload(self, state: RunState) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "run_id": state.run_id,
            "status": state.status,
            "records_read": state.records_read,
            "records_written": state.records_written,
            "records_failed": state.records_failed,
            "bytes_written": state.bytes_written,
            "started_at": state.started_at,
            "completed_at": state.completed_at,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll forever; yield one event per newly finished successful run.

        The triggerer ends a watcher by cancelling it: the client is closed then, so no open
        connection and no task is left behind.
        """
        client = self._client()
        try:
            async for event in self._watch(client):
                yield event
        finally:
            await client.close()

    async def _watch(self, client: Any) -> AsyncIterator[TriggerEvent]:
        position = await self.load_position()
        errors = 0
        while True:
            try:
                since = None if position is None else float(position.get("completed_at") or 0.0)
                runs = await self._finished_runs(client, since)
            except TRANSIENT_ERRORS as exc:
                errors += 1
                delay = self.poll_interval * min(2 ** (errors - 1), MAX_BACKOFF_POLLS)
                self.log.warning(
                    "Transient AEP error while watching flow %s (%d in a row), next poll in %.0fs: %s",
                    self.flow_id,
                    errors,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
                continue
            errors = 0
            if position is None:  # very first start: begin after what has already finished
                position = {"completed_at": 0.0, "seen": []}
                if not self.emit_existing and runs:
                    newest = runs[-1].completed_at or 0.0
                    position = {
                        "completed_at": newest,
                        "seen": [r.run_id for r in runs if r.completed_at == newest],
                    }
                await self.save_position(position)
                self.log.info(
                    "Watching flow %s from completion time %s", self.flow_id, position["completed_at"]
                )
            for state in runs:
                if not self._is_new(state, position):
                    continue
                self.log.info("AEP %s", state.progress_line(time.time()))
                yield TriggerEvent(self._payload(state))
                position = self._advance(position, state)
                await self.save_position(position)
            await asyncio.sleep(self.poll_interval)
