"""Fixtures for IAM enforcement on the local runtime (the package's server from tests/conftest.py): two served
endpoints, Lambda roles and a function that calls an endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.archives import zip_archive
from tests.execution_roles import create_lambda_role
from tests.served_endpoints import serve_model, settled_endpoint, upload_model
from tests.timeouts import scaled
from tests.folder_runtime import aws, server  # noqa: F401  (this folder's own runtime)

ACCOUNT = "123456789012"
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
def endpoints(aws, create_sagemaker_role, wait_until) -> list[str]:
    """Two InService endpoints serving a model that doubles numbers."""
    sagemaker = aws("sagemaker")
    serve_model(sagemaker, "double", role_arn=create_sagemaker_role(aws("iam")),
                model_data_url=upload_model(aws("s3"), f"models-{uuid.uuid4().hex[:8]}", INFERENCE))
    names = ["dog-breeds", "other-endpoint"]
    for name in names:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="double")
    for name in names:
        assert settled_endpoint(sagemaker, name, wait_until, timeout=scaled(40))["EndpointStatus"] == "InService"
    return names


@pytest.fixture
def lambda_role(aws) -> str:
    """A fresh Lambda execution role with only AWSLambdaBasicExecutionRole; returns its name."""
    name = f"invoker-{uuid.uuid4().hex[:8]}"
    create_lambda_role(aws("iam"), name)
    return name


@pytest.fixture
def invoker(aws, lambda_role) -> str:
    """A function, run as ``lambda_role``, that sends its event's numbers to its event's endpoint."""
    name = f"invoker-{uuid.uuid4().hex[:8]}"
    aws("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/{lambda_role}",
        Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_archive({"lambda_function.py": INVOKER})}, Timeout=30)
    return name


@pytest.fixture
def call_endpoint(aws, invoker) -> Callable[[str], dict[str, Any]]:
    """Invoke the function for one endpoint; returns its payload and FunctionError."""

    def call(endpoint: str) -> dict[str, Any]:
        response = aws("lambda").invoke(FunctionName=invoker,
                                        Payload=json.dumps({"endpoint": endpoint, "numbers": [1, 2]}).encode())
        return {"error": response.get("FunctionError"), "payload": json.loads(response["Payload"].read())}

    return call
