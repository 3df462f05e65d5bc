"""Import cost of the provider vs the dbt Cloud provider, on top of an imported ``airflow.sdk``.

Each sample is a fresh interpreter that imports ``airflow.sdk`` (not timed), then times importing
every module of ``airflow_provider_aep`` except the emulator package ("ours"), or dbt Cloud's
operator and sensor modules ("theirs"). Samples alternate ours/theirs so machine noise hits both
alike; the medians and their ratio are reported. Bytecode is cached (outside the tree, see
``bench_env``) and one unmeasured warm-up per side fills that cache, as for an installed package.
A ``-X importtime`` run of our side lists the slowest modules it pulls in (self time).

    python benchmarks/bench_import.py [--quick | --smoke] [--json]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PYTHON,
    REPO,
    Result,
    bench_env,
    bench_main,
    median,
    missing_module,
    not_available,
)

PACKAGE = "airflow_provider_aep"
EXCLUDED = ("airflow_provider_aep.emulator",)
DBT_MODULES = ("airflow.providers.dbt.cloud.operators.dbt", "airflow.providers.dbt.cloud.sensors.dbt")
GOAL_MS = 30.0
GOAL_RATIO = 1 / 20

_TIMER = """
import sys, time
import airflow.sdk
before = set(sys.modules)
t0 = time.perf_counter()
for name in sys.argv[1:]:
    __import__(name)
print("IMPORT-MS", (time.perf_counter() - t0) * 1000.0)
ol = [m for m in set(sys.modules) - before if m.startswith(("openlineage", "airflow.providers.openlineage"))]
print("OPENLINEAGE-MODULES", len(ol))
"""

_IMPORTTIME = """
import json, sys
import airflow.sdk
before = set(sys.modules)
sys.stderr.write("----BENCH-MARK----\\n")
sys.stderr.flush()
for name in sys.argv[1:]:
    __import__(name)
new = sorted(set(sys.modules) - before)
print(json.dumps({m: getattr(sys.modules[m], "__file__", None) for m in new}))
"""


def provider_modules() -> list[str]:
    """Every module of the provider package except the emulator, from the source tree."""
    root = REPO / PACKAGE
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if any(name == ex or name.startswith(ex + ".") for ex in EXCLUDED):
            continue
        names.append(name)
    return names


def _sample(modules: list[str], counts: dict[str, int] | None = None) -> float:
    out = subprocess.run(
        [PYTHON, "-c", _TIMER, *modules],
        capture_output=True,
        text=True,
        env=bench_env(),
        cwd=str(REPO),
        timeout=300,
        check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("OPENLINEAGE-MODULES") and counts is not None:
            counts["openlineage"] = max(counts.get("openlineage", 0), int(line.split()[1]))
    for line in out.splitlines():
        if line.startswith("IMPORT-MS"):
            return float(line.split()[1])
    raise RuntimeError(f"no timing in output: {out!r}")


def importtime_offenders(modules: list[str], top: int = 8) -> list[dict[str, Any]]:
    """Slowest modules (by self time) that importing ``modules`` after ``airflow.sdk`` loads."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", _IMPORTTIME, *modules],
        capture_output=True,
        text=True,
        env=bench_env(),
        cwd=str(REPO),
        timeout=300,
        check=True,
    )
    files: dict[str, str | None] = json.loads(proc.stdout.strip().splitlines()[-1])
    after = proc.stderr.split("----BENCH-MARK----", 1)[-1]
    rows: list[dict[str, Any]] = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, cum_us, name = (p.strip() for p in line[len("import time:") :].split("|"))
        if not self_us.isdigit():
            continue
        module = name.strip()
        file = files.get(module) or ""
        rel = file.replace(str(REPO) + "/", "")
        if "site-packages/" in rel:
            rel = rel.split("site-packages/", 1)[1]
        rows.append(
            {
                "module": module,
                "file": rel,
                "self_ms": int(self_us) / 1000,
                "cumulative_ms": int(cum_us) / 1000,
            }
        )
    rows.sort(key=lambda r: float(r["self_ms"]), reverse=True)
    return rows[:top]


def run(mode: str) -> list[Result]:
    """Measure ours vs dbt Cloud: 15 alternating samples each (7 with --quick, 1 with --smoke)."""
    name = "import cost: all provider modules (excl. emulator) after airflow.sdk"
    missing = missing_module("airflow.sdk", PACKAGE)
    if missing:
        return [not_available(name, missing, f"< {GOAL_MS:.0f} ms")]
    ours_mods = provider_modules()
    dbt_missing = missing_module("airflow.providers.dbt.cloud")
    samples = {"full": 15, "quick": 7}.get(mode, 1)

    # What DAG files and workers import: everything but the trigger (the sensor imports it only
    # when deferring), so the cost of airflow.triggers.base shows separately.
    dag_mods = [m for m in ours_mods if not m.startswith(f"{PACKAGE}.triggers")]
    ours: list[float] = []
    theirs: list[float] = []
    dag_side: list[float] = []
    ol_loaded: dict[str, int] = {}
    if mode != "smoke":  # warm-up: fills the bytecode cache
        _sample(ours_mods)
        if not dbt_missing:
            _sample(list(DBT_MODULES))
    for _ in range(samples):
        ours.append(_sample(ours_mods))
        if not dbt_missing:
            theirs.append(_sample(list(DBT_MODULES)))
        if mode != "smoke":
            dag_side.append(_sample(dag_mods, ol_loaded))

    ours_ms = median(ours)
    offenders = [] if mode == "smoke" else importtime_offenders(ours_mods)
    results = [
        Result(
            name=name,
            value=ours_ms,
            unit="ms",
            goal=f"< {GOAL_MS:.0f} ms",
            limit=GOAL_MS,
            details={
                "modules imported": len(ours_mods),
                "samples (ms, ours)": [round(s, 1) for s in ours],
                "importtime top self-time offenders (module, file, self ms, cumulative ms)": [
                    (o["module"], o["file"], round(o["self_ms"], 1), round(o["cumulative_ms"], 1))
                    for o in offenders
                ],
            },
        )
    ]
    if dag_side:
        results.append(
            Result(
                name="import cost: same without triggers/ (what a DAG file or worker imports)",
                value=median(dag_side),
                unit="ms",
                verdict="info (same run, interleaved)",
                details={"samples (ms)": [round(x, 1) for x in dag_side]},
            )
        )
    if dag_side:
        results.append(
            Result(
                name="OpenLineage modules the DAG-facing modules add to airflow.sdk's (lineage is lazy)",
                value=ol_loaded.get("openlineage", 0),
                unit="modules",
                goal="0",
                limit=0,
            )
        )
    if dbt_missing:
        results.append(
            not_available(
                "import cost ratio ours / dbt Cloud operators+sensors",
                f"{dbt_missing} (uv sync --group benchmarks)",
                f"< 1/{round(1 / GOAL_RATIO)}",
            )
        )
        return results
    dbt_ms = median(theirs)
    results.append(
        Result(
            name="import cost: dbt Cloud operators + sensors after airflow.sdk (same run)",
            value=dbt_ms,
            unit="ms",
            verdict="info (reference)",
            details={"samples (ms, dbt Cloud)": [round(s, 1) for s in theirs]},
        )
    )
    results.append(
        Result(
            name="import cost ratio ours / dbt Cloud",
            value=ours_ms / dbt_ms,
            unit="",
            goal=f"< 1/{round(1 / GOAL_RATIO)} (0.05)",
            limit=GOAL_RATIO,
            details={"dbt Cloud / ours": f"{dbt_ms / ours_ms:.1f}x"},
        )
    )
    return results


if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__ or ""))
