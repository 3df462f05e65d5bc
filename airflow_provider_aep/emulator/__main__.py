"""``python -m airflow_provider_aep.emulator``."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
