"""Target tracking on InvocationsPerInstance really scales an endpoint variant out and back in under load."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
TRACKING = {
    "TargetValue": 3.0,
    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
    "ScaleOutCooldown": 4,
    "ScaleInCooldown": 4,
}


class LoopbackLoad:
    """Invokes an endpoint at a bounded rate from one thread until stopped; the rate can change on the fly."""

    def __init__(self, client, endpoint: str, per_second: float, limit_seconds: float = 90.0):
        self.client, self.endpoint, self.per_second = client, endpoint, per_second
        self.limit_seconds = limit_seconds
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "LoopbackLoad":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        ends = time.monotonic() + self.limit_seconds
        next_call = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < ends:
            self.client.invoke_endpoint(EndpointName=self.endpoint, ContentType="application/json", Body=b"[1]")
            self.sent += 1
            next_call = max(next_call + 1.0 / self.per_second, time.monotonic())
            self._stop.wait(max(0.0, next_call - time.monotonic()))


def instance_count(aws, endpoint: str) -> int:
    return aws("sagemaker").describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]["CurrentInstanceCount"]


def test_the_variant_scales_out_under_load_and_back_in_when_it_eases(aws, endpoint, wait_until):
    scaling = aws("application-autoscaling")
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION,
                                     MinCapacity=1, MaxCapacity=3)
    policy = scaling.put_scaling_policy(
        PolicyName="invocations", ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=TRACKING)
    high = next(a["AlarmName"] for a in policy["Alarms"] if "-AlarmHigh-" in a["AlarmName"])
    low = next(a["AlarmName"] for a in policy["Alarms"] if "-AlarmLow-" in a["AlarmName"])

    with LoopbackLoad(aws("sagemaker-runtime"), endpoint, per_second=15) as load:
        wait_until(lambda: instance_count(aws, endpoint), lambda count: count == 3, timeout=60)
        load.per_second = 1
        wait_until(lambda: instance_count(aws, endpoint), lambda count: count == 1, timeout=90)

    activities = wait_until(
        lambda: scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingActivities"],
        lambda found: len(found) >= 2 and all(a["StatusCode"] != "InProgress" for a in found))
    scale_in, scale_out = activities[0], activities[-1]
    assert [a["StatusCode"] for a in activities] == ["Successful"] * len(activities)
    assert scale_out["Description"] == "Setting desired instance count to 3."
    assert scale_out["Cause"] == f"monitor alarm {high} in state ALARM triggered policy invocations"
    assert scale_in["Description"] == "Setting desired instance count to 1."
    assert scale_in["Cause"] == f"monitor alarm {low} in state ALARM triggered policy invocations"
    assert scale_in["StatusMessage"] == (
        "Successfully set desired instance count to 1. Change successfully fulfilled by sagemaker.")
    starts = sorted(a["StartTime"] for a in activities)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(starts, starts[1:])]
    assert all(gap >= TRACKING["ScaleOutCooldown"] for gap in gaps)
    assert load.sent > 0


def test_a_policy_needs_a_registered_target(aws, endpoint):
    with pytest.raises(ClientError) as error:
        aws("application-autoscaling").put_scaling_policy(
            PolicyName="p", ServiceNamespace="sagemaker", ResourceId=f"endpoint/{endpoint}/variant/AllTraffic",
            ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=TRACKING)

    assert error.value.response["Error"]["Code"] == "ObjectNotFoundException"
    assert error.value.response["Error"]["Message"] == (
        f"No scalable target registered for service namespace: sagemaker, resource ID: "
        f"endpoint/{endpoint}/variant/AllTraffic, scalable dimension: {DIMENSION}")


@pytest.mark.parametrize("resource, dimension", [
    ("endpoint/{endpoint}/variant/NoSuchVariant", DIMENSION),
    ("endpoint/no-such-endpoint/variant/AllTraffic", DIMENSION),
    ("endpoint/{endpoint}/variant/AllTraffic", "sagemaker:variant:DesiredProvisionedConcurrency"),
])
def test_targets_must_name_an_existing_variant_and_its_dimension(aws, endpoint, resource, dimension):
    with pytest.raises(ClientError) as error:
        aws("application-autoscaling").register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=resource.format(endpoint=endpoint), ScalableDimension=dimension,
            MinCapacity=1, MaxCapacity=2)

    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_minimum_above_maximum_is_refused(aws, endpoint):
    with pytest.raises(ClientError) as error:
        aws("application-autoscaling").register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=f"endpoint/{endpoint}/variant/AllTraffic",
            ScalableDimension=DIMENSION, MinCapacity=3, MaxCapacity=2)

    assert error.value.response["Error"]["Message"] == "Minimum capacity cannot be greater than maximum capacity"


def test_a_minimum_above_the_current_count_scales_out_to_it(aws, endpoint, wait_until):
    scaling = aws("application-autoscaling")
    resource = f"endpoint/{endpoint}/variant/AllTraffic"

    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION,
                                     MinCapacity=2, MaxCapacity=3)

    wait_until(lambda: instance_count(aws, endpoint), lambda count: count == 2, timeout=60)
    activity = wait_until(
        lambda: scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingActivities"],
        lambda found: found and found[0]["StatusCode"] == "Successful")[0]
    assert (activity["Description"], activity["Cause"]) == ("Setting desired instance count to 2.",
                                                            "minimum capacity was set to 2")


@pytest.mark.parametrize("configuration, message", [
    ({"TargetValue": 5.0, "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"}},
     "Unsupported metric type SageMakerVariantProvisionedConcurrencyUtilization"),
    ({"TargetValue": 5.0, "CustomizedMetricSpecification": {
        "MetricName": "Latency", "Namespace": "Pawflow", "Statistic": "Average"}},
     "The local runtime tracks customized metrics by their Sum per period"),
    ({"TargetValue": 5.0}, "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification"),
])
def test_policies_the_runtime_cannot_act_on_are_refused_clearly(aws, endpoint, configuration, message):
    scaling = aws("application-autoscaling")
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION,
                                     MinCapacity=1, MaxCapacity=2)

    with pytest.raises(ClientError) as error:
        scaling.put_scaling_policy(PolicyName="p", ServiceNamespace="sagemaker", ResourceId=resource,
                                   ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
                                   TargetTrackingScalingPolicyConfiguration=configuration)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"].startswith(message)


def test_a_variant_of_a_failed_endpoint_is_refused(aws, failed_endpoint):
    with pytest.raises(ClientError) as error:
        aws("application-autoscaling").register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=f"endpoint/{failed_endpoint}/variant/AllTraffic",
            ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=2)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        f"The endpoint {failed_endpoint} is in Failed status. A variant can be registered as a scalable target "
        f"only when its endpoint is InService")


def test_a_variant_of_an_endpoint_still_creating_is_refused(aws, creating_endpoint):
    with pytest.raises(ClientError) as error:
        aws("application-autoscaling").register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=f"endpoint/{creating_endpoint}/variant/AllTraffic",
            ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=2)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        f"The endpoint {creating_endpoint} is in Creating status. A variant can be registered as a scalable target "
        f"only when its endpoint is InService")
