"""Target-tracking autoscaling of a SageMaker endpoint variant through Application Auto Scaling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from pawflow.hooks.application_autoscaling import ApplicationAutoScalingHook
from pawflow.links import SageMakerEndpointLink
from pawflow.serialization import json_safe

if TYPE_CHECKING:
    from airflow.sdk import Context

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
INVOCATIONS_METRIC = "SageMakerVariantInvocationsPerInstance"
MAX_COOLDOWN_SECONDS = 3600 * 24 * 365


def variant_resource_id(endpoint_name: str, variant_name: str) -> str:
    """Return Application Auto Scaling's resource id of an endpoint variant."""
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def validate_scaling(
    min_capacity: Any, max_capacity: Any, target_value: Any, scale_in_cooldown: Any, scale_out_cooldown: Any
) -> tuple[int, int, float, int, int]:
    """Return the numbers as int/float, or raise ValueError naming the allowed range of the first bad one."""

    def as_int(name: str, value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer, got {value!r}") from None
        if not number.is_integer():
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(number)

    minimum = as_int("min_capacity", min_capacity)
    maximum = as_int("max_capacity", max_capacity)
    if minimum < 1:
        raise ValueError(f"min_capacity must be >= 1 (an endpoint variant cannot scale to zero), got {minimum}")
    if maximum < minimum:
        raise ValueError(f"max_capacity must be >= min_capacity ({minimum}), got {maximum}")
    try:
        target = float(target_value)
    except (TypeError, ValueError):
        raise ValueError(f"target_value must be a number > 0, got {target_value!r}") from None
    if isinstance(target_value, bool) or not target > 0 or target == float("inf"):
        raise ValueError(f"target_value must be a number > 0 (invocations per instance per minute), got {target_value!r}")
    cooldowns = []
    for name, value in (("scale_in_cooldown", scale_in_cooldown), ("scale_out_cooldown", scale_out_cooldown)):
        seconds = as_int(name, value)
        if not 0 <= seconds <= MAX_COOLDOWN_SECONDS:
            raise ValueError(f"{name} must be between 0 and {MAX_COOLDOWN_SECONDS} seconds, got {seconds}")
        cooldowns.append(seconds)
    return minimum, maximum, target, cooldowns[0], cooldowns[1]


class SageMakerEndpointAutoscalingOperator(AwsBaseOperator[ApplicationAutoScalingHook]):
    """
    Autoscale a SageMaker endpoint variant on invocations per instance (target tracking).

    Registers the variant (``endpoint/<name>/variant/<variant>``, dimension
    ``sagemaker:variant:DesiredInstanceCount``) as a scalable target with a minimum and maximum instance count,
    then puts a target-tracking policy on ``SageMakerVariantInvocationsPerInstance``. Both calls replace what
    exists, so a re-run converges on the given numbers. The defaults are the ones the course project chose:
    1 to 3 instances, 10 invocations per instance per minute, 30 s cooldowns.

    :param endpoint_name: The endpoint whose variant scales. (templated)
    :param variant_name: The production variant. (templated)
    :param min_capacity: Fewest instances, >= 1. (templated)
    :param max_capacity: Most instances, >= min_capacity. (templated)
    :param target_value: Invocations per instance per minute the policy keeps the variant at, > 0. (templated)
    :param scale_in_cooldown: Seconds after a scale-in before another scale-in. (templated)
    :param scale_out_cooldown: Seconds after a scale-out before another scale-out. (templated)
    :param policy_name: Name of the scaling policy; defaults to ``<endpoint>-<variant>-invocations``. (templated)
    :param disable_scale_in: Only ever add instances.
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``{"ScalableTarget": ..., "ScalingPolicy": ...}`` as Application Auto Scaling describes them.
    """

    aws_hook_class = ApplicationAutoScalingHook
    template_fields: Sequence[str] = aws_template_fields(
        "endpoint_name",
        "variant_name",
        "min_capacity",
        "max_capacity",
        "target_value",
        "scale_in_cooldown",
        "scale_out_cooldown",
        "policy_name",
    )
    operator_extra_links = (SageMakerEndpointLink(),)
    ui_color = "#66c2a5"

    def __init__(
        self,
        *,
        endpoint_name: str,
        variant_name: str = "AllTraffic",
        min_capacity: int | str = 1,
        max_capacity: int | str = 3,
        target_value: float | str = 10.0,
        scale_in_cooldown: int | str = 30,
        scale_out_cooldown: int | str = 30,
        policy_name: str | None = None,
        disable_scale_in: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        self.min_capacity = min_capacity
        self.max_capacity = max_capacity
        self.target_value = target_value
        self.scale_in_cooldown = scale_in_cooldown
        self.scale_out_cooldown = scale_out_cooldown
        self.policy_name = policy_name
        self.disable_scale_in = disable_scale_in

    def _check_variant(self) -> None:
        sagemaker = SageMakerHook(**self._hook_parameters)
        try:
            endpoint = sagemaker.conn.describe_endpoint(EndpointName=self.endpoint_name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException":
                raise ValueError(
                    f"SageMaker endpoint {self.endpoint_name!r} does not exist: {error.response['Error']['Message']}"
                ) from error
            raise
        variants = [variant["VariantName"] for variant in endpoint.get("ProductionVariants", [])]
        if variants and self.variant_name not in variants:
            raise ValueError(
                f"endpoint {self.endpoint_name!r} has no variant {self.variant_name!r}; its variants are {variants}"
            )

    def execute(self, context: Context) -> dict[str, Any]:
        minimum, maximum, target, scale_in, scale_out = validate_scaling(
            self.min_capacity, self.max_capacity, self.target_value, self.scale_in_cooldown, self.scale_out_cooldown
        )
        self._check_variant()
        resource_id = variant_resource_id(self.endpoint_name, self.variant_name)
        policy_name = self.policy_name or f"{self.endpoint_name}-{self.variant_name}-invocations"
        SageMakerEndpointLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            endpoint_name=self.endpoint_name,
        )
        self.log.info("Registering %s as a scalable target with %s..%s instances.", resource_id, minimum, maximum)
        self.hook.conn.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource_id,
            ScalableDimension=SCALABLE_DIMENSION,
            MinCapacity=minimum,
            MaxCapacity=maximum,
        )
        self.log.info(
            "Putting target-tracking policy %s: %s = %s, cooldowns in %ss / out %ss.",
            policy_name, INVOCATIONS_METRIC, target, scale_in, scale_out,
        )
        self.hook.conn.put_scaling_policy(
            PolicyName=policy_name,
            ServiceNamespace="sagemaker",
            ResourceId=resource_id,
            ScalableDimension=SCALABLE_DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": target,
                "PredefinedMetricSpecification": {"PredefinedMetricType": INVOCATIONS_METRIC},
                "ScaleInCooldown": scale_in,
                "ScaleOutCooldown": scale_out,
                "DisableScaleIn": bool(self.disable_scale_in),
            },
        )
        targets = self.hook.conn.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=[resource_id], ScalableDimension=SCALABLE_DIMENSION
        )["ScalableTargets"]
        policies = self.hook.conn.describe_scaling_policies(
            ServiceNamespace="sagemaker", ResourceId=resource_id, PolicyNames=[policy_name]
        )["ScalingPolicies"]
        if not targets or not policies:
            raise RuntimeError(f"Application Auto Scaling did not keep the target or policy for {resource_id}")
        return {"ScalableTarget": json_safe(targets[0]), "ScalingPolicy": json_safe(policies[0])}
