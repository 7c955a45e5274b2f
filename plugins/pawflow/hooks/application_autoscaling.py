"""Hook for Application Auto Scaling, which scales SageMaker endpoint variants."""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class ApplicationAutoScalingHook(AwsBaseHook):
    """
    Interact with Application Auto Scaling; a thin wrapper around the boto3 ``application-autoscaling`` client.

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down to the underlying
    AwsBaseHook.

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "application-autoscaling"
        super().__init__(*args, **kwargs)
