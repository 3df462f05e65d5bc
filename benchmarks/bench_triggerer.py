"""Triggerer scale: N ``AEPFlowRunTrigger``s waiting at once in ONE process and event loop.

The emulator runs as a real uvicorn server process (``--run-duration D``: runs stay
``inProgress`` D seconds). Setup creates a ``once`` flow and N on-demand runs over plain HTTP. Then
this process, like a triggerer, runs the N triggers (each awaiting one run) on one asyncio loop,
together with a ticker task that sleeps ``TICK`` seconds and records how late it wakes up (event
loop lag) and samples RSS. Reported: loop lag p50/p99/max, peak RSS over the idle process (all
modules imported, loop running, no trigger yet), requests per second received by the emulator
(its request log), what the default thread pool does (the trigger runs every hook call through
``asyncio.to_thread``: pool size, time until every trigger has polled once, effective poll period vs
the configured one), and the worker slots held while waiting — computed from the mode, not
measured: 0 for deferrable (the wait lives in the triggerer), N in poke mode (each sensor occupies a
worker slot for its whole wait).

    python benchmarks/bench_triggerer.py [--quick | --smoke] [--json]
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    FS,
    EmulatorAPI,
    Result,
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
LAG_GOAL_MS = 100.0
RSS_GOAL_MB = 50.0
#: mode -> (triggers, poll interval s, run duration s)
PLAN = {"full": (1000, 5.0, 40.0), "quick": (1000, 5.0, 20.0), "smoke": (40, 1.0, 3.0)}


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
    ticker = asyncio.create_task(_ticker(stop, lags, rss))
    peak_threads = threading.active_count()

    async def one(trigger: Any) -> str:
        nonlocal peak_threads
        async for event in trigger.run():
            peak_threads = max(peak_threads, threading.active_count())
            return str(event.payload["status"])
        return "no event"

    started = time.time()
    try:
        outcomes = await asyncio.wait_for(asyncio.gather(*(one(t) for t in triggers)), timeout)
    except asyncio.TimeoutError:
        outcomes = ["benchmark timeout"] * len(triggers)
    ended = time.time()
    rss.append(rss_mb())
    stop.set()
    await ticker
    executor = getattr(asyncio.get_running_loop(), "_default_executor", None)
    return {
        "idle_rss": idle,
        "peak_rss": max(rss),
        "lags": lags,
        "idle_lags": idle_lags,
        "outcomes": Counter(outcomes),
        "started": started,
        "ended": ended,
        "pool_size": getattr(executor, "_max_workers", None),
        "peak_threads": peak_threads,
    }


def run(mode: str) -> list[Result]:
    """Run N triggers against the emulator process; loop lag, RSS, request rate, thread pool."""
    lag_goal = f"< {LAG_GOAL_MS:.0f} ms"
    missing = missing_module("airflow_provider_aep.triggers.flow_run", "airflow_provider_aep.hooks.aep")
    if missing:
        return [not_available("triggerer: event-loop lag p99", missing, lag_goal)]
    n, poll, duration = PLAN[mode]
    # One INFO line per poll per trigger would flood this terminal; a real triggerer writes them to
    # per-trigger log handlers.
    quiet_airflow_logs("WARNING")
    with emulator(["--run-duration", str(duration)]) as server:
        api = EmulatorAPI(server.url)
        api.handle.set_config(max_request_log=max(10000, n * int(duration / poll + 10) + 1000))
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = api.handle.connection_json()
        from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook  # noqa: F401
        from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

        flow_id = api.once_flow("bench-triggerer")
        day = 86400
        first = 1_767_225_600  # 2026-01-01
        run_ids = [api.create_run(flow_id, first + i * day, first + (i + 1) * day) for i in range(n)]
        api.session.close()
        api.handle.clear_requests()
        deadline = time.time() + duration + 600
        triggers = [AEPFlowRunTrigger(run_id=r, poll_interval=poll, end_time=deadline) for r in run_ids]
        measured = asyncio.run(_measure(triggers, timeout=duration + 300))
        log = api.handle.requests()

    window = measured["ended"] - measured["started"]
    polls: dict[str, list[float]] = {}
    for entry in log:
        if entry["method"] == "GET" and entry["path"].startswith(f"{FS}/runs/"):
            polls.setdefault(entry["path"], []).append(entry["ts"])
    tokens = sum(1 for e in log if e["path"].startswith("/ims/"))
    first_polls = [min(ts) for ts in polls.values()]
    all_polled_after = (max(first_polls) - measured["started"]) if len(first_polls) == n else float("nan")
    periods = [(max(ts) - min(ts)) / (len(ts) - 1) for ts in polls.values() if len(ts) > 1]
    per_second = Counter(int(e["ts"]) for e in log)
    lags = measured["lags"]
    outcomes = dict(measured["outcomes"])
    ok = outcomes.get("success", 0) == n
    outcome_note = "" if ok else f" (outcomes {outcomes})"
    setup = f"{n} triggers, poll_interval {poll:g}s, runs inProgress {duration:g}s, one event loop"
    return [
        Result(
            name=f"triggerer: event-loop lag p50 ({n} triggers)",
            value=percentile(lags, 50),
            unit="ms",
            verdict="info",
            details={
                "setup": setup,
                "ticks": len(lags),
                "lag p50/p99/max ms": tuple(round(percentile(lags, q), 1) for q in (50, 99, 100)),
                "idle loop lag p99 ms (same ticker, no triggers)": round(
                    percentile(measured["idle_lags"], 99), 1
                ),
                "outcomes": outcomes,
                "logging": "WARNING (trigger INFO progress lines not emitted)",
            },
        ),
        Result(
            name=f"triggerer: event-loop lag p99 ({n} triggers)",
            value=percentile(lags, 99),
            unit="ms",
            goal=lag_goal,
            limit=LAG_GOAL_MS,
            verdict="" if ok else f"MISS{outcome_note}",
        ),
        Result(
            name=f"triggerer: event-loop lag max ({n} triggers)",
            value=max(lags) if lags else float("nan"),
            unit="ms",
            verdict="info",
        ),
        Result(
            name=f"triggerer: RSS over idle ({n} triggers waiting)",
            value=measured["peak_rss"] - measured["idle_rss"],
            unit="MB",
            goal=f"< {RSS_GOAL_MB:.0f} MB",
            limit=RSS_GOAL_MB,
            details={
                "idle RSS MB": round(measured["idle_rss"], 1),
                "peak RSS MB": round(measured["peak_rss"], 1),
            },
        ),
        Result(
            name="triggerer: requests/s received by the emulator (mean over the wait)",
            value=len(log) / window if window > 0 else float("nan"),
            unit="req/s",
            verdict=f"info; ideal {n / poll:.0f} req/s (N / poll interval)",
            details={
                "requests": len(log),
                "token requests": tokens,
                "busiest second req": max(per_second.values()) if per_second else 0,
                "wait wall time s": round(window, 1),
            },
        ),
        Result(
            name="triggerer: default thread pool (asyncio.to_thread) size",
            value=float(measured["pool_size"] or 0),
            unit="threads",
            verdict=(
                f"info; every trigger polled once after {all_polled_after:.1f}s; effective poll "
                f"period median {median(periods):.1f}s vs {poll:g}s configured; "
                f"peak threads {measured['peak_threads']}"
            ),
        ),
        Result(
            name=f"worker slots held while {n} runs are awaited: deferrable",
            value=0.0,
            unit="slots",
            verdict="computed from the mode (deferred tasks release their slot)",
        ),
        Result(
            name=f"worker slots held while {n} runs are awaited: poke mode",
            value=float(n),
            unit="slots",
            verdict="computed from the mode (one slot per poking sensor)",
        ),
    ]


if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__ or ""))
