"""Fixtures for autoscaling on the local runtime: the package's server (tests/conftest.py) with a 1-second metric
period, and echo-model endpoints that are InService, Failed or still Creating."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.archives import ECHO_INFERENCE
from tests.served_endpoints import serve_model, settled_endpoint, upload_model
from tests.timeouts import scaled
from tests.folder_runtime import aws, server  # noqa: F401  (this folder's own runtime)

#: A model that takes a minute to load: its endpoint stays Creating for that long.
SLOW_INFERENCE = ECHO_INFERENCE.replace("def model_fn(model_dir):\n", "def model_fn(model_dir):\n    import time\n"
                                        "    time.sleep(60)\n")


@pytest.fixture(scope="package")
def metric_period_seconds() -> float:
    """The server's CloudWatch metric period: one second, so alarms decide within seconds."""
    return 1.0


@pytest.fixture(scope="package")
def server_arguments(metric_period_seconds) -> tuple[str, ...]:
    return ("--metric-period-seconds", f"{metric_period_seconds:g}")


@pytest.fixture
def create_endpoint(aws, create_sagemaker_role) -> Iterator[Callable[..., str]]:
    """``create_endpoint(inference=ECHO_INFERENCE, model_data=True)``: create an endpoint serving ``inference`` (from a
    model.tar.gz that is missing when ``model_data`` is false), one ``AllTraffic`` instance; return its name at
    once. Every endpoint made is deleted afterwards."""
    s3, sagemaker = aws("s3"), aws("sagemaker")
    created = []

    def create(inference: str = ECHO_INFERENCE, model_data: bool = True) -> str:
        name = f"echo-{uuid.uuid4().hex[:8]}"
        if model_data:
            model_url = upload_model(s3, name, inference)
        else:
            s3.create_bucket(Bucket=name)
            model_url = f"s3://{name}/model.tar.gz"
        serve_model(sagemaker, name, role_arn=create_sagemaker_role(aws("iam")), model_data_url=model_url)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        created.append(name)
        return name

    yield create
    for name in created:
        sagemaker.delete_endpoint(EndpointName=name)


@pytest.fixture
def endpoint(aws, create_endpoint, wait_until) -> str:
    """An InService endpoint with one instance of an echo model; deleted afterwards."""
    name = create_endpoint()
    assert settled_endpoint(aws("sagemaker"), name, wait_until, timeout=scaled(40))["EndpointStatus"] == "InService"
    return name


@pytest.fixture
def failed_endpoint(aws, create_endpoint, wait_until) -> str:
    """An endpoint that failed: its model data does not exist."""
    name = create_endpoint(model_data=False)
    assert settled_endpoint(aws("sagemaker"), name, wait_until, timeout=scaled(40))["EndpointStatus"] == "Failed"
    return name


@pytest.fixture
def creating_endpoint(aws, create_endpoint) -> str:
    """An endpoint still Creating: its model takes a minute to load."""
    name = create_endpoint(SLOW_INFERENCE)
    assert aws("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating"
    return name
