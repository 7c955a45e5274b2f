"""Escalations tried as the pipeline Lambda's role (STS session credentials) are refused, as AWS refuses them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests
from botocore.auth import S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.archives import zip_archive
from tests.execution_roles import LAMBDA_TRUST, create_lambda_role

ACCOUNT = "123456789012"
REPO = Path(__file__).resolve().parents[2]
BOUNDARY = (REPO / "iam" / "lambda-permissions-boundary.json").read_text()
ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
# What the pipeline Lambda may do: run as itself, look at its own function and role, read one bucket.
LEAST_PRIVILEGE = {"Version": "2012-10-17", "Statement": [
    {"Sid": "OwnFunction", "Effect": "Allow",
     "Action": ["lambda:GetFunction", "lambda:UpdateFunctionConfiguration"],
     "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:pipeline-*"},
    {"Sid": "OwnRole", "Effect": "Allow", "Action": ["iam:GetRole", "iam:ListAttachedRolePolicies"], "Resource": "*"},
    {"Sid": "AnySession", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
    {"Sid": "Describe", "Effect": "Allow", "Action": "sagemaker:Describe*",
     "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/dog-breed-classifier"},
    {"Sid": "ReadData", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::pipeline-data-*", "arn:aws:s3:::pipeline-data-*/*"]},
]}


@pytest.fixture
def attacker(aws):
    """A pipeline Lambda role (least-privilege policy), an admin role, a function, and the role's session keys."""
    iam = aws("iam")
    suffix = uuid.uuid4().hex[:6]
    role = f"pipeline-lambda-{suffix}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"},
        *LAMBDA_TRUST["Statement"]]}))
    iam.put_role_policy(RoleName=role, PolicyName="least-privilege", PolicyDocument=json.dumps(LEAST_PRIVILEGE))
    admin = f"admin-{suffix}"
    create_lambda_role(iam, admin, (ADMIN_ACCESS,))
    function = f"pipeline-{suffix}"
    aws("lambda").create_function(
        FunctionName=function, Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_archive({"lambda_function.py": "def lambda_handler(e, c):\n    return 1\n"})})
    credentials = aws("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                         RoleSessionName="attacker")["Credentials"]
    return {"role": role, "admin": admin, "function": function, "credentials": credentials,
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/attacker"}


def denied(error: pytest.ExceptionInfo, attacker: dict, action: str, resource: str, reason: str = "") -> None:
    reason = reason or f"because no identity-based policy allows the {action} action"
    assert error.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
    assert error.value.response["Error"]["Message"] == (
        f"User: {attacker['arn']} is not authorized to perform: {action} on resource: {resource} {reason}")


def signed(attacker: dict, server, service: str, method: str, path: str, body: bytes | str = b"",
           headers: dict | None = None) -> requests.Response:
    """A raw request signed with the attacker's session keys (for shapes boto3 never sends)."""
    keys = attacker["credentials"]
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    request = AWSRequest(method=method, url=f"{server.endpoint_url}{path}", data=body, headers=headers or {})
    SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=prepared.body, timeout=30)


def test_swapping_a_function_onto_an_admin_role_needs_pass_role(aws, attacker):
    lam = aws("lambda", attacker["credentials"])

    with pytest.raises(ClientError) as error:
        lam.update_function_configuration(FunctionName=attacker["function"],
                                          Role=f"arn:aws:iam::{ACCOUNT}:role/{attacker['admin']}")

    denied(error, attacker, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{attacker['admin']}")
    configuration = aws("lambda").get_function_configuration(FunctionName=attacker["function"])
    assert configuration["Role"].endswith(f"role/{attacker['role']}")


def test_creating_a_function_is_refused(aws, attacker):
    with pytest.raises(ClientError) as error:
        aws("lambda", attacker["credentials"]).create_function(
            FunctionName="evil", Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/{attacker['admin']}",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": zip_archive({"lambda_function.py": "def lambda_handler(e, c):\n    pass\n"})})

    denied(error, attacker, "lambda:CreateFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:evil")


def test_granting_everyone_invoke_is_refused(aws, attacker):
    with pytest.raises(ClientError) as error:
        aws("lambda", attacker["credentials"]).add_permission(
            FunctionName=attacker["function"], StatementId="open", Action="lambda:InvokeFunction", Principal="*")

    denied(error, attacker, "lambda:AddPermission",
           f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{attacker['function']}")


def test_deleting_a_function_is_refused(aws, attacker):
    with pytest.raises(ClientError) as error:
        aws("lambda", attacker["credentials"]).delete_function(FunctionName=attacker["function"])

    denied(error, attacker, "lambda:DeleteFunction",
           f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{attacker['function']}")
    assert aws("lambda").get_function(FunctionName=attacker["function"])["Configuration"]["FunctionName"]


def _attached(aws, role: str) -> list[str]:
    return [p["PolicyArn"] for p in aws("iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"]]


@pytest.mark.parametrize("content_type", ["APPLICATION/X-WWW-FORM-URLENCODED", "application/x-www-form-urlencoded; charset=UTF-8"])
def test_attach_role_policy_in_an_odd_content_type_is_judged_as_attach(aws, server, attacker, content_type):
    body = f"Action=AttachRolePolicy&Version=2010-05-08&RoleName={attacker['role']}&PolicyArn={ADMIN_ACCESS}"

    answer = signed(attacker, server, "iam", "POST", "/", body, {"Content-Type": content_type})

    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text
    assert f"iam:AttachRolePolicy on resource: arn:aws:iam::{ACCOUNT}:role/{attacker['role']}" in answer.text
    assert ADMIN_ACCESS not in _attached(aws, attacker["role"])


def test_an_action_in_the_query_and_another_in_the_body_is_judged_as_the_one_executed(aws, server, attacker):
    body = f"Action=AttachRolePolicy&Version=2010-05-08&RoleName={attacker['role']}&PolicyArn={ADMIN_ACCESS}"

    answer = signed(attacker, server, "iam", "POST", f"/?Action=GetRole&RoleName={attacker['role']}", body,
                    {"Content-Type": "application/x-www-form-urlencoded"})

    assert ADMIN_ACCESS not in _attached(aws, attacker["role"])
    assert answer.status_code == 403
    assert "iam:AttachRolePolicy" in answer.text


def test_attach_role_policy_in_a_multipart_body_is_judged_as_attach(aws, server, attacker):
    boundary = "pawflow"
    fields = {"Action": "AttachRolePolicy", "Version": "2010-05-08", "RoleName": attacker["role"],
              "PolicyArn": ADMIN_ACCESS}
    body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                   for k, v in fields.items()) + f"--{boundary}--\r\n"

    answer = signed(attacker, server, "iam", "POST", "/", body,
                    {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    assert ADMIN_ACCESS not in _attached(aws, attacker["role"])
    assert answer.status_code == 403
    assert "iam:AttachRolePolicy" in answer.text


def test_assume_role_needs_the_target_roles_trust(aws, attacker):
    target = f"arn:aws:iam::{ACCOUNT}:role/{attacker['admin']}"

    with pytest.raises(ClientError) as error:
        aws("sts", attacker["credentials"]).assume_role(RoleArn=target, RoleSessionName="escalated")

    assert error.value.response["Error"]["Code"] == "AccessDenied"
    assert error.value.response["Error"]["Message"] == (
        f"User: {attacker['arn']} is not authorized to perform: sts:AssumeRole on resource: {target}")


def test_assume_role_of_a_missing_role_is_refused_to_a_session_its_policy_allows(aws, attacker):
    missing = f"arn:aws:iam::{ACCOUNT}:role/missing-{uuid.uuid4().hex[:6]}"

    with pytest.raises(ClientError) as error:
        aws("sts", attacker["credentials"]).assume_role(RoleArn=missing, RoleSessionName="nowhere")

    assert error.value.response["Error"]["Code"] == "AccessDenied"
    assert error.value.response["Error"]["Message"] == (
        f"User: {attacker['arn']} is not authorized to perform: sts:AssumeRole on resource: {missing}")


def test_assume_role_of_a_missing_role_is_refused_to_the_administrator(aws):
    missing = f"arn:aws:iam::{ACCOUNT}:role/missing-{uuid.uuid4().hex[:6]}"

    with pytest.raises(ClientError) as error:
        aws("sts").assume_role(RoleArn=missing, RoleSessionName="nowhere")

    assert error.value.response["Error"]["Code"] == "AccessDenied"
    assert error.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on resource: {missing}")


def test_assume_role_is_allowed_when_both_policy_and_trust_allow(aws, attacker):
    trusting = f"trusting-{uuid.uuid4().hex[:6]}"
    aws("iam").create_role(RoleName=trusting, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/{attacker['role']}"},
         "Action": "sts:AssumeRole"}]}))

    session = aws("sts", attacker["credentials"]).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{trusting}", RoleSessionName="ok")

    assert session["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{trusting}/ok"


def test_sagemaker_in_the_query_protocol_is_never_executed(server, attacker):
    """moto refuses the query protocol for SageMaker before it knows the operation: nothing runs unjudged."""
    answer = signed(attacker, server, "sagemaker", "POST", "/", "Action=ListEndpoints&Version=2017-07-24",
                    {"Content-Type": "application/x-www-form-urlencoded"})

    assert answer.status_code >= 400
    assert "Endpoints" not in answer.text


def test_an_extra_resource_arn_does_not_pick_the_judged_resource(server, attacker):
    allowed = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/dog-breed-classifier"
    body = json.dumps({"EndpointName": "other-endpoint", "ResourceArn": allowed})

    answer = signed(attacker, server, "sagemaker", "POST", "/", body,
                    {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.DescribeEndpoint"})

    assert answer.status_code == 400
    assert answer.json()["Message"] == (
        f"User: {attacker['arn']} is not authorized to perform: sagemaker:DescribeEndpoint on resource: "
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/other-endpoint because no identity-based policy allows "
        f"the sagemaker:DescribeEndpoint action")


@pytest.fixture
def buckets(aws):
    suffix = uuid.uuid4().hex[:6]
    readable, secret = f"pipeline-data-{suffix}", f"secret-{suffix}"
    for bucket in (readable, secret):
        aws("s3").create_bucket(Bucket=bucket)
        aws("s3").put_object(Bucket=bucket, Key="file.txt", Body=f"data of {bucket}".encode())
    return readable, secret


def test_a_host_header_naming_another_bucket_is_judged_on_that_bucket(server, attacker, buckets):
    readable, secret = buckets
    port = server.endpoint_url.rsplit(":", 1)[1]

    answer = signed(attacker, server, "s3", "GET", f"/{readable}/file.txt",
                    headers={"Host": f"{secret}.s3.amazonaws.com:{port}", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})

    assert f"data of {secret}".encode() not in answer.content
    if answer.status_code == 200:  # moto read the path-style bucket: then it was judged on that one
        assert answer.content == f"data of {readable}".encode()
    else:
        assert answer.status_code == 403
        assert "AccessDenied" in answer.text


def test_presigned_urls_are_judged_as_their_signer(attacker, server, buckets):
    readable, secret = buckets
    keys = attacker["credentials"]
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])

    def presigned(bucket: str) -> str:
        request = AWSRequest(method="GET", url=f"{server.endpoint_url}/{bucket}/file.txt")
        S3SigV4QueryAuth(credentials, "s3", "us-east-1", expires=300).add_auth(request)
        return request.url

    assert requests.get(presigned(readable), timeout=30).content == f"data of {readable}".encode()
    refused = requests.get(presigned(secret), timeout=30)
    assert refused.status_code == 403
    assert f's3:GetObject on resource: "arn:aws:s3:::{secret}/file.txt"' in refused.text


def test_resource_tags_reach_resource_tag_conditions(aws, attacker):
    iam = aws("iam")
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{attacker['function']}"
    iam.put_role_policy(RoleName=attacker["role"], PolicyName="tagged", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:GetFunctionConfiguration",
                                                "Resource": "*",
                                                "Condition": {"StringEquals": {"aws:ResourceTag/team": "pawflow"}}}]}))
    lam = aws("lambda", attacker["credentials"])
    with pytest.raises(ClientError):
        lam.get_function_configuration(FunctionName=attacker["function"])

    aws("lambda").tag_resource(Resource=arn, Tags={"team": "pawflow"})

    assert lam.get_function_configuration(FunctionName=attacker["function"])["FunctionName"] == attacker["function"]


def test_a_permissions_boundary_limits_what_the_policy_allows(aws, attacker):
    boundary = aws("iam").create_policy(PolicyName=f"boundary-{uuid.uuid4().hex[:6]}",
                                        PolicyDocument=BOUNDARY)["Policy"]["Arn"]
    aws("iam").put_role_permissions_boundary(RoleName=attacker["role"], PermissionsBoundary=boundary)
    credentials = aws("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{attacker['role']}",
                                         RoleSessionName="attacker")["Credentials"]

    with pytest.raises(ClientError) as error:
        aws("iam", credentials).get_role(RoleName=attacker["role"])

    denied(error, attacker, "iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/{attacker['role']}",
           "because no permissions boundary allows the iam:GetRole action")


def test_every_judged_call_is_recorded_with_the_deciding_statement(aws, server, attacker):
    aws("lambda", attacker["credentials"]).get_function(FunctionName=attacker["function"])

    entries = [json.loads(line) for line in
               (server.state_dir / "iam" / "judgements.jsonl").read_text().splitlines()]
    allowed = [e for e in entries if e["identity"] == attacker["arn"] and e["action"] == "lambda:GetFunction"]
    assert allowed[-1]["outcome"] == "allowed"
    assert allowed[-1]["policy"] == "inline:least-privilege"
    assert allowed[-1]["sid"] == "OwnFunction"
    assert allowed[-1]["resource"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{attacker['function']}"
