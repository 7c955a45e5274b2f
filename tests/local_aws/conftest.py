"""Fixtures for the local AWS runtime's tests: one server per test process on a free loopback port."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_aws.server import LocalAWSServer
from tests.archives import read_tar_gz, tar_gz
from tests.aws_clients import client_factory
from tests.sagemaker_jobs import ended_training_job, training_job_definition

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture(scope="session")
def tar_gz_bytes() -> Callable[[dict[str, bytes]], bytes]:
    """A tar.gz holding the given files."""
    return tar_gz


@pytest.fixture(scope="session")
def seed_bucket() -> Callable[[Any, str], str]:
    """Put the test scripts' source tarball, a 1-object training channel and an echo model into a new bucket.

    Returns the model's S3 URI. For tests that run their own server (restart, shutdown).
    """

    def seed(s3: Any, bucket: str) -> str:
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="code/source.tar.gz",
                      Body=tar_gz({p.name: p.read_bytes() for p in SCRIPTS.glob("*.py")}))
        s3.put_object(Bucket=bucket, Key="data/train/part-0.txt", Body=b"1")
        s3.put_object(Bucket=bucket, Key="models/m.tar.gz", Body=tar_gz({
            "model.json": b'{"scale": 1.0, "target": 0.0}',
            "code/inference.py": (SCRIPTS / "tiny_inference.py").read_bytes()}))
        return f"s3://{bucket}/models/m.tar.gz"

    return seed


@pytest.fixture(scope="package")
def sagemaker_role(aws, create_sagemaker_role) -> str:
    """The ARN of the session server's SageMaker execution role (``ROLE``)."""
    return create_sagemaker_role(aws("iam"), ROLE.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def scripts_dir() -> Path:
    return SCRIPTS


@pytest.fixture(scope="session")
def untar() -> Callable[[bytes], dict[str, bytes]]:
    """The files of a tar.gz, by name."""
    return read_tar_gz


@pytest.fixture(scope="package")
def server(tmp_path_factory) -> LocalAWSServer:
    """The runtime in this process (its internals are under test), two jobs at a time, quick to stop."""
    with LocalAWSServer(state_dir=tmp_path_factory.mktemp("local_aws"), max_concurrent_jobs=2,
                        stop_grace_seconds=3.0) as running:
        yield running


@pytest.fixture(scope="package")
def aws(server) -> Callable[[str], Any]:
    """A boto3 client factory for the server with boto3's default retries, as an SDK user has them."""
    return client_factory(server.endpoint_url, max_attempts=None)


@pytest.fixture
def bucket(aws) -> str:
    """A fresh bucket holding the test scripts as a source tarball and a 4-file training channel."""
    name = f"bkt-{uuid.uuid4().hex[:12]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    source = {path.name: path.read_bytes() for path in SCRIPTS.glob("*.py")}
    s3.put_object(Bucket=name, Key="code/source.tar.gz", Body=tar_gz(source))
    for i in range(4):
        s3.put_object(Bucket=name, Key=f"data/train/part-{i}.txt", Body=str(i + 1).encode())
    return name


@pytest.fixture
def training_request(bucket, sagemaker_role) -> Callable[..., dict[str, Any]]:
    """A CreateTrainingJob request for one of the test scripts, as a SageMaker SDK would build it."""

    def build(name: str, program: str = "tiny_train.py", instance_count: int = 1, max_runtime: int = 120,
              hyperparameters: dict[str, str] | None = None, distribution: str = "FullyReplicated") -> dict[str, Any]:
        return {"TrainingJobName": name, **training_job_definition(
            bucket, sagemaker_role, program=program, instance_count=instance_count, max_runtime=max_runtime,
            distribution=distribution, hyperparameters=hyperparameters)}

    return build


@pytest.fixture
def job_name() -> str:
    return f"job-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def finished_job(aws, wait_until) -> Callable[[str], dict[str, Any]]:
    """Wait until the training job of this name has ended; return its description."""
    return lambda name, timeout=90.0: ended_training_job(aws("sagemaker"), name, wait_until, timeout)
