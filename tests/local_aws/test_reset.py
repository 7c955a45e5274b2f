"""moto's ``/moto-api/reset`` ends everything live with the records it forgets: serving workers, Lambda workers,
running training jobs. One runtime (``--enable-moto-api``) gets all three going, is reset once, and each test
checks one outcome."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from typing import Any

import boto3
import psutil
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from local_aws.server import ServerProcess
from tests.processes import still_running

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
HANDLER = "def lambda_handler(event, context):\n    return {'echo': event}\n"


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", HANDLER)
    return buffer.getvalue()


def _reset(endpoint_url: str) -> int:
    """POST /moto-api/reset signed with the administrator's key; the HTTP status."""
    request = AWSRequest(method="POST", url=f"{endpoint_url}/moto-api/reset", data=b"")
    SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    answer = urllib.request.urlopen(urllib.request.Request(prepared.url, data=b"", method="POST",
                                                           headers=dict(prepared.headers)), timeout=120)
    return answer.status


@pytest.fixture(scope="module")
def reset_runtime(tmp_path_factory, seed_bucket, training_request_for, create_sagemaker_role, wait_until):
    """A runtime serving an endpoint (2 workers), a warm Lambda worker and a running training job, then reset.

    Yields (client factory, pids of the workers and job processes that ran before the reset).
    """
    with ServerProcess(tmp_path_factory.mktemp("reset") / "state", "--enable-moto-api") as server:
        def client(service: str) -> Any:
            return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")

        s3, sagemaker, iam, awslambda = client("s3"), client("sagemaker"), client("iam"), client("lambda")
        model_url = seed_bucket(s3, "reset-bucket")
        role = create_sagemaker_role(iam)
        sagemaker.create_model(ModelName="m", ExecutionRoleArn=role,
                               PrimaryContainer={"Image": "x", "ModelDataUrl": model_url})
        sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
        sagemaker.create_training_job(**training_request_for("reset-bucket", role, "running-job", "slow_train.py"))
        lambda_role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
        awslambda.create_function(FunctionName="fn", Runtime="python3.11", Role=lambda_role["Role"]["Arn"],
                                  Handler="lambda_function.lambda_handler", Code={"ZipFile": _function_zip()})
        wait_until(lambda: awslambda.get_function(FunctionName="fn")["Configuration"]["State"],
                   lambda state: state == "Active")
        assert awslambda.invoke(FunctionName="fn", Payload=b'{"a": 1}')["StatusCode"] == 200
        wait_until(lambda: sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"],
                   lambda status: status == "InService", timeout=120)
        wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="running-job")["SecondaryStatus"],
                   lambda status: status == "Training", timeout=120)
        before = wait_until(lambda: psutil.Process(server.pid).children(recursive=True),
                            lambda children: len(children) >= 4)

        assert _reset(server.endpoint_url) == 200

        yield client, before


@pytest.fixture(scope="module")
def training_request_for():
    def build(bucket: str, role: str, name: str, program: str) -> dict[str, Any]:
        return {
            "TrainingJobName": name, "RoleArn": role,
            "AlgorithmSpecification": {"TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312",
                                       "TrainingInputMode": "File"},
            "HyperParameters": {"sagemaker_program": f'"{program}"',
                                "sagemaker_submit_directory": f'"s3://{bucket}/code/source.tar.gz"'},
            "InputDataConfig": [{"ChannelName": "training", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train"}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        }
    return build


def test_reset_leaves_no_worker_or_job_process(reset_runtime, wait_until):
    _, before = reset_runtime

    left = wait_until(lambda: still_running(before), lambda processes: not processes, timeout=30)

    assert left == []


def test_an_endpoint_forgotten_by_reset_no_longer_answers(reset_runtime):
    client, _ = reset_runtime

    with pytest.raises(ClientError) as refused:
        client("sagemaker-runtime").invoke_endpoint(EndpointName="e", Body=b"[1.0]", ContentType="application/json")

    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert refused.value.response["Error"]["Message"] == "Endpoint e of account 123456789012 not found."


def test_a_function_forgotten_by_reset_is_not_found(reset_runtime):
    client, _ = reset_runtime

    with pytest.raises(ClientError) as refused:
        client("lambda").invoke(FunctionName="fn", Payload=b"{}")

    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_training_jobs_are_forgotten_by_reset(reset_runtime):
    client, _ = reset_runtime

    assert client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
