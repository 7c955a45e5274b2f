"""SageMaker replies shaped as AWS shapes them: empty optional members omitted, the fields clients read filled in.

moto writes every attribute of a record, so a Describe reply carries ``"VpcConfig": {}``, ``"Containers": []`` or
``"DataCaptureConfig": {}`` where AWS writes nothing (and sagemaker-core's pydantic classes refuse an empty
structure whose members are required). :func:`omit_empty` drops, by the operation's output shape, members that
are not required and hold nothing: empty structures everywhere, and in Describe replies empty lists and maps
too (list operations keep their empty lists, as AWS sends them, and so do a tuning job's parameter ranges, whose
three lists AWS always reports and the SageMaker Python SDK v2's ``attach`` indexes). :func:`filled` adds what AWS always reports:
``OutputDataConfig.KmsKeyId`` (empty when none was given), a tuning job's ``_tuning_objective_metric`` static
hyperparameter (also in each trial's hyperparameters), a tuning job definition's ``ResourceConfig`` when it was
given as ``HyperParameterTuningResourceConfig`` (the SageMaker Python SDK v2 always sends that, and its
``HyperparameterTuner.attach`` reads ``ResourceConfig`` back), and each endpoint variant's ``CurrentWeight`` and
``DesiredWeight``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from local_aws.service_limits import trial_resources

TUNING_OBJECTIVE_METRIC = "_tuning_objective_metric"

#: The parameter-range lists a tuning job always reports, empty or not.
RANGE_TYPES = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")

_NOTHING = object()


def omit_empty(shape: Shape, value: Any, lists_too: bool) -> Any:
    """``value`` without its optional members that hold nothing; ``_NOTHING`` when it is itself empty."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        lists_too = lists_too and shape.name != "ParameterRanges"
        kept = {}
        for name, item in value.items():
            member = shape.members.get(name)
            cleaned = omit_empty(member, item, lists_too) if member is not None else item
            if cleaned is _NOTHING and name not in shape.required_members:
                continue
            kept[name] = {} if cleaned is _NOTHING else cleaned
        return kept if kept else _NOTHING
    if isinstance(shape, ListShape) and isinstance(value, list):
        items = [omit_empty(shape.member, item, lists_too) for item in value]
        items = [{} if item is _NOTHING else item for item in items]
        return items if items or not lists_too else _NOTHING
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return value if value or not lists_too else _NOTHING
    return _NOTHING if value is None else value


def shaped(output_shape: StructureShape, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """The reply of ``operation`` without the empty optional members AWS omits."""
    cleaned = omit_empty(output_shape, body, lists_too=operation.startswith("Describe"))
    return {} if cleaned is _NOTHING else cleaned


def _output_config_with_key(config: Any) -> None:
    if isinstance(config, dict):
        config.setdefault("KmsKeyId", "")


def filled(operation: str, body: dict[str, Any], objective_metric: Callable[[str], str | None],
           variant_weights: Callable[[str], dict[str, float]]) -> dict[str, Any]:
    """``body`` with the fields AWS always reports. ``objective_metric(tuning_job_name)`` is a tuning job's
    objective metric name; ``variant_weights(endpoint_config_name)`` the variants' initial weights."""
    if operation == "DescribeTrainingJob":
        _output_config_with_key(body.get("OutputDataConfig"))
        tuning_arn = body.get("TuningJobArn")
        metric = objective_metric(tuning_arn.rsplit("/", 1)[-1]) if tuning_arn else None
        if metric:
            body["HyperParameters"] = {**(body.get("HyperParameters") or {}), TUNING_OBJECTIVE_METRIC: metric}
    elif operation == "DescribeHyperParameterTuningJob":
        metric = (body.get("HyperParameterTuningJobConfig", {}).get("HyperParameterTuningJobObjective") or {}).get(
            "MetricName")
        definitions = body.get("TrainingJobDefinitions") or []
        ranges = [(body.get("HyperParameterTuningJobConfig") or {}).get("ParameterRanges"),
                  *((definition or {}).get("HyperParameterRanges") for definition in definitions)]
        for parameter_ranges in ranges:
            if isinstance(parameter_ranges, dict):
                for range_type in RANGE_TYPES:
                    parameter_ranges.setdefault(range_type, [])
        for definition in [body.get("TrainingJobDefinition"), *(body.get("TrainingJobDefinitions") or [])]:
            if isinstance(definition, dict):
                _output_config_with_key(definition.get("OutputDataConfig"))
                if definition.get("ResourceConfig") is None and definition.get("HyperParameterTuningResourceConfig"):
                    definition["ResourceConfig"] = trial_resources(definition["HyperParameterTuningResourceConfig"])
                named = (definition.get("TuningObjective") or {}).get("MetricName") or metric
                if named:
                    definition["StaticHyperParameters"] = {**(definition.get("StaticHyperParameters") or {}),
                                                           TUNING_OBJECTIVE_METRIC: named}
    elif operation == "DescribeEndpoint":
        weights = variant_weights(body.get("EndpointConfigName") or "")
        for variant in body.get("ProductionVariants") or []:
            weight = float(weights.get(variant.get("VariantName"), 1.0))
            variant.setdefault("CurrentWeight", weight)
            variant.setdefault("DesiredWeight", weight)
            if "CurrentInstanceCount" in variant:
                variant.setdefault("DesiredInstanceCount", variant["CurrentInstanceCount"])
    return body
