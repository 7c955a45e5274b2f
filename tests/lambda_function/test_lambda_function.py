"""The Lambda handler against real botocore: Stubber for endpoint answers and errors, loopback HTTP for the wire."""

from __future__ import annotations

import base64
import io
import json
import logging
import math

import pytest

ENDPOINT = "dog-breed"
COURSE_URL = ("https://s3.amazonaws.com/cdn-origin-etr.akc.org/wp-content/uploads/2017/11/20113314/"
              "Carolina-Dog-standing-outdoors.jpg")
PREDICTIONS = [{"label": "Dingo", "index": 7, "probability": 0.05},
               {"label": "Carolina dog", "index": 42, "probability": 0.9},
               {"label": "Basenji", "index": 13, "probability": 0.03}]


def answer(payload) -> dict:
    return {"Body": io.BytesIO(json.dumps(payload).encode()), "ContentType": "application/json"}


def body_of(response: dict) -> dict:
    assert response["headers"] == {"Content-Type": "application/json"}
    assert isinstance(response["body"], str)
    return json.loads(response["body"])


def assert_error(response: dict, status: int, code: str) -> str:
    assert response["statusCode"] == status, response
    error = body_of(response)["error"]
    assert error["code"] == code, error
    for leak in ("Traceback", "botocore", "ClientError", "An error occurred", "Exception", "<"):
        assert leak not in error["message"], error["message"]
    return error["message"]


def url_params(url: str, top_k: int | None = None) -> dict:
    body = {"url": url} if top_k is None else {"url": url, "top_k": top_k}
    return {"EndpointName": ENDPOINT, "Body": json.dumps(body).encode(), "ContentType": "application/json",
            "Accept": "application/json"}


# --- the happy paths -------------------------------------------------------------------------------------------


def test_course_url_event_returns_sorted_predictions(handler, stub, context):
    stub.add_response("invoke_endpoint", answer({"predictions": PREDICTIONS}), url_params(COURSE_URL))
    response = handler.lambda_handler({"url": COURSE_URL}, context)
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["endpoint"] == ENDPOINT
    assert [p["index"] for p in body["predictions"]] == [42, 7, 13]
    assert body["predictions"][0] == {"label": "Carolina dog", "index": 42, "probability": 0.9}


def test_top_k_is_sent_to_the_endpoint_and_applied_to_the_answer(handler, stub, context):
    stub.add_response("invoke_endpoint", answer({"predictions": PREDICTIONS}), url_params(COURSE_URL, top_k=2))
    body = body_of(handler.lambda_handler({"url": COURSE_URL, "top_k": 2}, context))
    assert [p["index"] for p in body["predictions"]] == [42, 7]


@pytest.mark.parametrize("fmt, content_type", [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_base64_image_event_sends_the_bytes_with_their_type(handler, stub, context, make_image, fmt, content_type):
    data = make_image(fmt)
    stub.add_response("invoke_endpoint", answer({"predictions": PREDICTIONS}),
                      {"EndpointName": ENDPOINT, "Body": data, "ContentType": content_type,
                       "Accept": "application/json", "CustomAttributes": "top_k=1"})
    response = handler.lambda_handler({"image": base64.b64encode(data).decode(), "top_k": 1}, context)
    assert response["statusCode"] == 200
    assert [p["index"] for p in body_of(response)["predictions"]] == [42]


def test_raw_logits_from_the_course_endpoint_become_top_five_probabilities(handler, stub, context):
    logits = [float(-i) for i in range(133)]
    logits[99] = 5.0
    stub.add_response("invoke_endpoint", answer([logits]), url_params(COURSE_URL))
    predictions = body_of(handler.lambda_handler({"url": COURSE_URL}, context))["predictions"]
    assert [p["index"] for p in predictions] == [99, 0, 1, 2, 3]
    probabilities = [p["probability"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    expected_top = math.exp(5.0) / (math.exp(5.0) + sum(math.exp(-i) for i in range(133) if i != 99))
    assert probabilities[0] == pytest.approx(expected_top, rel=1e-9)
    assert sum(probabilities) < 1.0
    assert all(p["label"] is None for p in predictions)


def test_api_gateway_rest_event_with_json_body(handler, stub, context):
    stub.add_response("invoke_endpoint", answer({"predictions": PREDICTIONS}), url_params(COURSE_URL))
    event = {"resource": "/predict", "httpMethod": "POST", "headers": {"Content-Type": "application/json"},
             "multiValueHeaders": {"Content-Type": ["application/json"]}, "queryStringParameters": None,
             "requestContext": {"requestId": "abc"}, "body": json.dumps({"url": COURSE_URL}),
             "isBase64Encoded": False}
    assert handler.lambda_handler(event, context)["statusCode"] == 200


def test_http_api_event_with_base64_encoded_json_body(handler, stub, context):
    stub.add_response("invoke_endpoint", answer({"predictions": PREDICTIONS}), url_params(COURSE_URL, top_k=3))
    event = {"version": "2.0", "routeKey": "POST /predict", "headers": {"content-type": "application/json"},
             "requestContext": {"http": {"method": "POST"}},
             "body": base64.b64encode(json.dumps({"url": COURSE_URL, "top_k": 3}).encode()).decode(),
             "isBase64Encoded": True}
    assert handler.lambda_handler(event, context)["statusCode"] == 200


def test_function_url_event_with_raw_png_bytes_and_top_k_in_the_query(handler, stub, context, make_image):
    data = make_image("PNG")
    stub.add_response("invoke_endpoint", answer({"predictions": PREDICTIONS}),
                      {"EndpointName": ENDPOINT, "Body": data, "ContentType": "image/png",
                       "Accept": "application/json", "CustomAttributes": "top_k=2"})
    event = {"version": "2.0", "rawPath": "/", "headers": {"content-type": "image/png"},
             "queryStringParameters": {"top_k": "2"}, "requestContext": {"http": {"method": "POST"}},
             "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    response = handler.lambda_handler(event, context)
    assert response["statusCode"] == 200
    assert len(body_of(response)["predictions"]) == 2


# --- bad events --------------------------------------------------------------------------------------------------

BAD_EVENTS = [
    (None, 400, "InvalidEvent"),
    ([{"url": COURSE_URL}], 400, "InvalidEvent"),
    (3.5, 400, "InvalidEvent"),
    ("https://example.com/dog.jpg", 400, "InvalidEvent"),
    (True, 400, "InvalidEvent"),
    ({}, 400, "MissingInput"),
    ({"uri": COURSE_URL}, 400, "MissingInput"),
    ({"url": ""}, 400, "InvalidUrl"),
    ({"url": "   "}, 400, "InvalidUrl"),
    ({"url": 42}, 400, "InvalidUrl"),
    ({"url": ["https://example.com/a.jpg"]}, 400, "InvalidUrl"),
    ({"url": "ftp://example.com/dog.jpg"}, 400, "InvalidUrl"),
    ({"url": "file:///etc/passwd"}, 400, "InvalidUrl"),
    ({"url": "example.com/dog.jpg"}, 400, "InvalidUrl"),
    ({"url": "https:///dog.jpg"}, 400, "InvalidUrl"),
    ({"url": "https://example.com:99999/dog.jpg"}, 400, "InvalidUrl"),
    ({"url": "https://example.com/a dog.jpg"}, 400, "InvalidUrl"),
    ({"url": "https://example.com/" + "a" * 3000}, 400, "InvalidUrl"),
    ({"image": "not base64 at all!"}, 400, "InvalidBase64"),
    ({"image": "QUJD$"}, 400, "InvalidBase64"),
    ({"image": ""}, 400, "InvalidImage"),
    ({"image": 12}, 400, "InvalidImage"),
    ({"image": base64.b64encode(b"GIF89a....").decode()}, 415, "UnsupportedImageType"),
    ({"url": COURSE_URL, "image": "QUJD"}, 400, "ConflictingInput"),
    ({"url": COURSE_URL, "top_k": 0}, 400, "InvalidTopK"),
    ({"url": COURSE_URL, "top_k": True}, 400, "InvalidTopK"),
    ({"url": COURSE_URL, "top_k": 2.5}, 400, "InvalidTopK"),
    ({"url": COURSE_URL, "top_k": "many"}, 400, "InvalidTopK"),
    ({"body": "{not json"}, 400, "InvalidJson"),
    ({"body": "[1, 2]"}, 400, "InvalidEvent"),
    ({"body": "null"}, 400, "InvalidEvent"),
    ({"body": None, "requestContext": {}}, 400, "MissingBody"),
    ({"body": {"url": COURSE_URL}}, 400, "InvalidEvent"),
    ({"body": "e30=", "isBase64Encoded": "yes"}, 400, "InvalidEvent"),
    ({"body": "%%%", "isBase64Encoded": True}, 400, "InvalidBase64"),
    ({"body": "{}", "headers": {"content-type": "text/html"}}, 415, "UnsupportedMediaType"),
    ({"body": "aGVsbG8=", "isBase64Encoded": True, "headers": {"Content-Type": "image/jpeg"}},
     415, "UnsupportedImageType"),
    ({"body": json.dumps({"url": COURSE_URL}), "queryStringParameters": {"top_k": "-1"}}, 400, "InvalidTopK"),
]


@pytest.mark.parametrize("event, status, code", BAD_EVENTS, ids=[repr(e[0])[:40] for e in BAD_EVENTS])
def test_bad_event_gets_a_specific_client_error(handler, stub, context, event, status, code):
    response = handler.lambda_handler(event, context)
    message = assert_error(response, status, code)
    assert message
    assert body_of(response)["error"]["requestId"] == context.aws_request_id


def test_event_type_is_named_in_the_message(handler, context):
    message = assert_error(handler.lambda_handler([1, 2], context), 400, "InvalidEvent")
    assert "got array" in message


def test_image_over_the_default_limit_is_rejected_with_413(handler, stub, context):
    data = b"\xff\xd8\xff" + bytes(6 * 1024 * 1024)
    message = assert_error(handler.lambda_handler({"image": base64.b64encode(data).decode()}, context),
                           413, "PayloadTooLarge")
    assert str(6 * 1024 * 1024) in message


def test_image_exactly_at_the_limit_is_forwarded(load_handler, aws_env, context, make_image):
    data = make_image("JPEG")
    aws_env.setenv("MAX_PAYLOAD_BYTES", str(len(data)))
    handler = load_handler()
    from botocore.stub import Stubber

    with Stubber(handler.runtime_client()) as stub:
        stub.add_response("invoke_endpoint", answer({"predictions": PREDICTIONS}),
                          {"EndpointName": ENDPOINT, "Body": data, "ContentType": "image/jpeg",
                           "Accept": "application/json"})
        assert handler.lambda_handler({"image": base64.b64encode(data).decode()}, context)["statusCode"] == 200
        too_big = {"body": base64.b64encode(data + b"\0").decode(), "isBase64Encoded": True,
                   "headers": {"content-type": "image/jpeg"}}
        assert_error(handler.lambda_handler(too_big, context), 413, "PayloadTooLarge")


def test_missing_endpoint_name_is_a_configuration_error(load_handler, aws_env, context):
    aws_env.delenv("ENDPOINT_NAME")
    message = assert_error(load_handler().lambda_handler({"url": COURSE_URL}, context), 500, "EndpointNotConfigured")
    assert "ENDPOINT_NAME" in message


# --- endpoint errors ---------------------------------------------------------------------------------------------


def test_model_client_error_passes_the_models_status_and_message(handler, stub, context):
    original = json.dumps({"error": {"code": "UrlRefused",
                                     "message": "The URL resolves to a private address (10.0.0.5)."}})
    stub.add_client_error("invoke_endpoint", "ModelError", "Received client error (400) from primary",
                          http_status_code=424,
                          modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": original})
    message = assert_error(handler.lambda_handler({"url": "https://10.0.0.5/x.jpg"}, context),
                           400, "ModelRejectedRequest")
    assert message == "The URL resolves to a private address (10.0.0.5)."


def test_model_server_error_is_a_502_without_the_models_text(handler, stub, context):
    stub.add_client_error("invoke_endpoint", "ModelError", "Received server error (500) from primary",
                          http_status_code=424,
                          modeled_fields={"OriginalStatusCode": 500,
                                          "OriginalMessage": "Traceback (most recent call last): ... KeyError"})
    message = assert_error(handler.lambda_handler({"url": COURSE_URL}, context), 502, "ModelError")
    assert "KeyError" not in message and ENDPOINT in message


def test_access_denied_says_the_role_may_not_invoke_the_endpoint(handler, stub, context, caplog):
    aws_message = ("User: arn:aws:sts::123456789012:assumed-role/invoke-role/dog-breed-invoke is not authorized "
                   "to perform: sagemaker:InvokeEndpoint on resource: "
                   "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-breed because no identity-based policy "
                   "allows the sagemaker:InvokeEndpoint action")
    stub.add_client_error("invoke_endpoint", "AccessDeniedException", aws_message, http_status_code=400)
    with caplog.at_level(logging.INFO):
        response = handler.lambda_handler({"url": COURSE_URL}, context)
    message = assert_error(response, 502, "EndpointAccessDenied")
    assert "execution role is not authorized to invoke SageMaker endpoint dog-breed" in message
    assert "123456789012" not in response["body"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert aws_message in logged and context.aws_request_id in logged


def test_missing_endpoint_is_a_503_naming_it(handler, stub, context):
    stub.add_client_error("invoke_endpoint", "ValidationError",
                          "Endpoint dog-breed of account 123456789012 not found.", http_status_code=400)
    message = assert_error(handler.lambda_handler({"url": COURSE_URL}, context), 503, "EndpointNotFound")
    assert "dog-breed does not exist" in message


@pytest.mark.parametrize("code, http_status", [("ThrottlingException", 400), ("ServiceUnavailable", 503),
                                               ("ModelNotReadyException", 429),
                                               ("InternalDependencyException", 530)])
def test_busy_endpoint_is_a_503(handler, stub, context, code, http_status):
    stub.add_client_error("invoke_endpoint", code, "busy", http_status_code=http_status)
    assert_error(handler.lambda_handler({"url": COURSE_URL}, context), 503, "EndpointUnavailable")


def test_internal_failure_is_a_502(handler, stub, context):
    stub.add_client_error("invoke_endpoint", "InternalFailure", "oops", http_status_code=500)
    assert_error(handler.lambda_handler({"url": COURSE_URL}, context), 502, "EndpointError")


@pytest.mark.parametrize("payload", [b"<html>bad gateway</html>", b"{\"unexpected\": true}", b"[\"a\", 1]",
                                     b"[{\"index\": \"x\", \"probability\": 1}]"])
def test_unusable_endpoint_answer_is_a_502(handler, stub, context, payload):
    stub.add_response("invoke_endpoint", {"Body": io.BytesIO(payload), "ContentType": "application/json"},
                      url_params(COURSE_URL))
    assert_error(handler.lambda_handler({"url": COURSE_URL}, context), 502, "InvalidModelResponse")


# --- the client and the wire -------------------------------------------------------------------------------------


def test_client_is_created_once_with_timeouts_and_retries_from_the_environment(load_handler, aws_env):
    aws_env.setenv("CONNECT_TIMEOUT_SECONDS", "1.5")
    aws_env.setenv("READ_TIMEOUT_SECONDS", "7")
    aws_env.setenv("MAX_ATTEMPTS", "4")
    handler = load_handler()
    client = handler.runtime_client()
    assert handler.runtime_client() is client
    assert client.meta.service_model.service_name == "sagemaker-runtime"
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (1.5, 7.0)
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 4}


def test_malformed_timeout_settings_fall_back_to_defaults(load_handler, aws_env):
    aws_env.setenv("READ_TIMEOUT_SECONDS", "soon")
    aws_env.setenv("MAX_ATTEMPTS", "0")
    aws_env.setenv("CONNECT_TIMEOUT_SECONDS", "nan")
    config = load_handler().runtime_client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.0, 10.0)
    assert config.retries["total_max_attempts"] == 2


def test_requests_reach_aws_endpoint_url_and_reuse_one_client(load_handler, aws_env, loopback_endpoint, context,
                                                                make_image):
    endpoint = loopback_endpoint()
    aws_env.setenv("AWS_ENDPOINT_URL", endpoint.url)
    handler = load_handler()
    data = make_image("JPEG")
    first = handler.lambda_handler({"url": COURSE_URL, "top_k": 1}, context)
    second = handler.lambda_handler({"image": base64.b64encode(data).decode()}, context)
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert body_of(first)["predictions"] == [{"label": "Carolina dog", "index": 42, "probability": 0.9}]
    assert [r["path"] for r in endpoint.requests] == ["/endpoints/dog-breed/invocations"] * 2
    assert json.loads(endpoint.requests[0]["body"]) == {"url": COURSE_URL, "top_k": 1}
    assert endpoint.requests[0]["headers"]["Accept"] == "application/json"
    assert endpoint.requests[1]["body"] == data
    assert endpoint.requests[1]["headers"]["Content-Type"] == "image/jpeg"


def test_model_error_on_the_wire_is_parsed_into_the_models_status(load_handler, aws_env, loopback_endpoint,
                                                                   context):
    def refuse(request):
        body = {"ErrorCode": "CLIENT_ERROR_FROM_MODEL", "OriginalStatusCode": 415,
                "OriginalMessage": "{\"error\": {\"message\": \"The URL did not return an image.\"}}",
                "Message": "Received client error (415) from primary with message ...",
                "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/dog-breed"}
        return 424, {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError"}, json.dumps(body).encode()

    aws_env.setenv("AWS_ENDPOINT_URL", loopback_endpoint(refuse).url)
    message = assert_error(load_handler().lambda_handler({"url": COURSE_URL}, context), 415, "ModelRejectedRequest")
    assert message == "The URL did not return an image."


def test_hung_endpoint_is_a_504_after_the_read_timeout(load_handler, aws_env, silent_endpoint, context):
    aws_env.setenv("AWS_ENDPOINT_URL", silent_endpoint)
    aws_env.setenv("READ_TIMEOUT_SECONDS", "0.3")
    aws_env.setenv("MAX_ATTEMPTS", "1")
    message = assert_error(load_handler().lambda_handler({"url": COURSE_URL}, context), 504, "EndpointTimeout")
    assert "did not answer in time" in message


def test_unreachable_endpoint_is_a_503(load_handler, aws_env, closed_port_url, context):
    aws_env.setenv("AWS_ENDPOINT_URL", closed_port_url)
    aws_env.setenv("MAX_ATTEMPTS", "1")
    assert_error(load_handler().lambda_handler({"url": COURSE_URL}, context), 503, "EndpointUnreachable")


def test_connect_timeout_is_a_504(handler, context):
    from botocore.exceptions import ConnectTimeoutError

    def refuse_to_connect(request, **kwargs):
        raise ConnectTimeoutError(endpoint_url=request.url)

    client = handler.runtime_client()
    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", refuse_to_connect)
    assert_error(handler.lambda_handler({"url": COURSE_URL}, context), 504, "EndpointTimeout")


def test_handler_never_formats_the_context(handler, stub, context):
    class LoudContext:
        aws_request_id = "req-1"

        def __str__(self):
            raise AssertionError("str(context) was called")

        __repr__ = __str__

    stub.add_response("invoke_endpoint", answer({"predictions": PREDICTIONS}), url_params(COURSE_URL))
    assert handler.lambda_handler({"url": COURSE_URL}, LoudContext())["statusCode"] == 200
