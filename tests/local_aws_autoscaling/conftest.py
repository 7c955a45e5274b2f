"""Fixtures for autoscaling on the local runtime: a server process with a 1-second metric period and an endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_aws.server import ServerProcess
from tests.archives import tar_gz

INFERENCE = """
import json


def model_fn(model_dir):
    return None


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model):
    return data


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


@pytest.fixture(scope="package")
def server(tmp_path_factory) -> ServerProcess:
    with ServerProcess(tmp_path_factory.mktemp("local_aws_autoscaling"), "--metric-period-seconds", "1") as running:
        yield running


@pytest.fixture(scope="package")
def aws(server) -> Callable[[str], Any]:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"total_max_attempts": 1}))
    return client





@pytest.fixture
def endpoint(aws, wait_until, create_sagemaker_role) -> str:
    """An InService endpoint with one instance of an echo model; deleted afterwards."""
    s3, sagemaker = aws("s3"), aws("sagemaker")
    suffix = uuid.uuid4().hex[:8]
    bucket = f"models-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="echo/model.tar.gz", Body=tar_gz({"code/inference.py": INFERENCE}))
    sagemaker.create_model(
        ModelName=f"echo-{suffix}", ExecutionRoleArn=create_sagemaker_role(aws("iam")),
        PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
                          "ModelDataUrl": f"s3://{bucket}/echo/model.tar.gz",
                          "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    sagemaker.create_endpoint_config(EndpointConfigName=f"echo-{suffix}", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": f"echo-{suffix}", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    name = f"echo-{suffix}"
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"echo-{suffix}")
    wait_until(lambda: sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"],
               lambda status: status == "InService", timeout=120)
    yield name
    sagemaker.delete_endpoint(EndpointName=name)
