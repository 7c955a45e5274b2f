"""Every request is authenticated by its SigV4 signature, and refused as AWS refuses it, in each protocol."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Any

import boto3
import botocore
import botocore.auth
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local_aws import moto_seam
from local_aws.iam.authentication import ADMINISTRATOR, BAD_SIGNATURE, AuthenticationFailure, verify
from local_aws.runtime import SecuritySettings
from local_aws.server import ServerProcess

INVALID_TOKEN = "The security token included in the request is invalid."
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                      "Secret Access Key and signing method. Consult the service documentation for details.")
EXPIRED_TOKEN = "The security token included in the request is expired"

# One cheap call per service and protocol.
CALLS = {
    "iam": lambda c: c.list_roles(),
    "sts": lambda c: c.get_caller_identity(),
    "s3": lambda c: c.list_buckets(),
    "sagemaker": lambda c: c.list_endpoints(),
    "logs": lambda c: c.describe_log_groups(),
    "lambda": lambda c: c.list_functions(),
    "cloudwatch": lambda c: c.list_metrics(),
}


def refusal(call: Any) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of the ClientError ``call()`` raises."""
    with pytest.raises(ClientError) as error:
        call()
    response = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def http_refusal(url: str) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of S3's XML error for a plain GET of ``url``."""
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(url)
    root = ElementTree.fromstring(error.value.read())
    return error.value.code, root.findtext("Code"), root.findtext("Message")


@pytest.fixture
def role_session(auth_client) -> dict[str, str]:
    """Fresh STS credentials for a new role (with no policies)."""
    name = f"role-{uuid.uuid4().hex[:8]}"
    arn = auth_client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    return auth_client("sts").assume_role(RoleArn=arn, RoleSessionName="auth-test")["Credentials"]


def expire(session: dict[str, str]) -> None:
    moto_seam.find_role_session(session["AccessKeyId"]).expiration = moto_seam.utcnow() - datetime.timedelta(minutes=1)


@pytest.fixture
def user_key(auth_client) -> dict[str, str]:
    iam = auth_client("iam")
    name = f"user-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    return iam.create_access_key(UserName=name)["AccessKey"]


@pytest.fixture
def skewed_clock(monkeypatch) -> None:
    """The client's clock runs 20 minutes late."""
    late = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: late)


# --- the administrator -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", sorted(CALLS))
def test_the_administrator_key_pair_is_accepted(auth_client, service):
    assert CALLS[service](auth_client(service))["ResponseMetadata"]["HTTPStatusCode"] == 200


# --- no signature ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("service, expected", [
    ("iam", (403, "MissingAuthenticationToken", "Request is missing Authentication Token")),
    ("sagemaker", (400, "MissingAuthenticationTokenException", "Request is missing Authentication Token")),
    ("lambda", (403, "MissingAuthenticationTokenException", "Request is missing Authentication Token")),
    ("cloudwatch", (403, "MissingAuthenticationToken", "Request is missing Authentication Token")),
    ("s3", (403, "AccessDenied", "Access Denied")),
])
def test_an_unsigned_request_is_refused(auth_client, service, expected):
    client = auth_client(service, signature_version=botocore.UNSIGNED)
    assert refusal(lambda: CALLS[service](client)) == expected


def test_a_signature_version_2_presigned_url_is_refused(auth_client):
    s3 = auth_client("s3", signature_version="s3")
    url = s3.generate_presigned_url("list_buckets")
    assert http_refusal(url) == (400, "InvalidRequest", "The authorization mechanism you have provided is not "
                                                        "supported. Please use AWS4-HMAC-SHA256.")


# --- unknown key, wrong secret ---------------------------------------------------------------------------------

@pytest.mark.parametrize("service, expected", [
    ("iam", (403, "InvalidClientTokenId", INVALID_TOKEN)),
    ("sts", (403, "InvalidClientTokenId", INVALID_TOKEN)),
    ("sagemaker", (400, "UnrecognizedClientException", INVALID_TOKEN)),
    ("logs", (400, "UnrecognizedClientException", INVALID_TOKEN)),
    ("lambda", (403, "UnrecognizedClientException", INVALID_TOKEN)),
    ("cloudwatch", (403, "InvalidClientTokenId", INVALID_TOKEN)),
    ("s3", (403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")),
])
def test_a_made_up_access_key_is_refused(auth_client, service, expected):
    client = auth_client(service, "AKIAMADEUPMADEUP0000", "testing")
    assert refusal(lambda: CALLS[service](client)) == expected


@pytest.mark.parametrize("service, expected", [
    ("sts", (403, "SignatureDoesNotMatch", SIGNATURE_MISMATCH)),
    ("sagemaker", (400, "InvalidSignatureException", SIGNATURE_MISMATCH)),
    ("lambda", (403, "InvalidSignatureException", SIGNATURE_MISMATCH)),
    ("cloudwatch", (403, "SignatureDoesNotMatch", SIGNATURE_MISMATCH)),
    ("s3", (403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you "
                                          "provided. Check your key and signing method.")),
])
def test_the_right_key_with_a_wrong_secret_is_refused(auth_client, service, expected):
    client = auth_client(service, "testing", "not-the-secret")
    assert refusal(lambda: CALLS[service](client)) == expected


# --- IAM users' keys -------------------------------------------------------------------------------------------

def test_an_iam_user_access_key_signs_as_that_user(auth_client, user_key):
    sts = auth_client("sts", user_key["AccessKeyId"], user_key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{user_key['UserName']}")


def test_an_inactive_iam_user_access_key_is_refused(auth_client, user_key):
    auth_client("iam").update_access_key(UserName=user_key["UserName"], AccessKeyId=user_key["AccessKeyId"],
                                         Status="Inactive")
    sts = auth_client("sts", user_key["AccessKeyId"], user_key["SecretAccessKey"])
    assert refusal(sts.get_caller_identity) == (403, "InvalidClientTokenId", INVALID_TOKEN)


# --- STS sessions ----------------------------------------------------------------------------------------------

def test_a_role_session_signs_as_the_assumed_role(auth_client, role_session):
    sts = auth_client("sts", role_session["AccessKeyId"], role_session["SecretAccessKey"],
                      role_session["SessionToken"])
    assert ":assumed-role/" in sts.get_caller_identity()["Arn"]


@pytest.mark.parametrize("service, expected", [
    ("sts", (403, "InvalidClientTokenId", INVALID_TOKEN)),
    ("s3", (403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")),
])
def test_a_role_session_without_its_token_is_refused(auth_client, role_session, service, expected):
    client = auth_client(service, role_session["AccessKeyId"], role_session["SecretAccessKey"])
    assert refusal(lambda: CALLS[service](client)) == expected


@pytest.mark.parametrize("service, expected", [
    ("sts", (403, "InvalidClientTokenId", INVALID_TOKEN)),
    ("sagemaker", (400, "UnrecognizedClientException", INVALID_TOKEN)),
    ("s3", (400, "InvalidToken", "The provided token is malformed or otherwise invalid.")),
])
def test_a_role_session_with_a_wrong_token_is_refused(auth_client, role_session, service, expected):
    client = auth_client(service, role_session["AccessKeyId"], role_session["SecretAccessKey"], "not-the-token")
    assert refusal(lambda: CALLS[service](client)) == expected


@pytest.mark.parametrize("service, expected", [
    ("sts", (403, "ExpiredToken", EXPIRED_TOKEN)),
    ("sagemaker", (400, "ExpiredTokenException", EXPIRED_TOKEN)),
    ("lambda", (403, "ExpiredTokenException", EXPIRED_TOKEN)),
    ("cloudwatch", (403, "ExpiredToken", EXPIRED_TOKEN)),
    ("s3", (400, "ExpiredToken", "The provided token has expired.")),
])
def test_an_expired_role_session_is_refused(auth_client, role_session, service, expected):
    expire(role_session)
    client = auth_client(service, role_session["AccessKeyId"], role_session["SecretAccessKey"],
                         role_session["SessionToken"])
    assert refusal(lambda: CALLS[service](client)) == expected


def test_the_administrator_key_with_a_session_token_is_refused(auth_client):
    sts = auth_client("sts", "testing", "testing", "a-token-nobody-issued")
    assert refusal(sts.get_caller_identity) == (403, "InvalidClientTokenId", INVALID_TOKEN)


# --- clocks ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("service, expected_code", [
    ("sts", "SignatureDoesNotMatch"),
    ("sagemaker", "InvalidSignatureException"),
    ("s3", "RequestTimeTooSkewed"),
])
def test_a_request_signed_by_a_skewed_clock_is_refused(auth_client, skewed_clock, service, expected_code):
    status, code, message = refusal(lambda: CALLS[service](auth_client(service)))
    assert (status, code) == ((400 if service == "sagemaker" else 403), expected_code)
    assert message.startswith("Signature expired: ") or message == (
        "The difference between the request time and the current time is too large.")


# --- tampering -------------------------------------------------------------------------------------------------

def tamper_body_after_signing(client: Any, body: bytes) -> None:
    def replace(request: Any, **_: Any) -> None:
        request.body = body
        request.headers["Content-Length"] = str(len(body))

    client.meta.events.register("before-send", replace)


def test_a_json_body_changed_after_signing_is_refused(auth_client):
    sagemaker = auth_client("sagemaker")
    tamper_body_after_signing(sagemaker, b'{"MaxResults": 7}')
    assert refusal(sagemaker.list_endpoints) == (400, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_an_s3_body_changed_after_signing_does_not_match_its_payload_hash(auth_client):
    s3 = auth_client("s3")
    bucket = f"bkt-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    tamper_body_after_signing(s3, b"tampered")
    assert refusal(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"original")) == (
        400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")


# --- presigned URLs --------------------------------------------------------------------------------------------

@pytest.fixture
def stored_object(auth_client) -> tuple[str, str]:
    bucket = f"bkt-{uuid.uuid4().hex[:12]}"
    s3 = auth_client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/a b+c.txt", Body=b"presigned payload")
    return bucket, "dir/a b+c.txt"


def test_a_presigned_url_reads_the_object(auth_client, stored_object):
    bucket, key = stored_object
    url = auth_client("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key})
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"presigned payload"


def test_a_presigned_url_with_a_wrong_signature_is_refused(auth_client, stored_object):
    bucket, key = stored_object
    url = auth_client("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key})
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    forged = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    assert http_refusal(forged)[:2] == (403, "SignatureDoesNotMatch")


def test_an_expired_presigned_url_is_refused(auth_client, stored_object, skewed_clock):
    bucket, key = stored_object
    url = auth_client("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
    assert http_refusal(url) == (403, "AccessDenied", "Request has expired")


def test_a_presigned_url_valid_for_more_than_a_week_is_refused(auth_client, stored_object):
    bucket, key = stored_object
    url = auth_client("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=604801)
    assert http_refusal(url) == (400, "AuthorizationQueryParametersError",
                                 "X-Amz-Expires must be less than a week (in seconds) that is; 604800")


# --- aws-chunked uploads: AWS's worked example ("Signature Calculations ... in Multiple Chunks") ------------------

EXAMPLE_SECURITY = SecuritySettings(access_key_id="AKIAIOSFODNN7EXAMPLE",
                                    secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
EXAMPLE_CHUNK_SIGNATURES = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]


def example_chunked_upload(chunk_signatures: list[str]) -> Request:
    chunks = [b"a" * 65536, b"a" * 1024, b""]
    body = b"".join(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(chunk), signature.encode(), chunk)
                    for chunk, signature in zip(chunks, chunk_signatures))
    builder = EnvironBuilder(method="PUT", path="/examplebucket/chunkObject.txt", base_url="http://s3.amazonaws.com",
                             data=body, headers={
                                 "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
                                                  "us-east-1/s3/aws4_request,SignedHeaders=content-encoding;"
                                                  "content-length;host;x-amz-content-sha256;x-amz-date;"
                                                  "x-amz-decoded-content-length;x-amz-storage-class,Signature="
                                                  "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                                 "x-amz-date": "20130524T000000Z", "x-amz-storage-class": "REDUCED_REDUNDANCY",
                                 "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                 "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "66560"})
    environ = builder.get_environ()
    environ["RAW_URI"] = "/examplebucket/chunkObject.txt"
    return Request(environ)


def test_a_chunked_upload_with_valid_chunk_signatures_is_accepted():
    request = example_chunked_upload(EXAMPLE_CHUNK_SIGNATURES)
    principal = verify(request, request.get_data(), EXAMPLE_SECURITY,
                       now=datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert principal.kind == ADMINISTRATOR


def test_a_chunked_upload_with_a_forged_chunk_signature_is_refused():
    request = example_chunked_upload([EXAMPLE_CHUNK_SIGNATURES[0], "0" * 64, EXAMPLE_CHUNK_SIGNATURES[2]])
    with pytest.raises(AuthenticationFailure) as failure:
        verify(request, request.get_data(), EXAMPLE_SECURITY,
               now=datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert failure.value.reason == BAD_SIGNATURE


# --- the health check and non-default administrator keys -------------------------------------------------------

def test_the_health_check_needs_no_signature(auth_server):
    with urllib.request.urlopen(f"{auth_server.endpoint_url}/_local_aws/health") as response:
        assert json.load(response) == {"status": "running"}


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("keyed"), "--access-key-id", "AKIALOCALADMIN000001",
                       "--secret-access-key", "a-long-local-secret") as process:
        yield process


def keyed_client(process: ServerProcess, access_key_id: str, secret: str) -> Any:
    return boto3.client("sts", endpoint_url=process.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=access_key_id, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def test_configured_administrator_keys_are_accepted(keyed_server):
    sts = keyed_client(keyed_server, "AKIALOCALADMIN000001", "a-long-local-secret")
    assert sts.get_caller_identity()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_default_keys_are_refused_once_others_are_configured(keyed_server):
    sts = keyed_client(keyed_server, "testing", "testing")
    assert refusal(sts.get_caller_identity) == (403, "InvalidClientTokenId", INVALID_TOKEN)


def test_the_server_prints_its_administrator_credentials(keyed_server):
    assert ("local_aws administrator credentials: AWS_ACCESS_KEY_ID=AKIALOCALADMIN000001 "
            "AWS_SECRET_ACCESS_KEY=a-long-local-secret") in keyed_server.output
