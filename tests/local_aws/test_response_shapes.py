"""Replies are shaped as AWS shapes them: every client call's parsed reply is checked against botocore's output
shape (every required member present; no empty structure, and in Describe replies no empty list or map, where
AWS omits the member), and the fields clients read are filled in."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape


def shape_problems(shape: Shape, value: Any, path: str, describe: bool) -> list[str]:
    """What in ``value`` AWS would not send: missing required members, empty optional members (a tuning job's
    ``ParameterRanges`` keep their three lists, empty or not, as AWS reports them)."""
    problems = []
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name in shape.required_members:
            if name not in value and shape.members[name].serialization.get("location") is None:
                problems.append(f"{path}.{name}: required member missing")
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None or member.serialization.get("location"):
                continue
            empty = (isinstance(member, StructureShape) and item == {}) or (
                describe and shape.name != "ParameterRanges" and isinstance(member, (ListShape, MapShape))
                and len(item) == 0)
            if empty and name not in shape.required_members:
                problems.append(f"{path}.{name}: empty {member.type_name} AWS omits")
            problems.extend(shape_problems(member, item, f"{path}.{name}", describe))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            problems.extend(shape_problems(shape.member, item, f"{path}[{index}]", describe))
    return problems


@pytest.fixture
def checked(server) -> tuple[Callable[[str], Any], list[str]]:
    """Clients whose every reply is checked against its output shape, and the problems found."""
    problems: list[str] = []

    def check(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.output_shape is not None and http_response.status_code < 300:
            problems.extend(f"{model.name}: {problem}" for problem in shape_problems(
                model.output_shape, parsed, "", model.name.startswith("Describe")))

    def client(service: str) -> Any:
        made = boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
        made.meta.events.register("after-call.*.*", check)
        return made

    return client, problems


def test_training_job_replies_have_the_shape_aws_sends(checked, training_request, finished_job, job_name):
    client, problems = checked
    sagemaker = client("sagemaker")
    sagemaker.create_training_job(**training_request(job_name))
    finished_job(job_name)

    described = sagemaker.describe_training_job(TrainingJobName=job_name)
    sagemaker.list_training_jobs()

    assert problems == []
    assert described["OutputDataConfig"]["KmsKeyId"] == ""


def test_model_endpoint_config_and_endpoint_replies_have_the_shape_aws_sends(checked, seed_bucket, sagemaker_role,
                                                                              wait_until):
    client, problems = checked
    sagemaker = client("sagemaker")
    name = f"shape-{uuid.uuid4().hex[:8]}"
    model_uri = seed_bucket(client("s3"), f"bkt-{name}")
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=sagemaker_role, PrimaryContainer={
        "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
        "ModelDataUrl": model_uri, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
        "InitialVariantWeight": 1.0}])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    endpoint = wait_until(lambda: sagemaker.describe_endpoint(EndpointName=name),
                          lambda d: d["EndpointStatus"] != "Creating", timeout=120)

    sagemaker.describe_model(ModelName=name)
    sagemaker.describe_endpoint_config(EndpointConfigName=name)
    sagemaker.list_endpoints()
    sagemaker.delete_endpoint(EndpointName=name)

    assert problems == []
    variant = endpoint["ProductionVariants"][0]
    assert (variant["CurrentWeight"], variant["DesiredWeight"], variant["DesiredInstanceCount"]) == (1.0, 1.0, 1)


def test_a_scalable_target_reports_the_service_linked_role_it_scales_with(checked, aws, seed_bucket, sagemaker_role,
                                                                          wait_until):
    client, problems = checked
    sagemaker, scaling = aws("sagemaker"), client("application-autoscaling")
    name = f"scaled-{uuid.uuid4().hex[:8]}"
    model_uri = seed_bucket(aws("s3"), f"bkt-{name}")
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=sagemaker_role, PrimaryContainer={
        "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
        "ModelDataUrl": model_uri, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_until(lambda: sagemaker.describe_endpoint(EndpointName=name), lambda d: d["EndpointStatus"] == "InService",
               timeout=120)
    resource_id = f"endpoint/{name}/variant/AllTraffic"
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource_id, MinCapacity=1,
                                     MaxCapacity=2, ScalableDimension="sagemaker:variant:DesiredInstanceCount")

    target = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource_id])
    sagemaker.delete_endpoint(EndpointName=name)

    assert problems == []
    assert target["ScalableTargets"][0]["RoleARN"] == (
        "arn:aws:iam::123456789012:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")


def tuning_request(training_request: Callable[..., dict[str, Any]], name: str) -> dict[str, Any]:
    """A tuning job as the SageMaker Python SDK sends it: HyperParameterTuningResourceConfig, no ResourceConfig."""
    definition = training_request("unused")
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "batch_size", "Values": ["2", "8"]}]},
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": definition["HyperParameters"],
            "AlgorithmSpecification": definition["AlgorithmSpecification"],
            "RoleArn": definition["RoleArn"],
            "InputDataConfig": definition["InputDataConfig"],
            "OutputDataConfig": definition["OutputDataConfig"],
            "HyperParameterTuningResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                   "VolumeSizeInGB": 1, "AllocationStrategy": "Prioritized"},
            "StoppingCondition": definition["StoppingCondition"],
        },
    }


@pytest.fixture
def finished_sdk_tuning(checked, training_request, wait_until) -> dict[str, Any]:
    client, _ = checked
    sagemaker = client("sagemaker")
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request(training_request, name))
    return wait_until(lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
                      lambda d: d["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"), timeout=180)


def test_tuning_trials_run_on_the_hyperparameter_tuning_resource_config(finished_sdk_tuning):
    assert finished_sdk_tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert finished_sdk_tuning["TrainingJobStatusCounters"]["Completed"] == 2


def test_tuning_replies_have_the_shape_aws_sends_and_name_the_objective(checked, finished_sdk_tuning):
    client, problems = checked
    sagemaker = client("sagemaker")
    name = finished_sdk_tuning["HyperParameterTuningJobName"]

    trials = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    trial = sagemaker.describe_training_job(TrainingJobName=trials["TrainingJobSummaries"][0]["TrainingJobName"])

    assert problems == []
    static = finished_sdk_tuning["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["_tuning_objective_metric"] == "test:loss"
    assert finished_sdk_tuning["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"] == ""
    assert trial["HyperParameters"]["_tuning_objective_metric"] == "test:loss"


def test_a_trial_that_crashes_ends_failed_with_a_reason(aws, training_request, wait_until):
    sagemaker = aws("sagemaker")
    name = f"crash-{uuid.uuid4().hex[:8]}"
    request = tuning_request(training_request, name)
    request["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = \
        "s3://no-such-bucket-anywhere/data"
    sagemaker.create_hyper_parameter_tuning_job(**request)

    wait_until(lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
               lambda d: d["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"), timeout=180)
    trials = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name)["TrainingJobSummaries"]

    assert [trial["TrainingJobStatus"] for trial in trials] == ["Failed", "Failed"]
    assert all(trial.get("FailureReason") for trial in trials)


def test_a_tuning_job_given_hyperparameter_tuning_resources_reports_them_as_its_resource_config(finished_sdk_tuning):
    definition = finished_sdk_tuning["TrainingJobDefinition"]

    assert definition["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}
    assert definition["HyperParameterTuningResourceConfig"]["AllocationStrategy"] == "Prioritized"


def test_a_tuning_job_reports_its_empty_parameter_range_lists(finished_sdk_tuning):
    ranges = finished_sdk_tuning["HyperParameterTuningJobConfig"]["ParameterRanges"]

    assert ranges["IntegerParameterRanges"] == []
    assert ranges["ContinuousParameterRanges"] == []
    assert [entry["Name"] for entry in ranges["CategoricalParameterRanges"]] == ["batch_size"]
