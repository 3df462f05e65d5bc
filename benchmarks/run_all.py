"""Run every benchmark and print one markdown table (benchmark, measured, goal, ratio / verdict).

Each benchmark runs in its own fresh interpreter (``python benchmarks/bench_X.py --json``) so that
memory, imports and threads of one cannot disturb another; they run one after the other.

    python benchmarks/run_all.py [--quick | --smoke] [--only import,parse,...] [--details]

A benchmark that crashes gets one row with ``error: ...`` (its stderr tail is printed below the
table); one whose code under test has not landed yet says ``not available yet: <module>``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import JSON_MARKER, PYTHON, REPO, Result, bench_env, table

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("import", "parse", "requests", "triggerer", "bulk", "emulator", "all_tables")


def run_one(name: str, mode: str, timeout: float) -> tuple[list[Result], str]:
    """Run ``bench_<name>.py`` in a subprocess; its results and stderr tail."""
    args = [PYTHON, str(HERE / f"bench_{name}.py"), "--json"]
    if mode != "full":
        args.append(f"--{mode}")
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, cwd=str(REPO), env=bench_env(), check=False
        )
    except subprocess.TimeoutExpired:
        return [
            Result(name=f"{name}", value=None, unit="", verdict=f"error: timed out after {timeout:.0f}s")
        ], ""
    for line in proc.stdout.splitlines():
        if line.startswith(JSON_MARKER):
            rows = json.loads(line[len(JSON_MARKER) :])
            return [Result(**row) for row in rows], proc.stderr[-2000:]
    tail = (proc.stderr or proc.stdout).strip().splitlines()
    reason = tail[-1] if tail else f"exit status {proc.returncode}"
    return [Result(name=name, value=None, unit="", verdict=f"error: {reason[:200]}")], proc.stderr[-2000:]


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; print the combined table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode_group = parser.add_mutually_exclusive_group()
    mode_group.add_argument("--quick", action="store_true", help="fewer samples / smaller sizes")
    mode_group.add_argument("--smoke", action="store_true", help="smallest runs (numbers not comparable)")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated subset of " + ",".join(BENCHMARKS)
    )
    parser.add_argument(
        "--details", action="store_true", help="print each benchmark's details below the table"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    selected = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    results: list[Result] = []
    errors: dict[str, str] = {}
    started = time.perf_counter()
    for name in selected:
        t0 = time.perf_counter()
        print(f"running bench_{name}.py ({mode}) ...", file=sys.stderr, flush=True)
        rows, stderr = run_one(name, mode, args.timeout)
        print(f"  done in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        results.extend(rows)
        if any(r.verdict.startswith("error") for r in rows):
            errors[name] = stderr
    print(f"<!-- mode: {mode}; total {time.perf_counter() - started:.0f}s -->")
    print(table(results))
    if args.details:
        for r in results:
            if r.details:
                print(f"\n{r.name}:")
                for key, value in r.details.items():
                    print(f"  {key}: {value}")
    for name, stderr in errors.items():
        print(f"\n--- bench_{name}.py stderr (tail) ---\n{stderr}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
