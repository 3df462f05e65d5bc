"""Real concurrency for the twin tests: worker *processes* (spawned, not forked, not threads) that
start the same work at the same moment (a barrier) against the emulator.

:class:`RacePool` keeps its workers for a whole test module (spawning an interpreter that imports
Airflow costs seconds); each :meth:`RacePool.race` hands every worker one job, the workers meet at
the barrier, run it and send back the outcome with everything their process wrote to stdout and
stderr (the operators' log). Jobs are module-level functions of this file, so a spawned worker can
import them; this module imports nothing from Airflow at the top, so a job can set the environment
(Airflow home, metadata DB) before Airflow is imported.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import tempfile
import traceback
from typing import Any

#: Seconds a worker waits at the barrier, and a race for all its results (generous: a loaded
#: 2-core machine, and a DAG run per worker in the DAG test).
BARRIER_TIMEOUT = 120.0
RACE_TIMEOUT = 300.0


def _run_captured(job: Any) -> tuple[Any, str | None, str]:
    """Run ``job()`` with fds 1 and 2 sent to a file; returns (value, error, output)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        value, error = None, None
        try:
            value = job()
        except BaseException as exc:  # report everything, the parent decides
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return value, error, text


def _worker(index: int, jobs: Any, results: Any, barrier: Any) -> None:
    while True:
        message = jobs.get()
        if message is None:
            return
        env, job, args = message
        os.environ.update(env)
        try:  # imports and set-up happen before the barrier, so the racers start level
            start = globals()[job](**args)
        except BaseException as exc:
            results.put((index, None, f"set-up failed: {exc!r}\n{traceback.format_exc()}", ""))
            continue
        try:
            barrier.wait(BARRIER_TIMEOUT)
        except Exception as exc:
            results.put((index, None, f"barrier: {exc!r}", ""))
            continue
        value, error, text = _run_captured(start)
        results.put((index, value, error, text))


class RacePool:
    """``size`` spawned worker processes sharing a barrier."""

    def __init__(self, size: int = 2) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.size = size
        self.barrier = ctx.Barrier(size)
        self.results = ctx.Queue()
        self.jobs = [ctx.Queue() for _ in range(size)]
        self.processes = [
            ctx.Process(target=_worker, args=(i, self.jobs[i], self.results, self.barrier), daemon=True)
            for i in range(size)
        ]
        for process in self.processes:
            process.start()

    def race(
        self, job: str, args: list[dict[str, Any]], env: dict[str, str]
    ) -> list[tuple[Any, str | None, str]]:
        """Every worker prepares ``job(**its args)`` (which returns the callable to race), then all
        are released at once by the barrier.

        Returns ``(value, error, output)`` per worker, in worker order.
        """
        assert len(args) == self.size
        for index, worker_args in enumerate(args):
            self.jobs[index].put((env, job, worker_args))
        out: dict[int, tuple[Any, str | None, str]] = {}
        while len(out) < self.size:
            try:
                index, value, error, text = self.results.get(timeout=RACE_TIMEOUT)
            except queue.Empty:
                self.barrier.abort()
                raise AssertionError(f"race {job!r}: no result within {RACE_TIMEOUT} s") from None
            out[index] = (value, error, text)
        return [out[i] for i in range(self.size)]

    def close(self) -> None:
        """Stop the workers (and kill any that does not stop)."""
        for jobs in self.jobs:
            jobs.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)


# ------------------------------------------------------------------------------------------ jobs
# Each job prepares (imports, builds) before the barrier and returns what to run after it.
def run_operator(module: str, cls: str, kwargs: dict[str, Any]) -> Any:
    """Build ``module.cls(**kwargs)``; the race runs it like a worker would (return value, XComs)."""
    import importlib

    from airflow_provider_aep.hooks import _auth
    from tests.reliability.pipeline import execute

    _auth.TOKEN_CACHE.clear()  # the emulator was reset since the last race
    operator = getattr(importlib.import_module(module), cls)(**kwargs)

    def start() -> dict[str, Any]:
        outputs: dict[str, dict[str, Any]] = {}
        value = execute(operator, outputs=outputs)
        return {"value": value, "xcoms": outputs[operator.task_id]}

    return start


def run_dag_test(home: str, template: str, dag_file: str, conf: dict[str, Any] | None = None) -> Any:
    """``dag.test()`` of ``dag_file`` with a private Airflow home and a copy of the metadata DB."""
    import shutil

    shutil.copy(template, os.path.join(home, "airflow.db"))
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": os.path.dirname(dag_file),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": os.path.join(home, "logs"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        }
    )
    from pathlib import Path

    from tests.conftest import _reconfigure
    from tests.reliability.conftest import DagRunResult, fast_sensor, load_dag

    _reconfigure()
    dag = fast_sensor(load_dag(Path(dag_file)))

    def start() -> dict[str, Any]:
        result = DagRunResult(dag.test(mark_success_pattern=r"delete_.*", run_conf=conf))
        return {
            "state": result.state,
            "states": result.states,
            "tries": result.tries,
            "ids": {t: result.xcom(t) for t in result.states if t.startswith(("create_", "get_"))},
        }

    return start
