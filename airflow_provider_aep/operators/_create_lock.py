"""A create lock for resources whose twin has side effects: dataflows.

Twin convergence (:mod:`~airflow_provider_aep.operators._twins`) deletes a losing twin right
after the race, which is harmless for connections, datasets and mapping sets. A twin *dataflow*
whose start time has passed can start a run before it is deleted, and AEP cannot cancel a run: the
rows it reads would be ingested twice. So two runs creating the same dataflow must not both POST
it. AEP has no lock, so the lock is itself a resource converged by age:

1. take the lock: create a Data Lake base connection named ``<flow name> [create lock]`` (no
   credentials, never used by anything, deleted at the end);
2. list every lock of that name; the oldest live one (creation time, then id) holds it. Locks
   older than :data:`STALE_AFTER_SECONDS` (their run died) are skipped and deleted;
3. the holder looks the flow up once more (a run that held the lock before may have created it),
   then creates it; every other racer waits, with back-off, for the flow to appear and adopts it;
4. each racer deletes its own lock.

If the lock cannot be taken (an error or a lost answer on its create), the create goes ahead
without it and twin convergence still applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_aep.exceptions import (  # AEPCreateLockTimeoutError: re-exported, it lived here
    AEPCreateLockTimeoutError,
    AEPError,
    AEPNotFoundError,
    AEPResponseLostError,
)
from airflow_provider_aep.operators._twins import created_ms, oldest_first, poll_for_commit
from airflow_provider_aep.validation import DATA_LAKE_CONNECTION_SPEC_ID

if TYPE_CHECKING:
    from airflow_provider_aep.operators.base import AEPCreateOperatorBase

LOCK_SUFFIX = " [create lock]"
#: A lock this much older than ours belongs to a run that died without deleting it.
STALE_AFTER_SECONDS = 300.0


def _id(item: dict[str, Any]) -> str:
    return str(item.get("id"))


def create_exclusively(
    op: AEPCreateOperatorBase,
    kind: str,
    name: str,
    find_all: Callable[[], list[dict[str, Any]]],
    create: Callable[[], dict[str, Any]],
    wait_seconds: float,
) -> tuple[dict[str, Any], bool]:
    """Create *name* under the create lock. Returns ``(resource or create answer, created)``:
    ``created`` is False when another run created it and this one adopted it."""
    lock_name = name + LOCK_SUFFIX
    mine = _take(op, kind, name, lock_name)
    if mine is None:
        return create(), True
    try:
        holder = _holder(op, lock_name, mine)
        if holder == mine:
            existing = oldest_first(find_all(), _id)
            if existing:
                op.log.info(
                    "%s %r was created by another run that held the lock before: id=%s",
                    kind.capitalize(),
                    name,
                    _id(existing[0]),
                )
                return existing[0], False
            try:
                return create(), True
            except AEPResponseLostError:
                # Look for a late commit while still holding the lock (no other run creates meanwhile).
                op.log.warning(
                    "The answer to creating %s %r was lost; looking it up by name for up to %.0f s (a "
                    "gateway timeout can still commit)",
                    kind,
                    name,
                    op.late_commit_window(),
                )
                found, _lookups, waited = poll_for_commit(find_all, op.late_commit_window())
                if not found:
                    raise
                op.log.info(
                    "Recovered %s %r after a lost answer: id=%s (seen after %.1f s)",
                    kind,
                    name,
                    _id(oldest_first(found, _id)[0]),
                    waited,
                )
                return oldest_first(found, _id)[0], False
        op.log.info(
            "Another run holds the create lock of %s %r (lock id %s); waiting up to %.0f s for its %s",
            kind,
            name,
            holder,
            wait_seconds,
            kind,
        )
        found, _lookups, waited = poll_for_commit(find_all, wait_seconds)
        if not found:
            raise AEPCreateLockTimeoutError(
                f"another run holds the create lock of {kind} {name!r} (base connection {holder} named "
                f"{lock_name!r}) and no {kind} appeared within {waited:.0f} s. Fix: retry the task; if "
                "that run died, delete the lock connection (locks older than "
                f"{STALE_AFTER_SECONDS:.0f} s are ignored)."
            )
        winner = oldest_first(found, _id)[0]
        op.log.warning(
            "Concurrent create: another run created %s %r while this one waited for the create lock; "
            "adopting id=%s (this task created no %s)",
            kind,
            name,
            _id(winner),
            kind,
        )
        return winner, False
    finally:
        _release(op, mine)


def _take(op: AEPCreateOperatorBase, kind: str, name: str, lock_name: str) -> str | None:
    """Create our lock; its id, or None when the create goes ahead without a lock."""
    body = {
        "name": lock_name,
        "description": f"Airflow create lock of {kind} {name!r}; deleted after the create.",
        "connectionSpec": {"id": DATA_LAKE_CONNECTION_SPEC_ID, "version": "1.0"},
    }
    try:
        return str(op.hook.create_base_connection(body)["id"])
    except AEPResponseLostError:
        # A lock committed late is ours if it is the only one: adopt it (and delete it at the end).
        found, _lookups, _waited = poll_for_commit(
            lambda: op.hook.find_all_base_connections(lock_name), op.late_commit_window()
        )
        if len(found) == 1:
            return _id(found[0])
        op.log.warning(
            "Could not take the create lock of %s %r (answer lost); creating without it", kind, name
        )
        return None
    except AEPError as error:
        op.log.warning("Could not take the create lock of %s %r (%s); creating without it", kind, name, error)
        return None


def _holder(op: AEPCreateOperatorBase, lock_name: str, mine: str) -> str:
    """The id of the oldest live lock (ours if ours is not listed yet); stale ones are deleted."""
    locks = oldest_first(op.hook.find_all_base_connections(lock_name), _id)
    ours = next((lock for lock in locks if _id(lock) == mine), None)
    our_time = created_ms(ours) if ours is not None else None
    for lock in locks:
        if _id(lock) == mine:
            return mine
        created = created_ms(lock)
        if our_time is not None and created is not None and our_time - created > STALE_AFTER_SECONDS * 1000:
            op.log.warning(
                "Deleting a stale create lock %s (%s): its run did not delete it", _id(lock), lock_name
            )
            _release(op, _id(lock))
            continue
        return _id(lock)
    return mine


def _release(op: AEPCreateOperatorBase, lock_id: str) -> None:
    try:
        op.hook.delete_base_connection(lock_id)
    except AEPNotFoundError:
        pass
    except AEPError as error:
        op.log.warning(
            "Could not delete the create lock %s (%s); later runs ignore it once stale", lock_id, error
        )
