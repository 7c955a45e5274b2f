"""Fixtures for autoscaling on the local runtime: a server process with a 1-second metric period and an endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_aws.server import ServerProcess
from tests.archives import ECHO_INFERENCE, tar_gz

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





#: A model that takes a minute to load: its endpoint stays Creating for that long.
SLOW_INFERENCE = ECHO_INFERENCE.replace("def model_fn(model_dir):\n", "def model_fn(model_dir):\n    import time\n"
                                   "    time.sleep(60)\n")


@pytest.fixture
def create_endpoint(aws, create_sagemaker_role) -> Iterator[Callable[..., str]]:
    """``create_endpoint(inference=ECHO_INFERENCE, model_data=True)``: create an endpoint serving ``inference`` (from a
    model.tar.gz that is missing when ``model_data`` is false), one ``AllTraffic`` instance; return its name at
    once. Every endpoint made is deleted afterwards."""
    s3, sagemaker = aws("s3"), aws("sagemaker")
    created = []

    def create(inference: str = ECHO_INFERENCE, model_data: bool = True) -> str:
        name = f"echo-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=name)
        if model_data:
            s3.put_object(Bucket=name, Key="echo/model.tar.gz", Body=tar_gz({"code/inference.py": inference}))
        sagemaker.create_model(
            ModelName=name, ExecutionRoleArn=create_sagemaker_role(aws("iam")),
            PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
                              "ModelDataUrl": f"s3://{name}/echo/model.tar.gz",
                              "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        created.append(name)
        return name

    yield create
    for name in created:
        sagemaker.delete_endpoint(EndpointName=name)


def endpoint_status(aws, name: str) -> str:
    return aws("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"]


@pytest.fixture
def endpoint(aws, create_endpoint, wait_until) -> str:
    """An InService endpoint with one instance of an echo model; deleted afterwards."""
    name = create_endpoint()
    wait_until(lambda: endpoint_status(aws, name), lambda status: status == "InService", timeout=120)
    return name


@pytest.fixture
def failed_endpoint(aws, create_endpoint, wait_until) -> str:
    """An endpoint that failed: its model data does not exist."""
    name = create_endpoint(model_data=False)
    wait_until(lambda: endpoint_status(aws, name), lambda status: status == "Failed", timeout=120)
    return name


@pytest.fixture
def creating_endpoint(aws, create_endpoint) -> str:
    """An endpoint still Creating: its model takes a minute to load."""
    name = create_endpoint(SLOW_INFERENCE)
    assert endpoint_status(aws, name) == "Creating"
    return name
