"""Trigger that waits, in the triggerer, for AEP flow runs to finish.

It polls with the native async client (:class:`~airflow_provider_aep.hooks._async.AsyncAEPClient`,
``httpx``): no thread per request, one pooled client per event loop, a bounded number of requests
in flight, one IMS token for the whole process, and a 429 slows every wait of the process down
together. The wait logic itself (which runs, transient-error budget, terminal statuses) lives in
:mod:`airflow_provider_aep.wait`, shared with the sensor and the run operator.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep.exceptions import AEPError
from airflow_provider_aep.hooks._async import AsyncAEPClient
from airflow_provider_aep.hooks._retry import RetryPolicy
from airflow_provider_aep.runs_status import RunState, WaitTarget, aggregate_status, timeout_message
from airflow_provider_aep.validation import check_count, check_poll_interval
from airflow_provider_aep.wait import (
    ASYNC_TRIGGER_RETRY,
    EVENT_STATUSES,
    TRANSIENT_ERRORS,
    TransientBudget,
    afetch_run_states,
)

__all__ = [
    "ASYNC_TRIGGER_RETRY",
    "EVENT_STATUSES",
    "TRANSIENT_ERRORS",
    "AEPFlowRunTrigger",
]


class AEPFlowRunTrigger(BaseTrigger):
    """Poll AEP Flow Service until the awaited run(s) reach a terminal state; yield ONE event.

    Every call (connection lookup, IMS token, polls) is a coroutine: the wait holds no thread,
    and the triggerer's event loop never blocks. Polls keep an absolute schedule (every
    ``poll_interval`` seconds from the first one, whatever a poll's latency); when the first poll is
    overdue (a trigger re-created after a triggerer restart) or unset, it happens at a random moment
    within one interval, so 1,000 re-created waits do not hit AEP in the same second.

    :param flow_id: flow whose runs are awaited (optional when ``run_id`` is given).
    :param run_id: wait for this run.
    :param window_start: with ``window_end``, epoch seconds: wait for the runs covering the window
        (see :mod:`airflow_provider_aep.runs_status` for the matching rule).
    :param window_end: epoch seconds (exclusive end of the window).
    :param started_after: epoch seconds: wait for the first run started at or after it.
    :param aep_conn_id: Airflow connection id.
    :param sandbox_name: sandbox override.
    :param poll_interval: seconds between polls.
    :param end_time: ABSOLUTE deadline (epoch seconds) computed once when deferring; a trigger
        re-created after a triggerer restart keeps it. ``None`` = no deadline.
    :param timeout_reason: ``"timeout"`` (sensor timeout) or ``"execution_timeout"``; copied into
        the timeout event so the task raises the matching exception.
    :param max_transient_errors: consecutive 429/5xx/connection failures (each already retried by
        the hook) tolerated before an ``error`` event.
    :param retry_policy: keyword arguments of ``RetryPolicy`` (JSON-safe) for each poll's requests,
        or ``None`` for :data:`~airflow_provider_aep.wait.ASYNC_TRIGGER_RETRY`.
    :param next_poll_at: epoch seconds of the first poll (the deferring task has just polled);
        ``None`` or a time already past: within one ``poll_interval``, at random (spread).

    Event payload: ``{"status": success|partial_success|failed|cancelled|timeout|error,
    "target": {...}, "runs": [RunState dicts], "message": str, "reason": str|None}``.
    """

    def __init__(
        self,
        *,
        flow_id: str | None = None,
        run_id: str | None = None,
        window_start: float | None = None,
        window_end: float | None = None,
        started_after: float | None = None,
        aep_conn_id: str = "aep_default",
        sandbox_name: str | None = None,
        poll_interval: float = 30.0,
        end_time: float | None = None,
        timeout_reason: str = "timeout",
        max_transient_errors: int = 10,
        retry_policy: dict[str, Any] | None = None,
        next_poll_at: float | None = None,
    ) -> None:
        super().__init__()
        self.flow_id = flow_id
        self.run_id = run_id
        self.window_start = None if window_start is None else float(window_start)
        self.window_end = None if window_end is None else float(window_end)
        self.started_after = None if started_after is None else float(started_after)
        self.aep_conn_id = aep_conn_id
        self.sandbox_name = sandbox_name
        # The sensor and the run operator enforce 1 s against AEP; here only "finite and not zero".
        self.poll_interval = check_poll_interval("poll_interval", poll_interval, loopback=True)
        self.end_time = None if end_time is None else float(end_time)
        self.timeout_reason = timeout_reason
        self.max_transient_errors = check_count("max_transient_errors", max_transient_errors, 1000)
        self.retry_policy = dict(retry_policy) if retry_policy else None
        self.next_poll_at = None if next_poll_at is None else float(next_poll_at)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and JSON-safe kwargs (str/int/float/bool/None/dict only)."""
        return (
            f"{self.__class__.__module__}.{self.__class__.__qualname__}",
            {
                "flow_id": self.flow_id,
                "run_id": self.run_id,
                "window_start": self.window_start,
                "window_end": self.window_end,
                "started_after": self.started_after,
                "aep_conn_id": self.aep_conn_id,
                "sandbox_name": self.sandbox_name,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "timeout_reason": self.timeout_reason,
                "max_transient_errors": self.max_transient_errors,
                "retry_policy": self.retry_policy,
                "next_poll_at": self.next_poll_at,
            },
        )

    @property
    def target(self) -> WaitTarget:
        """What this trigger waits for."""
        return WaitTarget(
            flow_id=self.flow_id,
            run_id=self.run_id,
            window_start=self.window_start,
            window_end=self.window_end,
            started_after=self.started_after,
        )

    def _client(self) -> Any:
        """The async AEP client of this wait (a seam for tests)."""
        policy = RetryPolicy(**self.retry_policy) if self.retry_policy else _default_policy()
        return AsyncAEPClient(self.aep_conn_id, self.sandbox_name, policy, log=self.log)

    def _event(
        self, status: str, runs: list[RunState], message: str, reason: str | None = None
    ) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "target": self.target.to_dict(),
                "runs": [r.to_dict() for r in runs],
                "message": message,
                "reason": reason,
            }
        )

    def _remaining(self) -> float | None:
        return None if self.end_time is None else self.end_time - time.time()

    def _first_poll_at(self, now: float) -> float:
        if self.next_poll_at is not None and self.next_poll_at > now:
            return self.next_poll_at
        # Unset, or overdue after a triggerer restart: spread the re-created waits over one interval.
        return now + random.uniform(0.0, self.poll_interval)

    def _delay_until(self, when: float) -> float:
        """Seconds to sleep until ``when`` or the deadline, whichever comes first (0 = now).

        The wait sleeps in ``_wait`` itself (no helper coroutine): 5,000 sleeping waits hold one
        frame fewer each.
        """
        delay = when - time.time()
        remaining = self._remaining()
        if remaining is not None:
            delay = min(delay, remaining)
        return max(delay, 0.0)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until terminal, deadline or persistent error; yield exactly one event.

        The client is closed before the event is yielded (and on cancellation), so a finished or
        cancelled wait leaves no open connection and no task behind.
        """
        client = self._client()
        try:
            event = await self._wait(client)
        finally:
            await client.close()
        yield event

    async def _wait(self, client: Any) -> TriggerEvent:
        target = self.target
        budget = TransientBudget(self.max_transient_errors)
        states: list[RunState] = []
        due = self._first_poll_at(time.time())
        if (delay := self._delay_until(due)) > 0:
            await asyncio.sleep(delay)
        while True:
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                return self._timeout_event(target, states)
            try:
                states = await _within(self._poll(client, target), remaining)
            except asyncio.TimeoutError:
                continue  # deadline reached while a call was in flight; next loop emits timeout
            except TRANSIENT_ERRORS as exc:
                if not budget.spend():
                    return self._event(
                        "error",
                        states,
                        f"Giving up on {target.describe()} after {budget.count} consecutive "
                        f"transient API errors; last: {exc}",
                        reason=type(exc).__name__,
                    )
                self.log.warning(
                    "Transient AEP error while polling %s (%d/%d): %s",
                    target.describe(),
                    budget.count,
                    budget.limit,
                    exc,
                )
            except AEPError as exc:
                return self._event("error", states, str(exc), reason=type(exc).__name__)
            except Exception as exc:
                return self._event(
                    "error",
                    states,
                    f"Unexpected error while polling {target.describe()}: {exc!r}",
                    reason=type(exc).__name__,
                )
            else:
                budget.reset()
                now = time.time()
                if not states:
                    self.log.info("No run yet for %s", target.describe())
                if self.log.isEnabledFor(logging.INFO):
                    for state in states:
                        self.log.info("AEP %s", state.progress_line(now))
                outcome = aggregate_status(states)
                if outcome is not None:
                    return self._event(
                        outcome.value, states, f"{target.describe()} finished: {outcome.value}"
                    )
            # An absolute schedule: a slow answer does not push every later poll back.
            due += self.poll_interval
            now = time.time()
            if due < now:
                due = now
            if (delay := self._delay_until(due)) > 0:
                await asyncio.sleep(delay)

    @staticmethod
    async def _poll(client: Any, target: WaitTarget) -> list[RunState]:
        await client.open()
        return await afetch_run_states(client, target)

    def _timeout_event(self, target: WaitTarget, states: list[RunState]) -> TriggerEvent:
        return self._event("timeout", states, timeout_message(target, states), reason=self.timeout_reason)


@functools.lru_cache(maxsize=1)
def _default_policy() -> RetryPolicy:
    """:data:`~airflow_provider_aep.wait.ASYNC_TRIGGER_RETRY` as one shared (frozen) policy."""
    return RetryPolicy(**ASYNC_TRIGGER_RETRY)


async def _within(coro: Any, seconds: float | None) -> Any:
    """``await coro`` with a timeout; ``asyncio.timeout`` (3.11+) avoids ``wait_for``'s extra task."""
    if seconds is None:
        return await coro
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)  # pragma: no cover - Python 3.10
