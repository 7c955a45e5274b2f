"""Fixtures for Lambda on the local runtime (the package's server from tests/conftest.py): roles, function
packages, functions and their logs."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.archives import zip_archive
from tests.execution_roles import create_lambda_role
from tests.folder_runtime import aws, server  # noqa: F401  (this folder's own runtime)


@pytest.fixture(scope="session")
def zip_package() -> Callable[[dict[str, str]], bytes]:
    """A deployment package (zip) holding the given files."""
    return zip_archive


@pytest.fixture(scope="package")
def execution_role(aws) -> str:
    """A Lambda execution role with only AWSLambdaBasicExecutionRole attached."""
    return create_lambda_role(aws("iam"), f"lambda-basic-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def create_function(aws, execution_role) -> Callable[..., str]:
    """Create a Python function from source files; returns its name."""

    def create(files: dict[str, str], handler: str = "lambda_function.lambda_handler", timeout: int = 10,
               environment: dict[str, str] | None = None, memory: int = 128) -> str:
        name = f"fn-{uuid.uuid4().hex[:10]}"
        aws("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Role=execution_role, Handler=handler,
            Code={"ZipFile": zip_archive(files)}, Timeout=timeout, MemorySize=memory,
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
