"""Fixtures every test area shares: the local runtime as a server process, a boto3 client factory for it,
polling with a deadline, and the SageMaker execution role.

A test package gets its own runtime (``server``, one per package) and a client factory for it (``aws``); a
package that needs other server arguments overrides ``server_arguments``, one that needs another kind of server
overrides ``server``. Long waits use ``tests.timeouts.scaled``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.execution_roles import create_sagemaker_role as create_role


@pytest.fixture(scope="package")
def server_arguments() -> tuple[str, ...]:
    """Extra ``python -m local_aws`` arguments of the package's server (none by default)."""
    return ()


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., Any]:
    """Poll ``probe()`` until ``done(value)`` holds; return the value, or fail with the last one."""

    def wait(probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 60.0,
             interval: float = 0.2) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if done(value):
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"condition not met within {timeout} s; last value: {value!r}")
            time.sleep(interval)

    return wait


@pytest.fixture(scope="session")
def create_sagemaker_role() -> Callable[..., str]:
    """Create a SageMaker execution role (trusting ``sagemaker.amazonaws.com``, allowed to read and write S3, pull
    images and write SageMaker's logs) through an IAM client, unless it exists; return its ARN. SageMaker refuses a
    role it cannot assume, and a job or endpoint whose role may not do what SageMaker does with it fails, as on AWS.
    """
    return create_role
