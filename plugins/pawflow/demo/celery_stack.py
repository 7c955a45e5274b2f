"""docker-compose.yaml's scaled-out Airflow as local processes: Postgres, Redis, CeleryExecutor, two workers.

Every service of the compose file runs from Debian's packages and the project's venv, no Docker: PostgreSQL and
Redis on free loopback ports in a scratch folder, ``airflow-init``'s migration and admin user, then api-server,
scheduler, dag-processor, triggerer and two Celery workers. Each Airflow service gets the compose file's
environment (read from it, see ``compose_environment``) plus only what a container would have given it: its own
``AIRFLOW_HOME``, the shared logs folder, its own host name, and its own ports.
"""

from __future__ import annotations

import os
import secrets
import shlex
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pawflow.demo.airflow_services import AirflowApiClient
from pawflow.demo.compose_environment import (
    REPO,
    compose_addresses,
    compose_services,
    interpolate,
    on_this_machine,
    service_environment,
)
from pawflow.demo.postgres_server import PostgresServer
from pawflow.demo.processes import ManagedProcess, DemoServices, wait_until
from pawflow.demo.redis_server import start_redis

#: compose service -> how many of it run here (the workers are scaled to two, each with its own host name).
AIRFLOW_SERVICES = {"airflow-apiserver": 1, "airflow-scheduler": 1, "airflow-dag-processor": 1,
                    "airflow-triggerer": 1, "airflow-worker": 2}
#: What the triggerer logs when a trigger's wait is over and the task can resume on a worker.
TRIGGER_FIRED = "Trigger fired event"
#: Each Celery worker's pool on a 2-core machine (Airflow's default is 16 processes per worker).
WORKER_CONCURRENCY = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def instance_names(service: str) -> list[str]:
    """Host names of a service's instances: the service name, or ``<service>-<n>`` when scaled."""
    count = AIRFLOW_SERVICES[service]
    return [service] if count == 1 else [f"{service}-{n}" for n in range(1, count + 1)]


@dataclass
class CeleryStack:
    """The compose stack on this machine.

    :param out: scratch folder (Postgres, Redis, one AIRFLOW_HOME per service, the shared logs folder).
    :param api_port: port of the api-server on 127.0.0.1 (compose publishes 8080).
    :param aws_endpoint_url: the local AWS runtime, where compose's ``local-aws`` service answers.
    """

    out: Path
    api_port: int
    aws_endpoint_url: str
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    postgres: PostgresServer | None = None
    redis_address: str = ""
    _ports: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def login(self) -> dict[str, str]:
        """The admin account airflow-init creates (``_AIRFLOW_WWW_USER_USERNAME`` / ``_PASSWORD``)."""
        init = service_environment("airflow-init", self._variables())
        return {"username": init["_AIRFLOW_WWW_USER_USERNAME"], "password": init["_AIRFLOW_WWW_USER_PASSWORD"]}

    @property
    def username(self) -> str:
        return self.login["username"]

    @property
    def password(self) -> str:
        return self.login["password"]

    @property
    def logs_folder(self) -> Path:
        """The folder every service writes task, trigger and processor logs to (compose's ``./logs`` volume)."""
        return self.out / "airflow" / "logs"

    def _variables(self) -> dict[str, str]:
        """The variables docker compose interpolates the file with: the shell's, plus the stack's JWT secret."""
        return {**os.environ, "AIRFLOW_JWT_SECRET": self.jwt_secret}

    def compose_env(self, compose_service: str) -> dict[str, str]:
        """The service's environment in docker-compose.yaml with its addresses placed on this machine."""
        addresses = compose_addresses(postgres=f"127.0.0.1:{self.postgres.port}", redis=self.redis_address,
                                      api_server_url=self.base_url, aws_endpoint_url=self.aws_endpoint_url)
        return on_this_machine(service_environment(compose_service, self._variables()), addresses)

    def container_stand_ins(self, hostname: str) -> dict[str, str]:
        """What a container gives its service and one machine must set per process: its own AIRFLOW_HOME (the
        image's /opt/airflow), the shared logs volume, the image's PYTHONPATH and PATH, its own host name and
        ports; plus the sizing for a 2-core machine (one api-server worker process)."""
        ports = self._ports.setdefault(hostname, {"log": free_port(), "health": free_port()})
        return {
            "AIRFLOW_HOME": str(self.out / "airflow" / hostname),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs_folder),
            "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
            "HOSTNAME": hostname,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "pawflow.demo.service_hostname.hostname",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["log"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["log"]),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(ports["health"]),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        }

    def service_env(self, compose_service: str, hostname: str) -> dict[str, str]:
        """The complete environment of one service instance: the machine's (minus the shell's Airflow settings,
        which no container would see), the compose file's, and the container stand-ins."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
        return {**inherited, **self.compose_env(compose_service), **self.container_stand_ins(hostname)}

    def command(self, compose_service: str, hostname: str) -> list[str]:
        """The service's compose command after ``airflow``; a worker also gets its Celery name and pool size."""
        command = compose_services()[compose_service]["command"]
        argv = ["airflow", *(command if isinstance(command, list) else shlex.split(command))]
        if compose_service == "airflow-worker":
            argv += ["--celery-hostname", f"celery@{hostname}", "--concurrency", str(WORKER_CONCURRENCY)]
        return argv

    def _run_init(self, log_dir: Path) -> None:
        """What airflow-init's entrypoint does: migrate the database, create the admin user."""
        env = self.service_env("airflow-init", "airflow-init")
        Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
        login = self.login
        steps = (["airflow", "db", "migrate"],
                 ["airflow", "users", "create", "--username", login["username"], "--password", login["password"],
                  "--firstname", "Airflow", "--lastname", "Admin", "--email", "airflowadmin@example.com",
                  "--role", "Admin"])
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "airflow-init.log", "ab") as log_file:
            for argv in steps:
                result = subprocess.run(argv, env=env, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT,
                                        check=False)
                if result.returncode != 0:
                    raise RuntimeError(f"airflow-init: `{' '.join(argv[:3])}` failed ({result.returncode}); "
                                       f"see {log_dir / 'airflow-init.log'}")

    def worker_answers_ping(self, hostname: str) -> bool:
        """docker-compose.yaml's own healthcheck of airflow-worker, run for one worker."""
        env = self.service_env("airflow-worker", hostname)
        check = compose_services()["airflow-worker"]["healthcheck"]["test"]
        if check[0] != "CMD-SHELL":
            raise ValueError(f"airflow-worker's healthcheck is expected as CMD-SHELL, found {check[0]}")
        script = interpolate(check[1], {})  # compose turns $$ into $; the shell then reads $HOSTNAME
        result = subprocess.run(["sh", "-c", script], env=env, cwd=REPO, capture_output=True, timeout=60,
                                check=False)
        return result.returncode == 0

    def start(self, services: DemoServices, log_dir: Path, timeout: float = 240) -> AirflowApiClient:
        """Start every service, wait until the api-server reports all healthy and both workers answer ping."""
        postgres_env = compose_services()["postgres"]["environment"]
        self.postgres = PostgresServer(self.out / "postgres", free_port(), user=postgres_env["POSTGRES_USER"],
                                       password=postgres_env["POSTGRES_PASSWORD"],
                                       database=postgres_env["POSTGRES_DB"])
        self.postgres.start(services, log_dir)
        self.redis_address = start_redis(services, port=free_port(), folder=self.out / "redis", log_dir=log_dir)
        self._run_init(log_dir)
        for service in AIRFLOW_SERVICES:
            for hostname in instance_names(service):
                env = self.service_env(service, hostname)
                Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
                services.start(ManagedProcess(hostname, self.command(service, hostname), env=env,
                                                log_dir=log_dir, cwd=REPO))
        client = AirflowApiClient(self.base_url, self.username, self.password)
        wait_until(client.all_healthy, timeout=timeout, interval=1.0, what="Airflow services to report healthy",
                   services=services)
        for hostname in self.worker_names:
            wait_until(lambda: self.worker_answers_ping(hostname), timeout=timeout, interval=2.0,
                       what=f"Celery worker celery@{hostname} to answer ping", services=services)
        return client

    def triggered_waits(self, dag_id: str, run_id: str) -> dict[str, int]:
        """Tasks of the run whose wait a triggerer ran until it fired its event: task id -> the triggerer's job id.

        Read from the trigger logs the triggerer writes beside each task's log in the shared logs folder
        (``attempt=<n>.log.trigger.<triggerer job id>.log``), the ones the UI shows in the task's log.
        """
        run_folder = self.logs_folder / f"dag_id={dag_id}" / f"run_id={run_id}"
        waits = {}
        for path in sorted(run_folder.glob("task_id=*/attempt=*.log.trigger.*.log")):
            if TRIGGER_FIRED in path.read_text(errors="replace"):
                waits[path.parent.name.removeprefix("task_id=")] = int(path.name.rsplit(".", 2)[-2])
        return waits

    @property
    def worker_names(self) -> list[str]:
        return instance_names("airflow-worker")
