"""Fixtures for Lambda on the local runtime: a ``python -m local_aws`` child process, roles and function packages."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_aws.server import ServerProcess

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture(scope="package")
def server(tmp_path_factory) -> ServerProcess:
    with ServerProcess(tmp_path_factory.mktemp("local_aws_lambda")) as running:
        yield running


@pytest.fixture(scope="package")
def aws(server) -> Callable[[str], Any]:
    """A boto3 client factory for the server, without client-side retries (a throttle must reach the test)."""

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"total_max_attempts": 1}, read_timeout=120))
    return client


def function_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def zip_package() -> Callable[[dict[str, str]], bytes]:
    """A deployment package (zip) holding the given files."""
    return function_zip


@pytest.fixture(scope="package")
def execution_role(aws) -> str:
    """A Lambda execution role with only AWSLambdaBasicExecutionRole attached."""
    iam = aws("iam")
    name = f"lambda-basic-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION)
    return arn


@pytest.fixture
def create_function(aws, execution_role) -> Callable[..., str]:
    """Create a Python function from source files; returns its name."""

    def create(files: dict[str, str], handler: str = "lambda_function.lambda_handler", timeout: int = 10,
               environment: dict[str, str] | None = None, memory: int = 128) -> str:
        name = f"fn-{uuid.uuid4().hex[:10]}"
        aws("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Role=execution_role, Handler=handler,
            Code={"ZipFile": function_zip(files)}, Timeout=timeout, MemorySize=memory,
            Environment={"Variables": environment or {}},
        )
        return name

    return create




@pytest.fixture
def log_messages(aws) -> Callable[[str], list[str]]:
    """Every message in ``/aws/lambda/<name>``, oldest first."""

    def read(name: str) -> list[str]:
        events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        return [event["message"] for event in sorted(events, key=lambda e: e["timestamp"])]

    return read
