"""Emulator throughput: requests per second on one core for a typical GET and a typical POST.

The emulator runs as a server process (``python -m airflow_provider_aep.emulator``) pinned to core 0
with ``taskset`` when available; this client runs on the other cores (when there are any) with a
few threads, each with its own keep-alive ``http.client`` connection (a much cheaper client
than ``requests``, so that the server is the limit). Phases are duration-bounded and
alternate GET ``/flows/{id}`` and POST ``/sourceConnections``; the medians over the rounds are
reported, with the server's CPU use during the phases (near 100 % of one core means the server,
not the client, was the bottleneck) and the requests per server CPU-second (what one fully busy
core sustains; robust to a shared machine where the client or neighbours take the CPU).

    python benchmarks/bench_emulator.py [--quick | --smoke] [--json]
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import sys
import threading
import time
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
)

THREADS = 8
#: (rounds, seconds per phase) per mode.
PLAN = {"full": (5, 4.0), "quick": (3, 2.0), "smoke": (1, 0.5)}


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _phase(
    url: str, headers: dict[str, str], kind: str, seconds: float, flow_id: str, body: dict[str, Any], pid: int
) -> tuple[float, int, float]:
    """Load the server for ``seconds``; (requests/s of 2xx answers, errors, server CPU share)."""
    counter = itertools.count()
    ok = [0] * THREADS
    errors = [0] * THREADS
    stop_at = 0.0
    start = threading.Barrier(THREADS + 1)
    host, port = url.removeprefix("http://").split(":")

    def worker(i: int) -> None:
        # http.client keep-alive: a far cheaper client than requests, so the server is the limit.
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        get_path = f"{FS}/flows/{flow_id}"
        post_path = f"{FS}/sourceConnections"
        post_headers = {**headers, "Content-Type": "application/json"}
        start.wait()
        while time.perf_counter() < stop_at:
            if kind == "GET":
                conn.request("GET", get_path, headers=headers)
            else:
                payload = json.dumps({**body, "name": f"bench-src-{next(counter)}"})
                conn.request("POST", post_path, body=payload, headers=post_headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status < 300:
                ok[i] += 1
            else:
                errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    cpu0 = _cpu_seconds(pid)
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    start.wait()
    for t in threads:
        t.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - t0
    cpu = _cpu_seconds(pid) - cpu0
    return sum(ok) / elapsed, sum(errors), cpu / elapsed


def run(mode: str) -> list[Result]:
    """Alternate GET and POST phases; median requests/s of each."""
    missing = missing_module("airflow_provider_aep.emulator.app", "airflow_provider_aep.emulator.cli")
    if missing:
        return [not_available("emulator throughput", missing)]
    rounds, seconds = PLAN[mode]
    cores = os.sched_getaffinity(0)
    with emulator(pin_core=0) as server:
        client_cores = cores - {0}
        if server.pinned and client_cores:
            os.sched_setaffinity(0, client_cores)
        api = EmulatorAPI(server.url)
        flow_id = api.once_flow("bench-emulator")
        base = api.base_connection("bench-throughput-base")
        body = api.source_connection_body("x", base, "Account", api.columns(base, "Account"))
        rates: dict[str, list[float]] = {"GET": [], "POST": []}
        cpu: dict[str, list[float]] = {"GET": [], "POST": []}
        errors = {"GET": 0, "POST": 0}
        for _ in range(rounds):
            for kind in ("GET", "POST"):
                rps, errs, share = _phase(server.url, api.headers, kind, seconds, flow_id, body, server.pid)
                rates[kind].append(rps)
                cpu[kind].append(share)
                errors[kind] += errs
        os.sched_setaffinity(0, cores)
        pinned = "server pinned to core 0 (taskset)" if server.pinned else "server NOT pinned (no taskset)"
    results = []
    for kind, label in (("GET", "GET /flows/{id}"), ("POST", "POST /sourceConnections")):
        per_cpu = [r / c for r, c in zip(rates[kind], cpu[kind], strict=True) if c > 0]
        note = "info" if not errors[kind] else f"info ({errors[kind]} error answers)"
        results.append(
            Result(
                name=f"emulator throughput, one core: {label}",
                value=median(rates[kind]),
                unit="req/s",
                verdict=f"{note}; server busy {median(cpu[kind]):.0%} of its core",
            )
        )
        results.append(
            Result(
                name=f"emulator capacity per server CPU-second: {label}",
                value=median(per_cpu),
                unit="req/cpu-s",
                verdict=note,
                details={
                    "setup": f"{pinned}; client: {THREADS} threads x http.client keep-alive on cores "
                    f"{sorted(client_cores) or sorted(cores)}; {rounds} rounds x {seconds:g}s, "
                    "GET/POST interleaved",
                    "per-round req/s": [round(r) for r in rates[kind]],
                    "server CPU (share of one core) per round": [round(c, 2) for c in cpu[kind]],
                    "error answers": errors[kind],
                },
            )
        )
    return results


if __name__ == "__main__":
    sys.exit(bench_main(run, __doc__ or ""))
