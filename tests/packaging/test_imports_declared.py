"""Every third-party module the package imports is a declared dependency, or an optional import.

A module that happens to be installed (Airflow brings httpx and h11) still works today and breaks the
day the dependency that brought it drops it; declaring it is the only guarantee. The emulator may
also use its ``emulator`` extra. Optional imports (each listed with its reason) must sit inside a
function outside the emulator, so importing the package never needs them.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import airflow_provider_aep

PACKAGE = Path(airflow_provider_aep.__file__).parent
PYPROJECT = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
#: Imported only where the optional component is there to call the code.
OPTIONAL = {
    "flask_appbuilder": "the connection-form widgets, called only by a UI that has Flask-AppBuilder",
    "flask_babel": "the connection-form widgets, as above",
    "wtforms": "the connection-form widgets, as above",
    "openlineage": "the lineage methods, called only by the OpenLineage provider's listener",
    "pytest": "the emulator's pytest plugin, loaded only by pytest",
}
#: Airflow's own distributions all provide the ``airflow`` namespace.
AIRFLOW_NAMESPACE = "airflow"


def _declared(*extras: str) -> set[str]:
    requirements = list(PYPROJECT["project"]["dependencies"])
    for extra in extras:
        requirements += PYPROJECT["project"]["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(top-level module, at module level?)`` of every absolute import in ``path``."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [(module.split(".")[0], id(node) in top_level) for module in modules]
    return found


def test_every_third_party_import_is_declared_or_optional() -> None:
    distributions = packages_distributions()
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        in_emulator = "emulator" in path.relative_to(PACKAGE).parts
        declared = _declared("emulator") if in_emulator else _declared()
        for module, at_module_level in _imports(path):
            if module in sys.stdlib_module_names or module == "airflow_provider_aep":
                continue
            if module in OPTIONAL:
                if at_module_level and not in_emulator:
                    problems.append(f"{path.name}: optional {module} imported at module level")
                continue
            if module == AIRFLOW_NAMESPACE:
                assert "apache-airflow" in declared
                continue
            provided_by = {canonicalize_name(d) for d in distributions.get(module, [])}
            # starlette is FastAPI's own base: declaring FastAPI declares it.
            if module == "starlette" and in_emulator:
                provided_by |= {"fastapi"}
            if not provided_by & declared:
                where = path.relative_to(PACKAGE)
                problems.append(f"{where}: {module} ({sorted(provided_by)}) is not declared")
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_check_sees_an_undeclared_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import h11\n\ndef f():\n    import wtforms\n")
    assert _imports(module) == [("h11", True), ("wtforms", False)]
    assert "h11" in _declared()  # declared since the trigger's transport imports it directly
