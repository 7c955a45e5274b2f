"""pytest plugin loaded into moto's own test run (server mode): each xdist worker talks to a server of its own, and
moto's management API calls (``/moto-api/reset``, ``/moto-api/static/...``) go to that server signed with the
administrator's key.

moto's tests reset the server with an unsigned ``requests.post`` before every test, and the sagemakerruntime tests
post to a hard-coded ``localhost:5000``. local_aws serves ``/moto-api/`` only to administrator-signed requests, and
two workers sharing one server would reset each other's state mid-test; this plugin changes neither the tests nor
either server, only where those calls go and that they carry a signature (stock moto ignores it).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ENDPOINTS_VARIABLE = "MOTO_SUITE_ENDPOINTS"
ACCESS_KEY_VARIABLE = "MOTO_SUITE_ACCESS_KEY_ID"
SECRET_KEY_VARIABLE = "MOTO_SUITE_SECRET_ACCESS_KEY"
MANAGEMENT_PATH = "/moto-api/"


def worker_endpoint(endpoints: list[str], worker: str | None) -> str:
    """The server of xdist worker ``gwN`` (the first one without xdist)."""
    index = int(worker[2:]) if worker and worker.startswith("gw") else 0
    return endpoints[index % len(endpoints)]


def signed_management_call(request: requests.PreparedRequest, endpoint: str, credentials: Credentials) -> None:
    """Point a ``/moto-api/`` request at ``endpoint`` and add a SigV4 signature, in place."""
    target = urlsplit(endpoint)
    request.url = urlunsplit(urlsplit(request.url)._replace(scheme=target.scheme, netloc=target.netloc))
    headers = {name: value for name, value in request.headers.items() if name.lower() == "content-type"}
    body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
    signature = AWSRequest(method=request.method, url=request.url, data=body, headers=headers)
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(signature)
    request.headers.update(dict(signature.headers.items()))


def pytest_configure(config) -> None:
    endpoint = worker_endpoint(os.environ[ENDPOINTS_VARIABLE].split(","), os.environ.get("PYTEST_XDIST_WORKER"))
    os.environ["TEST_SERVER_MODE_ENDPOINT"] = endpoint
    credentials = Credentials(os.environ[ACCESS_KEY_VARIABLE], os.environ[SECRET_KEY_VARIABLE])
    send = requests.Session.send

    def send_signed(session: requests.Session, request: requests.PreparedRequest, **kwargs):
        if urlsplit(request.url).path.startswith(MANAGEMENT_PATH):
            signed_management_call(request, endpoint, credentials)
        return send(session, request, **kwargs)

    requests.Session.send = send_signed
