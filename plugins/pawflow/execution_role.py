"""The SageMaker execution role a run names (a role name or an ARN), resolved to the ARN SageMaker takes."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def execution_role_arn(iam: Any, role: str) -> str:
    """
    Return ``role`` unchanged when it is an ARN, else the ARN of the IAM role of that name.

    :param iam: A boto3 IAM client.
    :param role: A role name (``pawflow-sagemaker-execution``) or ARN.
    :raises ValueError: No role has that name; the message says how to create one.
    """
    if role.startswith("arn:"):
        return role
    try:
        return iam.get_role(RoleName=role)["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchEntity":
            raise ValueError(f"SageMaker execution role {role!r} does not exist; create it (README, "
                             "'SageMaker execution role') or pass its ARN") from error
        raise
