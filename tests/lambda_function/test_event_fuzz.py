"""Any JSON value as the event gets a well-formed JSON answer: never an exception, never a 5xx."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import sys

import pytest
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

HANDLER_PATH = Path(__file__).resolve().parents[2] / "lambda" / "lambda_function.py"

CLIENT_STATUSES = {200, 400, 413, 415}


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


JPEG = _jpeg()

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
urls = st.sampled_from(["https://example.com/dog.jpg", "http://a", "", "ftp://x/y", "https://", "//x/y",
                        "https://example.com/" + "x" * 2100]) | st.text(max_size=40)
images = st.sampled_from([base64.b64encode(JPEG).decode(), base64.urlsafe_b64encode(JPEG).decode().rstrip("="),
                          "", "QUJD", "@@@", "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()])
top_ks = st.none() | st.integers(-3, 1200) | st.sampled_from(["5", "x", True, 1.0])
direct_events = st.fixed_dictionaries({}, optional={"url": urls | json_values, "image": images | json_values,
                                                    "top_k": top_ks | json_values})
bodies = st.builds(json.dumps, direct_events) | st.text(max_size=40) | json_values
http_events = st.fixed_dictionaries(
    {"body": bodies},
    optional={
        "isBase64Encoded": st.booleans() | json_values,
        "headers": st.none() | st.dictionaries(
            st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE", "accept"]),
            st.sampled_from(["application/json", "image/jpeg", "image/png", "text/html", "", "image/gif;q=1"])
            | json_values, max_size=2),
        "queryStringParameters": st.none() | st.dictionaries(st.just("top_k"), top_ks | json_values, max_size=1),
        "requestContext": json_values,
        "version": st.just("2.0"),
    },
)
base64_http_events = st.builds(
    lambda event, raw: {**event, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True},
    http_events, st.sampled_from([JPEG, b"{\"url\": \"https://example.com/a.jpg\"}", b"\x00\x01", b""]))
events = json_values | direct_events | http_events | base64_http_events


@pytest.fixture(scope="module")
def fuzz_handler(loopback_endpoint):
    endpoint = loopback_endpoint()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "MAX_PAYLOAD_BYTES"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        patch.setenv("ENDPOINT_NAME", "dog-breed")
        spec = importlib.util.spec_from_file_location("lambda_function_fuzz", HANDLER_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        module.runtime_client()
        yield module, endpoint
        sys.modules.pop(spec.name, None)


class _Context:
    aws_request_id = "fuzz-request"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lambda_event=events)
def test_any_event_gets_a_json_answer_and_never_a_server_error(fuzz_handler, lambda_event):
    handler, endpoint = fuzz_handler
    calls_before = len(endpoint.requests)
    response = handler.lambda_handler(lambda_event, _Context())
    event(f"status {response['statusCode']}")
    assert set(response) == {"statusCode", "headers", "body"}
    assert response["headers"] == {"Content-Type": "application/json"}
    assert response["statusCode"] in CLIENT_STATUSES, response
    body = json.loads(response["body"])
    if response["statusCode"] == 200:
        assert body["endpoint"] == "dog-breed" and body["predictions"][0]["index"] == 42
        assert len(endpoint.requests) == calls_before + 1
    else:
        assert set(body["error"]) == {"code", "message", "requestId"}
        assert "Traceback" not in body["error"]["message"]
        assert len(endpoint.requests) == calls_before
