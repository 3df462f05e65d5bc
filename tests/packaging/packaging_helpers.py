"""Shared helper of the packaging tests (imported by the test modules)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run_checked(
    argv: list[str], *, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; fail the test with its output unless it exits 0."""
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"{argv[:4]} exited {result.returncode}:\n{output}"
    return result
