"""DAG parse cost of each example DAG in ``dags/``, with a socket guard proving zero network calls.

Airflow and the provider are imported first (not timed: a DAG processor has them loaded). Then each
file is parsed repeatedly, files interleaved round-robin, with ``DagBag(dag_folder=file)``
(what the DAG processor runs: module exec plus DAG bagging and checks; Airflow 3.3's DagBag has no
``include_examples`` argument and never adds examples for a file path). Every socket connect / DNS
lookup during parsing is counted and refused; the count must be 0 (the guard first proves itself
on a deliberate connect).
Reported per file: median parse time over the rounds.

    python benchmarks/bench_parse.py [--quick | --smoke] [--json]
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DAGS, Result, bench_main, median, missing_module, not_available

GOAL_MS = 50.0
ROUNDS = {"full": 21, "quick": 9, "smoke": 2}


class NetworkGuard:
    """Counts (and refuses) every outbound connection or DNS lookup while active."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    @contextmanager
    def active(self) -> Iterator[NetworkGuard]:
        """Patch the socket layer; restore it on exit."""
        saved = (
            socket.socket.connect,
            socket.socket.connect_ex,
            socket.create_connection,
            socket.getaddrinfo,
        )

        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.attempts.append(repr(args[1:] if args and isinstance(args[0], socket.socket) else args))
            raise OSError("network access during DAG parsing (refused by the benchmark guard)")

        socket.socket.connect = refuse  # type: ignore[method-assign]
        socket.socket.connect_ex = refuse  # type: ignore[method-assign]
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        try:
            yield self
        finally:
            socket.socket.connect, socket.socket.connect_ex = saved[0], saved[1]  # type: ignore[method-assign]
            socket.create_connection, socket.getaddrinfo = saved[2], saved[3]


def _configure_airflow(home: str) -> None:
    os.environ.setdefault("AIRFLOW_HOME", home)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")


def run(mode: str) -> list[Result]:
    """Parse every example DAG ``ROUNDS[mode]`` times, interleaved; median per file."""
    files = sorted(DAGS.glob("*.py"))
    if not files:
        return [not_available("DAG parse cost", "dags/*.py", f"< {GOAL_MS:.0f} ms each")]
    with tempfile.TemporaryDirectory(prefix="aep-bench-parse-") as home:
        _configure_airflow(home)  # before anything imports airflow
        missing = missing_module("airflow.sdk", "airflow_provider_aep.operators.connections")
        if missing:
            return [not_available("DAG parse cost", missing, f"< {GOAL_MS:.0f} ms each")]
        import airflow.sdk  # noqa: F401  (already imported in a DAG processor)
        from airflow.dag_processing.dagbag import DagBag

        times: dict[str, list[float]] = {f.name: [] for f in files}
        problems: dict[str, Any] = {}
        dags_per_file: dict[str, int] = {}
        guard = NetworkGuard()
        with guard.active():
            try:  # the guard must catch a real attempt, or a 0 below proves nothing
                socket.create_connection(("127.0.0.1", 9), timeout=1)
            except OSError:
                pass
            if len(guard.attempts) != 1:
                raise RuntimeError("socket guard did not intercept a deliberate connect")
            guard.attempts.clear()
            # Warm-up parse of every file: imports the provider modules the DAGs use.
            for f in files:
                DagBag(dag_folder=str(f), safe_mode=False)
            for _ in range(ROUNDS[mode]):
                for f in files:
                    t0 = time.perf_counter()
                    bag = DagBag(dag_folder=str(f), safe_mode=False)
                    times[f.name].append((time.perf_counter() - t0) * 1000)
                    if bag.import_errors:
                        problems[f.name] = {
                            k.rsplit("/", 1)[-1]: v[-300:] for k, v in bag.import_errors.items()
                        }
                    dags_per_file[f.name] = len(bag.dag_ids)
    results = []
    for name, samples in times.items():
        verdict = ""
        if name in problems:
            verdict = f"IMPORT ERROR: {problems[name]}"
        elif dags_per_file.get(name, 0) < 1:
            verdict = "no DAG found in file"
        results.append(
            Result(
                name=f"DAG parse: dags/{name}",
                value=median(samples),
                unit="ms",
                goal=f"< {GOAL_MS:.0f} ms",
                limit=GOAL_MS,
                verdict=verdict,
                details={
                    "rounds": len(samples),
                    "min/max ms": (round(min(samples), 1), round(max(samples), 1)),
                },
            )
        )
    results.append(
        Result(
            name="network calls during all DAG parses (socket guard)",
            value=float(len(guard.attempts)),
            unit="calls",
            goal="0",
            limit=0.0,
            verdict="PASS" if not guard.attempts else "MISS",
            details={"attempts": guard.attempts[:10]} if guard.attempts else {},
        )
    )
    return results


if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__ or ""))
