"""Children get only what AWS gives them, and die with the runtime.

Training hosts, serving workers and Lambda workers see none of the runtime's own environment (a canary variable
and the runtime's AWS keys) unless it is passed with ``--pass-env``; they call AWS as their execution role's
session; SageMaker refuses roles it cannot assume; and no child outlives a runtime killed with SIGKILL (what a
parent-death signal cannot reach is ended by the next start on the same state dir).
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError

from local_aws.server import ServerProcess
from tests.archives import read_tar_gz, tar_gz, zip_archive
from tests.aws_clients import client_factory
from tests.execution_roles import create_lambda_role, create_sagemaker_role

ACCOUNT = "123456789012"
CANARY = f"canary-{uuid.uuid4().hex}"
RUNTIME_KEY_ID = "AKIARUNTIMECANARY0001"
RUNTIME_SECRET = f"runtime-secret-{uuid.uuid4().hex}"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312"

# What each kind of child reports: its whole environment and who it is to AWS (boto3 with that environment).
REPORT = '''
import json
import os

import boto3


def report():
    identity = boto3.client("sts").get_caller_identity()["Arn"]
    return {"environ": dict(os.environ), "identity": identity}
'''
ENV_TRAIN = REPORT + '''

with open(os.path.join(os.environ["SM_MODEL_DIR"], "report.json"), "w") as stream:
    json.dump(report(), stream)
'''
SLEEP_TRAIN = '''
import time

print("training until killed", flush=True)
time.sleep(600)
'''
FORKING_TRAIN = '''
import os
import subprocess
import sys
import time

grandchild = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
with open(os.environ["GRANDCHILD_PID_FILE"], "w") as stream:
    stream.write(str(grandchild.pid))
print("training with a grandchild", flush=True)
time.sleep(600)
'''
REPORT_INFERENCE = REPORT + '''

def model_fn(model_dir):
    return None


def input_fn(body, content_type):
    return body


def predict_fn(data, model):
    return report()


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''
REPORT_LAMBDA = REPORT + '''

def lambda_handler(event, context):
    return report()
'''


def runtime_environment() -> dict[str, str]:
    """The test process's environment plus a canary and AWS keys of the runtime's own."""
    return {**os.environ, "PAWFLOW_CANARY": CANARY, "AWS_ACCESS_KEY_ID": RUNTIME_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": RUNTIME_SECRET}


class Workloads:
    """Roles, code and requests for one runtime: a training job, an endpoint and a Lambda function."""

    def __init__(self, url: str) -> None:
        self.aws = client_factory(url)
        self.suffix = uuid.uuid4().hex[:8]
        self.bucket = f"isolation-{self.suffix}"
        iam = self.aws("iam")
        self.sagemaker_role = f"isolation-sagemaker-{self.suffix}"
        self.lambda_role = f"isolation-lambda-{self.suffix}"
        self.sagemaker_role_arn = create_sagemaker_role(iam, self.sagemaker_role)
        self.lambda_role_arn = create_lambda_role(iam, self.lambda_role, policy_arns=())
        s3 = self.aws("s3")
        s3.create_bucket(Bucket=self.bucket)
        s3.put_object(Bucket=self.bucket, Key="code/source.tar.gz", Body=tar_gz({
            "env_train.py": ENV_TRAIN, "sleep_train.py": SLEEP_TRAIN, "forking_train.py": FORKING_TRAIN}))
        s3.put_object(Bucket=self.bucket, Key="data/train/part-0.txt", Body=b"1")
        s3.put_object(Bucket=self.bucket, Key="models/report.tar.gz",
                      Body=tar_gz({"code/inference.py": REPORT_INFERENCE}))

    def training_request(self, name: str, program: str, role_arn: str | None = None,
                         environment: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "TrainingJobName": name,
            "RoleArn": role_arn or self.sagemaker_role_arn,
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "HyperParameters": {"sagemaker_program": f'"{program}"',
                                "sagemaker_submit_directory": f'"s3://{self.bucket}/code/source.tar.gz"'},
            "InputDataConfig": [{"ChannelName": "training", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{self.bucket}/data/train",
                "S3DataDistributionType": "FullyReplicated"}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{self.bucket}/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            **({"Environment": environment} if environment else {}),
        }

    def start_training(self, program: str, environment: dict[str, str] | None = None) -> str:
        name = f"isolation-{program.split('_')[0]}-{uuid.uuid4().hex[:8]}"
        self.aws("sagemaker").create_training_job(**self.training_request(name, program, environment=environment))
        return name

    def start_endpoint(self) -> str:
        sagemaker = self.aws("sagemaker")
        name = f"isolation-{self.suffix}"
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=self.sagemaker_role_arn, PrimaryContainer={
            "Image": IMAGE, "ModelDataUrl": f"s3://{self.bucket}/models/report.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        return name

    def create_function(self) -> str:
        name = f"isolation-{self.suffix}"
        self.aws("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Role=self.lambda_role_arn,
            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_archive({"lambda_function.py": REPORT_LAMBDA})}, Timeout=30)
        return name

    def invoke_function(self, name: str) -> dict[str, Any]:
        response = self.aws("lambda").invoke(FunctionName=name, Payload=b"{}")
        payload = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, payload
        return payload


def in_service(workloads: Workloads, endpoint: str, wait_until) -> None:
    sagemaker = workloads.aws("sagemaker")
    described = wait_until(lambda: sagemaker.describe_endpoint(EndpointName=endpoint),
                           lambda d: d["EndpointStatus"] in ("InService", "Failed"), timeout=120)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")


def reports(workloads: Workloads, wait_until) -> dict[str, dict[str, Any]]:
    """What a training job, an endpoint's handler and a Lambda worker of the runtime report about themselves."""
    sagemaker = workloads.aws("sagemaker")
    job = workloads.start_training("env_train.py")
    endpoint = workloads.start_endpoint()
    function = workloads.create_function()
    described = wait_until(lambda: sagemaker.describe_training_job(TrainingJobName=job),
                           lambda d: d["TrainingJobStatus"] not in ("InProgress", "Stopping"), timeout=120)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    model = read_tar_gz(workloads.aws("s3").get_object(
        Bucket=workloads.bucket, Key=f"output/{job}/output/model.tar.gz")["Body"].read())
    in_service(workloads, endpoint, wait_until)
    answer = workloads.aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=b"{}", ContentType="application/json")
    return {
        "training": json.loads(model["report.json"]),
        "endpoint": json.loads(answer["Body"].read()),
        "lambda": workloads.invoke_function(function),
    }


@pytest.fixture(scope="module")
def isolated_runtime(tmp_path_factory) -> Iterator[ServerProcess]:
    """A runtime whose own environment holds a canary and AWS keys; nothing passed to children."""
    with ServerProcess(tmp_path_factory.mktemp("isolated"), env=runtime_environment()) as server:
        yield server


@pytest.fixture(scope="module")
def isolated_workloads(isolated_runtime) -> Workloads:
    return Workloads(isolated_runtime.endpoint_url)


@pytest.fixture(scope="module")
def isolated_reports(isolated_workloads, wait_until) -> dict[str, dict[str, Any]]:
    return reports(isolated_workloads, wait_until)


@pytest.fixture(scope="module")
def passing_reports(tmp_path_factory, wait_until) -> dict[str, dict[str, Any]]:
    """Reports from a runtime started with ``--pass-env PAWFLOW_CANARY``."""
    with ServerProcess(tmp_path_factory.mktemp("passing"), "--pass-env", "PAWFLOW_CANARY",
                       env=runtime_environment()) as server:
        return reports(Workloads(server.endpoint_url), wait_until)


# --- environments ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("child", ["training", "endpoint", "lambda"])
def test_a_child_does_not_see_the_runtimes_variables(isolated_reports, child):
    environ = isolated_reports[child]["environ"]

    assert "PAWFLOW_CANARY" not in environ
    assert CANARY not in environ.values()


@pytest.mark.parametrize("child", ["training", "endpoint", "lambda"])
def test_a_child_does_not_get_the_runtimes_aws_keys(isolated_reports, child):
    environ = isolated_reports[child]["environ"]

    assert environ["AWS_ACCESS_KEY_ID"] != RUNTIME_KEY_ID
    assert RUNTIME_SECRET not in environ.values()
    assert environ["AWS_SESSION_TOKEN"]


@pytest.mark.parametrize("child", ["training", "endpoint", "lambda"])
def test_a_child_starts_with_a_fixed_path_and_locale_and_the_runtime_as_endpoint(isolated_reports, isolated_runtime,
                                                                                  child):
    environ = isolated_reports[child]["environ"]

    assert environ["PATH"].split(os.pathsep)[-1] == "/bin"
    assert (environ["LANG"], environ["LC_ALL"]) == ("C.UTF-8", "C.UTF-8")
    assert environ["AWS_ENDPOINT_URL"] == isolated_runtime.endpoint_url
    assert environ["AWS_REGION"] == "us-east-1"


@pytest.mark.parametrize("child", ["training", "endpoint", "lambda"])
def test_a_variable_passed_with_pass_env_reaches_the_child(passing_reports, child):
    assert passing_reports[child]["environ"]["PAWFLOW_CANARY"] == CANARY



# --- identities --------------------------------------------------------------------------------------------------
def test_a_training_job_calls_aws_as_its_roles_sagemaker_session(isolated_reports, isolated_workloads):
    assert isolated_reports["training"]["identity"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{isolated_workloads.sagemaker_role}/SageMaker")


def test_an_endpoint_handler_calls_aws_as_its_models_role_session(isolated_reports, isolated_workloads):
    assert isolated_reports["endpoint"]["identity"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{isolated_workloads.sagemaker_role}/SageMaker")


def test_a_lambda_worker_calls_aws_as_its_roles_function_session(isolated_reports, isolated_workloads):
    function = f"isolation-{isolated_workloads.suffix}"
    assert isolated_reports["lambda"]["identity"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{isolated_workloads.lambda_role}/{function}")


# --- roles as AWS checks them ------------------------------------------------------------------------------------
def refused_role_message(role_arn: str) -> str:
    return (f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role.")


def test_create_training_job_with_a_missing_role_is_refused(isolated_workloads):
    missing = f"arn:aws:iam::{ACCOUNT}:role/missing-{uuid.uuid4().hex[:8]}"
    request = isolated_workloads.training_request(f"refused-{uuid.uuid4().hex[:8]}", "env_train.py", role_arn=missing)

    with pytest.raises(ClientError) as error:
        isolated_workloads.aws("sagemaker").create_training_job(**request)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == refused_role_message(missing)


def test_create_training_job_with_a_role_not_trusting_sagemaker_is_refused(isolated_workloads):
    request = isolated_workloads.training_request(f"refused-{uuid.uuid4().hex[:8]}", "env_train.py",
                                                  role_arn=isolated_workloads.lambda_role_arn)

    with pytest.raises(ClientError) as error:
        isolated_workloads.aws("sagemaker").create_training_job(**request)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == refused_role_message(isolated_workloads.lambda_role_arn)


def test_create_model_with_a_role_not_trusting_sagemaker_is_refused(isolated_workloads):
    with pytest.raises(ClientError) as error:
        isolated_workloads.aws("sagemaker").create_model(
            ModelName=f"refused-{uuid.uuid4().hex[:8]}", ExecutionRoleArn=isolated_workloads.lambda_role_arn,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{isolated_workloads.bucket}/models/report.tar.gz"})

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == refused_role_message(isolated_workloads.lambda_role_arn)


def test_create_function_with_a_role_not_trusting_lambda_is_refused(isolated_workloads):
    with pytest.raises(ClientError) as error:
        isolated_workloads.aws("lambda").create_function(
            FunctionName=f"refused-{uuid.uuid4().hex[:8]}", Runtime="python3.11",
            Role=isolated_workloads.sagemaker_role_arn, Handler="lambda_function.lambda_handler",
            Code={"ZipFile": zip_archive({"lambda_function.py": REPORT_LAMBDA})})

    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert error.value.response["Error"]["Message"] == "The role defined for the function cannot be assumed by Lambda."


def test_a_function_may_not_override_the_variables_lambda_sets(isolated_workloads):
    lambda_client = isolated_workloads.aws("lambda")
    with pytest.raises(ClientError) as error:
        lambda_client.create_function(
            FunctionName=f"reserved-{uuid.uuid4().hex[:8]}", Runtime="python3.11",
            Role=isolated_workloads.lambda_role_arn, Handler="lambda_function.lambda_handler",
            Code={"ZipFile": zip_archive({"lambda_function.py": REPORT_LAMBDA})},
            Environment={"Variables": {"AWS_SECRET_ACCESS_KEY": "x", "AWS_ACCESS_KEY_ID": "y", "MINE": "ok"}})

    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert error.value.response["Error"]["Message"].endswith(
        "Reserved keys used in this request: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY")


# --- processes die with the runtime ------------------------------------------------------------------------------
def gone(process: psutil.Process) -> bool:
    """The process ended (reaped, or a zombie waiting for a reaper); a recycled pid counts as ended."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_every_child_dies_when_the_runtime_is_killed(tmp_path, wait_until):
    with ServerProcess(tmp_path / "state") as server:
        workloads = Workloads(server.endpoint_url)
        job = workloads.start_training("sleep_train.py")
        endpoint = workloads.start_endpoint()
        function = workloads.create_function()
        workloads.invoke_function(function)
        in_service(workloads, endpoint, wait_until)
        wait_until(lambda: workloads.aws("sagemaker").describe_training_job(TrainingJobName=job)["SecondaryStatus"],
                   lambda status: status == "Training")
        children = wait_until(lambda: psutil.Process(server.pid).children(),
                              lambda found: len(found) >= 3)

        server.stop(signal.SIGKILL)

        wait_until(lambda: [child.pid for child in children if not gone(child)], lambda alive: not alive, timeout=15)


def test_a_grandchild_left_by_a_killed_runtime_is_ended_by_the_next_start(tmp_path, wait_until):
    pid_file = tmp_path / "grandchild.pid"
    grandchild = None
    try:
        with ServerProcess(tmp_path / "state") as server:
            workloads = Workloads(server.endpoint_url)
            workloads.start_training("forking_train.py", environment={"GRANDCHILD_PID_FILE": str(pid_file)})
            wait_until(lambda: pid_file.exists() and pid_file.read_text(), lambda text: bool(text))
            grandchild = psutil.Process(int(pid_file.read_text()))
            host = grandchild.parent()
            server.stop(signal.SIGKILL)
            wait_until(lambda: gone(host), lambda ended: ended, timeout=15)
            assert not gone(grandchild)  # a parent-death signal reaches the host, never what the host forked

        with ServerProcess(tmp_path / "state"):
            wait_until(lambda: gone(grandchild), lambda ended: ended, timeout=15)
    finally:
        if grandchild is not None and not gone(grandchild):
            grandchild.kill()


def test_the_next_start_never_signals_a_recycled_pid(tmp_path):
    from dataclasses import asdict

    from local_aws.processes import RECORDS_DIR, ChildRecord, process_start_time

    stranger = psutil.Popen(["sleep", "60"], start_new_session=True)
    try:
        records = tmp_path / "state" / RECORDS_DIR
        records.mkdir(parents=True)
        # A record of an earlier child whose pid (and group id) a new process has since taken.
        earlier = ChildRecord(stranger.pid, stranger.pid, process_start_time(stranger.pid) - 1, ["sleep"],
                              runtime_pid=stranger.pid, runtime_start_time=0)
        (records / f"{stranger.pid}-{earlier.start_time}.json").write_text(json.dumps(asdict(earlier)))

        with ServerProcess(tmp_path / "state"):
            assert stranger.is_running() and stranger.status() != psutil.STATUS_ZOMBIE
            assert not list(records.glob("*.json"))
    finally:
        stranger.kill()
        stranger.wait()

