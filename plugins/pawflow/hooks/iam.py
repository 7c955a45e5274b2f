"""Hook for AWS Identity and Access Management (roles, their policies, the account summary)."""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class IamHook(AwsBaseHook):
    """
    Interact with AWS IAM; a thin wrapper around the boto3 ``iam`` client.

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down to the underlying
    AwsBaseHook.

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "iam"
        super().__init__(*args, **kwargs)

    def role_name_from_arn(self, role: str) -> str:
        """Return the role name of ``arn:aws:iam::<account>:role/<path>/<name>``, or ``role`` if it is a name."""
        return role.rsplit("/", 1)[-1] if role.startswith("arn:") else role
