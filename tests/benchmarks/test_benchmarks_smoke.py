"""Smoke test of the benchmarks: each one runs in its quickest mode and prints a parsable table.

This is not a timed test: the numbers are not compared with the goals (a shared CI machine is too
noisy for that, and ``--smoke`` sizes are not comparable anyway). It checks that every benchmark
runs end to end and reports real, non-negative measurements. They run concurrently (each in its
own interpreter) to stay well under a minute.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from _common import TABLE_HEADER, bench_env, parse_table  # noqa: E402

NAMES = ("import", "parse", "requests", "triggerer", "bulk", "emulator", "all_tables")
TIMEOUT = 240.0
#: Units whose measurement must be strictly positive (zero would mean nothing was measured).
POSITIVE_UNITS = {"ms", "req/s", "req/cpu-s", "x", "threads", "requests", "polls"}
_MEASURED = re.compile(r"^(?P<value>-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?: (?P<unit>\S+))?$")


def _lower_priority() -> None:
    os.nice(5)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill a benchmark and everything it started (its emulator), not only the benchmark."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def outputs() -> dict[str, tuple[int, str, str]]:
    """Run every benchmark with ``--smoke`` concurrently; (exit status, stdout, stderr) by name."""
    env = bench_env()  # repo importable, bytecode cached outside the tree
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(BENCHMARKS / f"bench_{name}.py"), "--smoke"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(REPO),
            env=env,
            # bench_requests (dag.test()) is the critical path; the others yield the CPU to it.
            preexec_fn=None if name == "requests" else _lower_priority,
            start_new_session=True,  # own process group: a timeout kills its emulator too
        )
        for name in NAMES
    }
    deadline = time.monotonic() + TIMEOUT
    results = {}
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            err += f"\n(killed after {TIMEOUT:.0f}s)"
        results[name] = (proc.returncode, out, err)
    return results


def _allowed_missing(verdict: str) -> bool:
    # The dbt Cloud provider (import-cost reference) is only in the ``benchmarks`` dependency group.
    return verdict.startswith("not available yet: airflow.providers.dbt")


@pytest.mark.parametrize("name", NAMES)
def test_benchmark_prints_a_table_of_real_measurements(
    outputs: dict[str, tuple[int, str, str]], name: str
) -> None:
    status, out, err = outputs[name]
    assert TABLE_HEADER in out, (
        f"bench_{name}.py printed no table (exit {status}):\n{out[-2000:]}\n{err[-3000:]}"
    )
    rows = parse_table(out)
    assert rows, out
    missing_ok = all(_allowed_missing(r["verdict"]) for r in rows if r["measured"] == "n/a")
    assert status == 0 or (status == 2 and missing_ok), (status, err[-3000:])
    for row in rows:
        assert row["verdict"] and not row["verdict"].startswith("error"), row
        if row["measured"] == "n/a":
            assert _allowed_missing(row["verdict"]), row
            continue
        match = _MEASURED.match(row["measured"])
        assert match, row
        value = float(match["value"])
        assert value >= 0, row
        if match["unit"] in POSITIVE_UNITS:
            assert value > 0, row


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"noise\n{TABLE_HEADER}\n|---|---|---|---|\n| a | 1 ms | < 2 ms | PASS |\n\nafter", [("a", "1 ms")]),
        (f"{TABLE_HEADER}\n|---|---|---|---|\n", []),
        ("no table here", []),
    ],
)
def test_parse_table(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(r["benchmark"], r["measured"]) for r in parse_table(text)] == expected
