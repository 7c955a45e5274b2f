"""The plan of one ``dog_breed_pipeline`` run: its Params checked together, its region, execution role and
images resolved, and the names of the SageMaker resources it creates (stable across retries of the run).

The pipeline's ``plan`` task returns :func:`plan_run`'s dict; later tasks read it back, e.g. through
:func:`training_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pawflow.sagemaker_config import TrainingSettings

#: Prefix of each resource a run names, by what the resource is (a key of ``resource_names.MAX_LENGTH``).
RESOURCE_PREFIXES = {
    "tuning": ("dogs-hpo", "hyper-parameter-tuning-job"),
    "single": ("dogs-train-single", "training-job"),
    "multi": ("dogs-train-multi", "training-job"),
    "model": ("dogs-model", "model"),
    "endpoint_config": ("dogs-endpoint-config", "endpoint-config"),
}


def check_params(params: Mapping[str, Any]) -> None:
    """Raise ValueError naming the allowed range when Params are inconsistent with each other.

    Each Param alone is validated by its JSON schema; this checks what the schemas cannot: the autoscaling
    bounds, the concurrency split and the tuning parallelism.
    """
    from pawflow.operators.autoscaling import validate_scaling
    from pawflow.operators.lambda_concurrency import validate_concurrency

    validate_scaling(params["autoscaling_min_capacity"], params["autoscaling_max_capacity"],
                     params["autoscaling_target_invocations"], params["scale_in_cooldown"],
                     params["scale_out_cooldown"])
    validate_concurrency(params["reserved_concurrency"], params["provisioned_concurrency"])
    if params["tuning_max_parallel_jobs"] > params["tuning_max_jobs"]:
        raise ValueError(f"tuning_max_parallel_jobs must be between 1 and tuning_max_jobs "
                         f"({params['tuning_max_jobs']}), got {params['tuning_max_parallel_jobs']}")


def resource_names(dag_id: str, run_id: str) -> dict[str, str]:
    """The run's SageMaker resource names by role (``tuning``, ``single``, ``multi``, ``model``, ``endpoint_config``)."""
    from pawflow.resource_names import MAX_LENGTH, run_scoped_name

    return {key: run_scoped_name(prefix, dag_id, run_id, MAX_LENGTH[kind])
            for key, (prefix, kind) in RESOURCE_PREFIXES.items()}


def plan_run(params: Mapping[str, Any], *, dag_id: str, run_id: str, aws_conn_id: str) -> dict[str, Any]:
    """
    Return ``{"region", "role_arn", "training_image", "inference_image", "names", "tags"}`` for a run.

    :param params: The run's Params.
    :param dag_id: The DAG the run belongs to.
    :param run_id: The Airflow run id; names derive from it, so a retry reuses them.
    :param aws_conn_id: The connection whose region the run uses and whose IAM resolves the role name.
    :raises ValueError: The Params disagree, the connection names no region, or the role does not exist.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from pawflow.container_images import pytorch_image_uri
    from pawflow.execution_role import execution_role_arn

    check_params(params)
    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="iam")
    region = hook.conn_region_name
    if not region:
        raise ValueError(f"connection {aws_conn_id!r} names no region: set region_name in its extra")
    return {
        "region": region,
        "role_arn": execution_role_arn(hook.conn, params["sagemaker_role"]),
        "training_image": pytorch_image_uri(region=region, instance_type=params["training_instance_type"],
                                            image_scope="training", override=params["training_image_uri"]),
        "inference_image": pytorch_image_uri(region=region, instance_type=params["endpoint_instance_type"],
                                             image_scope="inference", override=params["inference_image_uri"]),
        "names": resource_names(dag_id, run_id),
        "tags": {"pawflow:dag_id": dag_id, "pawflow:run_id": run_id},
    }


def training_settings(plan: Mapping[str, Any], data_uri: str, code_uri: str,
                      params: Mapping[str, Any], features_uri: str | None = None) -> TrainingSettings:
    """The settings every training and tuning request of the run shares, from its plan, data, code and Params
    (and the S3 folder of the data set's backbone features, when jobs train heads on them)."""
    return TrainingSettings(
        role_arn=plan["role_arn"],
        region=plan["region"],
        image_uri=plan["training_image"],
        data_uri=data_uri,
        source_dir_uri=code_uri,
        output_uri=f"s3://{params['bucket']}/training-output/",
        static_hyperparameters={**params["extra_hyperparameters"], "backbone": params["backbone"],
                                "epochs": params["epochs"]},
        input_distribution=params["input_distribution"],
        tags=plan["tags"],
        features_uri=features_uri,
    )


def feature_plan(s3, plan: Mapping[str, Any], data: Mapping[str, Any], code_uri: str, params: Mapping[str, Any], *,
                 dag_id: str, run_id: str) -> dict:
    """Where the run's data set's backbone features live in S3 (``pawflow.feature_store``), and the extraction
    job's CreateTrainingJob request when they are not there yet (``ExtractionJob``, else None)."""
    from pawflow.feature_store import plan_features
    from pawflow.resource_names import MAX_LENGTH, run_scoped_name
    from pawflow.sagemaker_config import feature_extraction_job_config
    from pawflow.source_archive import TRAINING_CODE_DIR

    settings = training_settings(plan, data["DataUri"], code_uri, params)
    features = plan_features(s3, bucket=data["Bucket"], data_prefix=data["Prefix"],
                             hyperparameters=settings.static_hyperparameters, code_dir=TRAINING_CODE_DIR)
    job_name = run_scoped_name("dogs-extract", dag_id, run_id, MAX_LENGTH["training-job"])
    extraction = feature_extraction_job_config(settings, job_name, instance_type=params["training_instance_type"])
    return {**features, "ExtractionJob": extraction if features["Needed"] and not features["Exists"] else None}
