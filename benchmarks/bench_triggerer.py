"""Triggerer scale: N ``AEPFlowRunTrigger``s waiting at once in ONE process and event loop.

The emulator runs as a real uvicorn server process (``--run-duration D``: runs stay ``inProgress``
D seconds). Setup creates a ``once`` flow and N on-demand runs over plain HTTP; then the emulator
gets its faults: a latency on ``GET /runs`` only (AEP answers in hundreds of milliseconds; the
emulator's other routes stay instant so setup is not slowed down) and, for the 429 storm, a rate
limit. This process, like a triggerer, runs the N triggers (each awaiting one run) on one asyncio
loop, next to:

* a ticker that sleeps ``TICK`` seconds and records how late it wakes up (event-loop lag) and RSS;
* a *neighbour*: another trigger's worth of work that calls ``asyncio.to_thread`` every
  ``NEIGHBOUR_EVERY`` seconds and records how long it waited (what every other provider's trigger,
  and Airflow's own ``sync_to_async`` helpers, see while ours poll).

Reported per case, from the emulator's request log: the effective poll period per run (time
between a run's first and last poll / polls - 1; median and p90) against the configured one, polls
per second against the ideal N / poll, token requests, the busiest second (a burst after a
restart shows here), and how late a finished run was seen as finished (event time - the run's
``completedAtUTC``); from this process: the neighbour's ``to_thread`` wait p50/p99, loop lag p99,
RSS over idle (process with every module imported, httpx included, loop running, no trigger yet),
and the outcomes (every wait must end in ``success``).

Cases (``--case NAME`` runs one; the default runs all of the mode):

* ``lat0``: 1,000 waits, 5 s poll, no latency;
* ``lat250``: 1,000 waits, 5 s poll, 250 ms latency (the issue's "done when" case);
* ``n5000``: 5,000 waits, the default 30 s poll, 250 ms latency;
* ``storm``: 1,000 waits, 5 s poll, 250 ms latency, emulator rate limit 50 req/s with Retry-After
  (demand 200 req/s): no wait may fail and the received request rate should sit at the limit.

    python benchmarks/bench_triggerer.py [--quick | --smoke] [--case lat250] [--json]
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    FS,
    JSON_MARKER,
    PYTHON,
    REPO,
    EmulatorAPI,
    Result,
    bench_env,
    bench_main,
    emulator,
    median,
    missing_module,
    not_available,
    percentile,
    quiet_airflow_logs,
    rss_mb,
)

TICK = 0.05
NEIGHBOUR_EVERY = 0.25
LAG_GOAL_MS = 100.0
NEIGHBOUR_GOAL_MS = 50.0
RSS_GOAL_MB = 50.0
PERIOD_GOAL = 1.1  # effective poll period / configured
RUNS_ROUTE = f"GET {FS}/runs"


@dataclass(frozen=True)
class Case:
    """One measured configuration."""

    name: str
    waits: int
    poll: float
    latency_ms: int
    duration: float  # seconds a run stays inProgress
    rate_limit: float | None = None
    goals: bool = True  # the done-when limits apply


PLANS: dict[str, list[Case]] = {
    "full": [
        Case("lat0", 1000, 5.0, 0, 30.0),
        Case("lat250", 1000, 5.0, 250, 40.0),
        Case("n5000", 5000, 30.0, 250, 100.0),
        Case("storm", 1000, 5.0, 250, 30.0, rate_limit=50.0, goals=False),
    ],
    "quick": [
        Case("lat250", 1000, 5.0, 250, 25.0),
        Case("storm", 1000, 5.0, 250, 20.0, rate_limit=50.0, goals=False),
    ],
    "smoke": [
        Case("lat250", 40, 1.0, 250, 6.0),
        Case("storm", 40, 1.0, 250, 6.0, rate_limit=20.0, goals=False),
    ],
}


async def _ticker(stop: asyncio.Event, lags: list[float], rss: list[float]) -> None:
    """Every TICK seconds: how late did we wake up (ms); RSS every 10 ticks."""
    n = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(TICK)
        lags.append(max(0.0, (time.perf_counter() - t0 - TICK) * 1000))
        n += 1
        if n % 10 == 0:
            rss.append(rss_mb())


async def _neighbour(stop: asyncio.Event, waits: list[float]) -> None:
    """Another trigger in the same loop: one tiny ``asyncio.to_thread`` call every NEIGHBOUR_EVERY s."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.to_thread(int)
        waits.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(NEIGHBOUR_EVERY)


class _GCPauses:
    """Durations of the collector's full (generation 2) collections while installed (ms)."""

    def __init__(self) -> None:
        self.full: list[float] = []
        self.young = 0
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            if phase == "stop":
                self.young += 1
            return
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.full.append((time.perf_counter() - self._t0) * 1000)

    def __enter__(self) -> _GCPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def _measure(triggers: list[Any], timeout: float) -> dict[str, Any]:
    stop = asyncio.Event()
    idle_lags: list[float] = []
    idle_rss: list[float] = []
    ticker = asyncio.create_task(_ticker(stop, idle_lags, idle_rss))
    await asyncio.sleep(1.0)  # idle: loop + ticker only
    stop.set()
    await ticker
    idle = rss_mb()

    stop = asyncio.Event()
    lags: list[float] = []
    rss: list[float] = []
    neighbour_waits: list[float] = []
    background = [
        asyncio.create_task(_ticker(stop, lags, rss)),
        asyncio.create_task(_neighbour(stop, neighbour_waits)),
    ]
    late: list[float] = []
    first_failure: list[str] = []

    async def one(trigger: Any) -> str:
        async for event in trigger.run():
            seen = time.time()
            runs = event.payload.get("runs") or []
            done = runs[0].get("completed_at") if runs else None
            if done:
                late.append(seen - float(done))
            status = str(event.payload["status"])
            if status != "success" and not first_failure:
                first_failure.append(str(event.payload.get("message"))[:300])
            return status
        return "no event"

    started = time.time()
    cpu0 = time.process_time()
    with _GCPauses() as pauses:
        try:
            outcomes = await asyncio.wait_for(asyncio.gather(*(one(t) for t in triggers)), timeout)
        except asyncio.TimeoutError:
            outcomes = ["benchmark timeout"] * len(triggers)
    ended = time.time()
    cpu = time.process_time() - cpu0
    rss.append(rss_mb())
    stop.set()
    await asyncio.gather(*background)
    return {
        "idle_rss": idle,
        "peak_rss": max(rss),
        "lags": lags,
        "idle_lags": idle_lags,
        "neighbour": neighbour_waits,
        "late": late,
        "outcomes": Counter(outcomes),
        "first_failure": first_failure[0] if first_failure else None,
        "started": started,
        "ended": ended,
        "cpu": cpu,
        "gc_full": pauses.full,
        "gc_objects": len(gc.get_objects()),
    }


def _run_case(case: Case) -> list[Result]:
    from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

    n, poll = case.waits, case.poll
    with emulator(["--run-duration", str(case.duration)]) as server:
        api = EmulatorAPI(server.url)
        expected_polls = int(n * (case.duration / poll + 10))
        api.handle.set_config(max_request_log=max(20000, 2 * expected_polls + 1000))
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = api.handle.connection_json()
        from airflow.sdk import BaseHook

        BaseHook.get_connection("aep_default")  # a triggerer has its secrets backends loaded already
        flow_id = api.once_flow(f"bench-triggerer-{case.name}")
        day = 86400
        first = 1_767_225_600  # 2026-01-01
        run_ids = [api.create_run(flow_id, first + i * day, first + (i + 1) * day) for i in range(n)]
        faults: dict[str, Any] = {"latency_ms": case.latency_ms, "routes": [RUNS_ROUTE]}
        if case.rate_limit:
            faults["rate_limit_per_second"] = case.rate_limit
        api.handle.set_faults(**faults)
        api.session.close()
        api.handle.clear_requests()
        deadline = time.time() + case.duration + 900
        triggers = [AEPFlowRunTrigger(run_id=r, poll_interval=poll, end_time=deadline) for r in run_ids]
        measured = asyncio.run(_measure(triggers, timeout=case.duration + 600))
        api.handle.clear_faults()
        log = api.handle.requests()
    return _results(case, measured, log)


def _results(case: Case, m: dict[str, Any], log: list[dict[str, Any]]) -> list[Result]:
    n, poll = case.waits, case.poll
    window = m["ended"] - m["started"]
    polls: dict[str, list[float]] = {}
    for entry in log:
        if entry["method"] == "GET" and entry["path"].startswith(f"{FS}/runs/"):
            polls.setdefault(entry["path"], []).append(entry["ts"])
    poll_ts = sorted(ts for values in polls.values() for ts in values)
    span = (poll_ts[-1] - poll_ts[0]) if len(poll_ts) > 1 else float("nan")
    periods = [(max(ts) - min(ts)) / (len(ts) - 1) for ts in polls.values() if len(ts) > 1]
    tokens = sum(1 for e in log if e["path"].startswith("/ims/"))
    throttled = sum(1 for e in log if e.get("status") == 429)
    per_second = Counter(int(e["ts"]) for e in log)
    outcomes = dict(m["outcomes"])
    ok = outcomes.get("success", 0) == n
    tag = f"[{case.name}: {n} waits, poll {poll:g}s, latency {case.latency_ms} ms" + (
        f", rate limit {case.rate_limit:g}/s]" if case.rate_limit else "]"
    )
    miss = "" if ok else f"MISS (outcomes {outcomes})"
    goal = case.goals
    period = median(periods)
    rows = [
        Result(
            name=f"{tag} effective poll period, median",
            value=period,
            unit="s",
            goal=f"<= {PERIOD_GOAL * poll:g} s" if goal else "",
            limit=PERIOD_GOAL * poll if goal else None,
            verdict=miss,
            details={
                "configured s": poll,
                "period p90 s": round(percentile(periods, 90), 2),
                "runs polled at least twice": len(periods),
                "outcomes": outcomes,
                "first failure": m["first_failure"],
                "wait wall time s": round(window, 1),
            },
        ),
        Result(
            name=f"{tag} polls per second",
            value=len(poll_ts) / span if span and span > 0 else float("nan"),
            unit="req/s",
            verdict=f"info; ideal {n / poll:.0f} (N / poll interval)",
        ),
        Result(
            name=f"{tag} triggerer CPU per poll",
            value=1000 * m["cpu"] / len(poll_ts) if poll_ts else float("nan"),
            unit="ms",
            verdict=f"info; process CPU {m['cpu']:.1f} s over {window:.0f} s (load: {_load()})",
        ),
        Result(
            name=f"{tag} neighbour's to_thread wait p50",
            value=percentile(m["neighbour"], 50),
            unit="ms",
            verdict="info",
        ),
        Result(
            name=f"{tag} neighbour's to_thread wait p99",
            value=percentile(m["neighbour"], 99),
            unit="ms",
            goal=f"<= {NEIGHBOUR_GOAL_MS:g} ms" if goal else "",
            limit=NEIGHBOUR_GOAL_MS if goal else None,
            verdict=miss,
            details={"samples": len(m["neighbour"]), "max ms": round(max(m["neighbour"], default=0), 1)},
        ),
        Result(
            name=f"{tag} event-loop lag p99",
            value=percentile(m["lags"], 99),
            unit="ms",
            goal=f"< {LAG_GOAL_MS:g} ms" if goal else "",
            limit=LAG_GOAL_MS if goal else None,
            verdict=miss,
            details={
                "lag p50/max ms": (round(percentile(m["lags"], 50), 1), round(max(m["lags"]), 1)),
                "same ticker with no wait running (machine noise), p99 ms": round(
                    percentile(m["idle_lags"], 99), 1
                ),
                "full GC collections / longest ms": (
                    len(m["gc_full"]),
                    round(max(m["gc_full"], default=0), 1),
                ),
                "objects tracked by the GC at the end": m["gc_objects"],
            },
        ),
        Result(
            name=f"{tag} RSS over idle",
            value=m["peak_rss"] - m["idle_rss"],
            unit="MB",
            goal=f"< {RSS_GOAL_MB:g} MB" if goal else "",
            limit=RSS_GOAL_MB if goal else None,
            verdict=miss,
            details={"idle RSS MB": round(m["idle_rss"], 1), "peak RSS MB": round(m["peak_rss"], 1)},
        ),
        Result(
            name=f"{tag} token requests",
            value=float(tokens),
            unit="requests",
            goal="1" if goal else "",
            limit=1.0 if goal else None,
            verdict=miss,
        ),
        Result(
            name=f"{tag} finished run seen as finished, p50 late",
            value=median(m["late"]),
            unit="s",
            verdict="info; ideal within about one poll",
            details={"p99 late s": round(percentile(m["late"], 99), 1)},
        ),
        Result(
            name=f"{tag} busiest second",
            value=float(max(per_second.values()) if per_second else 0),
            unit="requests",
            verdict=f"info; steady rate {n / poll:.0f}/s (a burst after a restart shows here)",
        ),
    ]
    if case.rate_limit:
        accepted = [e for e in log if e.get("status") != 429]
        rows.append(
            Result(
                name=f"{tag} requests/s received (all / accepted)",
                value=len(log) / window if window > 0 else float("nan"),
                unit="req/s",
                verdict=(
                    f"{'PASS' if ok else 'MISS'}: every wait succeeded: {ok}; accepted "
                    f"{len(accepted) / window:.1f} req/s vs limit {case.rate_limit:g}; "
                    f"{throttled} answers were 429"
                ),
            )
        )
    return rows


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def run(mode: str, only: str | None = None) -> list[Result]:
    """Run the cases of ``mode`` (or only ``only``) against an emulator process each."""
    missing = missing_module("airflow_provider_aep.triggers.flow_run", "airflow_provider_aep.hooks.aep")
    if missing:
        return [not_available("triggerer: effective poll period", missing, f"<= {PERIOD_GOAL}x")]
    # One INFO line per poll per trigger would flood this terminal; a real triggerer writes them to
    # per-trigger log handlers.
    quiet_airflow_logs("WARNING")
    import httpx  # noqa: F401  (loaded in every Airflow 3 triggerer already: part of idle RSS)

    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook  # noqa: F401

    cases = [c for c in PLANS[mode] if only is None or c.name == only]
    if only and not cases:
        cases = [c for plan in PLANS.values() for c in plan if c.name == only][:1]
    if len(cases) == 1:
        return _run_case(cases[0])
    # One fresh interpreter per case: in one process a later case would start from the heap the
    # earlier ones grew, and its "RSS over idle" would read near zero.
    return [row for case in cases for row in _run_in_child(case.name, mode)]


def _run_in_child(name: str, mode: str) -> list[Result]:
    args = [PYTHON, str(Path(__file__).resolve()), "--case", name, "--json"]
    if mode != "full":
        args.append(f"--{mode}")
    proc = subprocess.run(args, capture_output=True, text=True, cwd=str(REPO), env=bench_env(), check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(JSON_MARKER):
            return [Result(**row) for row in json.loads(line[len(JSON_MARKER) :])]
    tail = (proc.stderr or proc.stdout).strip().splitlines()
    reason = tail[-1] if tail else f"exit status {proc.returncode}"
    return [Result(name=f"[{name}]", value=None, unit="", verdict=f"error: {reason[:200]}")]


def _main() -> int:
    argv = sys.argv[1:]
    only = None
    if "--case" in argv:
        i = argv.index("--case")
        only = argv[i + 1]
        del argv[i : i + 2]
    return bench_main(lambda mode: run(mode, only), __doc__ or "", argv)


if __name__ == "__main__":
    sys.exit(_main())
