"""SageMaker training and tuning jobs as the tests request them (script mode, as a SageMaker SDK builds the
request), and waits until a job has ended."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312"
LOSS_METRIC = {"Name": "test:loss", "Regex": r"Testing Loss: ([0-9\.]+)"}
#: Job states on the way to an end.
RUNNING = ("InProgress", "Stopping")


def training_job_definition(bucket: str, role_arn: str, *, program: str, instance_count: int = 1,
                            max_runtime: int = 120, distribution: str = "FullyReplicated",
                            hyperparameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """
    A CreateTrainingJob request without its name: ``program`` from ``s3://<bucket>/code/source.tar.gz``, the
    ``training`` channel from ``s3://<bucket>/data/train``, artifacts to ``s3://<bucket>/output``.
    """
    return {
        "RoleArn": role_arn,
        "AlgorithmSpecification": {"TrainingImage": TRAINING_IMAGE, "TrainingInputMode": "File",
                                   "MetricDefinitions": [LOSS_METRIC]},
        "HyperParameters": {"sagemaker_program": f'"{program}"',
                            "sagemaker_submit_directory": f'"s3://{bucket}/code/source.tar.gz"',
                            **(hyperparameters or {})},
        "InputDataConfig": [{"ChannelName": "training", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train", "S3DataDistributionType": distribution}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instance_count, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


def tuning_job_request(name: str, definition: Mapping[str, Any], *, parameter_ranges: Mapping[str, Any],
                       strategy: str = "Random", max_jobs: int = 1, parallel: int = 1) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request minimising ``test:loss``, each trial a job of ``definition``."""
    job = {key: value for key, value in definition.items() if key != "HyperParameters"}
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": LOSS_METRIC["Name"]},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": dict(parameter_ranges),
        },
        "TrainingJobDefinition": {"StaticHyperParameters": dict(definition["HyperParameters"]), **job},
    }


def ended_training_job(sagemaker: Any, name: str, wait_until: Callable[..., Any], timeout: float) -> dict[str, Any]:
    """Wait until the training job is neither InProgress nor Stopping; return its description."""
    return wait_until(lambda: sagemaker.describe_training_job(TrainingJobName=name),
                      lambda described: described["TrainingJobStatus"] not in RUNNING, timeout=timeout)


def ended_tuning_job(sagemaker: Any, name: str, wait_until: Callable[..., Any], timeout: float) -> dict[str, Any]:
    """Wait until the tuning job is neither InProgress nor Stopping; return its description."""
    return wait_until(lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
                      lambda described: described["HyperParameterTuningJobStatus"] not in RUNNING, timeout=timeout)
