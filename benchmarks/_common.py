"""Shared helpers for the benchmarks: results table, statistics, an emulator server process.

Every benchmark module exposes ``run(mode: str) -> list[Result]`` (mode ``full``, ``quick`` or
``smoke``) and a ``main()`` that parses ``--quick`` / ``--smoke`` / ``--json`` and prints either a
markdown table (default) or one JSON document (``--json``, used by ``run_all.py``). ``--quick``
keeps the statistics meaningful with fewer samples; ``--smoke`` is the smallest run that exercises
the whole benchmark (the CI smoke test), its numbers are not for comparing. A benchmark whose
dependency has not landed yet returns a single row with the verdict ``not available yet: <module>``
and no number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
PYTHON = sys.executable
#: Marker line that precedes the JSON document in ``--json`` mode (robust to stray prints).
JSON_MARKER = "BENCHMARK-JSON:"
TABLE_HEADER = "| benchmark | measured | goal | ratio / verdict |"


@dataclass
class Result:
    """One row of the results table.

    ``value`` is what was measured (None when the benchmark could not run); ``limit`` is the goal's
    bound in the same unit; ``lower_is_better`` says on which side of ``limit`` the goal lies.
    ``info`` rows (no goal) only document a measured number.
    """

    name: str
    value: float | None
    unit: str
    goal: str = ""
    limit: float | None = None
    lower_is_better: bool = True
    verdict: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """Measured value / goal bound (< 1 passes for lower-is-better goals)."""
        if self.value is None or self.limit is None or self.limit == 0:
            return None
        return self.value / self.limit

    def finish(self) -> Result:
        """Fill ``verdict`` from value and limit unless it was set explicitly."""
        if self.verdict:
            return self
        if self.value is None:
            self.verdict = "no measurement"
        elif self.limit is None:
            self.verdict = "info"
        else:
            ok = self.value <= self.limit if self.lower_is_better else self.value >= self.limit
            ratio = self.ratio
            prefix = f"{ratio:.2f}x of goal, " if ratio is not None else ""
            self.verdict = prefix + ("PASS" if ok else "MISS")
        return self

    def measured(self) -> str:
        """The value with its unit, for the table."""
        if self.value is None:
            return "n/a"
        return f"{format_number(self.value)} {self.unit}".strip()


def format_number(value: float) -> str:
    """Compact human formatting: 3 significant digits, integers as integers."""
    if math.isnan(value):
        return "nan"
    if value == int(value) and abs(value) >= 1:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def not_available(name: str, module: str, goal: str = "") -> Result:
    """The row of a benchmark whose code under test has not landed yet."""
    return Result(name=name, value=None, unit="", goal=goal, verdict=f"not available yet: {module}")


def table(results: Sequence[Result]) -> str:
    """Markdown table of the results."""
    lines = [TABLE_HEADER, "|---|---|---|---|"]
    for r in results:
        r.finish()
        cells = [r.name, r.measured(), r.goal or "-", r.verdict]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of a table printed by :func:`table` (used by the smoke test and run_all)."""
    rows: list[dict[str, str]] = []
    lines = text.splitlines()
    try:
        start = lines.index(TABLE_HEADER)
    except ValueError:
        return rows
    keys = ["benchmark", "measured", "goal", "verdict"]
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(dict(zip(keys, cells, strict=False)))
    return rows


def bench_main(run: Callable[[str], list[Result]], description: str, argv: list[str] | None = None) -> int:
    """Command line of one benchmark module. Exit status 0 even on a MISS (it is a measurement);
    2 when the code under test is not available yet."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples / smaller sizes (minutes)")
    parser.add_argument(
        "--smoke", action="store_true", help="smallest run (CI smoke test; numbers not comparable)"
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON (for run_all.py)")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    use_bytecode_cache()
    results = [r.finish() for r in run(mode)]
    if args.json:
        print(JSON_MARKER + json.dumps([asdict(r) for r in results], default=str))
    else:
        print(table(results))
        for r in results:
            if r.details:
                print(f"\n{r.name}:")
                for key, value in r.details.items():
                    print(f"  {key}: {value}")
    missing = any(r.verdict.startswith("not available yet") for r in results)
    return 2 if missing else 0


# ------------------------------------------------------------------------------ statistics


def median(values: Sequence[float]) -> float:
    """Median (nan for no values)."""
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rss_mb(pid: int | None = None) -> float:
    """Resident set size in MiB of a process (this one by default), from /proc."""
    path = f"/proc/{pid or 'self'}/status"
    with open(path) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_pinning(core: int = 0) -> list[str]:
    """``taskset -c CORE`` prefix when taskset exists (empty list otherwise)."""
    exe = shutil.which("taskset")
    return [exe, "-c", str(core)] if exe else []


def bench_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: the repo importable, bytecode cached OUTSIDE the tree.

    The shared machine sets ``PYTHONDONTWRITEBYTECODE=1``; without cached bytecode every import
    compiles source, which is not what an installed provider does. The cache goes to a private
    ``PYTHONPYCACHEPREFIX`` so the working tree gets no ``__pycache__`` directories.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache_dir()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def pycache_dir() -> str:
    """The benchmarks' private bytecode cache directory."""
    return str(Path(os.environ.get("TMPDIR", "/tmp")) / "aep-bench-pycache")


def use_bytecode_cache() -> None:
    """Cache bytecode in this process too (see :func:`bench_env`), for imports from now on."""
    if sys.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE"):
        sys.dont_write_bytecode = False
        sys.pycache_prefix = pycache_dir()


# -------------------------------------------------------------------------------- emulator


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorProcess:
    """``aep-emulator`` as a child process on 127.0.0.1 (optionally pinned to one core)."""

    def __init__(self, args: Sequence[str] = (), pin_core: int | None = None, start_timeout: float = 60.0):
        self.port = free_port()
        cmd = [PYTHON, "-m", "airflow_provider_aep.emulator", "--host", "127.0.0.1", "--port", str(self.port)]
        prefix = cpu_pinning(pin_core) if pin_core is not None else []
        self.pinned = bool(prefix)
        self.proc = subprocess.Popen(
            [*prefix, *cmd, "--log-level", "warning", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=bench_env(),
            cwd=str(REPO),
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + start_timeout
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if "listening on" in line:
                break
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("emulator did not start in time")

    @property
    def pid(self) -> int:
        """Process id of the server."""
        return self.proc.pid

    def handle(self) -> Any:
        """An ``AEPEmulatorHandle`` (admin helpers, Airflow connection JSON) for this server."""
        from airflow_provider_aep.emulator.pytest_plugin import AEPEmulatorHandle

        return AEPEmulatorHandle(self.url)

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def emulator(args: Sequence[str] = (), pin_core: int | None = None) -> Iterator[EmulatorProcess]:
    """Context manager around :class:`EmulatorProcess`."""
    proc = EmulatorProcess(args, pin_core=pin_core)
    try:
        yield proc
    finally:
        proc.stop()


def request_kinds(log: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Count a request log by kind: ``token`` for IMS, else the HTTP method; 429s under ``429``."""
    kinds: dict[str, int] = {}
    for entry in log:
        if entry.get("status") == 429:
            kind = "429"
        elif str(entry.get("path", "")).startswith("/ims/"):
            kind = "token"
        else:
            kind = str(entry.get("method"))
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def missing_module(*modules: str) -> str | None:
    """The first of ``modules`` that cannot be imported (None when all import)."""
    import importlib.util

    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except ModuleNotFoundError:
            return module
    return None


def missing_file(path: Path) -> str | None:
    """``path`` relative to the repo when it does not exist."""
    return None if path.exists() else str(path.relative_to(REPO))


# ------------------------------------------------------------ direct API calls (setup only)

from airflow_provider_aep.emulator.testing import (  # noqa: E402 (setup helpers, shared with the tests)
    CAT,
    CRM_TO_AEP,
    DATA_LAKE_SPEC,
    DP,
    FS,
    SALESFORCE_SPEC,
    SR,
    XED_FULL,
    EmulatorClient,
)

__all__ = ["CAT", "CRM_TO_AEP", "DATA_LAKE_SPEC", "DP", "FS", "SALESFORCE_SPEC", "SR", "XED_FULL"]


class EmulatorAPI(EmulatorClient):
    """Plain-HTTP calls to the emulator (benchmark setup only; the code under test is not used)."""

    def __init__(self, url: str) -> None:
        from airflow_provider_aep.emulator.pytest_plugin import AEPEmulatorHandle

        self.handle = AEPEmulatorHandle(url)
        super().__init__(url, self.handle.headers())

    def once_flow(self, name: str, table: str = "Account") -> str:  # type: ignore[override]
        """A ready ``once`` flow; its id."""
        return super().once_flow(name, table).flow_id


def quiet_airflow_logs(level: str = "WARNING") -> None:
    """Configure Airflow's (structlog) logging at ``level`` for this process.

    Outside the task runner nothing configures it, and structlog's default prints every INFO line
    (one per trigger poll, one per 429 retry...), which would flood the benchmark's output.
    """
    try:
        from airflow.sdk.log import configure_logging
    except ImportError:
        return
    configure_logging(log_level=level, output=sys.stderr)
