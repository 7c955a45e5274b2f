"""Property: the action judged is the operation moto executes, whatever shape the request takes."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ACCOUNT = "123456789012"
READ_OPERATIONS = ["ListRoles", "ListUsers", "ListPolicies", "ListGroups", "GetAccountSummary"]
PROPERTY = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def nobody(aws):
    """Session keys of a role with no permissions (every judged call is denied, naming its action)."""
    role = f"nobody-{uuid.uuid4().hex[:6]}"
    aws("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}))
    keys = aws("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="prop")["Credentials"]
    return Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])


def send(server, credentials, service, method, path, body=b"", headers=None):
    request = AWSRequest(method=method, url=f"{server.endpoint_url}{path}", data=body, headers=headers or {})
    SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=prepared.body, timeout=30)


def random_case(draw, text):
    return "".join(c.upper() if draw(st.booleans()) else c for c in text)


@st.composite
def query_requests(draw):
    in_query = draw(st.sampled_from(READ_OPERATIONS + [None]))
    in_body = draw(st.sampled_from(READ_OPERATIONS))
    content_type = random_case(draw, "application/x-www-form-urlencoded") + draw(
        st.sampled_from(["", "; charset=utf-8", ";charset=UTF-8"]))
    path = f"/?Action={in_query}&Version=2010-05-08" if in_query else "/"
    return path, f"Action={in_body}&Version=2010-05-08", content_type


@PROPERTY
@given(query_requests())
def test_query_protocol_calls_are_judged_as_the_operation_executed(server, nobody, query_request):
    path, body, content_type = query_request
    admin = send(server, Credentials("testing", "testing"), "iam", "POST", path, body, {"Content-Type": content_type})
    executed = re.search(r"<(\w+)Response", admin.text).group(1)

    judged = send(server, nobody, "iam", "POST", path, body, {"Content-Type": content_type})

    assert judged.status_code == 403
    assert re.search(r"perform: iam:(\w+)", judged.text).group(1) == executed


@pytest.fixture(scope="module")
def s3_buckets(aws):
    names = [f"prop-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    for name in names:
        aws("s3").create_bucket(Bucket=name)
        aws("s3").put_object(Bucket=name, Key="k", Body=f"in {name}".encode())
    return names


@PROPERTY
@given(st.data())
def test_s3_calls_are_judged_on_the_bucket_read(server, nobody, s3_buckets, data):
    path_bucket = data.draw(st.sampled_from(s3_buckets))
    host_bucket = data.draw(st.sampled_from(s3_buckets + [None]))
    port = server.endpoint_url.rsplit(":", 1)[1]
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    if host_bucket:
        headers["Host"] = f"{host_bucket}.s3.amazonaws.com:{port}"
    path = f"/{path_bucket}/k" if data.draw(st.booleans()) or not host_bucket else "/k"
    admin = send(server, Credentials("testing", "testing"), "s3", "GET", path, headers=dict(headers))
    executed = re.fullmatch(r"in (\S+)", admin.text)

    judged = send(server, nobody, "s3", "GET", path, headers=dict(headers))

    assert judged.status_code == 403
    resource = re.search(r'on resource: "arn:aws:s3:::([^/"]+)', judged.text).group(1)
    if executed:
        assert resource == executed.group(1)
