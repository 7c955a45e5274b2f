"""moto's Application Auto Scaling backend, extended so that SageMaker target tracking is validated and recorded.

``LocalApplicationAutoscalingBackend`` validates SageMaker variant targets and target-tracking policies as AWS does,
creates the two CloudWatch alarms AWS creates for a target-tracking policy, removes a target's policies when it is
deregistered, and keeps the scaling activities that ``TargetTrackingController`` performs for
DescribeScalingActivities.
"""

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from local_aws.applicationautoscaling.target_tracking import HIGH_DATAPOINTS, LOW_DATAPOINTS, LOW_THRESHOLD_RATIO
from local_aws.iam.action_catalog import service_linked_role
from local_aws import moto_seam
from local_aws.moto_seam import (
    ApplicationAutoscalingBackend,
    JsonRESTError,
    cloudwatch_backend,
    ensure_service_linked_role,
    sagemaker_backend,
)
from local_aws.moto_seam import AutoScalingValidationException as AWSValidationException

SAGEMAKER_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SAGEMAKER_RESOURCE = re.compile(r"^endpoint/(?P<endpoint>[^/]+)/variant/(?P<variant>[^/]+)$")
SAGEMAKER_METRICS = {
    "SageMakerVariantInvocationsPerInstance": ("AWS/SageMaker", "InvocationsPerInstance"),
}


class ObjectNotFoundException(JsonRESTError):
    """A policy names a scalable target that is not registered."""

    def __init__(self, message: str):
        super().__init__("ObjectNotFoundException", message)


@dataclass
class ScalingActivity:
    """One scaling activity, in the shape DescribeScalingActivities returns."""

    service_namespace: str
    resource_id: str
    scalable_dimension: str
    description: str
    cause: str
    status_code: str = "InProgress"
    status_message: str = ""
    activity_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    start_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    end_time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        body = {
            "ActivityId": self.activity_id,
            "ServiceNamespace": self.service_namespace,
            "ResourceId": self.resource_id,
            "ScalableDimension": self.scalable_dimension,
            "Description": self.description,
            "Cause": self.cause,
            "StartTime": self.start_time.timestamp(),
            "StatusCode": self.status_code,
            "StatusMessage": self.status_message,
        }
        if self.end_time is not None:
            body["EndTime"] = self.end_time.timestamp()
        return body


class LocalApplicationAutoscalingBackend(ApplicationAutoscalingBackend):
    """Application Auto Scaling whose SageMaker target-tracking policies act (see ``controller``)."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.activities: list[ScalingActivity] = []
        self.lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    # -- targets ------------------------------------------------------------------------------------------------
    def register_scalable_target(self, namespace: str, r_id: str, dimension: str, min_capacity: int | None,
                                 max_capacity: int | None, role_arn: str, suspended_state: str) -> Any:
        with self.lock:
            existing = moto_seam.scalable_target(self, r_id, dimension)
            if namespace == "sagemaker":
                self._validate_sagemaker_target(r_id, dimension, registered=existing is not None)
                if existing is None and (min_capacity is None or max_capacity is None):
                    raise AWSValidationException(
                        "MinCapacity and MaxCapacity are required for registering a new scalable target")
                low = min_capacity if min_capacity is not None else existing.min_capacity
                high = max_capacity if max_capacity is not None else existing.max_capacity
                if low > high:
                    raise AWSValidationException("Minimum capacity cannot be greater than maximum capacity")
                if low < 1:
                    raise AWSValidationException(
                        f"Minimum capacity {low} is not supported for SageMaker variants: the minimum is 1")
            target = super().register_scalable_target(namespace, r_id, dimension, min_capacity, max_capacity,
                                                      role_arn, suspended_state)
            linked = service_linked_role("application-autoscaling", "RegisterScalableTarget", namespace)
            if linked is not None and not role_arn:
                ensure_service_linked_role(self.account_id, *linked)  # as AWS creates it on first use
                aws_service, role_name = linked
                # The target names the role it scales with, as AWS reports it (RoleARN in DescribeScalableTargets).
                target.role_arn = (f"arn:{moto_seam.get_partition(self.region_name)}:iam::{self.account_id}:role/"
                                   f"aws-service-role/{aws_service}/{role_name}")
            return target

    def deregister_scalable_target(self, namespace: str, r_id: str, dimension: str) -> None:
        with self.lock:
            super().deregister_scalable_target(namespace, r_id, dimension)
            for policy in moto_seam.scaling_policies(self):
                if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (namespace, r_id, dimension):
                    policy.delete_alarms(self.account_id, self.region_name)
                    moto_seam.forget_scaling_policy(self, policy)

    def _validate_sagemaker_target(self, r_id: str, dimension: str, *, registered: bool) -> None:
        """Refuse what AWS refuses: another dimension, a missing endpoint or variant, an endpoint not InService.

        A registered target's variant may be re-registered (new bounds) while its endpoint is Updating, which is
        what the endpoint is while a scaling activity runs; a new target needs an InService endpoint.
        """
        match = SAGEMAKER_RESOURCE.match(r_id or "")
        if match is None or dimension != SAGEMAKER_DIMENSION:
            raise AWSValidationException("Unsupported service namespace, resource type or scalable dimension")
        endpoint = moto_seam.sagemaker_endpoint(sagemaker_backend(self.region_name, self.account_id), match["endpoint"])
        if endpoint is None:
            raise AWSValidationException(f"The endpoint {match['endpoint']} does not exist")
        variants = [variant["VariantName"] for variant in endpoint.production_variants]
        if match["variant"] not in variants:
            raise AWSValidationException(
                f"The variant {match['variant']} does not exist in endpoint {match['endpoint']}")
        status = endpoint.endpoint_status
        if status != "InService" and not (registered and status == "Updating"):
            raise AWSValidationException(
                f"The endpoint {match['endpoint']} is in {status} status. A variant can be registered as a "
                f"scalable target only when its endpoint is InService")

    # -- policies -----------------------------------------------------------------------------------------------
    def put_scaling_policy(self, policy_name: str, service_namespace: str, resource_id: str,
                           scalable_dimension: str, policy_body: dict[str, Any], policy_type: str | None) -> Any:
        with self.lock:
            if not moto_seam.scalable_target_exists(self, resource_id, scalable_dimension):
                raise ObjectNotFoundException(
                    f"No scalable target registered for service namespace: {service_namespace}, "
                    f"resource ID: {resource_id}, scalable dimension: {scalable_dimension}")
            if service_namespace == "sagemaker" and policy_type == "TargetTrackingScaling":
                _validate_sagemaker_tracking(policy_body or {})
            old = moto_seam.scaling_policy(self, service_namespace, resource_id, scalable_dimension, policy_name)
            policy = super().put_scaling_policy(policy_name, service_namespace, resource_id, scalable_dimension,
                                                policy_body, policy_type)
            if old is not None:
                old.delete_alarms(self.account_id, self.region_name)
            if service_namespace == "sagemaker" and policy.policy_type == "TargetTrackingScaling":
                policy.alarms.extend(self._sagemaker_alarms(policy))
            return policy

    def _sagemaker_alarms(self, policy: Any) -> list[Any]:
        config = policy.target_tracking_scaling_policy_configuration
        metric = tracked_metric(config, policy.resource_id)
        action = f"{policy.policy_arn}:createdBy/{uuid.uuid4()}"
        cloudwatch = cloudwatch_backend(self.region_name, self.account_id)
        target = float(config["TargetValue"])
        alarms = []
        for kind, operator, periods, threshold in (
            ("AlarmHigh", "GreaterThanThreshold", HIGH_DATAPOINTS, target),
            ("AlarmLow", "LessThanThreshold", LOW_DATAPOINTS, target * LOW_THRESHOLD_RATIO),
        ):
            alarms.append(cloudwatch.put_metric_alarm(
                name=f"TargetTracking-{policy.resource_id}-{kind}-{uuid.uuid4()}", namespace=metric.namespace,
                metric_name=metric.name, comparison_operator=operator, evaluation_periods=periods, period=60,
                threshold=threshold, statistic="Sum",
                description=f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {action}.",
                dimensions=metric.dimensions, alarm_actions=[action], metric_data_queries=[],
            ))
        return alarms

    # -- activities ---------------------------------------------------------------------------------------------
    def record_activity(self, activity: ScalingActivity) -> ScalingActivity:
        with self.lock:
            self.activities.append(activity)
            return activity

    def describe_scaling_activities(self, service_namespace: str, resource_id: str | None,
                                    scalable_dimension: str | None) -> list[ScalingActivity]:
        with self.lock:
            found = [a for a in self.activities if a.service_namespace == service_namespace
                     and (resource_id is None or a.resource_id == resource_id)
                     and (scalable_dimension is None or a.scalable_dimension == scalable_dimension)]
        return sorted(found, key=lambda a: a.start_time, reverse=True)


@dataclass(frozen=True)
class TrackedMetric:
    """The CloudWatch metric a target-tracking policy follows (summed per period)."""

    namespace: str
    name: str
    dimensions: list[dict[str, str]]


def tracked_metric(config: dict[str, Any], resource_id: str) -> TrackedMetric:
    """The metric of a SageMaker variant's target-tracking configuration (validated by ``put_scaling_policy``)."""
    custom = config.get("CustomizedMetricSpecification")
    if custom is not None:
        return TrackedMetric(custom["Namespace"], custom["MetricName"], list(custom.get("Dimensions") or []))
    namespace, name = SAGEMAKER_METRICS[config["PredefinedMetricSpecification"]["PredefinedMetricType"]]
    match = SAGEMAKER_RESOURCE.match(resource_id)
    return TrackedMetric(namespace, name, [{"Name": "EndpointName", "Value": match["endpoint"]},
                                           {"Name": "VariantName", "Value": match["variant"]}])


def _validate_sagemaker_tracking(config: dict[str, Any]) -> None:
    if "TargetValue" not in config:
        raise AWSValidationException("TargetValue is required for a target tracking scaling policy")
    predefined = config.get("PredefinedMetricSpecification")
    custom = config.get("CustomizedMetricSpecification")
    if (predefined is None) == (custom is None):
        raise AWSValidationException(
            "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be specified")
    if predefined is not None:
        metric_type = predefined.get("PredefinedMetricType")
        if metric_type not in SAGEMAKER_METRICS:
            raise AWSValidationException(
                f"Unsupported metric type {metric_type} for service namespace sagemaker and scalable dimension "
                f"{SAGEMAKER_DIMENSION}; the local runtime tracks {', '.join(SAGEMAKER_METRICS)}")
        return
    if "Metrics" in custom:
        raise AWSValidationException("Metric math in CustomizedMetricSpecification is not supported by the local "
                                     "runtime; name one metric with MetricName, Namespace and Statistic Sum")
    if custom.get("Statistic") != "Sum" or not custom.get("MetricName") or not custom.get("Namespace"):
        raise AWSValidationException("The local runtime tracks customized metrics by their Sum per period: give "
                                     "MetricName, Namespace and Statistic Sum")
