"""Requests map to the IAM action and resource ARN AWS authorizes them against."""

from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import Headers

from local_aws.iam.request_actions import requested_action

REGION, ACCOUNT = "eu-west-1", "111122223333"


def action_of(service, method="POST", path="/", query="", headers=None, body=b""):
    found = requested_action(service, method, path, query, Headers(headers or {}), body, REGION, ACCOUNT)
    return None if found is None else (found.action, found.resource, found.protocol)


def test_invoke_endpoint_is_judged_on_the_endpoint_arn():
    assert action_of("sagemaker", path="/endpoints/dog-breeds/invocations") == (
        "sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/dog-breeds", "rest-json")


@pytest.mark.parametrize("operation, params, resource", [
    ("CreateTrainingJob", {"TrainingJobName": "job-1"}, "training-job/job-1"),
    ("DescribeTrainingJob", {"TrainingJobName": "job-1"}, "training-job/job-1"),
    ("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "hpo"}, "hyper-parameter-tuning-job/hpo"),
    ("ListTrainingJobsForHyperParameterTuningJob", {"HyperParameterTuningJobName": "hpo"}, "hyper-parameter-tuning-job/hpo"),
    ("CreateModel", {"ModelName": "m"}, "model/m"),
    ("CreateEndpointConfig", {"EndpointConfigName": "c"}, "endpoint-config/c"),
    ("UpdateEndpointWeightsAndCapacities", {"EndpointName": "e"}, "endpoint/e"),
    ("DeleteEndpoint", {"EndpointName": "e"}, "endpoint/e"),
])
def test_sagemaker_operations_are_judged_on_their_resource(operation, params, resource):
    assert action_of("sagemaker", headers={"X-Amz-Target": f"SageMaker.{operation}"},
                     body=json.dumps(params).encode()) == (
        f"sagemaker:{operation}", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}", "json")


def test_sagemaker_list_operations_are_judged_on_any_resource():
    assert action_of("sagemaker", headers={"X-Amz-Target": "SageMaker.ListEndpoints"}, body=b"{}") == (
        "sagemaker:ListEndpoints", "*", "json")


@pytest.mark.parametrize("method, path, query, action, resource", [
    ("GET", "/data/train/a.jpg", "", "s3:GetObject", "arn:aws:s3:::data/train/a.jpg"),
    ("HEAD", "/data/train/a.jpg", "", "s3:GetObject", "arn:aws:s3:::data/train/a.jpg"),
    ("PUT", "/data/out/model.tar.gz", "", "s3:PutObject", "arn:aws:s3:::data/out/model.tar.gz"),
    ("PUT", "/data/big", "partNumber=1&uploadId=u", "s3:PutObject", "arn:aws:s3:::data/big"),
    ("DELETE", "/data/x", "", "s3:DeleteObject", "arn:aws:s3:::data/x"),
    ("GET", "/data", "list-type=2&prefix=train%2F", "s3:ListBucket", "arn:aws:s3:::data"),
    ("GET", "/data", "location", "s3:GetBucketLocation", "arn:aws:s3:::data"),
    ("PUT", "/data", "", "s3:CreateBucket", "arn:aws:s3:::data"),
    ("GET", "/", "", "s3:ListAllMyBuckets", "*"),
])
def test_s3_requests_map_to_bucket_and_object_arns(method, path, query, action, resource):
    assert action_of("s3", method=method, path=path, query=query) == (action, resource, "s3")


def test_s3_virtual_host_requests_name_the_bucket_in_the_host():
    assert action_of("s3", method="GET", path="/k/ey", headers={"Host": "data.s3.eu-west-1.amazonaws.com"}) == (
        "s3:GetObject", "arn:aws:s3:::data/k/ey", "s3")


def test_log_stream_writes_are_judged_on_the_stream_arn_and_group_calls_on_the_group():
    body = json.dumps({"logGroupName": "/aws/lambda/f", "logStreamName": "2026/01/01/[1]abc"}).encode()
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/f"
    assert action_of("logs", headers={"X-Amz-Target": "Logs_20140328.PutLogEvents"}, body=body) == (
        "logs:PutLogEvents", f"{group}:log-stream:2026/01/01/[1]abc", "json")
    assert action_of("logs", headers={"X-Amz-Target": "Logs_20140328.DescribeLogStreams"}, body=body) == (
        "logs:DescribeLogStreams", f"{group}:*", "json")
    assert action_of("logs", headers={"X-Amz-Target": "Logs_20140328.CreateLogGroup"}, body=body) == (
        "logs:CreateLogGroup", group, "json")


def test_lambda_invoke_is_judged_on_the_qualified_function_arn():
    assert action_of("lambda", path="/2015-03-31/functions/front/invocations", query="Qualifier=live") == (
        "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:front:live", "rest-json")


def test_query_protocol_calls_are_named_by_their_action_and_cloudwatch_is_its_iam_prefix():
    assert action_of("monitoring", body=b"Action=PutMetricData&Version=2010-08-01",
                     headers={"Content-Type": "application/x-www-form-urlencoded"}) == (
        "cloudwatch:PutMetricData", "*", "query")


def test_get_caller_identity_needs_no_permission():
    assert action_of("sts", body=b"Action=GetCallerIdentity&Version=2011-06-15",
                     headers={"Content-Type": "application/x-www-form-urlencoded"}) is None


def test_rpc_v2_cbor_calls_are_named_by_the_operation_in_their_path():
    assert action_of("monitoring", path="/service/GraniteServiceVersion20100801/operation/PutMetricData",
                     headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}) == (
        "cloudwatch:PutMetricData", "*", "rpc-v2-cbor")


@pytest.mark.parametrize("body, action, resource", [
    ("Action=PutRolePolicy&RoleName=invoker&PolicyName=p", "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/invoker"),
    ("Action=AttachRolePolicy&RoleName=invoker&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX", "iam:AttachRolePolicy",
     f"arn:aws:iam::{ACCOUNT}:role/invoker"),
    ("Action=GetPolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX", "iam:GetPolicy", "arn:aws:iam::aws:policy/X"),
    ("Action=CreateAccessKey&UserName=alice", "iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/alice"),
    ("Action=ListRoles", "iam:ListRoles", "*"),
])
def test_iam_calls_act_on_the_principal_or_policy_they_name(body, action, resource):
    assert action_of("iam", body=body.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}) == (
        action, resource, "query")


def test_assume_role_acts_on_the_role_arn():
    body = b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=s"
    assert action_of("sts", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}) == (
        "sts:AssumeRole", "arn:aws:iam::1:role/r", "query")
