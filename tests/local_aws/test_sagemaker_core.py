"""sagemaker-core's resource classes, pointed at the runtime as a user would point them (environment variables
only), create, wait for, describe and invoke a model, endpoint config and endpoint, and run a tuning job."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312"


@pytest.fixture
def sagemaker_core(server, monkeypatch) -> Any:
    """``sagemaker.core.resources`` using the runtime: the settings README's "Using other clients" gives."""
    for name, value in {"AWS_ENDPOINT_URL": server.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from sagemaker.core import resources
    from sagemaker.core.utils.utils import SageMakerClient

    SageMakerClient.reset()  # clients made before the endpoint was set
    yield resources
    SageMakerClient.reset()


@pytest.fixture
def deployed(sagemaker_core, aws, seed_bucket, sagemaker_role) -> Any:
    """An endpoint created with sagemaker-core's Model, EndpointConfig and Endpoint, InService."""
    name = f"core-{uuid.uuid4().hex[:8]}"
    model_uri = seed_bucket(aws("s3"), f"bkt-{name}")
    model = sagemaker_core.Model.create(model_name=name, execution_role_arn=sagemaker_role, primary_container={
        "image": INFERENCE_IMAGE, "model_data_url": model_uri, "environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    config = sagemaker_core.EndpointConfig.create(endpoint_config_name=name, production_variants=[{
        "variant_name": "AllTraffic", "model_name": model.model_name, "initial_instance_count": 1,
        "instance_type": "ml.m5.large"}])
    endpoint = sagemaker_core.Endpoint.create(endpoint_name=name, endpoint_config_name=config.endpoint_config_name)
    endpoint.wait_for_status("InService", timeout=180)
    yield endpoint
    endpoint.delete()


def test_model_and_endpoint_config_are_read_back(sagemaker_core, deployed):
    model = sagemaker_core.Model.get(deployed.endpoint_name)
    config = sagemaker_core.EndpointConfig.get(deployed.endpoint_name)

    assert model.primary_container.image == INFERENCE_IMAGE
    assert config.production_variants[0].model_name == model.model_name


def test_an_endpoint_refreshes_and_answers_invoke(deployed):
    deployed.refresh()
    answer = deployed.invoke(body=b"[1, 2.5]", content_type="application/json")

    assert deployed.endpoint_status == "InService"
    assert deployed.production_variants[0].current_instance_count == 1
    assert json.loads(answer.body.read())["predictions"] == [1.0, 2.5]


def test_a_tuning_job_runs_and_names_its_best_trial(sagemaker_core, training_request):
    definition = training_request("unused")
    name = f"core-{uuid.uuid4().hex[:8]}"
    tuning = sagemaker_core.HyperParameterTuningJob.create(
        hyper_parameter_tuning_job_name=name,
        hyper_parameter_tuning_job_config={
            "strategy": "Random",
            "hyper_parameter_tuning_job_objective": {"type": "Minimize", "metric_name": "test:loss"},
            "resource_limits": {"max_number_of_training_jobs": 2, "max_parallel_training_jobs": 1},
            "parameter_ranges": {"categorical_parameter_ranges": [{"name": "batch_size", "values": ["2", "8"]}]},
        },
        training_job_definition={
            "static_hyper_parameters": definition["HyperParameters"],
            "algorithm_specification": {"training_image": definition["AlgorithmSpecification"]["TrainingImage"],
                                        "training_input_mode": "File",
                                        "metric_definitions": [{"name": "test:loss",
                                                                "regex": r"Testing Loss: ([0-9\.]+)"}]},
            "role_arn": definition["RoleArn"],
            "input_data_config": [{"channel_name": "training", "data_source": {"s3_data_source": {
                "s3_data_type": "S3Prefix", "s3_uri": definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]}}}],
            "output_data_config": {"s3_output_path": definition["OutputDataConfig"]["S3OutputPath"]},
            "hyper_parameter_tuning_resource_config": {"instance_type": "ml.m5.large", "instance_count": 1,
                                                       "volume_size_in_gb": 1},
            "stopping_condition": {"max_runtime_in_seconds": 120},
        })

    tuning.wait(timeout=240)

    assert tuning.hyper_parameter_tuning_job_status == "Completed"
    assert tuning.best_training_job.training_job_name.startswith(name)
