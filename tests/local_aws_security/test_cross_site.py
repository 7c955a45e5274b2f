"""Web pages cannot use the runtime: foreign origins, DNS rebinding and moto's management API are refused.

Requests are sent as a browser would send them (raw HTTP with its Origin, Sec-Fetch-Site and Host headers) to a
real server on a free loopback port; boto3 reads the state afterwards.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest as SignedRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from local_aws.gateway import AWSRequest
from local_aws.runtime import SecuritySettings
from local_aws.server import REPO_ROOT, LocalAWSServer, ServerProcess

EVIL = "https://evil.example"
PAGE = "http://localhost:3000"
MULTIPART_BOUNDARY = "pageboundary"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def error(self) -> tuple[str, str]:
        """(Code, Message) of an XML error body."""
        root = ElementTree.fromstring(self.body)
        return root.findtext(".//Code"), root.findtext(".//Message")

    def access_control_headers(self) -> list[str]:
        return [name for name in self.headers if name.lower().startswith("access-control-")]


def send(server: LocalAWSServer, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None, signed: bool = True) -> Answer:
    """One raw HTTP request to ``server``, ``Host`` as given (else the server's own), signed with the admin key
    unless ``signed`` is false (a page's own request carries no signature)."""
    url = urlsplit(server.endpoint_url)
    headers = dict(headers or {})
    if signed:
        host = headers.pop("Host", url.netloc)
        request = SignedRequest(method=method, url=f"http://{host}{path}", data=body or b"", headers=headers)
        S3SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
        headers = {"Host": host, **dict(request.headers.items())}
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def page_upload(bucket: str, key: str) -> tuple[bytes, dict[str, str]]:
    """An S3 POST-object form as a page's ``fetch(..., {mode: "no-cors"})`` sends it: no preflight needed."""
    body = (f"--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n"
            f"--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"run.py\"\r\n\r\n"
            f"print('owned')\r\n--{MULTIPART_BOUNDARY}--\r\n").encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"}


@pytest.fixture(scope="module")
def default_server(tmp_path_factory) -> Iterator[LocalAWSServer]:
    """The runtime as it starts without any security flag."""
    with LocalAWSServer(state_dir=tmp_path_factory.mktemp("cross_site"), stop_grace_seconds=3.0) as running:
        yield running


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., LocalAWSServer]]:
    """Start a server with the given security settings (and extensions, none by default); stopped after the test."""
    started: list[LocalAWSServer] = []

    def start(security: SecuritySettings, extensions: list[Any] | None = None) -> LocalAWSServer:
        server = LocalAWSServer(state_dir=tmp_path / f"server-{len(started)}", extensions=extensions or [],
                                security=security, autosave_seconds=0).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


def s3_of(server: LocalAWSServer) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def bucket(default_server) -> str:
    name = f"cross-site-{uuid.uuid4().hex[:10]}"
    s3_of(default_server).create_bucket(Bucket=name)
    return name


def object_exists(server: LocalAWSServer, bucket: str, key: str) -> bool:
    try:
        s3_of(server).head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] == "404":
            return False
        raise
    return True


# Origins and Sec-Fetch-Site

def test_preflight_from_a_foreign_origin_is_refused_without_cors_headers(default_server, bucket):
    answer = send(default_server, "OPTIONS", f"/{bucket}/run.py", {
        "Origin": EVIL, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,x-amz-date"}, signed=False)

    assert answer.status == 403
    assert answer.error() == ("AccessDenied", f"Requests from the browser origin {EVIL} are refused; start "
                                              f"local_aws with --cors-allow-origin {EVIL} to allow that origin")
    assert answer.access_control_headers() == []


def test_a_simple_cross_origin_upload_is_refused_and_creates_nothing(default_server, bucket):
    body, headers = page_upload(bucket, "run.py")

    answer = send(default_server, "POST", f"/{bucket}", {**headers, "Origin": EVIL}, body, signed=False)

    assert answer.status == 403
    assert answer.error()[0] == "AccessDenied"
    assert not object_exists(default_server, bucket, "run.py")


def test_a_cross_site_fetch_without_origin_is_refused(default_server, bucket):
    answer = send(default_server, "GET", f"/{bucket}", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
                  signed=False)

    assert answer.status == 403
    assert answer.error() == ("AccessDenied", "Cross-site browser requests are refused (Sec-Fetch-Site: cross-site "
                                              "without an allowed Origin); start local_aws with --cors-allow-origin "
                                              "<origin> to let a page's origin call it")


def test_a_same_site_fetch_without_origin_is_refused(default_server, bucket):
    answer = send(default_server, "GET", f"/{bucket}", {"Sec-Fetch-Site": "same-site"}, signed=False)

    assert answer.status == 403
    assert answer.error()[0] == "AccessDenied"


def test_the_null_origin_is_refused_even_when_origins_are_allowed(start_server):
    server = start_server(SecuritySettings(cors_allow_origins=(PAGE,)))

    answer = send(server, "GET", "/", {"Origin": "null"}, signed=False)

    assert answer.status == 403
    assert answer.error() == ("AccessDenied", "Requests from the browser origin null (a sandboxed frame or a "
                                              "file:// page) are refused; no setting allows them")


def test_an_origin_on_another_port_than_the_allowed_one_is_refused(start_server):
    server = start_server(SecuritySettings(cors_allow_origins=(PAGE,)))

    answer = send(server, "GET", "/", {"Origin": "http://localhost:3001"}, signed=False)

    assert answer.status == 403
    assert answer.access_control_headers() == []


def test_an_allowed_origin_gets_its_preflight_answered(start_server):
    server = start_server(SecuritySettings(cors_allow_origins=(PAGE,)))

    answer = send(server, "OPTIONS", "/some-bucket/key", {
        "Origin": PAGE, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,x-amz-date,x-amz-content-sha256"}, signed=False)

    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE
    assert "Origin" in [part.strip() for part in answer.headers["Vary"].split(",")]
    assert "PUT" in [part.strip() for part in answer.headers["Access-Control-Allow-Methods"].split(",")]
    assert answer.headers["Access-Control-Allow-Headers"] == "authorization,x-amz-date,x-amz-content-sha256"
    assert int(answer.headers["Access-Control-Max-Age"]) > 0


def test_an_allowed_origin_reads_answers_and_the_headers_sdks_need(start_server):
    server = start_server(SecuritySettings(cors_allow_origins=(PAGE,)))
    s3_of(server).create_bucket(Bucket="page-bucket")

    answer = send(server, "GET", "/page-bucket", {"Origin": PAGE, "Sec-Fetch-Site": "same-site"})

    assert answer.status == 200
    assert answer.headers.get_all("Access-Control-Allow-Origin") == [PAGE]
    exposed = {part.strip().lower() for part in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "x-amz-request-id", "x-amzn-requestid", "x-amz-version-id"} <= exposed


def test_an_allowed_origin_is_matched_whatever_its_spelling_on_the_command_line(start_server):
    server = start_server(SecuritySettings(cors_allow_origins=("HTTP://LocalHost:3000/",)))

    answer = send(server, "GET", "/", {"Origin": PAGE})

    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE


def test_a_normal_response_carries_no_access_control_header(default_server, bucket):
    headers = s3_of(default_server).list_objects_v2(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]

    assert [name for name in headers if name.startswith("access-control-")] == []


def test_bucket_cors_rules_do_not_open_the_runtime_to_their_origins(default_server, bucket):
    s3_of(default_server).put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"]}]})

    answer = send(default_server, "OPTIONS", f"/{bucket}/x", {"Origin": EVIL, "Access-Control-Request-Method": "GET"},
                  signed=False)

    assert answer.status == 403
    assert answer.access_control_headers() == []


# Host names (DNS rebinding)

def test_a_rebound_host_name_is_refused(default_server, bucket):
    port = urlsplit(default_server.endpoint_url).port

    answer = send(default_server, "GET", f"/{bucket}", {"Host": f"evil.example:{port}"})

    assert answer.status == 403
    assert answer.error() == ("AccessDenied", "Host 'evil.example' is not served by this runtime (it answers "
                                              "loopback names, its bind address and 'local-aws', which stops DNS "
                                              "rebinding); start local_aws with --allow-host evil.example to serve "
                                              "this name too")


def test_a_rebound_host_is_refused_to_sdk_clients_in_their_protocol(default_server):
    port = urlsplit(default_server.endpoint_url).port
    sagemaker = boto3.client("sagemaker", endpoint_url=f"http://evil.example:{port}", region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    # The name resolves to 127.0.0.1, as after a rebinding: connect there, keep the name in Host.
    sagemaker.meta.events.register("before-send", lambda request, **_: setattr(
        request, "url", request.url.replace("evil.example", "127.0.0.1")))
    sagemaker.meta.events.register("before-send", lambda request, **_: request.headers.__setitem__(
        "Host", f"evil.example:{port}"))

    with pytest.raises(ClientError) as error:
        sagemaker.list_endpoints()

    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "--allow-host evil.example" in error.value.response["Error"]["Message"]


@pytest.mark.parametrize("name", ["localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "[::1]", "0.0.0.0", "local-aws"])
def test_loopback_and_compose_names_are_served(default_server, bucket, name):
    port = urlsplit(default_server.endpoint_url).port

    answer = send(default_server, "GET", f"/{bucket}", {"Host": f"{name}:{port}"})

    assert answer.status == 200


def test_a_virtual_hosted_bucket_under_localhost_is_served(default_server, bucket):
    s3_of(default_server).put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
    port = urlsplit(default_server.endpoint_url).port

    answer = send(default_server, "GET", "/hello.txt", {"Host": f"{bucket}.localhost:{port}"})

    assert answer.status == 200
    assert answer.body == b"hi"


def test_a_name_from_allow_host_is_served(start_server):
    server = start_server(SecuritySettings(allow_hosts=("airflow-box",)))
    port = urlsplit(server.endpoint_url).port

    answer = send(server, "GET", "/", {"Host": f"airflow-box:{port}"})

    assert answer.status == 200


# moto's management API

def test_moto_api_reset_is_refused_by_default_and_state_survives(default_server, bucket):
    answer = send(default_server, "POST", "/moto-api/reset")

    assert answer.status == 403
    assert answer.error() == ("AccessDenied", "moto's management API (/moto-api/) is off; start local_aws with "
                                              "--enable-moto-api to serve it to requests signed with the "
                                              "administrator's access key")
    assert bucket in [b["Name"] for b in s3_of(default_server).list_buckets()["Buckets"]]


@pytest.mark.parametrize("path", ["/moto-api/data.json", "/moto-api/", "/moto-api/reset-auth", "/moto-api/seed?a=42",
                                  "/moto-api/recorder/download-recording"])
def test_moto_api_is_refused_by_default(default_server, path):
    answer = send(default_server, "GET" if path.endswith(("json", "/", "recording")) else "POST", path)

    assert answer.status == 403
    assert "--enable-moto-api" in answer.error()[1]


def test_an_enabled_moto_api_refuses_requests_without_an_administrator_principal(start_server):
    """Only the authentication filter sets ``AWSRequest.principal``: a request without one (here unsigned) is refused.

    Until that filter is installed no request has a principal, so an enabled moto-api still serves nobody.
    """
    server = start_server(SecuritySettings(enable_moto_api=True))

    answer = send(server, "GET", "/moto-api/data.json", signed=False)

    assert answer.status == 403
    assert answer.error() == ("AccessDenied", "moto's management API (/moto-api/) is served only to requests signed "
                                              "with the administrator's access key")


class _StandInPrincipal:
    """Sets ``AWSRequest.principal`` the way the authentication filter does, for a fixed kind of signer."""

    def __init__(self, is_administrator: bool) -> None:
        self.principal = SimpleNamespace(access_key_id="testing", arn="arn:aws:iam::123456789012:root",
                                         account_id="123456789012", is_administrator=is_administrator)

    def _set(self, aws_request: AWSRequest) -> None:
        aws_request.principal = self.principal

    def install(self, server: LocalAWSServer) -> None:
        server.gateway.add_filter(self._set)

    def resume(self, server: LocalAWSServer) -> None:
        """Nothing to restart."""

    def uninstall(self, server: LocalAWSServer) -> None:
        """Nothing to stop."""


def test_an_enabled_moto_api_serves_the_administrator(start_server):
    server = start_server(SecuritySettings(enable_moto_api=True),
                          extensions=[_StandInPrincipal(is_administrator=True)])

    answer = send(server, "GET", "/moto-api/data.json")

    assert answer.status == 200
    assert b"s3" in answer.body


def test_an_enabled_moto_api_refuses_other_signers(start_server):
    server = start_server(SecuritySettings(enable_moto_api=True),
                          extensions=[_StandInPrincipal(is_administrator=False)])

    answer = send(server, "POST", "/moto-api/reset")

    assert answer.status == 403
    assert answer.error()[0] == "AccessDenied"


# Binding beyond loopback

def test_binding_every_interface_warns_what_it_exposes(tmp_path, wait_until):
    with ServerProcess(tmp_path / "state", "--host", "0.0.0.0") as process:
        warning = wait_until(lambda: [line for line in process.output if "not a loopback address" in line],
                             lambda lines: bool(lines), timeout=30)

    assert "local_aws is bound to 0.0.0.0" in warning[0]
    assert "other machines on the network can reach it" in warning[0]
    assert "testing/testing" in warning[0]


def test_binding_loopback_does_not_warn(tmp_path):
    with ServerProcess(tmp_path / "state") as process:
        output = list(process.output)

    assert not [line for line in output if "not a loopback address" in line]


def test_an_allowed_origin_must_be_an_origin(tmp_path):
    result = subprocess.run([sys.executable, "-m", "local_aws", "--port", "0", "--state-dir", str(tmp_path),
                             "--cors-allow-origin", "null"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 2
    assert ("--cors-allow-origin: 'null' is not an origin (scheme://host[:port], e.g. http://localhost:3000)"
            in result.stderr)
