"""Airflow pointed at a temporary home with the repository's dags/ and plugins/ folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def airflow_environment(home: Path) -> dict[str, str]:
    """Environment for an Airflow process whose home, DAGs and plugins are this repository's."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in (".", "plugins", "training_code")),
    }


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """Environment of a fresh Airflow home (not migrated) for subprocesses."""
    return airflow_environment(tmp_path_factory.mktemp("airflow_home"))


@pytest.fixture(scope="session")
def run_python(airflow_env):
    """Run a Python snippet in a fresh interpreter under ``airflow_env``; return the completed process."""

    def run(code: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                              env=env or airflow_env, timeout=timeout, check=False)

    return run
