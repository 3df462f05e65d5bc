"""Concurrent runs of the Any table writes, raced deterministically against the emulator.

Two racer threads run the same (or a conflicting) declaration. :class:`OrderedGate` holds each
racer's write (``hook.<method>``) until *every* racer has reached it, so both runs' lookups are
complete before either write is sent; then it lets the writes through one at a time in a chosen
order. Both orders are run, and the emulator's request log proves the overlap (both lookups logged
before the first write). Without the adopt-after-refusal logic these tests fail.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.operators.base import AEPBaseOperator, AEPResourceConflictError
from airflow_provider_aep.operators.datasets import AEPCreateDatasetOperator
from airflow_provider_aep.operators.field_groups import AEPCreateTableFieldGroupOperator
from airflow_provider_aep.operators.profile import (
    AEPCreateIdentityDescriptorOperator,
    AEPEnableDatasetForProfileOperator,
    AEPEnableSchemaForProfileOperator,
)
from airflow_provider_aep.operators.schemas import AEPCreateSchemaOperator
from tests.operators.conftest import api_requests

ORDERS = [pytest.param(("A", "B"), id="A-writes-first"), pytest.param(("B", "A"), id="B-writes-first")]
WAIT = 30.0
SR = "/data/foundation/schemaregistry"


class OrderedGate:
    """Hold the racers' first call of one hook method until all racers made it, then release the
    calls one at a time in ``order`` (the next only after the previous one returned)."""

    def __init__(self, order: tuple[str, ...]) -> None:
        self.order = order
        self.barrier = threading.Barrier(len(order))
        self.turn = 0
        self.cond = threading.Condition()
        self.gated: set[str] = set()

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(hook: Any, *args: Any, **kwargs: Any) -> Any:
            racer = threading.current_thread().name
            if racer not in self.order or racer in self.gated:
                return original(hook, *args, **kwargs)
            self.gated.add(racer)
            self.barrier.wait(WAIT)  # every racer has done its lookups
            with self.cond:
                assert self.cond.wait_for(lambda: self.order[self.turn] == racer, WAIT)
            try:
                return original(hook, *args, **kwargs)
            finally:
                with self.cond:
                    self.turn += 1
                    self.cond.notify_all()

        return call


def race(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    order: tuple[str, ...],
    ops: dict[str, Any],
    run_op: Any,
) -> dict[str, tuple[Any, Any]]:
    """Run ``ops`` (racer name -> operator) at once, their ``method`` writes gated in ``order``.

    Returns racer -> ``(result, error)``; each operator logs to the stdlib logger ``race.<name>``.
    """
    gate = OrderedGate(order)
    monkeypatch.setattr(
        AdobeExperiencePlatformHook, method, gate.wrap(getattr(AdobeExperiencePlatformHook, method))
    )
    out: dict[str, tuple[Any, Any]] = {}
    task_log = AEPBaseOperator.log

    def log(op: Any) -> Any:
        racer = threading.current_thread().name
        return logging.getLogger(f"race.{racer}") if racer in ops else task_log.__get__(op)

    monkeypatch.setattr(AEPBaseOperator, "log", property(log))

    def go(name: str) -> None:
        op = ops[name]
        try:
            out[name] = (run_op(op)[0], None)
        except BaseException as exc:
            out[name] = (None, exc)

    threads = [threading.Thread(target=go, args=(n,), name=n) for n in ops]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * WAIT)
    assert set(out) == set(ops), "a racer did not finish"
    assert gate.turn == len(order), f"only {gate.turn} of {len(order)} racers reached {method}"
    return out


def overlap(aep: Any, path: str, write: str) -> list[dict[str, Any]]:
    """The ``write`` requests to ``path``; asserts that both racers' GETs of ``path`` (their
    lookups) were logged before the first write."""
    log = [r for r in api_requests(aep) if r["path"] == path]
    first = next(i for i, r in enumerate(log) if r["method"] == write)
    lookups = [r for r in log[:first] if r["method"] == "GET"]
    assert len(lookups) >= 2, f"the lookups did not overlap: {[r['method'] for r in log]}"
    return [r for r in log if r["method"] == write]


def warnings_of(caplog: pytest.LogCaptureFixture, racer: str) -> str:
    """The provider's warnings in one racer's log."""
    return "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name == f"race.{racer}" and r.levelno >= logging.WARNING and "airflow_provider_aep" in r.pathname
    )


def hook() -> AdobeExperiencePlatformHook:
    return AdobeExperiencePlatformHook()


@pytest.fixture
def schema(aep: Any, run_op: Any) -> str:
    fg, _ = run_op(
        AEPCreateTableFieldGroupOperator(task_id="fg", title="Raced contact columns", columns=["Id", "Email"])
    )
    sid, _ = run_op(AEPCreateSchemaOperator(task_id="s", title="Raced contact", field_groups=[fg]))
    return str(sid)


class Races:
    """:func:`race` and :func:`warnings_of` bound to one test's fixtures."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, run_op: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        self.monkeypatch, self.run_op, self.caplog = monkeypatch, run_op, caplog

    def __call__(
        self, method: str, order: tuple[str, ...], ops: dict[str, Any]
    ) -> dict[str, tuple[Any, Any]]:
        return race(self.monkeypatch, method, order, ops, self.run_op)

    def warnings(self, racer: str) -> str:
        return warnings_of(self.caplog, racer)


@pytest.fixture
def races(
    aep: Any, run_op: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[Races]:
    with caplog.at_level(logging.INFO, logger="race"):
        yield Races(monkeypatch, run_op, caplog)


def identity_op(schema: str, column: str = "Email", namespace: str = "Email") -> Any:
    return AEPCreateIdentityDescriptorOperator(
        task_id="id", schema_id=schema, namespace=namespace, identity_column=column
    )


@pytest.mark.parametrize("order", ORDERS)
def test_identity_descriptor_race_adopts_the_first_primary(
    aep: Any, schema: str, order: tuple[str, str], races: Races
) -> None:
    first, second = order
    aep.clear_requests()
    out = races("create_descriptor", order, {n: identity_op(schema) for n in "AB"})
    assert [e for _, e in out.values()] == [None, None], out
    posts = overlap(aep, f"{SR}/tenant/descriptors", "POST")
    assert [p["status"] for p in posts] == [201, 400]  # AEP refused the second primary identity
    found = hook().list_descriptors("xdm:descriptorIdentity", schema)
    assert len(found) == 1 and found[0]["xdm:isPrimary"] is True
    winner = found[0]["@id"]
    assert out["A"][0] == out["B"][0] == winner
    assert f"adopting @id={winner}" in races.warnings(second)
    assert races.warnings(first) == ""


@pytest.mark.parametrize("order", ORDERS)
def test_identity_descriptor_race_on_another_field_fails_the_second(
    aep: Any, schema: str, order: tuple[str, str], races: Races
) -> None:
    """Two declarations disagree on the primary identity: the first to write wins, the other
    fails naming the winner (it does not adopt a descriptor on another field)."""
    first, second = order
    ops = {"A": identity_op(schema, "Email", "Email"), "B": identity_op(schema, "Id", "CRMID")}
    out = races("create_descriptor", order, ops)
    found = hook().list_descriptors("xdm:descriptorIdentity", schema)
    assert len(found) == 1
    assert out[first] == (found[0]["@id"], None)
    error = out[second][1]
    assert isinstance(error, AEPResourceConflictError), out
    assert found[0]["@id"] in str(error) and "created concurrently by another run" in str(error)


@pytest.mark.parametrize("order", ORDERS)
def test_field_group_race_converges_on_one(aep: Any, order: tuple[str, str], races: Races) -> None:
    first, second = order

    def op() -> Any:
        return AEPCreateTableFieldGroupOperator(task_id="fg", title="Raced table", columns=["Id", "Name"])

    aep.clear_requests()
    out = races("create_field_group", order, {"A": op(), "B": op()})
    assert [e for _, e in out.values()] == [None, None], out
    posts = overlap(aep, f"{SR}/tenant/fieldgroups", "POST")
    assert [p["status"] for p in posts] == [201, 400]  # XDM-1521: the title is taken
    groups = hook().find_all_field_groups("Raced table")
    assert len(groups) == 1
    winner = groups[0]["$id"]
    assert out["A"][0] == out["B"][0] == winner
    said = races.warnings(second)
    assert "Concurrent create" in said and winner in said
    assert races.warnings(first) == ""


@pytest.mark.parametrize("order", ORDERS)
def test_union_and_dataset_profile_races_both_succeed(
    aep: Any, run_op: Any, schema: str, order: tuple[str, str], races: Races
) -> None:
    """Both succeed; the second PATCH changes nothing (the tags are set once)."""
    run_op(identity_op(schema))
    ds, _ = run_op(AEPCreateDatasetOperator(task_id="d", name="raced ds", schema_id=schema))
    aep.clear_requests()
    ops = {n: AEPEnableSchemaForProfileOperator(task_id="u", schema_id=schema) for n in "AB"}
    out = races("patch_schema", order, ops)
    assert out == {"A": (schema, None), "B": (schema, None)}
    assert len(overlap(aep, f"{SR}/tenant/schemas/{schema}", "PATCH")) == 2
    assert hook().get_schema(schema)["meta:immutableTags"] == ["union"]  # once, not twice

    aep.clear_requests()
    ops = {n: AEPEnableDatasetForProfileOperator(task_id="p", dataset_id=ds) for n in "AB"}
    out = races("patch_dataset_operations", order, ops)
    assert out == {"A": (ds, None), "B": (ds, None)}
    assert len(overlap(aep, f"/data/foundation/catalog/dataSets/{ds}", "PATCH")) == 2
    tags = hook().get_dataset(ds)["tags"]
    assert tags["unifiedProfile"] == ["enabled:true"] and tags["unifiedIdentity"] == ["enabled:true"]
