"""boto3 clients of a local runtime, signed as the administrator (``testing``) or with the credentials given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
#: The runtime's administrator: every request is signed, and these keys are the account's own.
ADMIN_CREDENTIALS = {"AccessKeyId": "testing", "SecretAccessKey": "testing"}


def client_factory(endpoint_url: str, *, max_attempts: int | None = 1,
                   read_timeout: float = 120) -> Callable[..., Any]:
    """
    Return ``client(service, credentials=None)``: a boto3 client of the runtime at ``endpoint_url``.

    :param endpoint_url: The runtime's URL.
    :param max_attempts: Attempts per call; 1 (no client-side retries) lets a throttle or 5xx reach the test,
        None keeps boto3's default retries.
    :param read_timeout: Seconds to wait for an answer (an Invoke may take long).
    """
    retries = {} if max_attempts is None else {"retries": {"total_max_attempts": max_attempts}}

    def client(service: str, credentials: dict[str, str] | None = None) -> Any:
        keys = credentials or ADMIN_CREDENTIALS
        return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION,
                            aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
                            aws_session_token=keys.get("SessionToken"),
                            config=Config(read_timeout=read_timeout, **retries))

    return client
