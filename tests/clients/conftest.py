"""Fixtures for the other-clients tests: one runtime per test process, the administrator's boto3 clients, the
AWS CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_aws.server import LocalAWSServer

ACCOUNT = "123456789012"
AWS_CLI = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="package")
def server(tmp_path_factory) -> LocalAWSServer:
    with LocalAWSServer(state_dir=tmp_path_factory.mktemp("local_aws"), max_concurrent_jobs=1,
                        metric_period_seconds=1.0, stop_grace_seconds=3.0) as running:
        yield running


@pytest.fixture(scope="package")
def aws(server) -> Callable[[str], Any]:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


@pytest.fixture(scope="package")
def sagemaker_role(aws, create_sagemaker_role) -> str:
    return create_sagemaker_role(aws("iam"), "SageMakerRole")


@pytest.fixture(scope="package")
def client_environment(server) -> dict[str, str]:
    """A client process's whole environment: the runtime's endpoint, the administrator's keys, a region, no user
    configuration (README's "Using other clients")."""
    return {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": server.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


@pytest.fixture(scope="package")
def cli(client_environment, tmp_path_factory) -> Callable[..., subprocess.CompletedProcess]:
    """Run the AWS CLI v1 (``.venv/bin/aws``) with only README's settings; an empty HOME, so no user
    configuration reaches it."""
    assert AWS_CLI.exists(), f"{AWS_CLI} is missing: awscli is a test dependency (make install)"
    env = {**client_environment, "HOME": str(tmp_path_factory.mktemp("cli_home"))}

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(AWS_CLI), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)

    return run
