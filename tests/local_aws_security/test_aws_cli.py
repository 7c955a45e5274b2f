"""The real AWS CLI (v1) against the runtime: its own signing, presigned URLs and S3 transfers are accepted; wrong keys
are refused with each service's error code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_aws.server import ServerProcess

AWS = Path(sys.executable).parent / "aws"
ACCOUNT = "123456789012"
# The CLI's s3 transfer manager switches to multipart uploads at 8 MiB and uploads 8 MiB parts.
MULTIPART_THRESHOLD = 8 * 1024 * 1024
# Exit status of the CLI v1 when a service answers an error.
SERVICE_ERROR_EXIT = 255
SIGNATURE_V4 = "[default]\ns3 =\n    signature_version = s3v4\n"
UNSIGNED_PAYLOAD = "[default]\ns3 =\n    payload_signing_enabled = false\n"
TRUST_ANY_PRINCIPAL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})

Cli = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory) -> ServerProcess:
    with ServerProcess(tmp_path_factory.mktemp("local_aws_cli")) as running:
        yield running


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory) -> Path:
    """An empty HOME, so no user configuration or credentials reach the CLI, holding two config files."""
    home = tmp_path_factory.mktemp("cli_home")
    (home / "sigv4.config").write_text(SIGNATURE_V4)
    (home / "unsigned-payload.config").write_text(UNSIGNED_PAYLOAD)
    return home


@pytest.fixture(scope="module")
def cli(cli_server, cli_home) -> Cli:
    """Run ``aws`` with a clean environment: the given keys (the administrator's by default) and the runtime."""
    assert AWS.exists(), f"{AWS} is missing: awscli is a test dependency (make install)"

    def run(*args: str, access_key_id: str = "testing", secret_access_key: str = "testing",
            session_token: str | None = None, config: str = "sigv4.config") -> subprocess.CompletedProcess:
        env = {"HOME": str(cli_home), "AWS_CONFIG_FILE": str(cli_home / config),
               "AWS_SHARED_CREDENTIALS_FILE": str(cli_home / "credentials"),
               "AWS_ACCESS_KEY_ID": access_key_id, "AWS_SECRET_ACCESS_KEY": secret_access_key,
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": cli_server.endpoint_url}
        if session_token:
            env["AWS_SESSION_TOKEN"] = session_token
        return subprocess.run([str(AWS), *args], env=env, capture_output=True, text=True, timeout=120)

    return run


def output(completed: subprocess.CompletedProcess) -> Any:
    """The parsed JSON output of a command that must have succeeded."""
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def succeeded(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.fixture(scope="module")
def bucket(cli) -> str:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    assert succeeded(cli("s3", "mb", f"s3://{name}")).strip() == f"make_bucket: {name}"
    return name


@pytest.fixture(scope="module")
def small_object(cli, cli_home, bucket) -> bytes:
    """A few bytes uploaded with ``s3 cp`` to ``s3://<bucket>/small.txt``."""
    body = b"a dog, a breed\n" * 10
    source = cli_home / "small.txt"
    source.write_bytes(body)
    succeeded(cli("s3", "cp", str(source), f"s3://{bucket}/small.txt"))
    return body


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def s3_refusal(url: str) -> tuple[int, str]:
    """(HTTP status, S3 error code) of a plain GET of ``url`` that must fail."""
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(url, timeout=30)
    return error.value.code, ElementTree.fromstring(error.value.read()).findtext("Code")


# --- identities ------------------------------------------------------------------------------------------------

def test_get_caller_identity_answers_for_the_administrator(cli):
    assert output(cli("sts", "get-caller-identity"))["Account"] == ACCOUNT


def test_an_iam_user_key_made_by_the_cli_signs_as_that_user(cli):
    name = f"cli-user-{uuid.uuid4().hex[:6]}"
    output(cli("iam", "create-user", "--user-name", name))
    key = output(cli("iam", "create-access-key", "--user-name", name))["AccessKey"]

    identity = output(cli("sts", "get-caller-identity", access_key_id=key["AccessKeyId"],
                          secret_access_key=key["SecretAccessKey"]))

    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"


def test_a_role_session_from_the_cli_signs_with_its_session_token(cli):
    name = f"cli-role-{uuid.uuid4().hex[:6]}"
    role = output(cli("iam", "create-role", "--role-name", name, "--assume-role-policy-document",
                      TRUST_ANY_PRINCIPAL))["Role"]
    keys = output(cli("sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "cli"))["Credentials"]

    identity = output(cli("sts", "get-caller-identity", access_key_id=keys["AccessKeyId"],
                          secret_access_key=keys["SecretAccessKey"], session_token=keys["SessionToken"]))

    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/cli"


def test_create_role_answers_the_role_that_get_role_reads_back(cli):
    name = f"cli-role-{uuid.uuid4().hex[:6]}"
    created = output(cli("iam", "create-role", "--role-name", name, "--assume-role-policy-document",
                         TRUST_ANY_PRINCIPAL))["Role"]

    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    assert output(cli("iam", "get-role", "--role-name", name))["Role"]["Arn"] == created["Arn"]


# --- S3: the transfer manager and presigned URLs ---------------------------------------------------------------

def test_s3_ls_lists_a_bucket_made_by_s3_mb(cli, bucket):
    listed = [line.split()[-1] for line in succeeded(cli("s3", "ls")).splitlines()]
    assert bucket in listed


def test_a_small_file_copied_up_comes_back_byte_for_byte(cli, cli_home, bucket, small_object):
    target = cli_home / "small.back"
    succeeded(cli("s3", "cp", f"s3://{bucket}/small.txt", str(target)))
    assert target.read_bytes() == small_object


def test_a_file_over_the_multipart_threshold_is_uploaded_in_parts_and_comes_back(cli, cli_home, bucket):
    body = os.urandom(MULTIPART_THRESHOLD + 1024 * 1024)
    source, target = cli_home / "large.bin", cli_home / "large.back"
    source.write_bytes(body)

    succeeded(cli("s3", "cp", str(source), f"s3://{bucket}/large.bin"))
    head = output(cli("s3api", "head-object", "--bucket", bucket, "--key", "large.bin"))
    succeeded(cli("s3", "cp", f"s3://{bucket}/large.bin", str(target)))

    assert head["ETag"].endswith('-2"'), head["ETag"]  # a multipart object's ETag counts its parts
    assert target.read_bytes() == body


def test_s3_ls_lists_the_uploaded_object_with_its_size(cli, bucket, small_object):
    lines = succeeded(cli("s3", "ls", f"s3://{bucket}/")).splitlines()
    sizes = {line.split()[-1]: int(line.split()[-2]) for line in lines}
    assert sizes["small.txt"] == len(small_object)


def test_an_upload_without_payload_signing_is_accepted(cli, cli_home, bucket):
    source, target = cli_home / "unsigned.txt", cli_home / "unsigned.back"
    source.write_bytes(b"sent as UNSIGNED-PAYLOAD")

    upload = cli("s3", "cp", str(source), f"s3://{bucket}/unsigned.txt", "--debug", config="unsigned-payload.config")
    assert upload.returncode == 0, upload.stderr[-2000:]
    assert "x-amz-content-sha256:UNSIGNED-PAYLOAD" in upload.stderr  # the canonical request the CLI signed

    succeeded(cli("s3", "cp", f"s3://{bucket}/unsigned.txt", str(target)))
    assert target.read_bytes() == source.read_bytes()


def test_an_upload_signed_with_a_wrong_secret_is_refused_and_stores_nothing(cli, cli_home, bucket):
    source = cli_home / "refused.txt"
    source.write_bytes(b"never stored")

    upload = cli("s3", "cp", str(source), f"s3://{bucket}/refused.txt", secret_access_key="not-the-secret")
    listing = cli("s3", "ls", f"s3://{bucket}/refused.txt")

    assert upload.returncode == 1
    assert "An error occurred (SignatureDoesNotMatch) when calling the PutObject operation" in upload.stderr
    assert listing.returncode == 1 and listing.stdout == ""  # s3 ls exits 1 when nothing matches


def test_a_presigned_url_from_the_cli_reads_the_object(cli, bucket, small_object):
    url = succeeded(cli("s3", "presign", f"s3://{bucket}/small.txt")).strip()
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert fetch(url) == small_object


@pytest.mark.parametrize("tamper", [
    lambda url: url.replace("/small.txt?", "/large.bin?"),
    lambda url: url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200"),
    lambda url: url[:-4] + ("0000" if not url.endswith("0000") else "1111"),
], ids=["other-key", "longer-expiry", "altered-signature"])
def test_a_tampered_presigned_url_is_refused(cli, bucket, small_object, tamper):
    url = succeeded(cli("s3", "presign", f"s3://{bucket}/small.txt")).strip()
    assert s3_refusal(tamper(url)) == (403, "SignatureDoesNotMatch")


# --- the JSON and REST services ---------------------------------------------------------------------------------

def test_sagemaker_list_training_jobs_answers_an_empty_list(cli):
    assert output(cli("sagemaker", "list-training-jobs"))["TrainingJobSummaries"] == []


def test_lambda_list_functions_answers_an_empty_list(cli):
    assert output(cli("lambda", "list-functions"))["Functions"] == []


def test_a_log_group_made_by_the_cli_is_described(cli):
    name = f"/cli/{uuid.uuid4().hex[:6]}"
    succeeded(cli("logs", "create-log-group", "--log-group-name", name))
    groups = output(cli("logs", "describe-log-groups", "--log-group-name-prefix", name))["logGroups"]
    assert [group["logGroupName"] for group in groups] == [name]


def test_a_metric_put_by_the_cli_is_listed(cli):
    namespace = f"Cli/{uuid.uuid4().hex[:6]}"
    succeeded(cli("cloudwatch", "put-metric-data", "--namespace", namespace, "--metric-name", "Barks", "--value", "3"))
    metrics = output(cli("cloudwatch", "list-metrics", "--namespace", namespace))["Metrics"]
    assert [metric["MetricName"] for metric in metrics] == ["Barks"]


# --- refusals --------------------------------------------------------------------------------------------------

CHEAP_CALLS = {
    "sts": ["sts", "get-caller-identity"],
    "iam": ["iam", "list-roles"],
    "s3": ["s3", "ls"],
    "sagemaker": ["sagemaker", "list-training-jobs"],
    "lambda": ["lambda", "list-functions"],
    "logs": ["logs", "describe-log-groups"],
    "cloudwatch": ["cloudwatch", "list-metrics"],
}


@pytest.mark.parametrize("service, code", [
    ("sts", "SignatureDoesNotMatch"),
    ("iam", "SignatureDoesNotMatch"),
    ("s3", "SignatureDoesNotMatch"),
    ("sagemaker", "InvalidSignatureException"),
    ("lambda", "InvalidSignatureException"),
    ("logs", "InvalidSignatureException"),
    ("cloudwatch", "SignatureDoesNotMatch"),
])
def test_a_wrong_secret_makes_the_cli_fail_with_the_services_signature_error(cli, service, code):
    refused = cli(*CHEAP_CALLS[service], secret_access_key="not-the-secret")
    assert refused.returncode == SERVICE_ERROR_EXIT
    assert f"An error occurred ({code}) when calling the " in refused.stderr
    assert "The request signature we calculated does not match the signature you provided." in refused.stderr


@pytest.mark.parametrize("service, code, message", [
    ("sts", "InvalidClientTokenId", "The security token included in the request is invalid."),
    ("iam", "InvalidClientTokenId", "The security token included in the request is invalid."),
    ("cloudwatch", "InvalidClientTokenId", "The security token included in the request is invalid."),
    ("sagemaker", "UnrecognizedClientException", "The security token included in the request is invalid."),
    ("lambda", "UnrecognizedClientException", "The security token included in the request is invalid."),
    ("logs", "UnrecognizedClientException", "The security token included in the request is invalid."),
    ("s3", "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."),
])
def test_a_made_up_access_key_makes_the_cli_fail_with_the_services_error(cli, service, code, message):
    refused = cli(*CHEAP_CALLS[service], access_key_id="AKIAMADEUPMADEUP0000")
    assert refused.returncode == SERVICE_ERROR_EXIT
    assert f"An error occurred ({code}) when calling the " in refused.stderr
    assert message in refused.stderr
