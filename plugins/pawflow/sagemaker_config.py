"""Request dicts for SageMaker training, tuning and deployment, as the Amazon provider's operators take them.

Every function here is pure: settings in, a boto3 request dict out. The DAGs call them inside tasks, at run
time, and hand the result to ``SageMakerTrainingOperator``, ``SageMakerTuningOperator`` and
``SageMakerEndpointOperator`` as ``config``. Hyperparameters follow SageMaker script mode: every value is
JSON-encoded, and ``sagemaker_program`` / ``sagemaker_submit_directory`` name the entry point and the
``sourcedir.tar.gz`` that holds it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

#: A float as the training script prints it, scientific notation included (``0.25``, ``1e-05``, ``3.2E+01``).
FLOAT_PATTERN = r"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"

#: Metric name -> the log line prefix the training script prints (``Name: value``).
TRAINING_METRICS = {
    "Train Loss": "Train Loss",
    "Train Accuracy": "Train Accuracy",
    "Validation Loss": "Validation Loss",
    "Validation Accuracy": "Validation Accuracy",
    "Test Loss": "Testing Loss",
    "Test Accuracy": "Testing Accuracy",
}

#: The course's objective: the tuner minimises the loss on the test split.
OBJECTIVE_METRIC = "Test Loss"

#: The course's search space: learning rate on a log scale, batch size from five choices.
COURSE_PARAMETER_RANGES: dict[str, list[dict[str, Any]]] = {
    "ContinuousParameterRanges": [
        {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
    ],
    "IntegerParameterRanges": [],
    "CategoricalParameterRanges": [
        {"Name": "batch_size", "Values": ["32", "64", "128", "256", "512"]},
    ],
}

INPUT_DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")
TRAINING_CHANNEL = "training"
FEATURES_CHANNEL = "features"
DEFAULT_VARIANT = "AllTraffic"
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def _require_s3_uri(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.startswith("s3://") or len(value) <= len("s3://"):
        raise ValueError(f"{name} must be an s3:// URI, got {value!r}")


def _require_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class TrainingSettings:
    """
    What every training job of one pipeline run shares.

    :param role_arn: The SageMaker execution role the jobs run as.
    :param region: The AWS region, passed to the container as ``sagemaker_region``.
    :param image_uri: The training container image (see :mod:`pawflow.container_images`).
    :param data_uri: S3 prefix holding the ``train/ valid/ test/`` folders.
    :param source_dir_uri: S3 URI of ``sourcedir.tar.gz`` (the packed ``training_code/``).
    :param output_uri: S3 prefix SageMaker writes ``<job>/output/model.tar.gz`` under.
    :param entry_point: The script SageMaker runs from the source dir.
    :param static_hyperparameters: Hyperparameters every job gets (e.g. ``epochs``, ``backbone``).
    :param input_distribution: ``FullyReplicated`` (every instance sees all data; the script shards it
        with a distributed sampler) or ``ShardedByS3Key``.
    :param volume_size_gb: EBS volume per instance.
    :param max_runtime_seconds: Hard stop for each job.
    :param container_log_level: Python logging level inside the container.
    :param tags: Tags put on every job, e.g. the Airflow run id.
    :param features_uri: S3 prefix of backbone features (see :mod:`pawflow.feature_store`); when set, jobs get
        it as their only channel, ``features``, and train heads without the backbone or the images.
    """

    role_arn: str
    region: str
    image_uri: str
    data_uri: str
    source_dir_uri: str
    output_uri: str
    entry_point: str = "train.py"
    static_hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    input_distribution: str = "FullyReplicated"
    volume_size_gb: int = 30
    max_runtime_seconds: int = 24 * 3600
    container_log_level: int = 20
    tags: Mapping[str, str] = field(default_factory=dict)
    features_uri: str | None = None

    def __post_init__(self) -> None:
        if not _ROLE_ARN.match(self.role_arn or ""):
            raise ValueError(f"role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got {self.role_arn!r}")
        if not self.region:
            raise ValueError("region must be set, e.g. 'us-east-1'")
        if not self.image_uri:
            raise ValueError("image_uri must be set")
        _require_s3_uri("data_uri", self.data_uri)
        _require_s3_uri("source_dir_uri", self.source_dir_uri)
        _require_s3_uri("output_uri", self.output_uri)
        if self.features_uri is not None:
            _require_s3_uri("features_uri", self.features_uri)
        if self.input_distribution not in INPUT_DISTRIBUTIONS:
            raise ValueError(f"input_distribution must be one of {INPUT_DISTRIBUTIONS}, got {self.input_distribution!r}")
        _require_positive_int("volume_size_gb", self.volume_size_gb)
        _require_positive_int("max_runtime_seconds", self.max_runtime_seconds)


def metric_definitions() -> list[dict[str, str]]:
    """Return the MetricDefinitions that read the training script's ``Name: value`` log lines."""
    return [
        {"Name": name, "Regex": f"{re.escape(prefix)}: {FLOAT_PATTERN}"}
        for name, prefix in TRAINING_METRICS.items()
    ]


def encode_hyperparameters(hyperparameters: Mapping[str, Any]) -> dict[str, str]:
    """JSON-encode each value, as SageMaker script mode expects (the training toolkit decodes them)."""
    return {str(key): json.dumps(value) for key, value in hyperparameters.items()}


def decode_hyperparameters(hyperparameters: Mapping[str, str]) -> dict[str, Any]:
    """Invert :func:`encode_hyperparameters`; a value that is not JSON stays the string it is."""
    decoded: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        try:
            decoded[key] = json.loads(value)
        except (TypeError, ValueError):
            decoded[key] = value
    return decoded


def _script_mode_hyperparameters(settings: TrainingSettings, hyperparameters: Mapping[str, Any]) -> dict[str, str]:
    framework = {
        "sagemaker_program": settings.entry_point,
        "sagemaker_submit_directory": settings.source_dir_uri,
        "sagemaker_region": settings.region,
        "sagemaker_container_log_level": settings.container_log_level,
    }
    return encode_hyperparameters({**settings.static_hyperparameters, **hyperparameters, **framework})


def _tags(settings: TrainingSettings) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(settings.tags.items())]


def _algorithm_specification(settings: TrainingSettings) -> dict[str, Any]:
    """The spec a tuning job's trials share (HyperParameterAlgorithmSpecification has no more fields)."""
    return {
        "TrainingImage": settings.image_uri,
        "TrainingInputMode": "File",
        "MetricDefinitions": metric_definitions(),
    }


def _channel(name: str, uri: str, distribution: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": distribution}},
        "InputMode": "File",
    }


def _input_data_config(settings: TrainingSettings) -> list[dict[str, Any]]:
    """The images as ``training``; or, given features, only ``features`` (every instance reads all of it)."""
    if settings.features_uri:
        return [_channel(FEATURES_CHANNEL, settings.features_uri, "FullyReplicated")]
    return [_channel(TRAINING_CHANNEL, settings.data_uri, settings.input_distribution)]


def _resource_config(settings: TrainingSettings, instance_type: str, instance_count: int) -> dict[str, Any]:
    if not isinstance(instance_type, str) or not instance_type.startswith("ml."):
        raise ValueError(f"instance_type must be a SageMaker instance type such as 'ml.m5.xlarge', got {instance_type!r}")
    _require_positive_int("instance_count", instance_count)
    return {"InstanceType": instance_type, "InstanceCount": instance_count, "VolumeSizeInGB": settings.volume_size_gb}


def training_job_config(
    settings: TrainingSettings,
    job_name: str,
    *,
    instance_type: str,
    instance_count: int = 1,
    hyperparameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """
    Return a CreateTrainingJob request for one script-mode training job.

    :param settings: What the run's jobs share.
    :param job_name: Unique job name (see :func:`pawflow.resource_names.run_scoped_name`).
    :param instance_type: e.g. ``ml.m5.2xlarge``.
    :param instance_count: More than one makes a data-parallel job across instances.
    :param hyperparameters: Plain Python values, e.g. the tuner's best; they override the static ones.
    """
    return {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {**_algorithm_specification(settings), "EnableSageMakerMetricsTimeSeries": True},
        "HyperParameters": _script_mode_hyperparameters(settings, hyperparameters or {}),
        "RoleArn": settings.role_arn,
        "InputDataConfig": _input_data_config(settings),
        "OutputDataConfig": {"S3OutputPath": settings.output_uri},
        "ResourceConfig": _resource_config(settings, instance_type, instance_count),
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
        "EnableNetworkIsolation": False,
        "Tags": _tags(settings),
    }


def feature_extraction_job_config(settings: TrainingSettings, job_name: str, *, instance_type: str) -> dict[str, Any]:
    """
    Return a CreateTrainingJob request that computes the backbone features of the data set once.

    The job runs ``train.py --extract-features-only`` on one instance over the whole ``training`` channel and
    leaves features, labels and the backbone's weights in its ``model.tar.gz`` (see
    :func:`pawflow.feature_store.publish_features`).

    :param settings: What the run's jobs share; its ``features_uri`` is ignored.
    :param job_name: Unique job name (one per run).
    :param instance_type: e.g. ``ml.m5.2xlarge``.
    """
    images = replace(settings, features_uri=None, input_distribution="FullyReplicated")
    return training_job_config(images, job_name, instance_type=instance_type, instance_count=1,
                               hyperparameters={"extract_features_only": True})


def tuning_job_config(
    settings: TrainingSettings,
    tuning_job_name: str,
    *,
    instance_type: str = "ml.m5.xlarge",
    max_jobs: int = 6,
    max_parallel_jobs: int = 3,
    parameter_ranges: Mapping[str, list[dict[str, Any]]] = COURSE_PARAMETER_RANGES,
    objective_metric: str = OBJECTIVE_METRIC,
    objective_type: str = "Minimize",
    strategy: str = "Bayesian",
) -> dict[str, Any]:
    """
    Return a CreateHyperParameterTuningJob request over the course's search space by default.

    :param settings: What the run's jobs share; its static hyperparameters are fixed for every trial.
    :param tuning_job_name: Unique name, at most 32 characters.
    :param instance_type: Instance type of each trial (the write-up used ``ml.m5.xlarge``).
    :param max_jobs: Trials in total (the write-up's second run: 6).
    :param max_parallel_jobs: Trials at once (3); must not exceed ``max_jobs``.
    :param parameter_ranges: SageMaker ``ParameterRanges``.
    :param objective_metric: One of :data:`TRAINING_METRICS`.
    :param objective_type: ``Minimize`` or ``Maximize``.
    :param strategy: ``Bayesian``, ``Random``, ``Hyperband`` or ``Grid``.
    """
    _require_positive_int("max_jobs", max_jobs)
    _require_positive_int("max_parallel_jobs", max_parallel_jobs)
    if max_parallel_jobs > max_jobs:
        raise ValueError(f"max_parallel_jobs must be between 1 and max_jobs ({max_jobs}), got {max_parallel_jobs}")
    if objective_metric not in TRAINING_METRICS:
        raise ValueError(f"objective_metric must be one of {sorted(TRAINING_METRICS)}, got {objective_metric!r}")
    if objective_type not in ("Minimize", "Maximize"):
        raise ValueError(f"objective_type must be 'Minimize' or 'Maximize', got {objective_type!r}")
    tuned = {entry["Name"] for ranges in parameter_ranges.values() for entry in ranges}
    static = {key: value for key, value in settings.static_hyperparameters.items() if key not in tuned}
    framework = _script_mode_hyperparameters(replace(settings, static_hyperparameters=static), {})
    return {
        "HyperParameterTuningJobName": tuning_job_name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": objective_type, "MetricName": objective_metric},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": max_parallel_jobs},
            "ParameterRanges": {key: [dict(entry) for entry in value] for key, value in parameter_ranges.items()},
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": framework,
            "AlgorithmSpecification": _algorithm_specification(settings),
            "RoleArn": settings.role_arn,
            "InputDataConfig": _input_data_config(settings),
            "OutputDataConfig": {"S3OutputPath": settings.output_uri},
            "ResourceConfig": _resource_config(settings, instance_type, 1),
            "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
        },
        "Tags": _tags(settings),
    }


def best_training_job(tuning_description: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """
    Return the best trial's name and its tuned hyperparameters (decoded) from a DescribeHyperParameterTuningJob.

    Accepts the response itself or the ``SageMakerTuningOperator`` result (``{"Tuning": <describe>}``).
    """
    description = tuning_description.get("Tuning", tuning_description)
    best = description.get("BestTrainingJob")
    if not best:
        status = description.get("HyperParameterTuningJobStatus", "unknown")
        raise ValueError(
            f"tuning job {description.get('HyperParameterTuningJobName', '?')!r} reports no best training job "
            f"(status {status}); no trial emitted the objective metric"
        )
    return best["TrainingJobName"], decode_hyperparameters(best.get("TunedHyperParameters", {}))


def final_metric(training_description: Mapping[str, Any], metric_name: str) -> float | None:
    """Return a metric's final value from a DescribeTrainingJob (or ``{"Training": ...}``), None if absent."""
    description = training_description.get("Training", training_description)
    for metric in description.get("FinalMetricDataList") or []:
        if metric.get("MetricName") == metric_name:
            return float(metric["Value"])
    return None


def endpoint_deployment_config(
    *,
    model_name: str,
    endpoint_config_name: str,
    endpoint_name: str,
    image_uri: str,
    model_data_url: str,
    role_arn: str,
    region: str,
    instance_type: str = "ml.m5.large",
    initial_instance_count: int = 1,
    variant_name: str = DEFAULT_VARIANT,
    container_log_level: int = 20,
    tags: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """
    Return the ``{"Model", "EndpointConfig", "Endpoint"}`` config ``SageMakerEndpointOperator`` takes.

    The model serves with ``inference.py`` from ``code/`` inside ``model.tar.gz``, the layout the training
    script writes.

    :param model_name: New model name (one per run: a model cannot be changed once created).
    :param endpoint_config_name: New endpoint config name (one per run).
    :param endpoint_name: The endpoint to create, or to update when it exists.
    :param image_uri: The inference container image.
    :param model_data_url: S3 URI of the chosen training job's ``model.tar.gz``.
    :param role_arn: The SageMaker execution role the model runs as.
    :param region: Passed to the container as ``SAGEMAKER_REGION``.
    :param instance_type: Endpoint instance type.
    :param initial_instance_count: Instances behind the variant before autoscaling acts.
    :param variant_name: The production variant's name.
    :param container_log_level: Python logging level inside the container.
    :param tags: Tags put on the model, endpoint config and endpoint.
    """
    _require_s3_uri("model_data_url", model_data_url)
    _require_positive_int("initial_instance_count", initial_instance_count)
    if not _ROLE_ARN.match(role_arn or ""):
        raise ValueError(f"role_arn must be an IAM role ARN, got {role_arn!r}")
    if not isinstance(instance_type, str) or not instance_type.startswith("ml."):
        raise ValueError(f"instance_type must be a SageMaker instance type such as 'ml.m5.large', got {instance_type!r}")
    tag_list = [{"Key": key, "Value": value} for key, value in sorted((tags or {}).items())]
    return {
        "Model": {
            "ModelName": model_name,
            "PrimaryContainer": {
                "Image": image_uri,
                "ModelDataUrl": model_data_url,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    "SAGEMAKER_REGION": region,
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": str(container_log_level),
                },
            },
            "ExecutionRoleArn": role_arn,
            "Tags": tag_list,
        },
        "EndpointConfig": {
            "EndpointConfigName": endpoint_config_name,
            "ProductionVariants": [
                {
                    "VariantName": variant_name,
                    "ModelName": model_name,
                    "InitialInstanceCount": initial_instance_count,
                    "InstanceType": instance_type,
                    "InitialVariantWeight": 1.0,
                }
            ],
            "Tags": tag_list,
        },
        "Endpoint": {
            "EndpointName": endpoint_name,
            "EndpointConfigName": endpoint_config_name,
            "Tags": tag_list,
        },
    }
