"""The loop that makes target tracking act: every metric period, read the metric, decide, scale the variant.

For each SageMaker target-tracking policy it reads the policy's metric (``InvocationsPerInstance`` or the
customized metric, Sum per period) from CloudWatch, sets the policy's high and low alarms, and when
``target_tracking.decide`` asks for a new capacity it records a scaling activity and calls the endpoint's
UpdateEndpointWeightsAndCapacities path, which starts or stops serving workers. The activity stays InProgress until the endpoint is InService with that many instances.
Scalable targets outside their [min, max] are brought back inside, as AWS does after RegisterScalableTarget.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from local_aws.applicationautoscaling.models import (
    SAGEMAKER_RESOURCE,
    LocalApplicationAutoscalingBackend,
    ScalingActivity,
    tracked_metric,
)
from local_aws.applicationautoscaling.target_tracking import (
    ALARM,
    LOW_DATAPOINTS,
    TrackingState,
    decide,
    high_alarm_state,
    low_alarm_state,
)
from local_aws import moto_seam
from local_aws.moto_seam import cloudwatch_backend, sagemaker_backend

logger = logging.getLogger(__name__)


class VariantScaler(Protocol):
    """What the controller needs from SageMaker and CloudWatch (the defaults read moto's backends in process)."""

    def variant(self, account_id: str, region: str, endpoint: str, variant: str) -> tuple[str, int] | None:
        """(endpoint status, current instance count) or None when the endpoint or variant is gone."""

    def scale(self, account_id: str, region: str, endpoint: str, variant: str, desired: int) -> None:
        """Set the variant's desired instance count."""

    def restored_count(self, account_id: str, region: str, endpoint: str, variant: str) -> tuple[int, int] | None:
        """After a restart: (count the variant comes back with, its config's initial count), or None."""

    def metric_sum(self, account_id: str, region: str, namespace: str, metric: str, dimensions: list[dict],
                   start: float, end: float) -> float | None:
        """Sum of the metric over [start, end) in epoch seconds, None without data."""


class SageMakerVariants:
    """``VariantScaler`` over moto's SageMaker and CloudWatch backends (the runtime's own subclasses)."""

    def variant(self, account_id: str, region: str, endpoint: str, variant: str) -> tuple[str, int] | None:
        found = moto_seam.sagemaker_endpoint(sagemaker_backend(region, account_id), endpoint)
        if found is None:
            return None
        for production_variant in found.production_variants:
            if production_variant["VariantName"] == variant:
                count = production_variant.get("CurrentInstanceCount")
                if count is None:
                    count = production_variant.get("InitialInstanceCount", 0)
                return found.endpoint_status, int(count)
        return None

    def scale(self, account_id: str, region: str, endpoint: str, variant: str, desired: int) -> None:
        sagemaker_backend(region, account_id).update_endpoint_weights_and_capacities(
            endpoint, [{"VariantName": variant, "DesiredInstanceCount": desired}])

    def restored_count(self, account_id: str, region: str, endpoint: str, variant: str) -> tuple[int, int] | None:
        """After a restart: the instance count the variant is brought back to (its desired count when the runtime
        stopped) and its config's initial count; None for a variant that is not coming back."""
        backend = sagemaker_backend(region, account_id)
        found = moto_seam.sagemaker_endpoint(backend, endpoint)
        if found is None or found.endpoint_status == "Failed":
            return None
        config = moto_seam.endpoint_config(backend, found.endpoint_config_name)
        initial = next((int(v.get("InitialInstanceCount", 1)) for v in (config.production_variants if config else [])
                        if v["VariantName"] == variant), None)
        for production_variant in found.production_variants or []:
            if production_variant["VariantName"] == variant:
                count = production_variant.get("DesiredInstanceCount", production_variant.get("CurrentInstanceCount"))
                return (int(count), initial) if count is not None and initial is not None else None
        return None

    def metric_sum(self, account_id: str, region: str, namespace: str, metric: str, dimensions: list[dict],
                   start: float, end: float) -> float | None:
        wanted = {(d["Name"], d["Value"]) for d in dimensions}
        total = None
        for datum in cloudwatch_backend(region, account_id).get_all_metrics():
            if datum.namespace != namespace or datum.name != metric:
                continue
            if not wanted <= {(d.name, d.value) for d in datum.dimensions}:
                continue
            if not start <= _epoch(datum.timestamp) < end:
                continue
            value = getattr(datum, "value", None)
            if value is None:
                value = getattr(datum, "sum", None)
            if value is not None:
                total = (total or 0.0) + float(value)
        return total


@dataclass
class _History:
    last_scale_out: float | None = None
    last_scale_in: float | None = None
    pending: ScalingActivity | None = None
    desired: int | None = None


class TargetTrackingController:
    """Runs target tracking for every SageMaker variant with a TargetTrackingScaling policy."""

    def __init__(self, metric_period_seconds: float = 60.0, scaler: VariantScaler | None = None,
                 backends: Callable[[], list[tuple[str, str, LocalApplicationAutoscalingBackend]]] | None = None,
                 clock: Callable[[], float] = time.time):
        if metric_period_seconds <= 0:
            raise ValueError(f"metric period must be positive; got {metric_period_seconds}")
        self.period = float(metric_period_seconds)
        self.scaler = scaler or SageMakerVariants()
        self._backends = backends or _moto_backends
        self._clock = clock
        self._history: dict[tuple[str, str, str, str], _History] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="target-tracking", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop the loop (it ends within a tick)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        """Forget what it has seen of every target (moto's reset has removed the targets)."""
        self._history.clear()

    def restore_after_restart(self) -> None:
        """After a restart: activities the stop cut short end Failed, and a variant brought back to a count other
        than its config's initial one (autoscaling set it) gets a scaling activity, Successful once it serves."""
        now = self._clock()
        for account_id, region, backend in self._backends():
            with backend.lock:
                for activity in backend.activities:
                    if activity.status_code == "InProgress":
                        activity.status_code = "Failed"
                        target_count = activity.description.rsplit(" ", 1)[-1].rstrip(".")
                        activity.status_message = (f"Failed to set desired instance count to {target_count}. Reason: "
                                                   "the local runtime stopped before the change was fulfilled.")
                        activity.end_time = _utc(now)
                targets = [t for t in moto_seam.scalable_targets(backend) if t.service_namespace == "sagemaker"]
            for target in targets:
                match = SAGEMAKER_RESOURCE.match(target.resource_id)
                counts = match and self.scaler.restored_count(account_id, region, match["endpoint"], match["variant"])
                if not counts or counts[0] == counts[1]:
                    continue
                history = self._history.setdefault((account_id, region, target.resource_id, target.scalable_dimension),
                                                   _History())
                history.pending = backend.record_activity(ScalingActivity(
                    service_namespace=target.service_namespace, resource_id=target.resource_id,
                    scalable_dimension=target.scalable_dimension,
                    description=f"Setting desired instance count to {counts[0]}.",
                    cause="the local runtime restarted: restoring the instance count set before it stopped",
                    start_time=_utc(now)))
                history.desired = counts[0]

    def _run(self) -> None:
        tick_every = min(1.0, self.period / 2)
        while not self._stop.wait(timeout=tick_every):
            try:
                self.tick()
            except Exception:
                logger.exception("Target tracking tick failed")

    def tick(self) -> None:
        """Evaluate every target once."""
        now = self._clock()
        for account_id, region, backend in self._backends():
            with backend.lock:
                policies = [p for p in moto_seam.scaling_policies(backend)
                            if p.service_namespace == "sagemaker" and p.policy_type == "TargetTrackingScaling"]
                targets = [t for t in moto_seam.scalable_targets(backend) if t.service_namespace == "sagemaker"]
            for target in targets:
                policy = next((p for p in policies if p.resource_id == target.resource_id
                               and p.scalable_dimension == target.scalable_dimension), None)
                try:
                    self._track(account_id, region, backend, target, policy, now)
                except Exception:
                    logger.exception("Target tracking failed for %s", target.resource_id)

    def _track(self, account_id: str, region: str, backend: LocalApplicationAutoscalingBackend, target: Any,
               policy: Any, now: float) -> None:
        match = SAGEMAKER_RESOURCE.match(target.resource_id)
        if match is None:
            return
        endpoint, variant = match["endpoint"], match["variant"]
        history = self._history.setdefault((account_id, region, target.resource_id, target.scalable_dimension), _History())
        state = self.scaler.variant(account_id, region, endpoint, variant)
        if state is None:
            return
        status, current = state
        if history.pending is not None:
            self._settle(history, status, current)
            return
        if status != "InService":
            return
        if current < target.min_capacity or current > target.max_capacity:
            bound = target.min_capacity if current < target.min_capacity else target.max_capacity
            kind = "minimum" if current < target.min_capacity else "maximum"
            self._scale(account_id, region, backend, target, endpoint, variant, bound,
                        f"{kind} capacity was set to {bound}", history, now, scale_out=current < bound)
            return
        if policy is None:
            return
        config = policy.target_tracking_scaling_policy_configuration or {}
        datapoints = self._datapoints(account_id, region, policy, now)
        target_value = float(config["TargetValue"])
        self._set_alarm_states(account_id, region, policy, datapoints, target_value)
        suspended = target.suspended_state or {}
        decision = decide(datapoints, TrackingState(
            current=current, minimum=target.min_capacity, maximum=target.max_capacity, target=target_value,
            scale_out_cooldown=float(config.get("ScaleOutCooldown", 300)),
            scale_in_cooldown=float(config.get("ScaleInCooldown", 300)),
            last_scale_out=history.last_scale_out, last_scale_in=history.last_scale_in,
            scale_in_disabled=bool(config.get("DisableScaleIn")) or bool(suspended.get("DynamicScalingInSuspended")),
        ), now)
        if decision is None or (decision.alarm == "high" and suspended.get("DynamicScalingOutSuspended")):
            return
        alarm = _alarm_name(policy, "AlarmHigh" if decision.alarm == "high" else "AlarmLow")
        cause = f"monitor alarm {alarm} in state ALARM triggered policy {policy.policy_name}"
        self._scale(account_id, region, backend, target, endpoint, variant, decision.desired, cause, history, now,
                    scale_out=decision.alarm == "high")

    def _scale(self, account_id: str, region: str, backend: LocalApplicationAutoscalingBackend, target: Any,
               endpoint: str, variant: str, desired: int, cause: str, history: _History, now: float,
               scale_out: bool) -> None:
        activity = backend.record_activity(ScalingActivity(
            service_namespace=target.service_namespace, resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            description=f"Setting desired instance count to {desired}.", cause=cause,
            start_time=_utc(now)))
        if scale_out:
            history.last_scale_out = now
        else:
            history.last_scale_in = now
        logger.info("%s: %s (%s)", target.resource_id, activity.description, cause)
        try:
            self.scaler.scale(account_id, region, endpoint, variant, desired)
        except Exception as exc:
            activity.status_code = "Failed"
            activity.status_message = f"Failed to set desired instance count to {desired}. Reason: {exc}"
            activity.end_time = _utc(self._clock())
            return
        history.pending = activity
        history.desired = desired

    def _settle(self, history: _History, status: str, current: int) -> None:
        activity = history.pending
        if status == "InService" and current == history.desired:
            activity.status_code = "Successful"
            activity.status_message = (f"Successfully set desired instance count to {history.desired}. "
                                       "Change successfully fulfilled by sagemaker.")
        elif status == "Failed":
            activity.status_code = "Failed"
            activity.status_message = f"Failed to set desired instance count to {history.desired}. Reason: the endpoint failed."
        else:
            return
        activity.end_time = _utc(self._clock())
        history.pending = None

    def _datapoints(self, account_id: str, region: str, policy: Any, now: float) -> list[float | None]:
        metric = tracked_metric(policy.target_tracking_scaling_policy_configuration or {}, policy.resource_id)
        last_complete = (now // self.period) * self.period
        points = []
        for index in range(LOW_DATAPOINTS, 0, -1):
            start = last_complete - index * self.period
            points.append(self.scaler.metric_sum(account_id, region, metric.namespace, metric.name,
                                                 metric.dimensions, start, start + self.period))
        return points

    def _set_alarm_states(self, account_id: str, region: str, policy: Any, datapoints: list[float | None],
                          target: float) -> None:
        cloudwatch = cloudwatch_backend(region, account_id)
        for alarm in policy.alarms:
            state = (high_alarm_state if "-AlarmHigh-" in alarm.name else low_alarm_state)(datapoints, target)
            if alarm.state_value != state:
                reason = f"Threshold Crossed: recent datapoints were {'breaching' if state == ALARM else 'not breaching'} the threshold"
                try:
                    cloudwatch.set_alarm_state(alarm.name, reason, None, state)
                except Exception:
                    logger.debug("Alarm %s is gone", alarm.name)


def _alarm_name(policy: Any, kind: str) -> str:
    for alarm in policy.alarms:
        if f"-{kind}-" in alarm.name:
            return alarm.name
    return f"TargetTracking-{policy.resource_id}-{kind}"


def _moto_backends() -> list[tuple[str, str, LocalApplicationAutoscalingBackend]]:
    return [(account, region, backend) for account, region, backend in moto_seam.autoscaling_backends_created()
            if isinstance(backend, LocalApplicationAutoscalingBackend)]


def _epoch(moment: datetime) -> float:
    """Epoch seconds of a CloudWatch timestamp (moto keeps naive UTC datetimes)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)
