"""Fixtures for the Lambda handler: the module loaded by path, a stubbed client, and loopback endpoints."""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import socket
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pytest
from botocore.stub import Stubber
from PIL import Image
from tests.folder_runtime import aws, server  # noqa: F401  (this folder's own runtime)

HANDLER_PATH = Path(__file__).resolve().parents[2] / "lambda" / "lambda_function.py"
ENDPOINT = "dog-breed"
_counter = itertools.count()


@dataclass
class LambdaContext:
    """The attributes Lambda's runtime puts on the context object that the handler reads."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "dog-breed-invoke"
    memory_limit_in_mb: int = 128


@pytest.fixture
def aws_env(monkeypatch):
    """An environment like Lambda's: a region, credentials and ENDPOINT_NAME; no profile or endpoint override."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_CONFIG_FILE",
                 "MAX_PAYLOAD_BYTES", "READ_TIMEOUT_SECONDS", "CONNECT_TIMEOUT_SECONDS", "MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    return monkeypatch


@pytest.fixture
def load_handler(aws_env):
    """Load lambda/lambda_function.py as a fresh module, as a new Lambda container would."""
    names = []

    def load():
        name = f"lambda_function_{next(_counter)}"
        spec = importlib.util.spec_from_file_location(name, HANDLER_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        names.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def handler(load_handler):
    return load_handler()


@pytest.fixture
def stub(handler):
    """botocore's Stubber on the module's own (real) sagemaker-runtime client."""
    with Stubber(handler.runtime_client()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def context():
    return LambdaContext()


@pytest.fixture
def make_image():
    """Encode a small real image with Pillow: make_image("PNG") -> bytes."""

    def encode(fmt: str = "JPEG", size: tuple[int, int] = (8, 8)) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", size, (200, 120, 40)).save(buffer, format=fmt)
        return buffer.getvalue()

    return encode


@dataclass
class LoopbackEndpoint:
    """A real HTTP server on 127.0.0.1 playing the SageMaker runtime's invocations route."""

    url: str
    requests: list[dict]
    respond: Callable[[dict], tuple[int, dict, bytes]]


class _InvocationHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        request = {"path": self.path, "headers": dict(self.headers.items()), "body": self.rfile.read(length)}
        self.server.endpoint.requests.append(request)
        status, headers, body = self.server.endpoint.respond(request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        return


def default_answer(request: dict) -> tuple[int, dict, bytes]:
    body = json.dumps({"predictions": [{"label": "Carolina dog", "index": 42, "probability": 0.9},
                                       {"label": "Dingo", "index": 7, "probability": 0.05}]}).encode()
    return 200, {"Content-Type": "application/json"}, body


@pytest.fixture(scope="module")
def loopback_endpoint():
    """Start a loopback endpoint; yields a factory taking the response function."""
    servers = []

    def start(respond=default_answer) -> LoopbackEndpoint:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _InvocationHandler)
        server.daemon_threads = True
        server.endpoint = LoopbackEndpoint(f"http://127.0.0.1:{server.server_port}", [], respond)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.endpoint

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_endpoint():
    """A listening socket that accepts connections and never answers (a hung endpoint)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.fixture
def closed_port_url():
    """A loopback URL on which nothing listens (connection refused)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"
