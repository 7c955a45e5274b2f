"""The course workflow end to end with the AWS CLI v1 alone, as README's "Using other clients" sets it up: S3
upload, IAM roles, a training job and its waiter, its logs, a tuning job, an endpoint from the best trial with its
waiter, invoke-endpoint, a Lambda function calling the endpoint, its concurrency, and target-tracking autoscaling.

``tests/local_aws_security/test_aws_cli.py`` covers the CLI's signing, S3 transfers and refusals; this file is the
workflow."""

from __future__ import annotations

import json
import subprocess
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.archives import tar_gz
from tests.execution_roles import SAGEMAKER_ROLE_POLICY, SAGEMAKER_TRUST

SCRIPTS = Path(__file__).resolve().parents[1] / "local_aws" / "scripts"
ACCOUNT = "123456789012"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312"
INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.8-cpu-py312"
LOSS_METRIC = {"Name": "test:loss", "Regex": r"Testing Loss: ([0-9\.]+)"}
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
#: The course's Lambda, reduced: it forwards the event's numbers to the endpoint and returns the answer.
HANDLER = '''
import json
import os

import boto3

runtime = boto3.client("sagemaker-runtime")


def handler(event, context):
    answer = runtime.invoke_endpoint(EndpointName=os.environ["ENDPOINT_NAME"], ContentType="application/json",
                                     Body=json.dumps(event["numbers"]))
    return json.loads(answer["Body"].read())
'''
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"

pytestmark = pytest.mark.slow

Cli = Callable[..., subprocess.CompletedProcess]


def output(completed: subprocess.CompletedProcess) -> Any:
    """The parsed JSON output of a command that must have succeeded (``{}`` for commands that print nothing)."""
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout) if completed.stdout.strip() else {}


def succeeded(completed: subprocess.CompletedProcess) -> str:
    """The text output of a command that must have succeeded (``aws s3`` prints lines, not JSON)."""
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


@pytest.fixture(scope="module")
def name() -> str:
    return f"cli-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli_workflow")


@pytest.fixture(scope="module")
def bucket(cli, name, work_dir) -> str:
    """The course bucket: the training code as a source tarball and a 4-file training channel, uploaded by the CLI."""
    (work_dir / "sourcedir.tar.gz").write_bytes(tar_gz({p.name: p.read_bytes() for p in SCRIPTS.glob("*.py")}))
    data = work_dir / "train"
    data.mkdir()
    for i in range(4):
        (data / f"part-{i}.txt").write_text(str(i + 1))
    succeeded(cli("s3", "mb", f"s3://{name}"))
    succeeded(cli("s3", "cp", str(work_dir / "sourcedir.tar.gz"), f"s3://{name}/code/sourcedir.tar.gz"))
    succeeded(cli("s3", "sync", str(data), f"s3://{name}/data/train"))
    return name


@pytest.fixture(scope="module")
def sagemaker_role(cli, name) -> str:
    role = output(cli("iam", "create-role", "--role-name", f"{name}-sagemaker",
                      "--assume-role-policy-document", json.dumps(SAGEMAKER_TRUST)))["Role"]
    output(cli("iam", "put-role-policy", "--role-name", role["RoleName"], "--policy-name", "sagemaker-access",
               "--policy-document", json.dumps(SAGEMAKER_ROLE_POLICY)))
    return role["Arn"]


def training_definition(bucket: str, role: str) -> dict[str, Any]:
    return {
        "RoleArn": role,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                   "MetricDefinitions": [LOSS_METRIC]},
        "InputDataConfig": [{"ChannelName": "training", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train", "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }


def source_hyperparameters(bucket: str) -> dict[str, str]:
    return {"sagemaker_program": '"tiny_train.py"',
            "sagemaker_submit_directory": f'"s3://{bucket}/code/sourcedir.tar.gz"'}


@pytest.fixture(scope="module")
def trained(cli, name, bucket, sagemaker_role) -> dict[str, Any]:
    """A training job created with the CLI and waited for with ``aws sagemaker wait``; its description."""
    request = {"TrainingJobName": f"{name}-train", **training_definition(bucket, sagemaker_role),
               "HyperParameters": {**source_hyperparameters(bucket), "epochs": "1"}}
    output(cli("sagemaker", "create-training-job", "--cli-input-json", json.dumps(request)))
    output(cli("sagemaker", "wait", "training-job-completed-or-stopped", "--training-job-name", f"{name}-train"))
    return output(cli("sagemaker", "describe-training-job", "--training-job-name", f"{name}-train"))


@pytest.fixture(scope="module")
def tuned(cli, name, bucket, sagemaker_role, wait_until) -> dict[str, Any]:
    """A two-trial tuning job created with the CLI, polled to its end (SageMaker has no tuning waiter)."""
    definition = training_definition(bucket, sagemaker_role)
    request = {
        "HyperParameterTuningJobName": f"{name}-hpo",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.5", "ScalingType": "Auto"}]},
        },
        "TrainingJobDefinition": {**definition, "StaticHyperParameters": source_hyperparameters(bucket)},
    }
    output(cli("sagemaker", "create-hyper-parameter-tuning-job", "--cli-input-json", json.dumps(request)))
    return wait_until(
        lambda: output(cli("sagemaker", "describe-hyper-parameter-tuning-job",
                           "--hyper-parameter-tuning-job-name", f"{name}-hpo")),
        lambda tuning: tuning["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"), timeout=300,
        interval=2.0)


@pytest.fixture(scope="module")
def endpoint(cli, name, sagemaker_role, tuned) -> str:
    """An endpoint serving the best trial's model, created with the CLI and waited for with ``aws sagemaker wait``;
    deleted (and waited for) afterwards."""
    best = tuned["BestTrainingJob"]["TrainingJobName"]
    artifacts = output(cli("sagemaker", "describe-training-job", "--training-job-name", best))["ModelArtifacts"]
    container = {"Image": INFERENCE_IMAGE, "ModelDataUrl": artifacts["S3ModelArtifacts"]}
    output(cli("sagemaker", "create-model", "--model-name", name, "--execution-role-arn", sagemaker_role,
               "--primary-container", json.dumps(container)))
    output(cli("sagemaker", "create-endpoint-config", "--endpoint-config-name", name, "--production-variants",
               json.dumps([{"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
                            "InstanceType": "ml.m5.large"}])))
    output(cli("sagemaker", "create-endpoint", "--endpoint-name", name, "--endpoint-config-name", name))
    output(cli("sagemaker", "wait", "endpoint-in-service", "--endpoint-name", name))
    yield name
    output(cli("sagemaker", "delete-endpoint", "--endpoint-name", name))
    output(cli("sagemaker", "wait", "endpoint-deleted", "--endpoint-name", name))


@pytest.fixture(scope="module")
def function(cli, name, endpoint, work_dir) -> str:
    """The Lambda function calling the endpoint, with a role allowed to invoke that endpoint only."""
    role = output(cli("iam", "create-role", "--role-name", f"{name}-lambda",
                      "--assume-role-policy-document", json.dumps(LAMBDA_TRUST)))["Role"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint",
              "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{endpoint}"}]}
    output(cli("iam", "put-role-policy", "--role-name", role["RoleName"], "--policy-name", "invoke-endpoint",
               "--policy-document", json.dumps(policy)))
    package = work_dir / "function.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    output(cli("lambda", "create-function", "--function-name", name, "--runtime", "python3.11",
               "--handler", "handler.handler", "--role", role["Arn"], "--zip-file", f"fileb://{package}",
               "--environment", json.dumps({"Variables": {"ENDPOINT_NAME": endpoint}})))
    return name


def invoke_function(cli: Cli, function: str, work_dir: Path, *qualifier: str) -> tuple[dict[str, Any], Any]:
    """(the CLI's invoke output, the function's answer)."""
    answer = work_dir / f"answer-{uuid.uuid4().hex[:6]}.json"
    result = output(cli("lambda", "invoke", "--function-name", function, *qualifier,
                        "--payload", json.dumps({"numbers": [1, 2.5]}), str(answer)))
    return result, json.loads(answer.read_text())


# --- training ---------------------------------------------------------------------------------------------------

def test_the_training_waiter_returns_on_a_completed_job_with_its_metric(trained):
    assert trained["TrainingJobStatus"] == "Completed"
    assert [metric["MetricName"] for metric in trained["FinalMetricDataList"]] == ["test:loss"]


def test_the_training_jobs_log_is_read_with_the_cli(cli, name, trained):
    group = "/aws/sagemaker/TrainingJobs"
    streams = output(cli("logs", "describe-log-streams", "--log-group-name", group,
                         "--log-stream-name-prefix", f"{name}-train/"))["logStreams"]
    events = output(cli("logs", "get-log-events", "--log-group-name", group,
                        "--log-stream-name", streams[0]["logStreamName"], "--start-from-head"))["events"]

    assert any(event["message"].startswith("Testing Loss: ") for event in events)


def test_the_model_artifact_is_listed_with_s3_ls(cli, bucket, name, trained):
    listing = output(cli("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", f"output/{name}-train/"))
    assert f"output/{name}-train/output/model.tar.gz" in [item["Key"] for item in listing["Contents"]]


# --- tuning -----------------------------------------------------------------------------------------------------

def test_the_tuning_job_completes_both_trials_and_names_the_best(cli, name, tuned):
    trials = output(cli("sagemaker", "list-training-jobs-for-hyper-parameter-tuning-job",
                        "--hyper-parameter-tuning-job-name", f"{name}-hpo"))["TrainingJobSummaries"]

    assert tuned["HyperParameterTuningJobStatus"] == "Completed"
    assert tuned["TrainingJobStatusCounters"]["Completed"] == 2
    assert tuned["BestTrainingJob"]["TrainingJobName"] in [trial["TrainingJobName"] for trial in trials]


# --- the endpoint -----------------------------------------------------------------------------------------------

def test_invoke_endpoint_answers_with_the_best_trials_model(cli, endpoint, tuned, work_dir):
    answer = work_dir / "endpoint-answer.json"
    learning_rate = float(tuned["BestTrainingJob"]["TunedHyperParameters"]["learning_rate"])

    result = output(cli("sagemaker-runtime", "invoke-endpoint", "--endpoint-name", endpoint,
                        "--content-type", "application/json", "--body", "[1, 2.5]", str(answer)))

    assert result["ContentType"] == "application/json"
    assert json.loads(answer.read_text())["predictions"] == pytest.approx(
        [x * learning_rate + 2.5 for x in (1, 2.5)])  # tiny_train.py learns the mean of 1..4


def test_target_tracking_is_registered_on_the_variant_with_the_cli(cli, endpoint):
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    scope = ("--service-namespace", "sagemaker", "--resource-id", resource, "--scalable-dimension", VARIANT_DIMENSION)
    configuration = {"TargetValue": 10.0, "ScaleInCooldown": 30, "ScaleOutCooldown": 30,
                     "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
    output(cli("application-autoscaling", "register-scalable-target", *scope, "--min-capacity", "1",
               "--max-capacity", "3"))
    created = output(cli("application-autoscaling", "put-scaling-policy", *scope, "--policy-name", "invocations",
                         "--policy-type", "TargetTrackingScaling",
                         "--target-tracking-scaling-policy-configuration", json.dumps(configuration)))
    policies = output(cli("application-autoscaling", "describe-scaling-policies", "--service-namespace", "sagemaker",
                          "--resource-id", resource))["ScalingPolicies"]
    output(cli("application-autoscaling", "deregister-scalable-target", *scope))

    assert [policy["PolicyARN"] for policy in policies] == [created["PolicyARN"]]
    assert policies[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 10.0


# --- Lambda -----------------------------------------------------------------------------------------------------

def test_the_lambda_function_answers_with_the_endpoints_prediction(cli, function, work_dir):
    result, answer = invoke_function(cli, function, work_dir)

    assert result["StatusCode"] == 200 and "FunctionError" not in result
    assert len(answer["predictions"]) == 2


def test_reserved_concurrency_set_with_the_cli_is_read_back(cli, function):
    output(cli("lambda", "put-function-concurrency", "--function-name", function,
               "--reserved-concurrent-executions", "5"))
    assert output(cli("lambda", "get-function-concurrency", "--function-name", function)) == {
        "ReservedConcurrentExecutions": 5}


def test_a_published_version_with_provisioned_concurrency_becomes_ready_and_answers(cli, function, work_dir,
                                                                                     wait_until):
    version = output(cli("lambda", "publish-version", "--function-name", function))["Version"]
    output(cli("lambda", "put-provisioned-concurrency-config", "--function-name", function, "--qualifier", version,
               "--provisioned-concurrent-executions", "2"))
    config = wait_until(lambda: output(cli("lambda", "get-provisioned-concurrency-config", "--function-name", function,
                                           "--qualifier", version)),
                        lambda config: config["Status"] != "IN_PROGRESS", timeout=120, interval=1.0)

    result, answer = invoke_function(cli, function, work_dir, "--qualifier", version)

    assert config["Status"] == "READY" and config["AvailableProvisionedConcurrentExecutions"] == 2
    assert result["ExecutedVersion"] == version and len(answer["predictions"]) == 2
