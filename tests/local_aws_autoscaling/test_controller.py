"""The controller acts on a variant through an injected scaler: cooldowns, settling and failures of activities."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from local_aws.applicationautoscaling.controller import TargetTrackingController

RESOURCE = "endpoint/dogs/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class FakeVariants:
    """A variant whose count changes when scaled and whose metric is whatever the test sets."""

    def __init__(self, count: int = 1):
        self.count = count
        self.status = "InService"
        self.per_period: float | None = 0.0
        self.calls: list[int] = []
        self.fail_with: Exception | None = None

    def variant(self, account_id, region, endpoint, variant):
        return self.status, self.count

    def scale(self, account_id, region, endpoint, variant, desired):
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append(desired)
        self.count = desired

    def metric_sum(self, account_id, region, namespace, metric, dimensions, start, end):
        return self.per_period


class FakeBackend:
    def __init__(self, cooldown: float, minimum: int = 1, maximum: int = 4):
        self.lock = threading.RLock()
        self.activities = []
        target = SimpleNamespace(service_namespace="sagemaker", resource_id=RESOURCE, scalable_dimension=DIMENSION,
                                 min_capacity=minimum, max_capacity=maximum, suspended_state=None)
        self.targets = {DIMENSION: {RESOURCE: target}}
        self.policies = {"p": SimpleNamespace(
            service_namespace="sagemaker", policy_type="TargetTrackingScaling", resource_id=RESOURCE,
            scalable_dimension=DIMENSION, policy_name="invocations", alarms=[],
            target_tracking_scaling_policy_configuration={
                "TargetValue": 10.0, "ScaleOutCooldown": cooldown, "ScaleInCooldown": cooldown,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})}

    def record_activity(self, activity):
        self.activities.append(activity)
        return activity


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


def controller_for(backend, variants, clock):
    return TargetTrackingController(1.0, scaler=variants, backends=lambda: [("123456789012", "us-east-1", backend)],
                                    clock=clock)


def test_scale_outs_are_spaced_by_the_cooldown_and_settle_when_the_variant_has_the_count():
    backend, variants, clock = FakeBackend(cooldown=10), FakeVariants(count=1), Clock()
    controller = controller_for(backend, variants, clock)
    variants.per_period = 25.0

    controller.tick()
    assert variants.calls == [3]
    assert backend.activities[0].status_code == "InProgress"
    clock.now += 1
    controller.tick()
    assert backend.activities[0].status_code == "Successful"
    assert backend.activities[0].status_message == (
        "Successfully set desired instance count to 3. Change successfully fulfilled by sagemaker.")

    variants.per_period = 40.0
    for _ in range(8):
        clock.now += 1
        controller.tick()
    assert variants.calls == [3]
    clock.now += 1
    controller.tick()
    assert variants.calls == [3, 4]


def test_an_activity_stays_in_progress_while_the_endpoint_updates():
    backend, variants, clock = FakeBackend(cooldown=0), FakeVariants(count=1), Clock()
    controller = controller_for(backend, variants, clock)
    variants.per_period = 25.0
    controller.tick()
    variants.status = "Updating"
    variants.count = 1

    clock.now += 5
    controller.tick()

    assert [a.status_code for a in backend.activities] == ["InProgress"]
    assert variants.calls == [3]


def test_a_failed_scaling_call_is_a_failed_activity_with_the_reason():
    backend, variants, clock = FakeBackend(cooldown=0), FakeVariants(count=1), Clock()
    variants.per_period = 25.0
    variants.fail_with = RuntimeError("endpoint is being deleted")

    controller_for(backend, variants, clock).tick()

    activity = backend.activities[0]
    assert activity.status_code == "Failed"
    assert activity.status_message == "Failed to set desired instance count to 3. Reason: endpoint is being deleted"


def test_a_count_below_the_minimum_is_raised_to_it_without_any_metric():
    backend, variants, clock = FakeBackend(cooldown=0, minimum=2), FakeVariants(count=1), Clock()
    variants.per_period = None

    controller_for(backend, variants, clock).tick()

    assert variants.calls == [2]
    assert backend.activities[0].cause == "minimum capacity was set to 2"


def test_a_customized_metric_is_read_from_its_own_namespace_and_dimensions():
    backend, variants, clock = FakeBackend(cooldown=0), FakeVariants(count=1), Clock()
    policy = backend.policies["p"]
    policy.target_tracking_scaling_policy_configuration = {
        "TargetValue": 10.0, "CustomizedMetricSpecification": {
            "MetricName": "ImagesClassified", "Namespace": "Pawflow", "Statistic": "Sum",
            "Dimensions": [{"Name": "Endpoint", "Value": "dogs"}]}}
    asked = []

    def metric_sum(account_id, region, namespace, metric, dimensions, start, end):
        asked.append((namespace, metric, dimensions))
        return 30.0

    variants.metric_sum = metric_sum
    controller_for(backend, variants, clock).tick()

    assert set(map(str, asked)) == {str(("Pawflow", "ImagesClassified", [{"Name": "Endpoint", "Value": "dogs"}]))}
    assert variants.calls == [3]
