"""Trigger that waits, in the triggerer, for AEP flow runs to finish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep.exceptions import (
    AEPConnectionError,
    AEPError,
    AEPRateLimitError,
    AEPServerError,
)
from airflow_provider_aep.runs_status import (
    RunState,
    WaitTarget,
    aggregate_status,
    fetch_run_states,
    timeout_message,
)
from airflow_provider_aep.validation import check_count, check_poll_interval

#: Exceptions tolerated while polling (after the hook's own retries), up to ``max_transient_errors``.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (AEPRateLimitError, AEPServerError, AEPConnectionError)

#: Hook retry policy inside the trigger: short, so a poll never holds one of the triggerer's shared
#: worker threads for long (the trigger itself retries transient errors every ``poll_interval``,
#: sleeping with ``asyncio.sleep``, which costs no thread).
DEFAULT_TRIGGER_RETRY: dict[str, Any] = {
    "max_attempts": 2,
    "max_wait_seconds": 5.0,
    "max_total_seconds": 10.0,
}

#: Statuses an event can carry. Terminal run outcomes, plus ``timeout`` and ``error``.
EVENT_STATUSES = frozenset({"success", "partial_success", "failed", "cancelled", "timeout", "error"})


class AEPFlowRunTrigger(BaseTrigger):
    """Poll AEP Flow Service until the awaited run(s) reach a terminal state; yield ONE event.

    All hook calls (including the connection lookup and the IMS token) run in a worker thread
    (``asyncio.to_thread``), so the triggerer's event loop never blocks.

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
    :param retry_policy: keyword arguments for the hook's ``RetryPolicy`` (JSON-safe), or ``None``
        for :data:`DEFAULT_TRIGGER_RETRY` (short in-thread retries; the trigger loop does the rest).
    :param next_poll_at: epoch seconds of the first poll (the deferring task has just polled);
        ``None`` polls at once.

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

    def _make_hook(self) -> Any:
        from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook, RetryPolicy

        policy = RetryPolicy(**(self.retry_policy or DEFAULT_TRIGGER_RETRY))
        hook = AdobeExperiencePlatformHook(
            aep_conn_id=self.aep_conn_id, sandbox_name=self.sandbox_name, retry_policy=policy
        )
        hook.get_access_token()  # connection lookup + IMS token, in this worker thread
        return hook

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

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until terminal, deadline or persistent error; yield exactly one event."""
        target = self.target
        hook: Any = None
        consecutive_errors = 0
        states: list[RunState] = []
        # The task polled just before deferring: the first poll here waits for its turn (an
        # absolute time, so a trigger re-created after a triggerer restart does not wait again).
        if self.next_poll_at is not None:
            delay = self.next_poll_at - time.time()
            remaining = self._remaining()
            if remaining is not None:
                delay = min(delay, remaining)
            if delay > 0:
                await asyncio.sleep(delay)
        while True:
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                yield self._timeout_event(target, states)
                return
            try:
                if hook is None:
                    hook = await asyncio.wait_for(asyncio.to_thread(self._make_hook), remaining)
                states = await asyncio.wait_for(
                    asyncio.to_thread(fetch_run_states, hook, target), self._remaining()
                )
            except asyncio.TimeoutError:
                continue  # deadline reached while a call was in flight; next loop emits timeout
            except TRANSIENT_ERRORS as exc:
                consecutive_errors += 1
                if consecutive_errors > self.max_transient_errors:
                    yield self._event(
                        "error",
                        states,
                        f"Giving up on {target.describe()} after {consecutive_errors} consecutive "
                        f"transient API errors; last: {exc}",
                        reason=type(exc).__name__,
                    )
                    return
                self.log.warning(
                    "Transient AEP error while polling %s (%d/%d): %s",
                    target.describe(),
                    consecutive_errors,
                    self.max_transient_errors,
                    exc,
                )
            except AEPError as exc:
                yield self._event("error", states, str(exc), reason=type(exc).__name__)
                return
            except Exception as exc:
                yield self._event(
                    "error",
                    states,
                    f"Unexpected error while polling {target.describe()}: {exc!r}",
                    reason=type(exc).__name__,
                )
                return
            else:
                consecutive_errors = 0
                now = time.time()
                if not states:
                    self.log.info("No run yet for %s", target.describe())
                for state in states:
                    self.log.info("AEP %s", state.progress_line(now))
                outcome = aggregate_status(states)
                if outcome is not None:
                    yield self._event(outcome.value, states, f"{target.describe()} finished: {outcome.value}")
                    return
            remaining = self._remaining()
            delay = self.poll_interval if remaining is None else max(min(self.poll_interval, remaining), 0.0)
            await asyncio.sleep(delay)

    def _timeout_event(self, target: WaitTarget, states: list[RunState]) -> TriggerEvent:
        return self._event("timeout", states, timeout_message(target, states), reason=self.timeout_reason)
