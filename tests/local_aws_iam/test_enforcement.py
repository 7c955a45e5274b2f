"""Calls signed with credentials the runtime issued are judged by the signer's policies, on action and resource ARN."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"


def endpoint_arn(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{name}"


def denied_message(role: str, function: str, endpoint: str) -> str:
    return (f"An error occurred (AccessDeniedException) when calling the InvokeEndpoint operation: "
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function} is not authorized to perform: "
            f"sagemaker:InvokeEndpoint on resource: {endpoint_arn(endpoint)} "
            f"because no identity-based policy allows the sagemaker:InvokeEndpoint action")


def allow_invoke(aws, role: str, resource: str) -> None:
    aws("iam").put_role_policy(RoleName=role, PolicyName="invoke-endpoint", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": resource}],
    }))


def test_a_function_with_basic_execution_rights_is_denied_invoke_endpoint(endpoints, call_endpoint, lambda_role,
                                                                          invoker):
    result = call_endpoint(endpoints[0])

    assert result["error"] == "Unhandled"
    assert result["payload"]["errorType"] == "ClientError"
    assert result["payload"]["errorMessage"] == denied_message(lambda_role, invoker, endpoints[0])


def test_a_policy_scoped_to_the_endpoint_arn_allows_that_endpoint_only(aws, endpoints, call_endpoint, lambda_role,
                                                                       invoker):
    allow_invoke(aws, lambda_role, endpoint_arn(endpoints[0]))

    allowed = call_endpoint(endpoints[0])
    other = call_endpoint(endpoints[1])

    assert allowed == {"error": None, "payload": {"predictions": [2, 4]}}
    assert other["error"] == "Unhandled"
    assert other["payload"]["errorMessage"] == denied_message(lambda_role, invoker, endpoints[1])


def test_action_names_match_case_insensitively_and_arns_by_wildcard(aws, endpoints, call_endpoint, lambda_role):
    aws("iam").put_role_policy(RoleName=lambda_role, PolicyName="dogs", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "SageMaker:invokeendpoint",
                       "Resource": f"arn:aws:sagemaker:*:{ACCOUNT}:endpoint/dog-*"}],
    }))

    assert call_endpoint("dog-breeds")["error"] is None
    assert call_endpoint("other-endpoint")["error"] == "Unhandled"


def test_sagemaker_full_access_allows_it_and_an_explicit_deny_beats_it(aws, endpoints, call_endpoint, lambda_role,
                                                                       invoker):
    iam = aws("iam")
    iam.attach_role_policy(RoleName=lambda_role, PolicyArn=FULL_ACCESS)
    assert call_endpoint(endpoints[1]) == {"error": None, "payload": {"predictions": [2, 4]}}

    iam.put_role_policy(RoleName=lambda_role, PolicyName="no-other", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "sagemaker:InvokeEndpoint", "Resource": endpoint_arn(endpoints[1])}],
    }))

    denied = call_endpoint(endpoints[1])
    assert denied["error"] == "Unhandled"
    assert denied["payload"]["errorMessage"] == (
        f"An error occurred (AccessDeniedException) when calling the InvokeEndpoint operation: "
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{lambda_role}/{invoker} is not authorized to perform: "
        f"sagemaker:InvokeEndpoint on resource: {endpoint_arn(endpoints[1])} "
        f"with an explicit deny in an identity-based policy")
    assert call_endpoint(endpoints[0])["error"] is None


def test_the_default_credentials_act_as_the_account_administrator(aws, endpoints):
    response = aws("sagemaker-runtime").invoke_endpoint(EndpointName=endpoints[1], ContentType="application/json",
                                                        Body=b"[3]")

    assert json.loads(response["Body"].read()) == {"predictions": [6]}


@pytest.fixture
def session(aws, lambda_role):
    """Credentials of a role session (STS AssumeRole) for ``lambda_role``."""
    return aws("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{lambda_role}",
                                  RoleSessionName="tester")["Credentials"]


def test_sagemaker_api_calls_are_judged_on_the_resource_arn(aws, endpoints, session, lambda_role):
    aws("iam").put_role_policy(RoleName=lambda_role, PolicyName="describe", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sagemaker:Describe*", "Resource": endpoint_arn(endpoints[0])}],
    }))
    sagemaker = aws("sagemaker", session)

    assert sagemaker.describe_endpoint(EndpointName=endpoints[0])["EndpointStatus"] == "InService"
    with pytest.raises(ClientError) as error:
        sagemaker.describe_endpoint(EndpointName=endpoints[1])
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert error.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{lambda_role}/tester is not authorized to perform: "
        f"sagemaker:DescribeEndpoint on resource: {endpoint_arn(endpoints[1])} "
        f"because no identity-based policy allows the sagemaker:DescribeEndpoint action")


def test_s3_object_access_is_judged_on_object_arns_and_denied_in_s3_xml(aws, session, lambda_role):
    bucket = f"data-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="images/dog.jpg", Body=b"jpeg")
    aws("iam").put_role_policy(RoleName=lambda_role, PolicyName="read-images", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/images/*"}],
    }))
    s3 = aws("s3", session)

    assert s3.get_object(Bucket=bucket, Key="images/dog.jpg")["Body"].read() == b"jpeg"
    with pytest.raises(ClientError) as error:
        s3.put_object(Bucket=bucket, Key="images/cat.jpg", Body=b"x")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.value.response["Error"]["Code"] == "AccessDenied"
    assert error.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{lambda_role}/tester is not authorized to perform: "
        f's3:PutObject on resource: "arn:aws:s3:::{bucket}/images/cat.jpg" '
        f"because no identity-based policy allows the s3:PutObject action")
    with pytest.raises(ClientError) as listing:
        s3.list_objects_v2(Bucket=bucket)
    assert listing.value.response["Error"]["Code"] == "AccessDenied"


def test_logs_writes_are_judged_on_the_log_group(aws, session, lambda_role):
    logs_admin = aws("logs")
    logs_admin.create_log_group(logGroupName="/aws/lambda/mine")
    logs_admin.create_log_group(logGroupName="/aws/lambda/theirs")
    iam = aws("iam")
    iam.detach_role_policy(RoleName=lambda_role,
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    iam.put_role_policy(RoleName=lambda_role, PolicyName="own-logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                       "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/mine:*"}],
    }))
    logs = aws("logs", session)

    logs.create_log_stream(logGroupName="/aws/lambda/mine", logStreamName="s")
    with pytest.raises(ClientError) as error:
        logs.create_log_stream(logGroupName="/aws/lambda/theirs", logStreamName="s")
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "logs:CreateLogStream on resource: arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/theirs" in \
        error.value.response["Error"]["Message"]


def test_an_iam_users_access_keys_are_judged_by_the_users_policies(aws, endpoints):
    iam = aws("iam")
    user = f"analyst-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    group = f"readers-{uuid.uuid4().hex[:6]}"
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="describe", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sagemaker:DescribeEndpoint", "Resource": "*"}],
    }))
    keys = iam.create_access_key(UserName=user)["AccessKey"]
    sagemaker = aws("sagemaker", keys)

    assert sagemaker.describe_endpoint(EndpointName=endpoints[0])["EndpointName"] == endpoints[0]
    with pytest.raises(ClientError) as error:
        sagemaker.delete_endpoint(EndpointName=endpoints[0])
    assert error.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: sagemaker:DeleteEndpoint "
        f"on resource: {endpoint_arn(endpoints[0])} because no identity-based policy allows the "
        f"sagemaker:DeleteEndpoint action")


def test_a_users_self_service_calls_are_judged_on_the_users_own_arn(aws, endpoints):
    iam = aws("iam")
    user = f"self-{uuid.uuid4().hex[:6]}"
    arn = iam.create_user(UserName=user, Path="/team/")["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="own-keys", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ListAccessKeys", "Resource": arn}],
    }))
    own = aws("iam", iam.create_access_key(UserName=user)["AccessKey"])

    assert [key["UserName"] for key in own.list_access_keys()["AccessKeyMetadata"]] == [user]
    with pytest.raises(ClientError) as error:
        own.create_access_key()
    assert error.value.response["Error"]["Message"] == (
        f"User: {arn} is not authorized to perform: iam:CreateAccessKey on resource: {arn} because no "
        f"identity-based policy allows the iam:CreateAccessKey action")


def test_conditions_on_global_keys_are_evaluated(aws, endpoints, session, lambda_role):
    aws("iam").put_role_policy(RoleName=lambda_role, PolicyName="regional", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sagemaker:DescribeEndpoint", "Resource": "*",
                       "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"},
                                     "IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}],
    }))
    sagemaker = aws("sagemaker", session)

    assert sagemaker.describe_endpoint(EndpointName=endpoints[0])["EndpointName"] == endpoints[0]
    aws("iam").put_role_policy(RoleName=lambda_role, PolicyName="regional", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sagemaker:DescribeEndpoint", "Resource": "*",
                       "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}],
    }))
    with pytest.raises(ClientError) as error:
        sagemaker.describe_endpoint(EndpointName=endpoints[0])
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"


def test_cloudwatch_calls_in_rpc_v2_cbor_are_judged_and_denied_in_cbor(aws, session, lambda_role):
    cloudwatch = aws("cloudwatch", session)
    datum = [{"MetricName": "Requests", "Value": 1.0}]

    with pytest.raises(ClientError) as error:
        cloudwatch.put_metric_data(Namespace="Pawflow", MetricData=datum)
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert error.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{lambda_role}/tester is not authorized to perform: "
        f"cloudwatch:PutMetricData on resource: * because no identity-based policy allows the "
        f"cloudwatch:PutMetricData action")

    aws("iam").put_role_policy(RoleName=lambda_role, PolicyName="metrics", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}],
    }))
    cloudwatch.put_metric_data(Namespace="Pawflow", MetricData=datum)
