"""Property: the action judged is the operation moto executes, whatever shape the request takes."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import BaseCBORParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ACCOUNT = "123456789012"
READ_OPERATIONS = ["ListRoles", "ListUsers", "ListPolicies", "ListGroups", "GetAccountSummary"]
ADMIN = Credentials("testing", "testing")
# What each operation answers with, so the operation moto executed is read from its response's shape.
SAGEMAKER_LISTS = {"ListEndpoints": "Endpoints", "ListModels": "Models", "ListEndpointConfigs": "EndpointConfigs",
                   "ListTrainingJobs": "TrainingJobSummaries", "ListNotebookInstances": "NotebookInstances"}
LAMBDA_LISTS = {"ListFunctions": ("/2015-03-31/functions/", "Functions"),
                "ListLayers": ("/2018-10-31/layers", "Layers"),
                "ListEventSourceMappings": ("/2015-03-31/event-source-mappings/", "EventSourceMappings")}
CLOUDWATCH_LISTS = {"ListMetrics": "Metrics", "ListDashboards": "DashboardEntries", "DescribeAlarms": "MetricAlarms"}
CLOUDWATCH_TARGET = "GraniteServiceVersion20100801"
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
    admin = send(server, ADMIN, "iam", "POST", path, body, {"Content-Type": content_type})
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
    admin = send(server, ADMIN, "s3", "GET", path, headers=dict(headers))
    executed = re.fullmatch(r"in (\S+)", admin.text)

    judged = send(server, nobody, "s3", "GET", path, headers=dict(headers))

    assert judged.status_code == 403
    resource = re.search(r'on resource: "arn:aws:s3:::([^/"]+)', judged.text).group(1)
    if executed:
        assert resource == executed.group(1)


def judged_action(message: str) -> str | None:
    """The operation an AccessDenied message names, or None when there is no such message."""
    match = re.search(r"not authorized to perform: \w+:(\w+)", message)
    return match.group(1) if match else None


def executed_operation(answer: Any, answers: dict[str, str]) -> str | None:
    """The operation whose result shape ``answer`` (a decoded response body) has, or None."""
    if not isinstance(answer, dict):
        return None
    return next((operation for operation, member in answers.items() if member in answer), None)


def json_answer(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def cbor_answer(response: requests.Response) -> Any:
    """The CBOR data item of an RPCv2-CBOR response body, or None when the body is not CBOR."""
    if "cbor" not in response.headers.get("Content-Type", ""):
        return None
    parser = BaseCBORParser()
    return parser.parse_data_item(parser.get_peekable_stream_from_bytes(response.content))


@st.composite
def json_protocol_requests(draw):
    """SageMaker (JSON 1.1): the target header names the operation; decoys name others in the query and body."""
    target = draw(st.sampled_from(sorted(SAGEMAKER_LISTS)))
    decoy = draw(st.sampled_from(sorted(SAGEMAKER_LISTS)))
    query = draw(st.sampled_from(["", f"?Action={decoy}", f"?Action={decoy}&Version=2017-07-24"]))
    body = draw(st.sampled_from([
        "{}",
        json.dumps({"Decoy": f"&Action={decoy}&"}),  # a body that also parses as a form (an unknown member, ignored)
        json.dumps({"Action": decoy, "X-Amz-Target": f"SageMaker.{decoy}"}),
    ]))
    headers = {random_case(draw, "X-Amz-Target"): f"SageMaker.{target}",
               "Content-Type": "application/x-amz-json-1.1"}
    return f"/{query}", body, headers


@PROPERTY
@given(json_protocol_requests())
def test_json_protocol_calls_run_and_are_judged_as_their_target(server, nobody, json_request):
    path, body, headers = json_request
    admin = send(server, ADMIN, "sagemaker", "POST", path, body.encode(), dict(headers))
    executed = executed_operation(json_answer(admin), SAGEMAKER_LISTS)

    judged = send(server, nobody, "sagemaker", "POST", path, body.encode(), dict(headers))

    assert executed == next(v for k, v in headers.items() if k.lower() == "x-amz-target").split(".")[-1], admin.text
    assert judged.status_code == 400
    assert judged_action(judged.text) == executed


@st.composite
def rest_json_requests(draw):
    """Lambda (REST-JSON): method and path name the operation; decoy query parameters name others."""
    operation = draw(st.sampled_from(sorted(LAMBDA_LISTS)))
    decoys = draw(st.lists(st.sampled_from([
        *(f"Action={name}" for name in sorted(LAMBDA_LISTS)),
        "X-Amz-Target=AWSLambda.DeleteFunction",
        "Operation=DeleteFunction",
        "MaxItems=5",
        "FunctionVersion=ALL",
        "FunctionName=decoy",
    ]), max_size=3, unique=True))
    path = LAMBDA_LISTS[operation][0]
    return path + ("?" + "&".join(decoys) if decoys else "")


@PROPERTY
@given(rest_json_requests())
def test_rest_json_calls_run_and_are_judged_as_their_method_and_path(server, nobody, path):
    answers = {operation: member for operation, (_, member) in LAMBDA_LISTS.items()}
    admin = send(server, ADMIN, "lambda", "GET", path)
    executed = executed_operation(json_answer(admin), answers)

    judged = send(server, nobody, "lambda", "GET", path)

    assert executed == next(op for op, (route, _) in LAMBDA_LISTS.items() if path.split("?")[0] == route), admin.text
    assert judged.status_code == 403
    assert judged_action(judged.text) == executed


@st.composite
def rpc_v2_cbor_requests(draw):
    """CloudWatch (RPCv2-CBOR): the path names the operation; decoy headers and query name others."""
    operation = draw(st.sampled_from(sorted(CLOUDWATCH_LISTS)))
    decoy = draw(st.sampled_from(sorted(CLOUDWATCH_LISTS)))
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}
    for name, value in draw(st.lists(st.sampled_from([
        ("X-Amz-Target", f"{CLOUDWATCH_TARGET}.{decoy}"),
        ("x-amzn-query-mode", "true"),
        ("X-Amz-Operation", decoy),
    ]), max_size=3, unique=True)):
        headers[name] = value
    query = draw(st.sampled_from(["", f"?Action={decoy}&Version=2010-08-01"]))
    return f"/service/{CLOUDWATCH_TARGET}/operation/{operation}{query}", headers


@PROPERTY
@given(rpc_v2_cbor_requests())
def test_rpc_v2_cbor_calls_are_judged_as_the_operation_executed(server, nobody, cbor_request):
    path, headers = cbor_request
    empty_map = b"\xa0"
    admin = send(server, ADMIN, "monitoring", "POST", path, empty_map, dict(headers))
    executed = executed_operation(cbor_answer(admin), CLOUDWATCH_LISTS)

    judged = send(server, nobody, "monitoring", "POST", path, empty_map, dict(headers))
    denial = cbor_answer(judged)

    assert judged_action(denial.get("message", "") if isinstance(denial, dict) else "") == executed
    if executed is None:  # no operation answered the administrator: none may answer, nor be judged, for anyone
        assert (judged.status_code, judged.content) == (admin.status_code, admin.content)
