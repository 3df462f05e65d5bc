"""Run example DAGs with ``dag.test()`` in a fresh interpreter (the lineage tests' subprocess).

A fresh interpreter is needed because the OpenLineage listener and its configuration are read once
per process. Usage: ``python dag_runner.py '<json>'`` with ``{"dags_folder", "runs": [{"dag_id",
"conf", "faults", "no_retries"}], "emulator_url", "hide_openlineage"}``. ``faults`` are set on the
emulator before the run. Prints one ``RESULT <json>`` line per run.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
import time
from typing import Any

BLOCKED = ("openlineage", "airflow.providers.openlineage")


class _HideOpenLineage(importlib.abc.MetaPathFinder):
    """Make the OpenLineage client and provider look uninstalled."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if any(fullname == b or fullname.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden by the test)", name=fullname)
        return None


def _hide_openlineage() -> None:
    """Import blocker plus package metadata without the OpenLineage distributions (as if uninstalled)."""
    import importlib.metadata

    import importlib_metadata

    sys.meta_path.insert(0, _HideOpenLineage())
    for module in (importlib.metadata, importlib_metadata):
        real = module.distributions

        def distributions(_real: Any = real, **kwargs: Any) -> Any:
            for dist in _real(**kwargs):
                if "openlineage" not in (dist.metadata["Name"] or "").lower():
                    yield dist

        module.distributions = distributions


def _set_faults(url: str, faults: dict[str, Any]) -> None:
    import requests

    requests.put(f"{url}/_emulator/faults", json=faults, timeout=30).raise_for_status()


def main() -> None:
    args = json.loads(sys.argv[1])
    if args.get("hide_openlineage"):
        _hide_openlineage()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=args["dags_folder"], safe_mode=False)
    for spec in args["runs"]:
        _set_faults(args["emulator_url"], spec.get("faults") or {})
        dag = bag.dags[spec["dag_id"]]
        if spec.get("no_retries"):
            for task in dag.tasks:
                task.retries = 0
        started = time.monotonic()
        run = dag.test(run_conf=spec.get("conf") or None)
        seconds = round(time.monotonic() - started, 1)
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        loaded = sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED))
        print(
            "RESULT "
            + json.dumps(
                {"state": str(run.state), "states": states, "ol_modules": loaded, "seconds": seconds}
            )
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
