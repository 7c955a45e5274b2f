"""An AWS API on a free local port for the operator tests, reached through Airflow's ``aws_default``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import boto3
import pytest

from tests.archives import ECHO_INFERENCE, tar_gz

REGION = "us-east-1"


@pytest.fixture(scope="session")
def aws_endpoint(tmp_path_factory) -> Iterator[str]:
    """Start the local AWS runtime (``python -m local_aws``) on a free port for the session; return its URL."""
    from local_aws.server import ServerProcess

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    with ServerProcess(tmp_path_factory.mktemp("local_aws_state")) as server:
        yield server.endpoint_url


@pytest.fixture
def aws(aws_endpoint, monkeypatch) -> str:
    """Point ``aws_default`` (and plain boto3) at the local server; return its URL."""
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"region_name": REGION, "endpoint_url": aws_endpoint},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    return aws_endpoint


@pytest.fixture
def client(aws):
    """A boto3 client factory against the local server, for arranging and checking state."""

    def make(service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=aws)

    return make


class XComRecorder:
    """Stands in for the task instance outside a DAG run: keeps what operators push (console links)."""

    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.fixture
def context(aws) -> dict:
    """The slice of a task context our operators read when run outside a DAG run (AWS pointed locally)."""
    return {"ti": XComRecorder()}


@pytest.fixture
def unique(request) -> str:
    """A name unique to the test, for resources on the session's shared server."""
    digest = abs(hash(request.node.nodeid)) % 10**8
    return f"t{digest}"


@pytest.fixture
def endpoint(client, unique, create_sagemaker_role, wait_until) -> Iterator[str]:
    """An InService SageMaker endpoint with one ``AllTraffic`` variant serving an echo model; deleted afterwards
    unless the test deleted it."""
    s3, sagemaker = client("s3"), client("sagemaker")
    bucket = f"{unique}-models"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="echo/model.tar.gz", Body=tar_gz({"code/inference.py": ECHO_INFERENCE}))
    role = create_sagemaker_role(client("iam"), "pawflow-sagemaker")
    sagemaker.create_model(
        ModelName=f"{unique}-model",
        PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
                          "ModelDataUrl": f"s3://{bucket}/echo/model.tar.gz",
                          "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}},
        ExecutionRoleArn=role,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{unique}-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": f"{unique}-model",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )
    name = f"{unique}-endpoint"
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{unique}-config")
    wait_until(lambda: sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"],
               lambda status: status in ("InService", "Failed"), timeout=120)
    description = sagemaker.describe_endpoint(EndpointName=name)
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    yield name
    if any(e["EndpointName"] == name for e in sagemaker.list_endpoints(NameContains=name)["Endpoints"]):
        sagemaker.delete_endpoint(EndpointName=name)


LAMBDA_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})


def _zip_of(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", source)
    return buffer.getvalue()


@pytest.fixture
def lambda_function(client, unique) -> str:
    """A Lambda function whose role carries the course's over-broad AmazonSageMakerFullAccess."""
    iam = client("iam")
    role = iam.create_role(RoleName=f"{unique}-role", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    iam.attach_role_policy(RoleName=f"{unique}-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    iam.attach_role_policy(RoleName=f"{unique}-role", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    client("lambda").create_function(
        FunctionName=f"{unique}-fn", Runtime="python3.12", Role=role["Arn"], Handler="lambda_function.lambda_handler",
        Code={"ZipFile": _zip_of("def lambda_handler(event, context):\n    return event\n")},
    )
    return f"{unique}-fn"


@pytest.fixture
def zip_of():
    """Build a deployment package holding ``lambda_function.py`` with the given source."""
    return _zip_of
