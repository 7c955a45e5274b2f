"""What the services do with an execution role is judged as the role's session and recorded: SageMaker's downloads,
image pulls, log writes and uploads, Lambda's log writes; a Lambda function's policy allows callers on its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pawflow.account_setup import SAGEMAKER_POLICY, SAGEMAKER_ROLE, ensure_sagemaker_execution_role
from tests.archives import tar_gz, zip_archive
from tests.execution_roles import SAGEMAKER_TRUST
from tests.sagemaker_jobs import ended_training_job
from tests.served_endpoints import serve_model, settled_endpoint
from tests.timeouts import scaled

ACCOUNT = "123456789012"
TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312"
TRAIN = """
import os
from pathlib import Path

data = Path(os.environ["SM_CHANNEL_TRAINING"])
total = sum(float(path.read_text()) for path in data.iterdir())
print(f"total: {total}")
Path(os.environ["SM_MODEL_DIR"], "model.json").write_text(str(total))
"""
INFERENCE = """
def model_fn(model_dir):
    return 1
"""
HANDLER = """
def lambda_handler(event, context):
    print("handled")
    return {"echo": event}
"""
ECR_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]


def judgements(server) -> list[dict[str, Any]]:
    path = server.state_dir / "iam" / "judgements.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def session_arn(role: str, session: str = "SageMaker") -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"


def sagemaker_policy(bucket: str, read: str = "*", write: str = "output/*",
                     repository: str = "pytorch-training") -> dict[str, Any]:
    """What a training job on ``bucket`` needs, narrowed by the arguments (object key patterns, ECR repository)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/{read}"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/{write}"},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": ECR_PULL, "Resource": f"arn:aws:ecr:*:763104351884:repository/{repository}"},
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*"},
    ]}


def sagemaker_role(aws, policy: dict[str, Any]) -> str:
    """A fresh SageMaker execution role with ``policy``; returns its name."""
    name = f"sm-{uuid.uuid4().hex[:8]}"
    iam = aws("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="job", PolicyDocument=json.dumps(policy))
    return name


def seeded_bucket(aws, prefix: str = "svc") -> str:
    bucket = f"{prefix}-{uuid.uuid4().hex[:10]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="code/source.tar.gz", Body=tar_gz({"train.py": TRAIN}))
    for i in range(2):
        s3.put_object(Bucket=bucket, Key=f"data/train/part-{i}.txt", Body=str(i + 1).encode())
    s3.put_object(Bucket=bucket, Key="models/model.tar.gz", Body=tar_gz({"code/inference.py": INFERENCE}))
    return bucket


def run_training(aws, wait_until, bucket: str, role: str, output: str = "output") -> dict[str, Any]:
    name = f"svc-{uuid.uuid4().hex[:10]}"
    sagemaker = aws("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        AlgorithmSpecification={"TrainingImage": TRAINING_IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"train.py"',
                         "sagemaker_submit_directory": f'"s3://{bucket}/code/source.tar.gz"'},
        InputDataConfig=[{"ChannelName": "training", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train",
            "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{output}"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 120})
    return ended_training_job(sagemaker, name, wait_until, timeout=scaled(40))


def create_function(aws, role: str) -> str:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    aws("lambda").create_function(FunctionName=name, Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                  Handler="lambda_function.lambda_handler",
                                  Code={"ZipFile": zip_archive({"lambda_function.py": HANDLER})}, Timeout=30)
    return name


def caller_credentials(aws, lambda_role: str, session: str = "caller") -> dict[str, str]:
    return aws("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{lambda_role}",
                                  RoleSessionName=session)["Credentials"]


# --- training jobs ---------------------------------------------------------------------------------------------


def failed_training(aws, wait_until, policy_of: Callable[[str], dict[str, Any]]) -> tuple[str, str, dict[str, Any]]:
    """Train on a fresh bucket as a role holding ``policy_of(bucket)``; assert the job failed; return the bucket,
    the role and the job."""
    bucket = seeded_bucket(aws)
    role = sagemaker_role(aws, policy_of(bucket))

    job = run_training(aws, wait_until, bucket, role)

    assert job["TrainingJobStatus"] == "Failed"
    return bucket, role, job


def without_list_bucket(bucket: str) -> dict[str, Any]:
    policy = sagemaker_policy(bucket)
    policy["Statement"] = policy["Statement"][1:]
    return policy


def test_a_job_whose_role_may_not_read_the_data_fails_with_the_reason(aws, wait_until):
    bucket, role, job = failed_training(aws, wait_until, lambda bucket: sagemaker_policy(bucket, read="code/*"))

    assert job["FailureReason"] == (
        f"ClientError: Data download failed:Failed to download data. AccessDenied (403): User: {session_arn(role)} "
        f"is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::{bucket}/data/train/part-0.txt\" "
        "because no identity-based policy allows the s3:GetObject action")


def test_a_job_whose_role_may_not_list_the_bucket_fails_before_reading(aws, wait_until):
    bucket, role, job = failed_training(aws, wait_until, without_list_bucket)

    assert job["FailureReason"] == (
        f"ClientError: Data download failed:Failed to download data. AccessDenied (403): User: {session_arn(role)} "
        f"is not authorized to perform: s3:ListBucket on resource: \"arn:aws:s3:::{bucket}\" "
        "because no identity-based policy allows the s3:ListBucket action")


def test_a_job_whose_role_may_not_write_the_output_path_fails_at_upload(aws, wait_until):
    bucket, role, job = failed_training(aws, wait_until, lambda bucket: sagemaker_policy(bucket, write="elsewhere/*"))

    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-2:] == ["Uploading", "Failed"]
    assert job["FailureReason"] == (
        f"ClientError: Artifact upload failed:AccessDenied (403): User: {session_arn(role)} is not authorized to "
        f"perform: s3:PutObject on resource: \"arn:aws:s3:::{bucket}/output/{job['TrainingJobName']}/output/"
        "model.tar.gz\" because no identity-based policy allows the s3:PutObject action")


def test_a_job_whose_role_may_not_pull_the_image_fails_before_training(aws, wait_until):
    _, role, job = failed_training(aws, wait_until,
                                   lambda bucket: sagemaker_policy(bucket, repository="pytorch-inference"))

    assert "Training" not in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert job["FailureReason"] == (
        "ClientError: Cannot pull algorithm container. Either the image does not exist or its permissions are "
        "incorrect. Access denied for repository: pytorch-training in registry ID: 763104351884. "
        f"User: {session_arn(role)} is not authorized to perform: ecr:BatchCheckLayerAvailability on resource: "
        "arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training because no identity-based policy allows "
        "the ecr:BatchCheckLayerAvailability action")


def test_a_job_whose_role_may_not_write_logs_runs_and_leaves_no_logs(aws, wait_until, server):
    # The group exists whichever test of this server ran first: the role is refused its stream, not the group.
    try:
        aws("logs").create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    bucket = seeded_bucket(aws)
    policy = sagemaker_policy(bucket)
    policy["Statement"] = policy["Statement"][:-1]
    role = sagemaker_role(aws, policy)

    job = run_training(aws, wait_until, bucket, role)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    streams = aws("logs").describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                               logStreamNamePrefix=job["TrainingJobName"])["logStreams"]
    assert streams == []
    denied = [j for j in judgements(server) if j["identity"] == session_arn(role) and j["outcome"] == "denied"]
    assert [(j["operation"], j["action"]) for j in denied] == [("sagemaker-service:WriteLogs", "logs:CreateLogStream")]


def test_the_shipped_role_policy_runs_a_job_and_its_statements_are_recorded(aws, wait_until, server):
    ensure_sagemaker_execution_role(aws("iam"))
    bucket = seeded_bucket(aws, prefix="pawflow")

    job = run_training(aws, wait_until, bucket, SAGEMAKER_ROLE, output="training-output")

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    used = {(j["operation"], j["action"], j["outcome"], j["policy"], j["sid"]) for j in judgements(server)
            if j["identity"] == session_arn(SAGEMAKER_ROLE) and j["operation"].startswith("sagemaker-service:")}
    policy = f"inline:{SAGEMAKER_POLICY}"
    # The log group is created by whichever job of the server writes to it first.
    used.discard(("sagemaker-service:WriteLogs", "logs:CreateLogGroup", "allowed", policy, "ContainerLogs"))
    assert used == {
        ("sagemaker-service:DownloadData", "s3:ListBucket", "allowed", policy, "ListDataBucket"),
        ("sagemaker-service:DownloadData", "s3:GetObject", "allowed", policy, "ReadDataAndCode"),
        ("sagemaker-service:DownloadCode", "s3:GetObject", "allowed", policy, "ReadDataAndCode"),
        ("sagemaker-service:PullImage", "ecr:GetAuthorizationToken", "allowed", policy, "EcrLogin"),
        *{("sagemaker-service:PullImage", action, "allowed", policy, "PullPyTorchImages") for action in ECR_PULL},
        ("sagemaker-service:WriteLogs", "logs:CreateLogStream", "allowed", policy, "ContainerLogs"),
        ("sagemaker-service:WriteLogs", "logs:PutLogEvents", "allowed", policy, "ContainerLogs"),
        ("sagemaker-service:UploadArtifacts", "s3:PutObject", "allowed", policy, "WriteModelArtifacts"),
    }


# --- endpoints ---------------------------------------------------------------------------------------------------


def settled_endpoint_of(aws, wait_until, bucket: str, role: str, variant: str = "AllTraffic") -> dict[str, Any]:
    """Serve ``s3://<bucket>/models/model.tar.gz`` as ``role`` on a new endpoint; its description once settled."""
    sagemaker = aws("sagemaker")
    name = serve_model(sagemaker, f"svc-{uuid.uuid4().hex[:8]}", role_arn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
                       model_data_url=f"s3://{bucket}/models/model.tar.gz", variant=variant)

    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)

    return settled_endpoint(sagemaker, name, wait_until, timeout=scaled(20))


def test_an_endpoint_whose_role_may_not_read_the_model_data_fails_with_the_reason(aws, wait_until):
    bucket = seeded_bucket(aws)
    role = sagemaker_role(aws, sagemaker_policy(bucket, read="code/*", repository="pytorch-inference"))

    endpoint = settled_endpoint_of(aws, wait_until, bucket, role)

    assert endpoint["EndpointStatus"] == "Failed"
    assert endpoint["FailureReason"] == (
        f"Failed to download model data for container \"container_1\" from URL: \"s3://{bucket}/models/model.tar.gz\". "
        "Please ensure that there is an object located at the URL and that the role passed to CreateModel has "
        "permissions to download the object.")


def test_an_endpoint_whose_role_may_not_pull_the_image_fails_with_the_reason(aws, wait_until):
    bucket = seeded_bucket(aws)
    role = sagemaker_role(aws, sagemaker_policy(bucket, repository="pytorch-training"))

    endpoint = settled_endpoint_of(aws, wait_until, bucket, role, variant="Blue")

    assert endpoint["EndpointStatus"] == "Failed"
    assert endpoint["FailureReason"] == (
        "Please make sure all images included in the model for the production variant Blue exist, and that the "
        "execution role used to create the model has permissions to access them.")


# --- Lambda ------------------------------------------------------------------------------------------------------


def test_lambda_log_writes_are_recorded_as_the_functions_role(aws, lambda_role, server):
    function = create_function(aws, lambda_role)

    response = aws("lambda").invoke(FunctionName=function, Payload=b"{}")

    assert "FunctionError" not in response
    recorded = {(j["action"], j["outcome"], j["policy"]) for j in judgements(server)
                if j["identity"] == session_arn(lambda_role, function) and j["operation"] == "lambda-service:WriteLogs"}
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    assert recorded == {("logs:CreateLogGroup", "allowed", basic), ("logs:CreateLogStream", "allowed", basic),
                        ("logs:PutLogEvents", "allowed", basic)}


def test_a_denied_lambda_log_write_is_recorded_and_the_function_still_runs(aws, lambda_role, server):
    aws("iam").detach_role_policy(RoleName=lambda_role,
                                  PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    function = create_function(aws, lambda_role)

    response = aws("lambda").invoke(FunctionName=function, Payload=b'{"a": 1}')

    assert json.loads(response["Payload"].read()) == {"echo": {"a": 1}}
    recorded = {(j["action"], j["outcome"]) for j in judgements(server)
                if j["identity"] == session_arn(lambda_role, function) and j["operation"] == "lambda-service:WriteLogs"}
    assert recorded == {("logs:CreateLogGroup", "denied")}


def test_invoke_without_an_identity_or_function_policy_is_refused(aws, lambda_role):
    function = create_function(aws, lambda_role)
    caller = caller_credentials(aws, lambda_role)

    with pytest.raises(ClientError) as error:
        aws("lambda", caller).invoke(FunctionName=function, Payload=b"{}")

    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert error.value.response["Error"]["Message"] == (
        f"User: {session_arn(lambda_role, 'caller')} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function} because no identity-based policy allows the "
        "lambda:InvokeFunction action")


def test_a_function_policy_naming_the_role_allows_invoke_on_its_own(aws, lambda_role, server):
    function = create_function(aws, lambda_role)
    aws("lambda").add_permission(FunctionName=function, StatementId="caller-role", Action="lambda:InvokeFunction",
                                 Principal=f"arn:aws:iam::{ACCOUNT}:role/{lambda_role}")
    caller = caller_credentials(aws, lambda_role)

    response = aws("lambda", caller).invoke(FunctionName=function, Payload=b'{"b": 2}')

    assert json.loads(response["Payload"].read()) == {"echo": {"b": 2}}
    allowed = [(j["outcome"], j["policy"], j["sid"]) for j in judgements(server)
               if j["identity"] == session_arn(lambda_role, "caller") and j["action"] == "lambda:InvokeFunction"]
    assert allowed == [("allowed", "function policy", "caller-role")]


def test_a_function_policy_naming_only_the_account_allows_nothing_by_itself(aws, lambda_role):
    function = create_function(aws, lambda_role)
    aws("lambda").add_permission(FunctionName=function, StatementId="account", Action="lambda:InvokeFunction",
                                 Principal=ACCOUNT)
    caller = caller_credentials(aws, lambda_role)

    with pytest.raises(ClientError) as error:
        aws("lambda", caller).invoke(FunctionName=function, Payload=b"{}")

    assert error.value.response["Error"]["Code"] == "AccessDeniedException"


def test_an_explicit_deny_in_the_identity_policy_beats_the_function_policy(aws, lambda_role):
    function = create_function(aws, lambda_role)
    aws("lambda").add_permission(FunctionName=function, StatementId="caller-role", Action="lambda:InvokeFunction",
                                 Principal=f"arn:aws:iam::{ACCOUNT}:role/{lambda_role}")
    aws("iam").put_role_policy(RoleName=lambda_role, PolicyName="no-invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"}]}))
    caller = caller_credentials(aws, lambda_role)

    with pytest.raises(ClientError) as error:
        aws("lambda", caller).invoke(FunctionName=function, Payload=b"{}")

    assert error.value.response["Error"]["Message"] == (
        f"User: {session_arn(lambda_role, 'caller')} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function} with an explicit deny in an identity-based policy")


def bound_to_logs(aws, role: str) -> None:
    """Give ``role`` a permissions boundary that allows CloudWatch Logs actions only."""
    iam = aws("iam")
    boundary = iam.create_policy(PolicyName=f"boundary-{uuid.uuid4().hex[:8]}", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=boundary)


def test_a_permissions_boundary_still_limits_a_role_the_function_policy_allows(aws, lambda_role):
    function = create_function(aws, lambda_role)
    aws("lambda").add_permission(FunctionName=function, StatementId="caller-role", Action="lambda:InvokeFunction",
                                 Principal=f"arn:aws:iam::{ACCOUNT}:role/{lambda_role}")
    bound_to_logs(aws, lambda_role)
    caller = caller_credentials(aws, lambda_role)

    with pytest.raises(ClientError) as error:
        aws("lambda", caller).invoke(FunctionName=function, Payload=b"{}")

    assert error.value.response["Error"]["Message"] == (
        f"User: {session_arn(lambda_role, 'caller')} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function} because no permissions boundary allows the "
        "lambda:InvokeFunction action")


def test_a_function_policy_naming_the_session_is_not_limited_by_the_boundary(aws, lambda_role):
    function = create_function(aws, lambda_role)
    aws("lambda").add_permission(FunctionName=function, StatementId="caller-session", Action="lambda:InvokeFunction",
                                 Principal=session_arn(lambda_role, "caller"))
    bound_to_logs(aws, lambda_role)
    caller = caller_credentials(aws, lambda_role)

    response = aws("lambda", caller).invoke(FunctionName=function, Payload=b'{"c": 3}')

    assert json.loads(response["Payload"].read()) == {"echo": {"c": 3}}
