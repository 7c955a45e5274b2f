"""The local AWS runtime as a service process of the demo: the same command docker-compose's local-aws runs."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from pawflow.demo.processes import DemoServices, ManagedProcess, wait_until

REPO = Path(__file__).resolve().parents[3]
HEALTH_PATH = "/_local_aws/health"


def local_runtime_arguments(host: str, port: int, state_dir: str) -> list[str]:
    """Arguments after ``python -m local_aws``; docker-compose's local-aws service passes the same ones."""
    return ["--host", host, "--port", str(port), "--state-dir", state_dir]


def start_local_runtime(services: DemoServices, *, port: int, state_dir: Path, log_dir: Path,
                        env: dict[str, str], timeout: float = 120) -> str:
    """Start ``python -m local_aws`` on 127.0.0.1 and return its endpoint URL once it answers."""
    command = [sys.executable, "-m", "local_aws", *local_runtime_arguments("127.0.0.1", port, str(state_dir))]
    services.start(ManagedProcess("local-aws", command, env=env, log_dir=log_dir, cwd=REPO))
    endpoint_url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(endpoint_url + HEALTH_PATH, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=timeout, what=f"the local AWS runtime on {endpoint_url}", services=services)
    return endpoint_url
