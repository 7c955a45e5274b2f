"""What authenticating and judging every request costs the local AWS runtime, measured side by side.

``python -m benchmarks.request_checks [--calls N]`` (from the repository root) prints, for one run on this
machine, medians of: a signed SageMaker ListEndpoints round trip as the administrator (authenticated, not
judged by IAM) and as a role session the runtime issued (authenticated, judged, recorded in the judgement log);
and, in process, the signature verification alone (``local_aws.iam.authentication.verify`` on the same signed
request) and the IAM judgement alone (the operation's authorizations from the catalog, then the evaluation of
the role's policies). Each is also given as a share of the administrator's round trip.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from benchmarks.machine import describe_machine
from local_aws.iam.action_catalog import OperationCall, authorizations
from local_aws.iam.authentication import verify
from local_aws.iam.authorization import MotoRecords
from local_aws.iam.identities import resolve_identity
from local_aws.iam.judgement import judge
from local_aws.runtime import SecuritySettings
from local_aws.server import LocalAWSServer

REGION = "us-east-1"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}
LIST_ENDPOINTS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sagemaker:ListEndpoints",
                                                          "Resource": "*"}]}


def median_ms(action: Callable[[], object], calls: int) -> float:
    action()  # warm-up
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(samples)


def signed_request(url: str, access_key: str, secret: str, token: str | None) -> tuple[Request, bytes]:
    """The ListEndpoints request a boto3 client sends, signed, as the runtime's WSGI layer receives it."""
    body = b"{}"
    request = AWSRequest(method="POST", url=f"{url}/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListEndpoints"})
    SigV4Auth(Credentials(access_key, secret, token), "sagemaker", REGION).add_auth(request)
    environ = EnvironBuilder(path="/", method="POST", headers=dict(request.headers.items()), data=body,
                             base_url=url).get_environ()
    environ["RAW_URI"] = "/"
    return Request(environ), body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.calls < 10:
        parser.error("--calls must be at least 10")
    with LocalAWSServer(port=0, autosave_seconds=0) as server:
        def client(service: str, **keys: str):
            keys = keys or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
            return boto3.client(service, endpoint_url=server.endpoint_url, region_name=REGION, **keys)

        iam = client("iam")
        role = f"bench-{uuid.uuid4().hex[:8]}"
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName=role, PolicyName="list", PolicyDocument=json.dumps(LIST_ENDPOINTS))
        session = client("sts").assume_role(RoleArn=role_arn, RoleSessionName="bench")["Credentials"]
        as_role = client("sagemaker", aws_access_key_id=session["AccessKeyId"],
                         aws_secret_access_key=session["SecretAccessKey"], aws_session_token=session["SessionToken"])
        as_admin = client("sagemaker")

        admin_ms = median_ms(as_admin.list_endpoints, args.calls)
        role_ms = median_ms(as_role.list_endpoints, args.calls)
        request, body = signed_request(server.endpoint_url, session["AccessKeyId"], session["SecretAccessKey"],
                                       session["SessionToken"])
        security = SecuritySettings()
        verify_ms = median_ms(lambda: verify(request, body, security), args.calls)
        identity = resolve_identity(session["AccessKeyId"])
        call = OperationCall("sagemaker", "ListEndpoints", {}, REGION, identity.account_id)
        records = MotoRecords()
        judge_ms = median_ms(lambda: judge(identity, authorizations(call, records), {}), args.calls)

    print(describe_machine())
    print(f"{args.calls} calls each, medians")
    rows = [
        ("round trip as the administrator (authenticated)", admin_ms),
        ("round trip as a role session (authenticated + judged + recorded)", role_ms),
        ("signature verification alone, in process", verify_ms),
        ("IAM judgement alone (catalog + evaluation), in process", judge_ms),
    ]
    for label, value in rows:
        print(f"  {label:<68} {value:8.3f} ms  {value / admin_ms:6.1%} of the administrator's round trip")
    if args.json:
        args.json.write_text(json.dumps({"calls": args.calls, "median_ms": dict(rows)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
