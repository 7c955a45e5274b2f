"""The server: one loopback port answering every service through moto, our routes first."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError


def test_server_binds_loopback_by_default(server):
    assert server.endpoint_url.startswith("http://127.0.0.1:")


def test_s3_objects_round_trip(aws, bucket):
    s3 = aws("s3")
    s3.put_object(Bucket=bucket, Key="a/b.bin", Body=b"\x00\x01payload")

    assert s3.get_object(Bucket=bucket, Key="a/b.bin")["Body"].read() == b"\x00\x01payload"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="data/")["Contents"]]
    assert keys == [f"data/train/part-{i}.txt" for i in range(4)]


@pytest.mark.parametrize("service, call, member", [
    ("iam", lambda c: c.list_roles(), "Roles"),
    ("logs", lambda c: c.describe_log_groups(), "logGroups"),
    ("cloudwatch", lambda c: c.list_metrics(), "Metrics"),
    ("lambda", lambda c: c.list_functions(), "Functions"),
    ("application-autoscaling", lambda c: c.describe_scalable_targets(ServiceNamespace="sagemaker"), "ScalableTargets"),
    ("sagemaker", lambda c: c.list_endpoints(), "Endpoints"),
])
def test_every_service_answers_its_list_on_the_one_port(aws, service, call, member):
    response = call(aws(service))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert isinstance(response[member], list)


def test_sts_answers_on_the_one_port_with_the_account(aws):
    assert aws("sts").get_caller_identity()["Account"] == "123456789012"


def test_the_health_check_answers_unsigned(server):
    with urllib.request.urlopen(f"{server.endpoint_url}/_local_aws/health") as response:
        assert (response.status, json.load(response)) == (200, {"status": "running"})


def test_a_missing_bucket_is_aws_no_such_bucket(aws):
    with pytest.raises(ClientError) as error:
        aws("s3").get_object(Bucket="no-such-bucket-here", Key="x")
    assert error.value.response["Error"]["Code"] == "NoSuchBucket"
