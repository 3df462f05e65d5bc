"""Converging on one AEP resource per name: late commits after a lost answer, and concurrent twins.

AEP has no uniqueness constraint on names and no idempotency key, so two things can leave several
resources with one name, and both are handled here, for :meth:`AEPCreateOperatorBase.ensure` and the
on-demand run operator:

* **A lost answer with a late commit.** A POST whose answer was lost (timeout, reset, a gateway
  504) may still be committed seconds later. :func:`poll_for_commit` keeps looking it up, with
  back-off, for a bounded window (connection extra ``late_commit_wait_seconds``) before anyone may
  conclude "not committed" and send the POST again.
* **Concurrent twins.** Two runs of the same declaration (two DAG runs, a zombie and its retry)
  can both find nothing and both create. Every racer lists the name right after its create and
  orders what it sees with :func:`creation_order`: the oldest by creation time, ties by id. All
  racers therefore pick the same winner; a racer whose own copy is not the winner deletes it (it
  is still unused: its id has not left the task) and adopts the winner. Dataflows, whose twin
  could start a run first, are also created under a create lock (:mod:`._create_lock`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_aep.exceptions import AEPAPIError

#: Creation time of a listed resource, per service: Flow Service ``createdAt``, Catalog ``created``,
#: Data Prep ``createdDate`` (all epoch ms), Schema Registry ``repo:createdDate``.
_CREATED_KEYS = ("createdAt", "created", "createdDate")
#: First and longest pause between two lookups while waiting for a late commit (seconds).
FIRST_POLL = 0.25
MAX_POLL = 5.0


def created_ms(item: dict[str, Any]) -> float | None:
    """The resource's creation time (epoch ms) as AEP lists it, or ``None`` when not listed."""
    for key in _CREATED_KEYS:
        value = item.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    registry = item.get("meta:registryMetadata")
    if isinstance(registry, dict):
        value = registry.get("repo:createdDate")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def creation_order(item: dict[str, Any], id_of: Callable[[dict[str, Any]], str]) -> tuple[Any, ...]:
    """Sort key shared by every racer: oldest first, then by id; undated resources last."""
    created = created_ms(item)
    return (0, created, id_of(item)) if created is not None else (1, 0.0, id_of(item))


def oldest_first(
    items: Sequence[dict[str, Any]], id_of: Callable[[dict[str, Any]], str]
) -> list[dict[str, Any]]:
    """``items`` in :func:`creation_order`, each id once."""
    seen: set[str] = set()
    unique = []
    for item in items:
        key = id_of(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return sorted(unique, key=lambda item: creation_order(item, id_of))


def sleep(seconds: float) -> None:
    """Pause between lookups (a module function so tests can observe it)."""
    time.sleep(seconds)


def poll_for_commit(
    lookup: Callable[[], Any], window: float, *, clock: Callable[[], float] = time.monotonic
) -> tuple[Any, int, float]:
    """Call ``lookup`` until it returns something truthy or ``window`` seconds have passed.

    The pauses grow from :data:`FIRST_POLL` to :data:`MAX_POLL` (doubling) and the last lookup
    happens at the end of the window, so a commit that lands inside it is always seen.
    Returns ``(last result, lookups made, seconds waited)``.
    """
    start = clock()
    pause = FIRST_POLL
    lookups = 0
    while True:
        result = lookup()
        lookups += 1
        elapsed = clock() - start
        if result or elapsed >= window:
            return result, lookups, elapsed
        sleep(max(0.0, min(pause, window - elapsed)))
        pause = min(pause * 2, MAX_POLL)


def is_name_taken(error: BaseException) -> bool:
    """Whether a create was refused because the name (a Schema Registry title) already exists.

    Schema Registry refuses a second tenant class or schema with a title in use with
    ``XDM-1521-400`` ("Title not unique"); a 409 is read the same way.
    """
    if not isinstance(error, AEPAPIError):
        return False
    return error.status == 409 or (error.status == 400 and "1521" in str(error.code or ""))
