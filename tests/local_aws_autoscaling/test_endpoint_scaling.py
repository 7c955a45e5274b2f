"""Target tracking on InvocationsPerInstance really scales an endpoint variant out and back in under load.

The test asserts what target tracking guarantees, not how many steps it takes: under load the variant scales out
and reaches its maximum without passing it; eased, it scales back to its minimum; every step is a recorded activity
naming its alarm, and steps of one direction are at least their cooldown apart. Deadlines derive from the server's
metric period, the alarms' datapoints and the cooldowns (``tests/timeouts.py`` scales them to the machine).
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from botocore.exceptions import ClientError

from local_aws.applicationautoscaling.target_tracking import HIGH_DATAPOINTS, LOW_DATAPOINTS
from tests.timeouts import scaled

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
TRACKING = {
    "TargetValue": 3.0,
    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
    "ScaleOutCooldown": 4,
    "ScaleInCooldown": 4,
}
MIN_CAPACITY, MAX_CAPACITY = 1, 3
#: Load that keeps every instance above the target even at the maximum (12 / 3 = 4 > 2 invocations per period),
#: and load under 90 % of it from two instances on (2 / 2 = 1 < 1.8), each period getting some.
LOAD_TRACKING = {**TRACKING, "TargetValue": 2.0}
HEAVY_PER_SECOND, LIGHT_PER_SECOND = 12, 2
#: Seconds a new serving instance takes to come up on a quiet machine.
INSTANCE_START_SECONDS = 5


def scaling_deadlines(metric_period: float) -> tuple[float, float]:
    """Seconds to reach the maximum under load, and then the minimum once eased.

    Target tracking may take one step per instance added or removed; each step waits for its alarm's datapoints,
    its cooldown and (scaling out) the new instance.
    """
    steps = MAX_CAPACITY - MIN_CAPACITY
    out = steps * (HIGH_DATAPOINTS * metric_period + TRACKING["ScaleOutCooldown"] + INSTANCE_START_SECONDS)
    back = steps * (LOW_DATAPOINTS * metric_period + max(TRACKING["ScaleInCooldown"], TRACKING["ScaleOutCooldown"]))
    return scaled(out), scaled(back)


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


def scaling_activities(scaling, resource: str) -> list[dict]:
    """The target's scaling activities, newest first."""
    return scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingActivities"]


def desired_count(activity: dict) -> int:
    """The instance count an activity set, read from AWS's ``Setting desired instance count to N.``."""
    match = re.fullmatch(r"Setting desired instance count to (\d+)\.", activity["Description"])
    assert match, activity["Description"]
    return int(match.group(1))


def test_the_variant_scales_out_under_load_to_its_maximum_and_back_in_when_it_eases(aws, endpoint, wait_until,
                                                                                     metric_period_seconds):
    out_deadline, in_deadline = scaling_deadlines(metric_period_seconds)
    scaling = aws("application-autoscaling")
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION,
                                     MinCapacity=MIN_CAPACITY, MaxCapacity=MAX_CAPACITY)
    policy = scaling.put_scaling_policy(
        PolicyName="invocations", ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=LOAD_TRACKING)
    high = next(a["AlarmName"] for a in policy["Alarms"] if "-AlarmHigh-" in a["AlarmName"])
    low = next(a["AlarmName"] for a in policy["Alarms"] if "-AlarmLow-" in a["AlarmName"])
    seen = []

    def observed_count() -> int:
        seen.append(instance_count(aws, endpoint))
        return seen[-1]

    with LoopbackLoad(aws("sagemaker-runtime"), endpoint, per_second=HEAVY_PER_SECOND,
                      limit_seconds=out_deadline + in_deadline) as load:
        wait_until(observed_count, lambda count: count == MAX_CAPACITY, timeout=out_deadline)
        load.per_second = LIGHT_PER_SECOND
        wait_until(observed_count, lambda count: count == MIN_CAPACITY, timeout=in_deadline)

    assert max(seen) == MAX_CAPACITY
    assert load.sent > 0
    activities = wait_until(lambda: scaling_activities(scaling, resource),
                            lambda found: found and all(a["StatusCode"] != "InProgress" for a in found))
    assert [a["StatusCode"] for a in activities] == ["Successful"] * len(activities)
    oldest_first = activities[::-1]
    scale_outs = [a for a in oldest_first if a["Cause"] == f"monitor alarm {high} in state ALARM triggered policy invocations"]
    scale_ins = [a for a in oldest_first if a["Cause"] == f"monitor alarm {low} in state ALARM triggered policy invocations"]
    assert len(scale_outs) + len(scale_ins) == len(activities), [a["Cause"] for a in activities]
    out_counts = [desired_count(a) for a in scale_outs]
    assert out_counts == sorted(set(out_counts)) and out_counts[-1] == MAX_CAPACITY, out_counts
    assert all(MIN_CAPACITY < count <= MAX_CAPACITY for count in out_counts), out_counts
    in_counts = [desired_count(a) for a in scale_ins]
    assert in_counts == sorted(set(in_counts), reverse=True) and in_counts[-1] == MIN_CAPACITY, in_counts
    assert scale_ins[-1]["StatusMessage"] == (
        f"Successfully set desired instance count to {MIN_CAPACITY}. Change successfully fulfilled by sagemaker.")
    for kind, cooldown in ((scale_outs, "ScaleOutCooldown"), (scale_ins, "ScaleInCooldown")):
        starts = [a["StartTime"] for a in kind]
        assert all((later - earlier).total_seconds() >= LOAD_TRACKING[cooldown]
                   for earlier, later in zip(starts, starts[1:])), starts


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


@pytest.mark.parametrize("endpoint_fixture, status", [("failed_endpoint", "Failed"),
                                                     ("creating_endpoint", "Creating")])
def test_a_variant_of_an_endpoint_not_in_service_is_refused(aws, request, endpoint_fixture, status):
    name = request.getfixturevalue(endpoint_fixture)
    with pytest.raises(ClientError) as error:
        aws("application-autoscaling").register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=f"endpoint/{name}/variant/AllTraffic",
            ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=2)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        f"The endpoint {name} is in {status} status. A variant can be registered as a scalable target "
        f"only when its endpoint is InService")
