"""SageMaker's documented limits that its service model does not carry, checked before a request does any work.

botocore's shapes say what a member may hold; SageMaker refuses more: a training job needs its algorithm, its
stopping condition and its instances (``ResourceConfig`` has no required members in the model because
``InstanceGroups`` may replace them, which this runtime does not run); instances count against the account's
quota per instance type (``ResourceLimitExceeded``, in AWS's Service Quotas wording); a tuning job's limits
(at most 750 training jobs, parallel jobs no more than the total, 30 hyperparameters, ranges that are finite
numbers with MinValue <= MaxValue) and its resources (``ResourceConfig`` or ``HyperParameterTuningResourceConfig``).
``refusal(operation, params, ...)`` is the first limit a request breaks, or None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Instances of one type that the account may run at once, per use (AWS's default quotas vary by type and account;
#: a local machine runs each instance as processes, so the runtime's quota is small).
INSTANCE_QUOTA = 20
#: SageMaker's hyperparameter tuning limits (the SageMaker Developer Guide's "Limits and quotas").
MAX_TRAINING_JOBS_PER_TUNING_JOB = 750
MAX_TUNED_HYPERPARAMETERS = 30
#: SageMaker Runtime's InvokeEndpoint request payload limit (6 MB).
INVOKE_ENDPOINT_MAX_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class Refusal:
    """The error SageMaker answers with: its code, message and HTTP status."""

    code: str
    message: str
    status: int = 400


def validation_error(message: str) -> Refusal:
    return Refusal("ValidationException", message)


def missing(path: str) -> Refusal:
    return validation_error(f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: "
                            "Member must not be null")


def quota_exceeded(instance_type: str, use: str, utilization: int, delta: int) -> Refusal:
    return Refusal("ResourceLimitExceeded",
                   f"The account-level service limit '{instance_type} for {use} usage' is {INSTANCE_QUOTA} Instances, "
                   f"with current utilization of {utilization} Instances and a request delta of {delta} Instances. "
                   "Please use AWS Service Quotas to request an increase for this quota. If AWS Service Quotas is "
                   "not available, contact AWS support to request an increase for this quota.")


#: Instances in use by instance type, for a use ("training job" or "endpoint").
Utilization = Callable[[str, str], int]


def instances_refusal(resources: Mapping[str, Any] | None, path: str, use: str,
                      utilization: Utilization) -> Refusal | None:
    """A training job's (or tuning trial's) instances: present, at least one, within the account's quota."""
    if not isinstance(resources, Mapping):
        return missing(path)
    if resources.get("InstanceType") is None:
        return missing(f"{path}.instanceType")
    count = resources.get("InstanceCount")
    if count is None:
        return missing(f"{path}.instanceCount")
    if count < 1:
        return validation_error(f"1 validation error detected: Value '{count}' at '{path}.instanceCount' failed to "
                                "satisfy constraint: Member must have value greater than or equal to 1")
    used = utilization(resources["InstanceType"], use)
    if used + count > INSTANCE_QUOTA:
        return quota_exceeded(resources["InstanceType"], use, used, count)
    return None


def training_job_refusal(params: Mapping[str, Any], utilization: Utilization) -> Refusal | None:
    for member in ("AlgorithmSpecification", "StoppingCondition"):
        if params.get(member) is None:
            return missing(member[:1].lower() + member[1:])
    return instances_refusal(params.get("ResourceConfig"), "resourceConfig", "training job", utilization)


def _number(text: Any, integer: bool) -> float | None:
    try:
        value = int(text) if integer else float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def ranges_refusal(ranges: Mapping[str, Any]) -> Refusal | None:
    count = sum(len(ranges.get(kind) or []) for kind in
                ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges"))
    if count > MAX_TUNED_HYPERPARAMETERS:
        return validation_error(f"The number of hyperparameters to tune ({count}) exceeds the limit of "
                                f"{MAX_TUNED_HYPERPARAMETERS}.")
    for kind, integer in (("IntegerParameterRanges", True), ("ContinuousParameterRanges", False)):
        for item in ranges.get(kind) or []:
            low, high = _number(item.get("MinValue"), integer), _number(item.get("MaxValue"), integer)
            name = item.get("Name")
            if low is None or high is None:
                kind_name = "an integer" if integer else "a finite number"
                return validation_error(f"The MinValue '{item.get('MinValue')}' and MaxValue '{item.get('MaxValue')}' "
                                        f"of hyperparameter '{name}' must each be {kind_name}.")
            if low > high:
                return validation_error(f"The MinValue '{item.get('MinValue')}' of hyperparameter '{name}' is greater "
                                        f"than its MaxValue '{item.get('MaxValue')}'.")
    return None


def tuning_job_refusal(params: Mapping[str, Any], utilization: Utilization) -> Refusal | None:
    config = params.get("HyperParameterTuningJobConfig") or {}
    limits = config.get("ResourceLimits") or {}
    total, parallel = limits.get("MaxNumberOfTrainingJobs"), limits.get("MaxParallelTrainingJobs")
    if total is not None and total > MAX_TRAINING_JOBS_PER_TUNING_JOB:
        return Refusal("ResourceLimitExceeded",
                       f"The value of MaxNumberOfTrainingJobs ({total}) exceeds the limit of "
                       f"{MAX_TRAINING_JOBS_PER_TUNING_JOB} training jobs per hyperparameter tuning job.")
    if total is not None and parallel is not None and parallel > total:
        return validation_error(f"MaxParallelTrainingJobs ({parallel}) cannot be greater than "
                                f"MaxNumberOfTrainingJobs ({total}).")
    refused = ranges_refusal(config.get("ParameterRanges") or {})
    if refused is not None:
        return refused
    definition = params.get("TrainingJobDefinition")
    if definition is not None:
        return definition_refusal(definition, "trainingJobDefinition", utilization)
    for index, each in enumerate(params.get("TrainingJobDefinitions") or [], start=1):
        refused = (ranges_refusal(each.get("HyperParameterRanges") or {})
                   or definition_refusal(each, f"trainingJobDefinitions.{index}.member", utilization))
        if refused is not None:
            return refused
    return None


def definition_refusal(definition: Mapping[str, Any], path: str, utilization: Utilization) -> Refusal | None:
    """A tuning job's training job definition without a stopping condition or resources, or over the quota."""
    if definition.get("StoppingCondition") is None:
        return missing(f"{path}.stoppingCondition")
    if definition.get("ResourceConfig") is not None:
        path, resources = f"{path}.resourceConfig", definition["ResourceConfig"]
    elif definition.get("HyperParameterTuningResourceConfig") is not None:
        path = f"{path}.hyperParameterTuningResourceConfig"
        resources = trial_resources(definition["HyperParameterTuningResourceConfig"])
    else:
        return validation_error("Either ResourceConfig or HyperParameterTuningResourceConfig must be specified "
                                "in the TrainingJobDefinition.")
    return instances_refusal(resources, path, "training job", utilization)


def trial_resources(config: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's ``ResourceConfig`` from a ``HyperParameterTuningResourceConfig``: its instance type and count, or
    with ``InstanceConfigs`` the first configuration (``AllocationStrategy: Prioritized`` tries them in order, and a
    local machine never runs out of the first)."""
    chosen = (config.get("InstanceConfigs") or [config])[0]
    resources = {key: chosen[key] for key in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if key in chosen}
    if config.get("VolumeKmsKeyId"):
        resources["VolumeKmsKeyId"] = config["VolumeKmsKeyId"]
    return resources


def endpoint_config_refusal(params: Mapping[str, Any], utilization: Utilization) -> Refusal | None:
    for index, variant in enumerate(params.get("ProductionVariants") or [], start=1):
        if variant.get("ServerlessConfig") is not None:
            continue
        path = f"productionVariants.{index}.member"
        if variant.get("InstanceType") is None:
            return missing(f"{path}.instanceType")
        count = variant.get("InitialInstanceCount")
        if count is None:
            return missing(f"{path}.initialInstanceCount")
        used = utilization(variant["InstanceType"], "endpoint")
        if used + count > INSTANCE_QUOTA:
            return quota_exceeded(variant["InstanceType"], "endpoint", used, count)
    return None


_CHECKS: dict[str, Callable[[Mapping[str, Any], Utilization], Refusal | None]] = {
    "CreateTrainingJob": training_job_refusal,
    "CreateHyperParameterTuningJob": tuning_job_refusal,
    "CreateEndpointConfig": endpoint_config_refusal,
}


def refusal(operation: str, params: Mapping[str, Any], utilization: Utilization) -> Refusal | None:
    """The first SageMaker limit the request breaks, or None (``utilization`` counts instances already in use)."""
    check = _CHECKS.get(operation)
    return check(params, utilization) if check is not None else None
