"""Retry policy for AEP calls: which failures are retried, and how long to wait.

One predicate (:func:`is_retryable`) decides for the sync hook and for any async caller (the flow-run
trigger runs the same hook calls in a thread, but can also call the predicate directly).

Rules:

* 429, 5xx, connection errors and timeouts are retried for GET, HEAD, PUT, DELETE and for PATCH
  when the request carries ``If-Match`` (the etag makes a replay harmless: a second apply fails
  with 412 instead of applying twice).
* POST is never retried after a 5xx or a lost answer: the create may have been committed, and a
  blind replay would duplicate it. Callers get :class:`~airflow_provider_aep.exceptions.AEPResponseLostError`
  and look the resource up by name instead.
* POST answered with **429** *is* retried: a throttled request was refused before processing, so
  replaying it cannot create a duplicate.
* ``Retry-After`` (delta seconds or an HTTP date) is honoured (plus up to a second of jitter, so
  clients throttled together do not return together), capped at ``max_wait_seconds``; otherwise
  exponential backoff with full jitter, capped at ``max_backoff``.
* Total elapsed time is always capped (``max_total_seconds``). Attempts are capped too
  (``max_attempts``), except for 429 answers: a throttled request was never processed, so under a
  rate limit the client keeps its place until the time budget runs out instead of failing after a
  fixed number of unlucky draws.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, fields, replace
from email.utils import parsedate_to_datetime
from typing import Any

from airflow_provider_aep.exceptions import (
    AEPAPIError,
    AEPConfigError,
    AEPConnectionError,
    AEPInputError,
    AEPResponseLostError,
)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

#: Connection ``extra`` keys that override :class:`RetryPolicy` fields.
RETRY_EXTRA_KEYS = {
    "retry_max_attempts": "max_attempts",
    "retry_max_wait_seconds": "max_wait_seconds",
    "retry_max_total_seconds": "max_total_seconds",
    "retry_initial_backoff": "initial_backoff",
    "retry_max_backoff": "max_backoff",
    "late_commit_wait_seconds": "late_commit_wait_seconds",
}


@dataclass(frozen=True)
class RetryPolicy:
    """How the hook retries transient failures.

    :param max_attempts: total attempts per call, first one included (1 disables retries).
    :param max_wait_seconds: cap on a single wait, including one asked for by ``Retry-After``.
    :param max_total_seconds: no new attempt starts after this many seconds since the first one.
    :param initial_backoff: base of the exponential backoff (seconds) when no ``Retry-After``.
    :param max_backoff: cap of the exponential backoff before jitter.
    :param late_commit_wait_seconds: after a create whose answer was lost (timeout, reset, 5xx such
        as a gateway 504), how long to keep looking for a late commit before concluding that nothing
        was committed (a POST is never re-sent, nor the task allowed to retry it, before that).
    """

    max_attempts: int = 5
    max_wait_seconds: float = 60.0
    max_total_seconds: float = 300.0
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    late_commit_wait_seconds: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(
                self, f.name, _policy_value(f"RetryPolicy.{f.name}", f.name, getattr(self, f.name))
            )

    @classmethod
    def from_extra(cls, extra: dict[str, Any], base: RetryPolicy | None = None) -> RetryPolicy:
        """Apply the optional ``retry_*`` connection extras on top of ``base`` (or the defaults).

        Each value must be a finite number in the range of :data:`RETRY_BOUNDS` (NaN, infinities,
        booleans and out-of-range values raise :class:`AEPConfigError` naming the extra).
        """
        changes: dict[str, Any] = {}
        for key, field_name in RETRY_EXTRA_KEYS.items():
            value = extra.get(key)
            if value in (None, ""):
                continue
            changes[field_name] = _policy_value(f"Connection extra {key!r}", field_name, value)
        return replace(base or cls(), **changes)


#: Allowed range of each :class:`RetryPolicy` field: a NaN or an infinity would make the
#: time budget, and with it the retries, unbounded.
RETRY_BOUNDS: dict[str, tuple[float, float]] = {
    "max_attempts": (1, 100),
    "max_wait_seconds": (0, 3600),
    "max_total_seconds": (0, 86400),
    "initial_backoff": (0, 3600),
    "max_backoff": (0, 3600),
    "late_commit_wait_seconds": (0, 3600),
}


def _policy_value(label: str, field_name: str, value: Any) -> float:
    from airflow_provider_aep.validation import check_number

    low, high = RETRY_BOUNDS[field_name]
    integer = field_name == "max_attempts"
    try:
        return check_number(label, value, minimum=low, maximum=high, integer=integer, fix="")
    except AEPInputError as exc:
        kind = "a whole number" if integer else "a number of seconds"
        raise AEPConfigError(
            f"{label} {exc.problem} Fix: set {kind} between {low:g} and {high:g}, or remove it."
        ) from None


def replay_safe(method: str, *, if_match: bool = False) -> bool:
    """Whether replaying ``method`` cannot apply a change twice (GET/PUT/DELETE, PATCH + If-Match)."""
    method = method.upper()
    return method in IDEMPOTENT_METHODS or (method == "PATCH" and if_match)


def is_retryable(
    method: str, error: BaseException, *, if_match: bool = False, idempotent: bool | None = None
) -> bool:
    """Whether ``error`` raised by ``method`` may be retried (shared by sync and async callers).

    :param method: HTTP method of the request.
    :param error: the exception the attempt raised (an :class:`AEPAPIError` from the hook).
    :param if_match: whether the request carried an ``If-Match`` header.
    :param idempotent: override the method rule (the IMS token POST is idempotent).
    """
    if not isinstance(error, AEPAPIError) or isinstance(error, AEPResponseLostError):
        return False
    status = error.status
    transient = isinstance(error, AEPConnectionError) or status == 429 or (status or 0) >= 500
    if not transient:
        return False
    safe = replay_safe(method, if_match=if_match) if idempotent is None else idempotent
    # Otherwise (POST, PATCH without If-Match) only a 429 proves nothing was processed.
    return safe or status == 429


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_seconds(policy: RetryPolicy, attempt: int, retry_after: float | None) -> float:
    """Wait before the next attempt, ``attempt`` being the number of attempts made so far (>= 1)."""
    if retry_after is not None:
        # Honour the server's wait, plus a little jitter: every client throttled in the same
        # second gets the same Retry-After, and waking them all together just repeats the burst.
        jitter = random.uniform(0, min(1.0, 0.1 + retry_after / 2))
        return min(retry_after + jitter, policy.max_wait_seconds)
    ceiling = min(policy.max_backoff, policy.initial_backoff * (2 ** (attempt - 1)))
    return min(random.uniform(0, ceiling), policy.max_wait_seconds)  # full jitter


def should_stop(policy: RetryPolicy, attempt: int, elapsed: float, error: BaseException | None) -> bool:
    """Whether to give up after ``attempt`` attempts taking ``elapsed`` seconds.

    429 answers are limited by ``max_total_seconds`` only; other failures also by ``max_attempts``.
    """
    if elapsed >= policy.max_total_seconds:
        return True
    throttled = isinstance(error, AEPAPIError) and error.status == 429
    return not throttled and attempt >= policy.max_attempts


def sleep(seconds: float) -> None:
    """Sleep between attempts (a module function so tests can replace it)."""
    time.sleep(seconds)
