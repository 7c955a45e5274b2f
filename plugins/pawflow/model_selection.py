"""Choose the model to serve among finished training jobs by their test metric."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pawflow.sagemaker_config import final_metric


def choose_training_job(
    results: Sequence[Mapping[str, Any]],
    metric: str = "Test Loss",
    minimize: bool = True,
    tie_breaker: str = "Test Accuracy",
) -> dict[str, Any]:
    """
    Return ``{"TrainingJobName", "ModelDataUrl", "Metric", "Value", "Candidates"}`` for the best job.

    :param results: ``SageMakerTrainingOperator`` results (``{"Training": <describe>}``) or describes.
    :param metric: The final metric compared (as named in the jobs' MetricDefinitions).
    :param minimize: Lower is better (a loss) or higher is better (an accuracy).
    :param tie_breaker: A metric that decides equal values, higher is better; earlier jobs win remaining ties.
    """
    candidates = []
    for result in results:
        description = result.get("Training", result)
        status = description.get("TrainingJobStatus")
        if status != "Completed":
            continue
        value = final_metric(description, metric)
        if value is None:
            continue
        candidates.append({
            "TrainingJobName": description["TrainingJobName"],
            "ModelDataUrl": description["ModelArtifacts"]["S3ModelArtifacts"],
            "Value": value,
            "TieBreaker": final_metric(description, tie_breaker),
        })
    if not candidates:
        names = [r.get("Training", r).get("TrainingJobName", "?") for r in results]
        raise ValueError(f"no completed training job among {names} reported the final metric {metric!r}")
    sign = 1 if minimize else -1
    best = min(candidates, key=lambda c: (sign * c["Value"], -(c["TieBreaker"] or 0.0)))
    return {
        "TrainingJobName": best["TrainingJobName"],
        "ModelDataUrl": best["ModelDataUrl"],
        "Metric": metric,
        "Value": best["Value"],
        "Candidates": {c["TrainingJobName"]: c["Value"] for c in candidates},
    }
