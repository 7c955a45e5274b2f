"""Fixtures every test area shares."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest


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


SAGEMAKER_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="session")
def create_sagemaker_role() -> Callable[..., str]:
    """Create a SageMaker execution role (trusting ``sagemaker.amazonaws.com``) through an IAM client, unless it
    exists; return its ARN. SageMaker refuses a role it cannot assume, as AWS does."""

    def create(iam: Any, name: str = "SageMakerRole") -> str:
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]["Arn"]

    return create
