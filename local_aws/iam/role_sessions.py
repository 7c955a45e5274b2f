"""Temporary credentials of an execution role, issued by the runtime's own STS, as a service assuming the role gets.

SageMaker assumes a training job's ``RoleArn`` and a model's ``ExecutionRoleArn`` with the session name
``SageMaker``; Lambda assumes a function's role with the function's name. The code running in the job, endpoint or
function then calls AWS as ``arn:aws:sts::<account>:assumed-role/<role>/<session>``, judged by the role's policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone

from local_aws.moto_seam import get_partition, iam_backend, sts_backend

SAGEMAKER_SESSION_NAME = "SageMaker"
DEFAULT_DURATION_SECONDS = 3600


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials of an execution role, and when they expire (epoch seconds)."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float

    def as_environment(self) -> dict[str, str]:
        """The variables an AWS SDK reads them from."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}


def assume_service_role(account_id: str, region: str, role_arn: str, session_name: str) -> Credentials:
    """AssumeRole ``role_arn`` through the runtime's STS for the role's maximum session duration."""
    partition = get_partition(region)
    try:
        role = iam_backend(account_id, partition).get_role_by_arn(role_arn)
        duration = int(role.max_session_duration or DEFAULT_DURATION_SECONDS)
    except Exception:
        duration = DEFAULT_DURATION_SECONDS
    assumed = sts_backend(account_id, partition).assume_role(
        region_name=region, role_session_name=session_name, role_arn=role_arn,
        policy=None, duration=duration, external_id=None,
    )
    expiration = assumed.expiration
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=timezone.utc)
    return Credentials(assumed.access_key_id, assumed.secret_access_key, assumed.session_token,
                       expiration.timestamp())
