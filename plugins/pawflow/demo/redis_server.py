"""Redis as a service process: Debian's ``redis-server`` on one loopback port, nothing persisted."""

from __future__ import annotations

import shutil
from pathlib import Path

from pawflow.demo.processes import ManagedProcess, DemoServices, wait_until

INSTALL_HINT = ("redis-server was not found: install Debian's `redis-server` package "
                "(`make demo EXECUTOR=celery` does it when run as root)")


def redis_server_command(port: int, folder: Path) -> list[str]:
    """The broker's command line: loopback only, no snapshots, no append-only file."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(INSTALL_HINT)
    return [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]


def start_redis(services: DemoServices, *, port: int, folder: Path, log_dir: Path,
                timeout: float = 30) -> str:
    """Start the server and return its ``host:port`` once it answers PING."""
    import redis

    folder.mkdir(parents=True, exist_ok=True)
    services.start(ManagedProcess("redis", redis_server_command(port, folder), env={}, log_dir=log_dir,
                                    cwd=folder))
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    try:
        wait_until(answers, timeout=timeout, what=f"Redis on 127.0.0.1:{port}", services=services)
    finally:
        client.close()
    return f"127.0.0.1:{port}"
