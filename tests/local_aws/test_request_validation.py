"""Requests AWS refuses are refused before any work, with the service's error code and AWS's message form.

Each case is sent as a signed request with the exact body a careless client would send (no botocore
parameter validation in the way), and none of them may start anything.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312"


def training_job(**changes: Any) -> dict[str, Any]:
    """A complete CreateTrainingJob request, with ``changes`` applied (None removes a member)."""
    request = {
        "TrainingJobName": "valid-name",
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    for name, value in changes.items():
        if value is None:
            request.pop(name)
        else:
            request[name] = value
    return request


def resources(**changes: Any) -> dict[str, Any]:
    return {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1, **changes}


def tuning_job(limits: dict[str, int] | None = None, ranges: dict[str, Any] | None = None) -> dict[str, Any]:
    definition = training_job()
    return {
        "HyperParameterTuningJobName": "valid-tuning",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:loss"},
            "ResourceLimits": limits or {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": ranges or {"ContinuousParameterRanges": [
                {"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]},
        },
        "TrainingJobDefinition": {key: definition[key] for key in (
            "RoleArn", "AlgorithmSpecification", "OutputDataConfig", "ResourceConfig", "StoppingCondition")},
    }


def continuous(low: str, high: str) -> dict[str, Any]:
    return {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": low, "MaxValue": high}]}


def null_at(path: str) -> str:
    return f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"


SAGEMAKER = ("sagemaker", "SageMaker.")

# (id, (signing name, target prefix or REST path), operation, body, expected status, code, message)
CASES = [
    ("training-job-without-role", SAGEMAKER, "CreateTrainingJob", training_job(RoleArn=None),
     400, "ValidationException", null_at("roleArn")),
    ("training-job-without-algorithm", SAGEMAKER, "CreateTrainingJob", training_job(AlgorithmSpecification=None),
     400, "ValidationException", null_at("algorithmSpecification")),
    ("training-job-without-stopping-condition", SAGEMAKER, "CreateTrainingJob",
     training_job(StoppingCondition=None), 400, "ValidationException", null_at("stoppingCondition")),
    ("training-job-without-resources", SAGEMAKER, "CreateTrainingJob", training_job(ResourceConfig=None),
     400, "ValidationException", null_at("resourceConfig")),
    ("unknown-instance-type", SAGEMAKER, "CreateTrainingJob",
     training_job(ResourceConfig=resources(InstanceType="ml.fake.xlarge")), 400, "ValidationException",
     "1 validation error detected: Value 'ml.fake.xlarge' at 'resourceConfig.instanceType' failed to satisfy "
     "constraint: Member must satisfy enum value set: [ml.m4.xlarge, "),
    ("no-instances", SAGEMAKER, "CreateTrainingJob", training_job(ResourceConfig=resources(InstanceCount=0)),
     400, "ValidationException", "1 validation error detected: Value '0' at 'resourceConfig.instanceCount' failed "
                                 "to satisfy constraint: Member must have value greater than or equal to 1"),
    ("instances-over-the-quota", SAGEMAKER, "CreateTrainingJob",
     training_job(ResourceConfig=resources(InstanceCount=1000)), 400, "ResourceLimitExceeded",
     "The account-level service limit 'ml.m5.large for training job usage' is 20 Instances, with current "
     "utilization of 0 Instances and a request delta of 1000 Instances."),
    ("instance-count-as-text", SAGEMAKER, "CreateTrainingJob",
     training_job(ResourceConfig=resources(InstanceCount="two")), 400, "SerializationException",
     "STRING_VALUE can not be converted to an Integer"),
    ("null-member", SAGEMAKER, "DescribeModel", {"ModelName": None}, 400, "ValidationException", null_at("modelName")),
    ("malformed-json", SAGEMAKER, "ListModels", b'{"MaxResults": ', 400, "SerializationException", ""),
    ("unknown-operation", SAGEMAKER, "LaunchRockets", {}, 400, "UnknownOperationException", ""),
    ("parallel-over-total", SAGEMAKER, "CreateHyperParameterTuningJob",
     tuning_job(limits={"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 3}), 400, "ValidationException",
     "MaxParallelTrainingJobs (3) cannot be greater than MaxNumberOfTrainingJobs (2)."),
    ("tuning-jobs-over-the-limit", SAGEMAKER, "CreateHyperParameterTuningJob",
     tuning_job(limits={"MaxNumberOfTrainingJobs": 751, "MaxParallelTrainingJobs": 1}), 400,
     "ResourceLimitExceeded", "The value of MaxNumberOfTrainingJobs (751) exceeds the limit of 750"),
    ("nan-range", SAGEMAKER, "CreateHyperParameterTuningJob", tuning_job(ranges=continuous("NaN", "0.1")), 400,
     "ValidationException", "The MinValue 'NaN' and MaxValue '0.1' of hyperparameter 'lr' must each be a finite number."),
    ("infinite-range", SAGEMAKER, "CreateHyperParameterTuningJob", tuning_job(ranges=continuous("0", "inf")), 400,
     "ValidationException", "The MinValue '0' and MaxValue 'inf' of hyperparameter 'lr' must each be a finite number."),
    ("non-numeric-range", SAGEMAKER, "CreateHyperParameterTuningJob", tuning_job(ranges=continuous("low", "0.1")),
     400, "ValidationException", "The MinValue 'low' and MaxValue '0.1' of hyperparameter 'lr' must each be"),
    ("empty-categorical-range", SAGEMAKER, "CreateHyperParameterTuningJob",
     tuning_job(ranges={"CategoricalParameterRanges": [{"Name": "batch_size", "Values": []}]}), 400,
     "ValidationException", "1 validation error detected: Value '[]' at 'hyperParameterTuningJobConfig.parameterRanges."
                            "categoricalParameterRanges.1.member.values' failed to satisfy constraint: Member must have "
                            "length greater than or equal to 1"),
    ("logs-limit-zero", ("logs", "Logs_20140328."), "DescribeLogGroups", {"limit": 0}, 400,
     "InvalidParameterException", "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                                  "Member must have value greater than or equal to 1"),
    ("logs-delivery-api-answers-validation-exception", ("logs", "Logs_20140328."), "PutDeliveryDestination",
     {"name": "d", "outputFormat": "foobar",
      "deliveryDestinationConfiguration": {"destinationResourceArn": "arn:aws:s3:::bucket"}}, 400,
     "ValidationException", "1 validation error detected: Value 'foobar' at 'outputFormat' failed to satisfy "
                            "constraint: Member must satisfy enum value set"),
    ("autoscaling-missing-members", ("application-autoscaling", "AnyScaleFrontendService."),
     "DescribeScalingPolicies", {}, 400, "ValidationException", null_at("serviceNamespace")),
    ("lambda-malformed-json", ("lambda", "/2015-03-31/functions"), "CreateFunction", b"{nope", 400,
     "InvalidRequestContentException", "Could not parse request body into json: "),
    ("lambda-number-for-name", ("lambda", "/2015-03-31/functions"), "CreateFunction",
     {"FunctionName": 3, "Role": ROLE, "Code": {}}, 400, "InvalidRequestContentException",
     "Could not parse request body into json: NUMBER_VALUE can not be converted to a String"),
    ("lambda-missing-role", ("lambda", "/2015-03-31/functions"), "CreateFunction",
     {"FunctionName": "f", "Code": {}}, 400, "ValidationException", null_at("role")),
    ("unimplemented-operation-fails-as-aws", SAGEMAKER, "ListWorkteams", {}, 500, "InternalFailure",
     "The request processing has failed because of an unknown error, exception or failure."),
]


def send(endpoint_url: str, service: str, where: str, operation: str, body: Any) -> requests.Response:
    """``body`` as a signed JSON (target ``where`` + operation) or REST-JSON (path ``where``) request."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if where.startswith("/"):
        url, headers = endpoint_url + where, {"Content-Type": "application/json"}
    else:
        url, headers = endpoint_url + "/", {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": where + operation}
    signed = AWSRequest(method="POST", url=url, data=data, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), service, "us-east-1").add_auth(signed)
    return requests.post(url, data=data, headers=dict(signed.headers), timeout=30)


@pytest.mark.parametrize(("target", "operation", "body", "status", "code", "message"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_request_aws_refuses_gets_the_services_error(server, target, operation, body, status, code, message):
    service, where = target
    answer = send(server.endpoint_url, service, where, operation, body)

    error = answer.json()
    assert answer.status_code == status
    assert error["__type"] == code
    assert (error.get("Message") or error.get("message") or "").startswith(message)


def test_a_refused_training_job_is_never_created(server, aws, sagemaker_role):
    send(server.endpoint_url, "sagemaker", "SageMaker.", "CreateTrainingJob",
         training_job(TrainingJobName="refused-job", RoleArn=sagemaker_role, ResourceConfig=None))

    names = [job["TrainingJobName"] for job in aws("sagemaker").list_training_jobs()["TrainingJobSummaries"]]
    assert "refused-job" not in names


def test_an_invoke_endpoint_body_over_6_mb_is_refused_with_413(aws):
    client = aws("sagemaker-runtime")

    with pytest.raises(client.exceptions.ClientError) as raised:
        client.invoke_endpoint(EndpointName="any-endpoint", Body=b"x" * (6 * 1024 * 1024 + 1),
                               ContentType="application/octet-stream")

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert raised.value.response["Error"]["Message"] == "HTTP content length exceeded 6291456 bytes."


def test_an_invoke_endpoint_body_of_6_mb_reaches_the_endpoint(aws):
    client = aws("sagemaker-runtime")

    with pytest.raises(client.exceptions.ClientError) as raised:
        client.invoke_endpoint(EndpointName="any-endpoint", Body=b"x" * (6 * 1024 * 1024),
                               ContentType="application/octet-stream")

    assert raised.value.response["Error"]["Message"] == "Endpoint any-endpoint of account 123456789012 not found."
