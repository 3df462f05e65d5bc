"""``aep-emulator`` command line: serve the emulator with uvicorn."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any


def build_parser() -> argparse.ArgumentParser:
    """Argument parser (fault flags mirror the faults JSON of the contract)."""
    p = argparse.ArgumentParser(prog="aep-emulator", description="Local Adobe Experience Platform emulator.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument(
        "--admin-remote",
        action="store_true",
        help="let callers on other machines use the unauthenticated admin API /_emulator/ "
        "(default: loopback callers only)",
    )
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--time-scale", type=float, default=None, help="emulated seconds per real second")
    p.add_argument("--run-duration", type=float, default=None, help="seconds a flow run stays inProgress")
    p.add_argument("--token-ttl", type=int, default=None, help="token lifetime (seconds)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the fault injector")
    p.add_argument("--rate-limit", type=float, default=None, help="requests per second before 429")
    p.add_argument("--no-retry-after", action="store_true", help="answer 429 without Retry-After")
    p.add_argument("--error-rate", type=float, default=None, help="share of requests answered with 5xx")
    p.add_argument("--latency-ms", type=int, default=None, help="added latency per request")
    p.add_argument(
        "--drop-after-commit",
        action="append",
        default=None,
        metavar="ROUTE",
        help='e.g. "POST /data/foundation/flowservice/flows" (repeatable)',
    )
    p.add_argument(
        "--late-commit",
        action="append",
        default=None,
        metavar="ROUTE",
        help='answer 504 but commit later, e.g. "POST /data/foundation/flowservice/runs" (repeatable)',
    )
    p.add_argument("--late-commit-seconds", type=float, default=None, help="delay of a late commit")
    p.add_argument(
        "--late-commit-mode",
        choices=["gateway_timeout", "hold"],
        default=None,
        help="504 at once (default) or hold the request until the commit",
    )
    p.add_argument("--force-run-status", choices=["success", "partialSuccess", "failed"], default=None)
    p.add_argument("--log-level", default="warning")
    return p


def config_from_args(args: argparse.Namespace) -> Any:
    """EmulatorConfig from parsed arguments."""
    from .state import EmulatorConfig

    cfg = EmulatorConfig()
    if args.time_scale is not None:
        cfg.time_scale = args.time_scale
    if args.run_duration is not None:
        cfg.run_duration_seconds = args.run_duration
    if args.token_ttl is not None:
        cfg.token_ttl_seconds = args.token_ttl
    faults: dict[str, Any] = {}
    if args.seed is not None:
        faults["seed"] = args.seed
    if args.rate_limit is not None:
        faults["rate_limit_per_second"] = args.rate_limit
    if args.no_retry_after:
        faults["rate_limit_retry_after"] = False
    if args.error_rate is not None:
        faults["error_rate"] = args.error_rate
    if args.latency_ms is not None:
        faults["latency_ms"] = args.latency_ms
    if args.drop_after_commit:
        faults["drop_after_commit"] = args.drop_after_commit
    if args.late_commit:
        faults["late_commit"] = args.late_commit
    if args.late_commit_seconds is not None:
        faults["late_commit_seconds"] = args.late_commit_seconds
    if args.late_commit_mode:
        faults["late_commit_mode"] = args.late_commit_mode
    if args.force_run_status:
        faults["force_run_status"] = args.force_run_status
    cfg.faults = faults or None
    return cfg


def base_url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 literal in brackets (``http://[::1]:8765``)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    import uvicorn

    from .app import create_app

    app = create_app(config_from_args(args), admin_remote=args.admin_remote)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    server = uvicorn.Server(config)

    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets=sockets)
        if server.started:
            host = args.host
            port = args.port
            for srv in getattr(server, "servers", []):
                for sock in srv.sockets:
                    port = sock.getsockname()[1]
                    break
            print(f"AEP emulator listening on {base_url(host, port)}", flush=True)

    server.startup = startup  # type: ignore[method-assign]

    def _stop(signum: int, frame: Any) -> None:
        # uvicorn re-raises the signal it shut down on; end quietly with status 0 instead.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        return 0
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
