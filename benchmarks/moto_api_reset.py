"""What a ``/moto-api/reset`` costs the local AWS runtime, as test suites written against moto call it between tests.

``python -m benchmarks.moto_api_reset [--rounds N]`` (from the repository root) starts ``python -m local_aws
--enable-moto-api`` and, N times: creates an IAM role and attaches an AWS managed policy to it (so that IAM's
backend holds its AWS managed policies, as after any test using IAM), then resets. It prints the medians and
maximum of the reset round trip, and of the first IAM call after it (which copies the AWS managed policies into
the new backend when it reads them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchmarks.machine import describe_machine
from local_aws.server import ServerProcess

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
POLICY = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"


def reset(endpoint_url: str) -> float:
    """One administrator-signed POST /moto-api/reset; its round trip in ms."""
    request = AWSRequest(method="POST", url=f"{endpoint_url}/moto-api/reset", data=b"")
    SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(prepared.url, data=b"", method="POST",
                                                       headers=dict(prepared.headers)), timeout=120) as answer:
        answer.read()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    print(describe_machine())
    with tempfile.TemporaryDirectory() as state, ServerProcess(state, "--enable-moto-api",
                                                                "--log-level", "WARNING") as server:
        iam = boto3.client("iam", endpoint_url=server.endpoint_url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        resets, first_calls = [], []
        for round_number in range(args.rounds):
            started = time.perf_counter()
            iam.create_role(RoleName=f"role-{round_number}", AssumeRolePolicyDocument=json.dumps(TRUST))
            iam.attach_role_policy(RoleName=f"role-{round_number}", PolicyArn=POLICY)
            first_calls.append((time.perf_counter() - started) * 1000)
            resets.append(reset(server.endpoint_url))
    print(f"{args.rounds} rounds")
    print(f"  /moto-api/reset round trip:              median {statistics.median(resets):8.1f} ms, "
          f"max {max(resets):8.1f} ms")
    print(f"  CreateRole + AttachRolePolicy after it:  median {statistics.median(first_calls[1:]):8.1f} ms, "
          f"first of the process {first_calls[0]:8.1f} ms")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "reset_ms": {"median": statistics.median(resets),
                                                                              "max": max(resets)},
                                         "first_calls_ms_median": statistics.median(first_calls[1:])}, indent=2) + "\n")


if __name__ == "__main__":
    main()
