"""The environment every test deployment shares (``stack.base_env``) pins every secret that Airflow
would otherwise generate per process.

Airflow writes ``airflow.cfg`` with a fresh random value for each option whose default is a
generated secret (``{FERNET_KEY}``, ``{SECRET_KEY}``, ``{JWT_SECRET_KEY}``) when the file does not
exist yet. The components of a test deployment start together on a copied metadata DB, so without
the environment pinning them they can disagree: a triggerer with another Fernet key than the
dag-processor cannot decrypt trigger kwargs and dies (seen under load).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.e2e.stack import base_env

GENERATED = re.compile(r"\{(FERNET_KEY|SECRET_KEY|JWT_SECRET_KEY)\}")


def _generated_secret_options() -> list[tuple[str, str]]:
    import airflow.config_templates

    template = Path(airflow.config_templates.__file__).with_name("config.yml")
    sections = yaml.safe_load(template.read_text())
    return [
        (section, option)
        for section, body in sections.items()
        for option, spec in (body.get("options") or {}).items()
        if GENERATED.search(str(spec.get("default") or ""))
    ]


def test_every_generated_secret_is_pinned_for_all_components(tmp_path: Path) -> None:
    options = _generated_secret_options()
    assert len(options) >= 3, options  # Airflow's template still marks them this way
    env = base_env(tmp_path, 8080, tmp_path / "dags")
    missing = [f"[{s}] {o}" for s, o in options if not env.get(f"AIRFLOW__{s.upper()}__{o.upper()}")]
    assert not missing, f"base_env leaves these to be generated per process: {missing}"


def test_the_fernet_key_is_a_valid_key(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    key = base_env(tmp_path, 8080, tmp_path / "dags")["AIRFLOW__CORE__FERNET_KEY"]
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"kwargs")) == b"kwargs"
