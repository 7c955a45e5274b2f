"""Fixtures for IAM enforcement on the local runtime: a server process, two served endpoints, Lambda roles."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_aws.server import ServerProcess
from tests.archives import tar_gz

ACCOUNT = "123456789012"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
INFERENCE = """
import json


def model_fn(model_dir):
    return {"scale": 2}


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model):
    return [x * model["scale"] for x in data]


def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction}), "application/json"
"""
INVOKER = """
import json

import boto3

runtime = boto3.client("sagemaker-runtime")


def lambda_handler(event, context):
    response = runtime.invoke_endpoint(EndpointName=event["endpoint"], ContentType="application/json",
                                       Body=json.dumps(event["numbers"]))
    return json.loads(response["Body"].read())
"""


@pytest.fixture(scope="package")
def server(tmp_path_factory) -> ServerProcess:
    with ServerProcess(tmp_path_factory.mktemp("local_aws_iam")) as running:
        yield running


@pytest.fixture(scope="package")
def aws(server) -> Callable[..., Any]:
    """A boto3 client factory; admin (``testing``) credentials unless others are given."""

    def client(service: str, credentials: dict[str, str] | None = None) -> Any:
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        if credentials is not None:
            keys = {"aws_access_key_id": credentials["AccessKeyId"],
                    "aws_secret_access_key": credentials["SecretAccessKey"],
                    "aws_session_token": credentials.get("SessionToken")}
        return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                            config=Config(retries={"total_max_attempts": 1}), **keys)
    return client



def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="package")
def endpoints(aws, create_sagemaker_role) -> list[str]:
    """Two InService endpoints serving a model that doubles numbers."""
    s3, sagemaker = aws("s3"), aws("sagemaker")
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="double/model.tar.gz", Body=tar_gz({"code/inference.py": INFERENCE}))
    sagemaker.create_model(
        ModelName="double", ExecutionRoleArn=create_sagemaker_role(aws("iam")),
        PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
                          "ModelDataUrl": f"s3://{bucket}/double/model.tar.gz",
                          "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    sagemaker.create_endpoint_config(EndpointConfigName="double", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "double", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    names = ["dog-breeds", "other-endpoint"]
    for name in names:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="double")
    deadline = time.monotonic() + 120
    for name in names:
        while sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
            assert time.monotonic() < deadline, f"endpoint {name} did not come InService"
            time.sleep(0.2)
    return names


@pytest.fixture
def lambda_role(aws) -> str:
    """A fresh Lambda execution role with only AWSLambdaBasicExecutionRole; returns its name."""
    iam = aws("iam")
    name = f"invoker-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION)
    return name


@pytest.fixture
def invoker(aws, lambda_role) -> str:
    """A function, run as ``lambda_role``, that sends its event's numbers to its event's endpoint."""
    name = f"invoker-{uuid.uuid4().hex[:8]}"
    aws("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/{lambda_role}",
        Handler="lambda_function.lambda_handler", Code={"ZipFile": _zip({"lambda_function.py": INVOKER})}, Timeout=30)
    return name


@pytest.fixture
def call_endpoint(aws, invoker) -> Callable[[str], dict[str, Any]]:
    """Invoke the function for one endpoint; returns its payload and FunctionError."""

    def call(endpoint: str) -> dict[str, Any]:
        response = aws("lambda").invoke(FunctionName=invoker,
                                        Payload=json.dumps({"endpoint": endpoint, "numbers": [1, 2]}).encode())
        return {"error": response.get("FunctionError"), "payload": json.loads(response["Payload"].read())}

    return call
