"""Airflow's own services (api-server, scheduler, dag-processor, triggerer) as local processes, and a REST client.

The embedded set-up of ``make demo`` and the UI test: SQLite, LocalExecutor, modest parallelism for a
2-core machine, the api-server on 127.0.0.1 only, the simple auth manager with one known admin login, and
the ``aws_default`` connection pointed at the local AWS runtime (as the Airflow role when given).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pawflow.demo.processes import DemoServices, ManagedProcess, wait_until
from pawflow.local_connection import local_runtime_connection

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
REPO = Path(__file__).resolve().parents[3]


@dataclass
class AirflowEnvironment:
    """Where and how the embedded Airflow runs.

    :param home: AIRFLOW_HOME (SQLite database, logs, generated config).
    :param api_port: port of the api-server on 127.0.0.1.
    :param aws_endpoint_url: endpoint of the AWS API the ``aws_default`` connection uses (the local runtime).
    :param aws_role_arn: role the connection assumes (the Airflow role); empty works as the administrator.
    :param username: the admin login of the simple auth manager.
    :param password: its password.
    :param extra_env: more variables for every service (e.g. Airflow config overrides).
    """

    home: Path
    api_port: int
    aws_endpoint_url: str
    aws_role_arn: str = ""
    username: str = "admin"
    password: str = "admin"
    region_name: str = "us-east-1"
    dags_folder: Path = REPO / "dags"
    plugins_folder: Path = REPO / "plugins"
    parallelism: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def environ(self) -> dict[str, str]:
        """The complete environment of every Airflow process (and of the tasks they run)."""
        connection = local_runtime_connection(self.aws_endpoint_url, self.region_name, role_arn=self.aws_role_arn)
        python_path = os.pathsep.join([str(self.plugins_folder), str(REPO)])
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.plugins_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(max(self.parallelism, 4)),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
            "AWS_DEFAULT_REGION": self.region_name,
            "PYTHONPATH": python_path + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
            **self.extra_env,
        }
        return env

    def prepare(self) -> None:
        """Create AIRFLOW_HOME, write the login, migrate the metadata database."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({self.username: self.password}))
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=self.environ(), check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def service(self, name: str, log_dir: Path) -> ManagedProcess:
        return ManagedProcess(
            f"airflow-{name}", [sys.executable, "-m", "airflow", name], env=self.environ(), log_dir=log_dir,
        )

    def start(self, services: DemoServices, log_dir: Path, timeout: float = 180) -> AirflowApiClient:
        """Start the four services, wait until the health endpoint reports every one healthy."""
        for name in SERVICES:
            services.start(self.service(name, log_dir))
        client = AirflowApiClient(self.base_url, self.username, self.password)
        wait_until(client.all_healthy, timeout=timeout, interval=1.0, what="Airflow services to report healthy",
                   services=services)
        return client


class AirflowApiClient:
    """The few calls of Airflow's public REST API (v2) that the demo and the UI test make."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url
        self.username = username
        self.password = password
        self._http = httpx.Client(base_url=base_url, timeout=30)
        self._token: str | None = None

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            response = self._http.post("/auth/token", json={"username": self.username, "password": self.password})
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def _call(self, method: str, path: str, headers: dict | None = None, **kwargs) -> dict:
        response = self._http.request(method, path, headers={**self._headers(), **(headers or {})}, **kwargs)
        if response.status_code == 401:
            self._token = None
            response = self._http.request(method, path, headers={**self._headers(), **(headers or {})}, **kwargs)
        if response.is_error:
            raise RuntimeError(f"Airflow API {method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else {}

    def all_healthy(self) -> bool:
        try:
            health = self._http.get("/api/v2/monitor/health").json()
        except (httpx.HTTPError, ValueError):
            return False
        return all(health.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def dag_ids(self) -> list[str]:
        return [dag["dag_id"] for dag in self._call("GET", "/api/v2/dags", params={"limit": 100})["dags"]]

    def import_errors(self) -> list[dict]:
        return self._call("GET", "/api/v2/importErrors")["import_errors"]

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict) -> dict:
        """Create a manual run the way the UI's Trigger button does."""
        return self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})

    def param_defaults(self, dag_id: str) -> dict:
        """The default value of each of the DAG's Params, as the Trigger form pre-fills them."""
        params = self._call("GET", f"/api/v2/dags/{dag_id}/details").get("params") or {}
        return {name: param["value"] for name, param in params.items()}

    def dag_runs(self, dag_id: str, limit: int = 100) -> list[dict]:
        """The DAG's runs, oldest first."""
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns",
                          params={"limit": limit, "order_by": "run_after"})["dag_runs"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                          params={"limit": 500})["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1):
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self._call("GET", path, params={"map_index": map_index, "deserialize": True})["value"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        body = self._call("GET", path, params={"map_index": map_index, "full_content": True},
                          headers={"Accept": "application/json"})
        content = body.get("content", "")
        if isinstance(content, list):
            return "\n".join(_log_line(entry) for entry in content)
        return str(content)

    def close(self) -> None:
        self._http.close()


def _log_line(entry) -> str:
    """One structured task-log entry as text; a failure's exception (``error_detail``) included."""
    if not isinstance(entry, dict):
        return str(entry)
    text = str(entry.get("event", entry))
    for error in entry.get("error_detail") or []:
        if isinstance(error, dict):
            text += f"\n{error.get('exc_type', 'Exception')}: {error.get('exc_value', '')}"
    return text
