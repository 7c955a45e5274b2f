"""docker-compose.yaml and the Dockerfile, checked statically (no Docker engine runs here).

The compose file is validated by docker-compose's own `config`; each service's command must be one that
`make demo` runs the same way, so the two set-ups cannot drift apart.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pawflow.demo.airflow_services import SERVICES
from pawflow.demo.local_runtime import local_runtime_arguments
from pawflow.local_connection import airflow_role_arn, local_runtime_connection

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
COMPOSE_TOOL = REPO / ".tools" / "bin" / "docker-compose"
OFFICIAL_LAYOUT = {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                   "airflow-triggerer", "airflow-worker", "airflow-init"}


def _compose_config(path: Path) -> subprocess.CompletedProcess:
    assert COMPOSE_TOOL.exists(), f"{COMPOSE_TOOL} is missing: `make install` puts the compose validator there"
    return subprocess.run([str(COMPOSE_TOOL), "-f", str(path), "config"], capture_output=True, text=True,
                          cwd=path.parent, check=False)


@pytest.fixture(scope="module")
def resolved():
    result = _compose_config(COMPOSE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_validates_with_the_official_layout_and_local_aws(resolved):
    assert OFFICIAL_LAYOUT | {"local-aws"} == set(resolved["services"])


def test_the_validator_rejects_a_broken_compose_file(tmp_path):
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("condition: service_healthy", "condition: service_happy"))
    result = _compose_config(broken)
    assert result.returncode != 0
    assert "service_happy" in result.stderr


def test_every_long_running_service_has_a_healthcheck(resolved):
    for name, service in resolved["services"].items():
        if name != "airflow-init":
            assert "test" in service.get("healthcheck", {}), name


def test_airflow_services_run_the_commands_make_demo_runs(resolved):
    commands = {name: service["command"] for name, service in resolved["services"].items()
                if name.startswith("airflow-") and name != "airflow-init"}
    demo_commands = {" ".join(c) if isinstance(c, list) else c for c in commands.values()}
    # The Celery worker is the one addition: make demo's LocalExecutor runs tasks inside the scheduler.
    assert demo_commands == set(SERVICES) | {"celery worker"}


def test_local_aws_service_runs_the_demo_runtime_command_on_all_interfaces(resolved):
    service = resolved["services"]["local-aws"]
    assert service["entrypoint"] == ["python", "-m", "local_aws"]
    assert service["command"] == local_runtime_arguments("0.0.0.0", 4566, "/var/lib/local-aws")
    connection = yaml.safe_load(resolved["services"]["airflow-scheduler"]["environment"]["AIRFLOW_CONN_AWS_DEFAULT"])
    assert connection == local_runtime_connection("http://local-aws:4566", "us-east-1", role_arn=airflow_role_arn())


def test_airflow_init_sets_up_the_account_the_connection_assumes_a_role_in(resolved):
    init = resolved["services"]["airflow-init"]
    script = init["command"][-1]
    assert "python -m pawflow.account_setup --endpoint-url http://local-aws:4566" in script
    assert init["environment"]["AWS_ACCESS_KEY_ID"] == "testing"


def test_image_is_built_from_our_dockerfile_with_the_lock_not_pip_additional_requirements(resolved):
    for name, service in resolved["services"].items():
        if name.startswith("airflow-") or name == "local-aws":
            assert service["build"]["context"] == str(REPO), name
            assert "_PIP_ADDITIONAL_REQUIREMENTS" not in service.get("environment", {}), name
    dockerfile = (REPO / "Dockerfile").read_text()
    lock = (REPO / "requirements.lock").read_text()
    airflow_pin = next(line.split("==")[1] for line in lock.splitlines() if line.startswith("apache-airflow=="))
    assert f"FROM apache/airflow:{airflow_pin}-python3.11" in dockerfile
    assert "-r /opt/pawflow/requirements.lock" in dockerfile
    assert "download.pytorch.org/whl/cpu" in dockerfile


def test_dockerfile_copies_only_paths_that_exist():
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY"):
            source = [part for part in line.split()[1:] if not part.startswith("--")][0]
            assert (REPO / source).exists(), line


def test_compose_tool_is_the_pinned_one():
    assert shutil.which(str(COMPOSE_TOOL))
    version = subprocess.run([str(COMPOSE_TOOL), "version", "--short"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "1.29.2"
