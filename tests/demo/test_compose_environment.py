"""The Celery mode's Airflow configuration is docker-compose.yaml's, as docker compose itself resolves it.

docker-compose's own `config` output is the reference; the local stack may only change addresses, and may only
add what a container would have given a service.
"""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from pawflow.demo.celery_stack import AIRFLOW_SERVICES, CeleryStack, instance_names
from pawflow.demo.compose_environment import compose_addresses, interpolate, on_this_machine, service_environment
from pawflow.demo.postgres_server import PostgresServer

REPO = Path(__file__).resolve().parents[2]
COMPOSE_TOOL = REPO / ".tools" / "bin" / "docker-compose"
# A compose service name used as a host (after "@" or "//", before ":" or "/"), or the image's checkout path.
COMPOSE_ADDRESS = re.compile(r"[@/](postgres|redis|airflow-apiserver|local-aws)[:/]|/opt/pawflow")
JWT_SECRET = "a-secret-for-this-test"


@pytest.fixture(scope="module")
def resolved():
    """docker compose's view of the file, with the stack's JWT secret in the shell as the stack passes it."""
    result = subprocess.run([str(COMPOSE_TOOL), "-f", str(REPO / "docker-compose.yaml"), "config"],
                            capture_output=True, text=True, cwd=REPO, check=False,
                            env={"PATH": "/usr/bin:/bin", "AIRFLOW_JWT_SECRET": JWT_SECRET})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


@pytest.fixture
def stack(tmp_path):
    stack = CeleryStack(out=tmp_path, api_port=18080, aws_endpoint_url="http://127.0.0.1:14566",
                        jwt_secret=JWT_SECRET)
    stack.postgres = PostgresServer(tmp_path / "postgres", 15432)
    stack.redis_address = "127.0.0.1:16379"
    return stack


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES) + ["airflow-init"])
def test_every_service_reads_the_environment_docker_compose_resolves(resolved, service):
    assert service_environment(service, {"AIRFLOW_JWT_SECRET": JWT_SECRET}) == resolved[service]["environment"]


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES))
def test_the_local_stack_changes_only_addresses_of_the_compose_environment(resolved, stack, service):
    compose = resolved[service]["environment"]
    local = stack.service_env(service, instance_names(service)[0])
    reverse = {local_text: compose_text for compose_text, local_text in compose_addresses(
        postgres=stack.postgres.address, redis=stack.redis_address, api_server_url=stack.base_url,
        aws_endpoint_url=stack.aws_endpoint_url).items()}
    assert {name: on_this_machine({name: local[name]}, reverse)[name] for name in compose} == compose


def test_no_container_stand_in_overrides_a_compose_setting(resolved, stack):
    for service in AIRFLOW_SERVICES:
        for hostname in instance_names(service):
            assert not set(stack.container_stand_ins(hostname)) & set(resolved[service]["environment"]), hostname


def test_no_compose_host_name_is_left_in_the_local_environment(stack):
    env = stack.compose_env("airflow-worker")
    leftovers = {name: value for name, value in env.items() if COMPOSE_ADDRESS.search(value)}
    assert leftovers == {}


def test_the_two_workers_are_distinct_hosts_with_distinct_ports(stack):
    first, second = (stack.service_env("airflow-worker", name) for name in stack.worker_names)
    assert (first["HOSTNAME"], second["HOSTNAME"]) == ("airflow-worker-1", "airflow-worker-2")
    assert first["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] != second["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]
    assert first["AIRFLOW_HOME"] != second["AIRFLOW_HOME"]


def test_every_service_shares_one_jwt_secret_across_its_own_airflow_home(stack):
    secrets = {stack.service_env(service, hostname)["AIRFLOW__API_AUTH__JWT_SECRET"]
               for service in AIRFLOW_SERVICES for hostname in instance_names(service)}
    assert secrets == {JWT_SECRET}


def test_worker_command_is_the_compose_command_with_its_celery_name(stack):
    assert stack.command("airflow-worker", "airflow-worker-2") == [
        "airflow", "celery", "worker", "--celery-hostname", "celery@airflow-worker-2", "--concurrency", "2"]
    assert stack.command("airflow-apiserver", "airflow-apiserver") == ["airflow", "api-server"]


@pytest.mark.parametrize(("text", "variables", "expected"), [
    ("${A:-x}", {}, "x"),
    ("${A:-x}", {"A": ""}, "x"),
    ("${A-x}", {"A": ""}, ""),
    ("${A:-x}", {"A": "set"}, "set"),
    ("celery@$${HOSTNAME}", {"HOSTNAME": "no"}, "celery@${HOSTNAME}"),
])
def test_interpolation_follows_docker_compose(text, variables, expected):
    assert interpolate(text, variables) == expected
