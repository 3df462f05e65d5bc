"""Triggerer cost of AEPFlowRunTrigger: N triggers polling concurrently in ONE event loop.

Starts the emulator in a separate process (so its CPU is not counted), creates a ``once`` flow and
N on-demand runs that stay ``inProgress`` for ``--run-duration`` seconds, then runs N triggers
(each waiting for one run) with ``asyncio.gather`` and reports wall time, CPU time (user+sys) of
this process, peak RSS growth and the number of polls.

    .venv/bin/python benchmarks/flow_run_triggers.py --triggers 200 --poll 1 --run-duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sensors"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triggers", type=int, default=200)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--run-duration", type=float, default=20.0)
    args = parser.parse_args()

    port = _free_port()
    exe = str(Path(sys.executable).parent / "aep-emulator")
    emu_proc = subprocess.Popen(
        [
            exe,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--run-duration",
            str(args.run_duration),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert emu_proc.stdout is not None
        for line in emu_proc.stdout:
            if "listening on" in line:
                break
        from airflow_provider_aep.emulator.pytest_plugin import AEPEmulatorHandle

        emu = AEPEmulatorHandle(f"http://127.0.0.1:{port}")
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = emu.connection_json()
        from flowrun_helpers import make_once_flow

        from airflow_provider_aep.triggers.flow_run import AEPFlowRunTrigger

        flow = make_once_flow(emu, name="bench")
        day = 86400
        run_ids = [
            flow.api.create_run(flow.flow_id, (1_767_225_600 + i * day, 1_767_225_600 + (i + 1) * day))
            for i in range(args.triggers)
        ]
        emu._admin("DELETE", "/requests")

        triggers = [AEPFlowRunTrigger(run_id=r, poll_interval=args.poll) for r in run_ids]

        async def one(trigger: AEPFlowRunTrigger) -> str:
            async for event in trigger.run():
                return str(event.payload["status"])
            return "none"

        async def all_of_them() -> list[str]:
            return await asyncio.gather(*(one(t) for t in triggers))

        rss0 = _rss_mb()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        statuses = asyncio.run(all_of_them())
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        polls = [r for r in emu.requests() if r["path"].startswith("/data/foundation/flowservice/runs/")]
        print(f"triggers={args.triggers} poll_interval={args.poll}s run_duration={args.run_duration}s")
        print(f"outcomes={ {s: statuses.count(s) for s in set(statuses)} }")
        print(f"wall={wall:.1f}s cpu={cpu:.2f}s ({100 * cpu / wall:.0f}% of one core)")
        print(f"polls={len(polls)} cpu_per_poll={1000 * cpu / max(len(polls), 1):.2f}ms")
        print(f"rss_before={rss0:.0f}MB rss_after={_rss_mb():.0f}MB peak_rss={ru1.ru_maxrss / 1024:.0f}MB")
    finally:
        emu_proc.terminate()
        emu_proc.wait(timeout=10)


if __name__ == "__main__":
    main()
