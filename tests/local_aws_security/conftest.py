"""Fixtures for authentication tests: one in-process server, clients signed with any credentials."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_aws.server import LocalAWSServer
from tests.folder_runtime import aws, server  # noqa: F401  (this folder's own runtime)


@pytest.fixture(scope="package")
def auth_server(tmp_path_factory) -> LocalAWSServer:
    with LocalAWSServer(state_dir=tmp_path_factory.mktemp("local_aws_auth"), autosave_seconds=0) as running:
        yield running


@pytest.fixture(scope="package")
def auth_client(auth_server) -> Callable[..., Any]:
    """A boto3 client of ``service`` signed with the given credentials (the administrator's by default)."""

    def client(service: str, access_key_id: str = "testing", secret_access_key: str = "testing",
               session_token: str | None = None, **config: Any) -> Any:
        return boto3.client(service, endpoint_url=auth_server.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                            aws_session_token=session_token,
                            config=Config(retries={"max_attempts": 1}, **config))

    return client
