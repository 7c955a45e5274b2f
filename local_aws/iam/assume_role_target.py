"""AssumeRole's target must exist, whoever calls: AWS refuses a role that does not exist before any policy.

The administrator's calls are not judged by IAM (README, "Security model"), yet AWS answers an AssumeRole of a
missing role with the same AccessDenied it gives a caller the trust policy does not allow ("User: <caller> is not
authorized to perform: sts:AssumeRole on resource: <role ARN>"), never with a session. Callers the runtime issued
credentials to get that answer from their judgement (a missing role has an empty trust policy, see
``judgement``); this check gives it to the administrator too.
"""

from __future__ import annotations

from typing import Any

from local_aws import moto_seam

ASSUME_ROLE_OPERATION = "AssumeRole"


def missing_role_message(caller_arn: str, service: str, operation: str, params: dict[str, Any]) -> str | None:
    """AWS's AccessDenied message when the call is an AssumeRole of a role that does not exist, else None."""
    if service != "sts" or operation != ASSUME_ROLE_OPERATION:
        return None
    role_arn = params.get("RoleArn")
    if not isinstance(role_arn, str):
        return None  # a missing RoleArn is the request validation's to refuse
    if _role_exists(role_arn):
        return None
    return f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"


def _role_exists(role_arn: str) -> bool:
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return False
    account_id, role_name = parts[4], parts[5].rsplit("/", 1)[-1]
    return moto_seam.role_record(account_id, role_name) is not None
