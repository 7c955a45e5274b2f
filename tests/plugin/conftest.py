"""The package's local AWS runtime (tests/conftest.py) for the operator tests, reached through Airflow's
``aws_default``; names unique to each test, an InService endpoint and a Lambda function to act on."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator

import pytest

from tests.archives import ECHO_INFERENCE, zip_archive
from tests.aws_clients import REGION, client_factory
from tests.execution_roles import BASIC_EXECUTION, create_lambda_role
from tests.served_endpoints import in_service_endpoint, serve_model, upload_model
from tests.timeouts import scaled
from tests.folder_runtime import server  # noqa: F401  (this folder's own runtime)

#: The course's over-broad grant, which the audit and policy operators find and replace.
SAGEMAKER_FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"


@pytest.fixture(scope="package")
def aws_endpoint(server, tmp_path_factory) -> str:
    """The URL of the package's runtime; Airflow's home is a temporary folder."""
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    return server.endpoint_url


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
def client(aws) -> Callable[..., object]:
    """A boto3 client factory against the local server (boto3's default retries), for arranging and checking."""
    return client_factory(aws, max_attempts=None)


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
    """A name unique to the test: a stable digest of its node id, the same on every run.

    No per-run part is needed: the package's runtime starts empty in a fresh state folder each session.
    """
    return "t" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:10]


@pytest.fixture
def endpoint(client, unique, create_sagemaker_role, wait_until) -> Iterator[str]:
    """An InService SageMaker endpoint with one ``AllTraffic`` variant serving an echo model (model and endpoint
    config ``<unique>-serving``); deleted afterwards unless the test deleted it."""
    sagemaker = client("sagemaker")
    serve_model(sagemaker, f"{unique}-serving", role_arn=create_sagemaker_role(client("iam"), "pawflow-sagemaker"),
                model_data_url=upload_model(client("s3"), f"{unique}-models", ECHO_INFERENCE))
    name = f"{unique}-endpoint"
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{unique}-serving")
    in_service_endpoint(sagemaker, name, wait_until, timeout=scaled(40))
    yield name
    if any(e["EndpointName"] == name for e in sagemaker.list_endpoints(NameContains=name)["Endpoints"]):
        sagemaker.delete_endpoint(EndpointName=name)


@pytest.fixture
def zip_of() -> Callable[[str], bytes]:
    """Build a deployment package holding ``lambda_function.py`` with the given source."""
    return lambda source: zip_archive({"lambda_function.py": source})


@pytest.fixture
def lambda_function(client, unique, zip_of) -> str:
    """A Lambda function whose role carries the course's over-broad AmazonSageMakerFullAccess."""
    role_arn = create_lambda_role(client("iam"), f"{unique}-role", (BASIC_EXECUTION, SAGEMAKER_FULL_ACCESS))
    client("lambda").create_function(
        FunctionName=f"{unique}-fn", Runtime="python3.12", Role=role_arn, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_of("def lambda_handler(event, context):\n    return event\n")},
    )
    return f"{unique}-fn"
