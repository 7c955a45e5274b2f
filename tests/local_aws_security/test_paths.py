"""Names and S3 content never choose where the runtime writes: bad names are refused as AWS refuses them,
folders are derived from ARNs, channel objects that would land outside their channel fail the job."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_aws.server import ServerProcess
from local_aws.state_paths import derived_name
from tests.archives import tar_gz
from tests.aws_clients import client_factory

SCRIPTS = Path(__file__).resolve().parents[1] / "local_aws" / "scripts"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312"
NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
TRAVERSAL = "../../../paths-canary"  # from <state>/sagemaker/training-jobs/<name>: the canary beside the state dir
# From a channel folder (<state>/sagemaker/training-jobs/<job>/algo-1/opt/ml/input/data/<channel>): the canary file.
CANARY_FROM_CHANNEL = "../" * 10 + "paths-canary/alive.txt"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def tree(folder: Path, leaving_out: Path) -> set[str]:
    """Every path under ``folder`` except those under ``leaving_out``."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_relative_to(leaving_out)}


@pytest.fixture(scope="module")
def paths_sandbox(tmp_path_factory) -> Path:
    """A folder holding the state dir and, beside it, a canary folder that traversal names aim at."""
    sandbox = tmp_path_factory.mktemp("paths")
    canary = sandbox / "paths-canary"
    canary.mkdir()
    (canary / "alive.txt").write_text("still here")
    return sandbox


@pytest.fixture(scope="module")
def paths_server(paths_sandbox) -> Iterator[ServerProcess]:
    with ServerProcess(paths_sandbox / "state") as running:
        yield running


@pytest.fixture(scope="module")
def paths_aws(paths_server, create_sagemaker_role) -> Callable[[str], Any]:
    """Administrator clients of the server, whose account has the SageMaker role the requests name."""
    client = client_factory(paths_server.endpoint_url)
    assert create_sagemaker_role(client("iam")) == ROLE
    return client


@pytest.fixture
def outside_untouched(paths_sandbox) -> Iterator[None]:
    """Fails the test if anything outside the state dir appeared, vanished or changed, canary included."""
    state = paths_sandbox / "state"
    before = tree(paths_sandbox, state)
    yield
    assert tree(paths_sandbox, state) == before
    assert (paths_sandbox / "paths-canary" / "alive.txt").read_text() == "still here"


@pytest.fixture
def paths_bucket(paths_aws) -> str:
    """A bucket with the test scripts' source tarball and a 2-object training channel."""
    name = f"paths-{uuid.uuid4().hex[:12]}"
    s3 = paths_aws("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="code/source.tar.gz",
                  Body=tar_gz({p.name: p.read_bytes() for p in SCRIPTS.glob("*.py")}))
    for i in range(2):
        s3.put_object(Bucket=name, Key=f"data/train/part-{i}.txt", Body=str(i + 1).encode())
    return name


@pytest.fixture
def paths_training_request(paths_bucket) -> Callable[..., dict[str, Any]]:
    def build(name: str, channel_uri: str | None = None, data_type: str = "S3Prefix", channel: str = "training",
              source: str | None = None) -> dict[str, Any]:
        return {
            "TrainingJobName": name,
            "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "HyperParameters": {"sagemaker_program": '"tiny_train.py"',
                                "sagemaker_submit_directory": json.dumps(source or f"s3://{paths_bucket}/code/source.tar.gz")},
            "InputDataConfig": [{"ChannelName": channel, "DataSource": {"S3DataSource": {
                "S3DataType": data_type, "S3Uri": channel_uri or f"s3://{paths_bucket}/data/train",
                "S3DataDistributionType": "FullyReplicated"}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{paths_bucket}/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        }
    return build


@pytest.fixture
def paths_finished_job(paths_aws, wait_until) -> Callable[[str], dict[str, Any]]:
    def wait(name: str, client: Any = None) -> dict[str, Any]:
        sagemaker = client or paths_aws("sagemaker")
        return wait_until(lambda: sagemaker.describe_training_job(TrainingJobName=name),
                          lambda d: d["TrainingJobStatus"] not in ("InProgress", "Stopping"), timeout=120)
    return wait


def refused(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


def job_name() -> str:
    return f"paths-{uuid.uuid4().hex[:10]}"


# --- names refused before anything acts on them -------------------------------------------------------------
def test_training_job_name_with_traversal_is_refused(paths_aws, paths_training_request, outside_untouched):
    response = refused(lambda: paths_aws("sagemaker").create_training_job(**paths_training_request(TRAVERSAL)))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value '{TRAVERSAL}' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}")


def test_training_job_name_too_long_and_malformed_lists_both_errors(paths_aws):
    name = "a_" * 40
    response = refused(lambda: paths_aws("sagemaker").describe_training_job(TrainingJobName=name))

    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        f"2 validation errors detected: Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63; "
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}")


def test_refused_training_job_leaves_no_record(paths_aws, paths_training_request):
    sagemaker = paths_aws("sagemaker")
    refused(lambda: sagemaker.create_training_job(**paths_training_request("bad/name")))

    assert [s["TrainingJobName"] for s in sagemaker.list_training_jobs()["TrainingJobSummaries"]
            if s["TrainingJobName"] == "bad/name"] == []


def test_channel_name_with_traversal_is_refused(paths_aws, paths_training_request, outside_untouched):
    request = paths_training_request(job_name(), channel="../../x")
    response = refused(lambda: paths_aws("sagemaker").create_training_job(**request))

    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value '../../x' at 'inputDataConfig.1.member.channelName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [A-Za-z0-9\\.\\-_]+")


def test_tuning_job_name_with_traversal_is_refused(paths_aws, paths_training_request, outside_untouched):
    definition = paths_training_request(job_name())
    for key in ("TrainingJobName", "HyperParameters"):
        definition.pop(key)
    definition["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "loss", "Regex": "Loss: ([0-9.]+)"}]
    response = refused(lambda: paths_aws("sagemaker").create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=TRAVERSAL,
        HyperParameterTuningJobConfig={"Strategy": "Random", "ResourceLimits": {"MaxNumberOfTrainingJobs": 1,
                                                                                "MaxParallelTrainingJobs": 1},
                                       "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"}},
        TrainingJobDefinition=definition))

    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value '{TRAVERSAL}' at 'hyperParameterTuningJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")


def test_model_name_with_traversal_is_refused(paths_aws, outside_untouched):
    response = refused(lambda: paths_aws("sagemaker").create_model(
        ModelName=TRAVERSAL, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"}))

    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value '{TRAVERSAL}' at 'modelName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$")


def test_endpoint_config_and_variant_names_with_traversal_are_refused(paths_aws, outside_untouched):
    response = refused(lambda: paths_aws("sagemaker").create_endpoint_config(
        EndpointConfigName=TRAVERSAL, ProductionVariants=[{
            "VariantName": "../v", "ModelName": "model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]))

    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        f"2 validation errors detected: Value '{TRAVERSAL}' at 'endpointConfigName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}; "
        "Value '../v' at 'productionVariants.1.member.variantName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}")


def test_endpoint_name_with_traversal_is_refused(paths_aws, outside_untouched):
    response = refused(lambda: paths_aws("sagemaker").create_endpoint(EndpointName=TRAVERSAL, EndpointConfigName="c"))

    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value '{TRAVERSAL}' at 'endpointName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}")


def test_invoke_endpoint_name_with_traversal_is_refused(paths_aws, outside_untouched):
    response = refused(lambda: paths_aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=TRAVERSAL, Body=b"{}", ContentType="application/json"))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationError"
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value '{TRAVERSAL}' at 'endpointName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*")


@pytest.fixture(scope="module")
def paths_lambda_role(paths_aws) -> str:
    return paths_aws("iam").create_role(RoleName=f"paths-{uuid.uuid4().hex[:8]}",
                                        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]


@pytest.fixture(scope="module")
def paths_function(paths_aws, paths_lambda_role) -> str:
    """A deployed Python function that answers 1."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return 1\n")
    name = f"paths-{uuid.uuid4().hex[:8]}"
    paths_aws("lambda").create_function(FunctionName=name, Runtime="python3.11", Role=paths_lambda_role,
                                        Handler="lambda_function.lambda_handler", Code={"ZipFile": buffer.getvalue()})
    return name


LAMBDA_NAME_PATTERN = ("(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"
                       "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")


def test_lambda_function_name_with_traversal_is_refused(paths_aws, paths_lambda_role, outside_untouched):
    response = refused(lambda: paths_aws("lambda").create_function(
        FunctionName=TRAVERSAL, Runtime="python3.11", Role=paths_lambda_role, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18}))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value '{TRAVERSAL}' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {LAMBDA_NAME_PATTERN}")


def test_lambda_invoke_name_with_traversal_is_refused(paths_aws, outside_untouched):
    response = refused(lambda: paths_aws("lambda").invoke(FunctionName=TRAVERSAL, Payload=b"{}"))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"].startswith(
        f"1 validation error detected: Value '{TRAVERSAL}' at 'functionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ")


def test_lambda_qualifier_with_traversal_is_refused(paths_aws, paths_function, outside_untouched):
    response = refused(lambda: paths_aws("lambda").invoke(FunctionName=paths_function, Qualifier="../x", Payload=b"{}"))

    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value '../x' at 'qualifier' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+")


def test_lambda_alias_name_with_traversal_is_refused(paths_aws, paths_function, outside_untouched):
    response = refused(lambda: paths_aws("lambda").create_alias(
        FunctionName=paths_function, Name="../live", FunctionVersion="$LATEST"))

    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value '../live' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")


# --- folders derived by the runtime ---------------------------------------------------------------------------
def test_training_job_runs_in_a_folder_named_for_its_arn(paths_aws, paths_sandbox, paths_training_request,
                                                         paths_finished_job):
    name = job_name()
    arn = paths_aws("sagemaker").create_training_job(**paths_training_request(name))["TrainingJobArn"]

    assert paths_finished_job(name)["TrainingJobStatus"] == "Completed"
    jobs = paths_sandbox / "state" / "sagemaker" / "training-jobs"
    assert (jobs / derived_name(arn) / "algo-1" / "opt" / "ml" / "input" / "data" / "training" / "part-0.txt").is_file()
    assert not (jobs / name).exists()


def test_lambda_environment_files_are_named_for_the_function_arn(paths_aws, paths_sandbox, paths_function):
    lam = paths_aws("lambda")
    assert json.loads(lam.invoke(FunctionName=paths_function, Payload=b"{}")["Payload"].read()) == 1
    arn = lam.get_function(FunctionName=paths_function)["Configuration"]["FunctionArn"]

    files = [p.name for p in (paths_sandbox / "state" / "lambda" / "environments").iterdir()]
    assert any(f.startswith(derived_name(arn) + "-") for f in files)
    assert not any(paths_function in f for f in files)


# --- channel content that would leave its folder --------------------------------------------------------------
@pytest.mark.parametrize("key, relative, problem", [
    (f"data/evil/{CANARY_FROM_CHANNEL}", CANARY_FROM_CHANNEL, "contains '..'"),
    ("data/evil//abs.txt", "/abs.txt", "is absolute"),
])
def test_s3_key_leaving_the_channel_fails_the_job(paths_aws, paths_bucket, paths_training_request, paths_finished_job,
                                                  outside_untouched, key, relative, problem):
    paths_aws("s3").put_object(Bucket=paths_bucket, Key=key, Body=b"overwritten")
    name = job_name()
    paths_aws("sagemaker").create_training_job(**paths_training_request(name, f"s3://{paths_bucket}/data/evil"))

    described = paths_finished_job(name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"ClientError: channel training: S3 object s3://{paths_bucket}/{key} cannot be placed in "
        f"/opt/ml/input/data/training: its path relative to the channel, {relative!r}, {problem}")


def test_manifest_entry_leaving_the_channel_fails_the_job(paths_aws, paths_bucket, paths_training_request,
                                                          paths_finished_job, outside_untouched):
    s3 = paths_aws("s3")
    s3.put_object(Bucket=paths_bucket, Key="manifest.json", Body=json.dumps([
        {"prefix": f"s3://{paths_bucket}/data/train/"}, "part-0.txt", CANARY_FROM_CHANNEL,
    ]).encode())
    name = job_name()
    paths_aws("sagemaker").create_training_job(**paths_training_request(
        name, f"s3://{paths_bucket}/manifest.json", data_type="ManifestFile"))

    described = paths_finished_job(name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"ClientError: channel training: S3 object s3://{paths_bucket}/data/train/{CANARY_FROM_CHANNEL} cannot be "
        f"placed in /opt/ml/input/data/training: its path relative to the channel, {CANARY_FROM_CHANNEL!r}, "
        "contains '..'")


def test_channel_named_dot_dot_fails_the_job(paths_aws, paths_training_request, paths_finished_job, outside_untouched):
    name = job_name()
    paths_aws("sagemaker").create_training_job(**paths_training_request(name, channel=".."))

    described = paths_finished_job(name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == ("ClientError: channel name '..' cannot be a folder under "
                                          "/opt/ml/input/data: '..' contains '..'")


# --- source directories on this machine -----------------------------------------------------------------------
def test_local_source_directory_is_refused_by_default(paths_aws, paths_training_request, paths_finished_job):
    name = job_name()
    source = f"file://{SCRIPTS}"
    paths_aws("sagemaker").create_training_job(**paths_training_request(name, source=source))

    described = paths_finished_job(name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"ClientError: sagemaker_submit_directory {source} is not an S3 URI: this runtime runs source directories "
        "from this machine only when started with --allow-local-code")


def test_local_source_directory_runs_with_allow_local_code(tmp_path, paths_bucket, paths_aws, paths_training_request,
                                                           paths_finished_job, create_sagemaker_role):
    data = paths_aws("s3").get_object(Bucket=paths_bucket, Key="data/train/part-0.txt")["Body"].read()
    with ServerProcess(tmp_path / "state", "--allow-local-code") as local_code_server:
        aws = client_factory(local_code_server.endpoint_url)
        create_sagemaker_role(aws("iam"))
        aws("s3").create_bucket(Bucket=paths_bucket)
        aws("s3").put_object(Bucket=paths_bucket, Key="data/train/part-0.txt", Body=data)
        name = job_name()
        aws("sagemaker").create_training_job(**paths_training_request(name, source=f"file://{SCRIPTS}"))

        described = paths_finished_job(name, aws("sagemaker"))
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
