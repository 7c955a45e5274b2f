"""AWS Lambda handler that fronts the dog-breed SageMaker endpoint and answers with JSON predictions.

Runs on Lambda's Python runtime with nothing but boto3/botocore. It accepts

* the direct test event ``{"url": "https://..."}`` or ``{"image": "<base64 JPEG/PNG>"}`` (optional ``top_k``),
* API Gateway REST (payload v1) and HTTP API (v2) proxy events and Lambda function URL events whose ``body``
  (plain or ``isBase64Encoded``) is one of those JSON objects, or the raw image bytes sent with an
  ``image/jpeg`` / ``image/png`` (or ``application/octet-stream``) content type; ``top_k`` may then come from
  the query string.

It calls ``InvokeEndpoint`` on the endpoint named by ``ENDPOINT_NAME`` and answers
``{"statusCode", "headers", "body"}``, the body being ``{"predictions": [{"label", "index", "probability"}, ...],
"endpoint": name}`` or ``{"error": {"code", "message", "requestId"}}``. Details of failures go to the log,
never to the caller.

Environment (all optional except ``ENDPOINT_NAME``):

``ENDPOINT_NAME``            SageMaker endpoint to invoke.
``CONNECT_TIMEOUT_SECONDS``  botocore connect timeout, default 2.
``READ_TIMEOUT_SECONDS``     botocore read timeout, default 10 (the endpoint fetches the URL and runs the model).
``MAX_ATTEMPTS``             botocore attempts including the first one (standard retry mode, which also retries
                             timeouts, throttling and 5xx), default 2. With the defaults the worst case is about
                             ``2 * (2 + 10)`` s plus back-off, inside API Gateway's 29 s integration limit; give
                             the function a timeout of 30 s.
``MAX_PAYLOAD_BYTES``        largest image body forwarded, default 6 MiB (6,291,456 bytes): InvokeEndpoint's
                             real-time payload limit is 6 MB and a synchronous Lambda request is capped at
                             6 MB too, so a bigger image could never arrive or be forwarded.
``LOG_LEVEL``                logging level of this module, default INFO.

``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` are honoured by botocore itself, which is how a
local runtime is reached without changing this code.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

LOGGER = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_SECONDS = 2.0
DEFAULT_READ_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_ATTEMPTS = 2
DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_URL_LENGTH = 2048
DEFAULT_TOP_K = 5
MAX_TOP_K = 1000
MODEL_MESSAGE_LIMIT = 1000

JSON_CONTENT_TYPE = "application/json"
IMAGE_CONTENT_TYPES = {"image/jpeg", "image/jpg", "image/png", "application/octet-stream"}
JSON_BODY_CONTENT_TYPES = {"application/json", "text/plain", "application/x-amz-json-1.1", ""}

RESPONSE_HEADERS = {"Content-Type": JSON_CONTENT_TYPE}

_client = None
_client_lock = threading.Lock()


class RequestError(Exception):
    """A failure the caller is told about: HTTP status, stable error code and a message safe to return."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InferenceRequest:
    """What is sent to the endpoint: exactly one of ``url`` and ``image``."""

    url: str | None = None
    image: bytes | None = None
    image_type: str | None = None
    top_k: int | None = None


def _env_number(name: str, default: float, cast: type, minimum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        LOGGER.warning("ignoring %s=%r: not a number; using %s", name, raw, default)
        return default
    if not math.isfinite(value) or value < minimum:
        LOGGER.warning("ignoring %s=%r: not a finite number >= %s; using %s", name, raw, minimum, default)
        return default
    return value


def _configure_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    LOGGER.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)


_configure_logging()


def runtime_client():
    """The sagemaker-runtime client of this container, created on first use and then reused."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                config = Config(
                    connect_timeout=_env_number(
                        "CONNECT_TIMEOUT_SECONDS", DEFAULT_CONNECT_TIMEOUT_SECONDS, float, 0.1),
                    read_timeout=_env_number("READ_TIMEOUT_SECONDS", DEFAULT_READ_TIMEOUT_SECONDS, float, 0.1),
                    retries={"mode": "standard",
                             "total_max_attempts": int(_env_number("MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, int, 1))},
                    user_agent_extra="pawflow-dog-breed-lambda",
                )
                _client = boto3.client("sagemaker-runtime", config=config)
    return _client


def max_payload_bytes() -> int:
    return int(_env_number("MAX_PAYLOAD_BYTES", DEFAULT_MAX_PAYLOAD_BYTES, int, 1))


# ---------------------------------------------------------------------------------------------------------------
# Event parsing


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_http_event(event: dict) -> bool:
    return "url" not in event and "image" not in event and (
        "body" in event or "requestContext" in event or "httpMethod" in event or "routeKey" in event)


def _header(event: dict, name: str) -> str:
    """A request header of a v1/v2/function URL event, case-insensitively; '' when absent or malformed."""
    for field in ("headers", "multiValueHeaders"):
        headers = event.get(field)
        if not isinstance(headers, dict):
            continue
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == name:
                if isinstance(value, list):
                    value = value[0] if value else ""
                return value if isinstance(value, str) else ""
    return ""


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def _check_size(size: int) -> None:
    limit = max_payload_bytes()
    if size > limit:
        raise RequestError(413, "PayloadTooLarge",
                           f"The image is {size} bytes; the largest image accepted is {limit} bytes.")


def _decode_base64(text: str, what: str) -> bytes:
    compact = "".join(text.split())
    if compact.startswith("data:") and "," in compact:
        compact = compact.split(",", 1)[1]
    # Base64 grows data by 4/3: refuse oversized input before decoding it.
    limit = max_payload_bytes()
    if len(compact) > (limit + 2) // 3 * 4:
        raise RequestError(413, "PayloadTooLarge",
                           f"The {what} decodes to more than {limit} bytes, the largest image accepted.")
    if "-" in compact or "_" in compact:
        compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4) if "=" not in compact else ""
    try:
        return base64.b64decode(compact.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise RequestError(400, "InvalidBase64", f"The {what} is not valid base64.") from None


def _parse_top_k(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, "InvalidTopK",
                           f"'top_k' must be an integer between 1 and {MAX_TOP_K}; got a {_json_type(value)}.")
    if not 1 <= value <= MAX_TOP_K:
        raise RequestError(400, "InvalidTopK", f"'top_k' must be between 1 and {MAX_TOP_K}; got {value}.")
    return value


def _validate_url(value: Any) -> str:
    if not isinstance(value, str):
        raise RequestError(400, "InvalidUrl", f"'url' must be a string; got a {_json_type(value)}.")
    if not value.strip():
        raise RequestError(400, "InvalidUrl", "'url' is empty.")
    if len(value) > MAX_URL_LENGTH:
        raise RequestError(400, "InvalidUrl",
                           f"'url' is {len(value)} characters long; the limit is {MAX_URL_LENGTH}.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise RequestError(400, "InvalidUrl", "'url' must not contain whitespace or control characters.")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise RequestError(400, "InvalidUrl", "'url' is not a well-formed URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise RequestError(400, "InvalidUrl", "'url' must be an http:// or https:// URL.")
    if not hostname:
        raise RequestError(400, "InvalidUrl", "'url' has no host name.")
    return value


def _image_request(data: bytes, top_k: int | None) -> InferenceRequest:
    if not data:
        raise RequestError(400, "InvalidImage", "The image is empty.")
    _check_size(len(data))
    image_type = _image_type(data)
    if image_type is None:
        raise RequestError(415, "UnsupportedImageType", "The image must be a JPEG or PNG file.")
    return InferenceRequest(image=data, image_type=image_type, top_k=top_k)


def _request_from_object(payload: Any, where: str, top_k: int | None = None) -> InferenceRequest:
    if not isinstance(payload, dict):
        raise RequestError(400, "InvalidEvent",
                           f"The {where} must be a JSON object with 'url' or 'image'; got {_json_type(payload)}.")
    has_url = payload.get("url") is not None
    has_image = payload.get("image") is not None
    if has_url and has_image:
        raise RequestError(400, "ConflictingInput", f"The {where} has both 'url' and 'image'; send exactly one.")
    if not has_url and not has_image:
        raise RequestError(400, "MissingInput",
                           f"The {where} must contain 'url' (an http(s) image URL) or 'image' (base64 JPEG/PNG).")
    if "top_k" in payload:
        top_k = _parse_top_k(payload["top_k"])
    if has_url:
        return InferenceRequest(url=_validate_url(payload["url"]), top_k=top_k)
    image = payload["image"]
    if not isinstance(image, str):
        raise RequestError(400, "InvalidImage", f"'image' must be a base64 string; got a {_json_type(image)}.")
    return _image_request(_decode_base64(image, "'image' value"), top_k)


def _query_top_k(event: dict) -> int | None:
    query = event.get("queryStringParameters")
    if isinstance(query, dict) and "top_k" in query:
        return _parse_top_k(query["top_k"])
    return None


def _request_from_http_event(event: dict) -> InferenceRequest:
    body = event.get("body")
    if body is None or body == "":
        raise RequestError(400, "MissingBody",
                           "The request body is empty; send JSON with 'url' or 'image', or JPEG/PNG bytes.")
    if not isinstance(body, str):
        raise RequestError(400, "InvalidEvent", f"'body' must be a string; got {_json_type(body)}.")
    encoded = event.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise RequestError(400, "InvalidEvent", f"'isBase64Encoded' must be a boolean; got {_json_type(encoded)}.")
    data = _decode_base64(body, "base64-encoded body") if encoded else body.encode("utf-8", "surrogatepass")
    top_k = _query_top_k(event)
    content_type = _header(event, "content-type").split(";", 1)[0].strip().lower()
    if content_type in IMAGE_CONTENT_TYPES or content_type.startswith("image/"):
        return _image_request(data, top_k)
    if content_type not in JSON_BODY_CONTENT_TYPES and not content_type.endswith("+json"):
        raise RequestError(415, "UnsupportedMediaType",
                           f"Content-Type {content_type!r} is not supported; use application/json, image/jpeg "
                           "or image/png.")
    if not content_type and _image_type(data):
        return _image_request(data, top_k)
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        raise RequestError(400, "InvalidJson", "The request body is not valid JSON.") from None
    return _request_from_object(payload, "request body", top_k)


def parse_event(event: Any) -> InferenceRequest:
    """The inference request an event carries; raises RequestError (400/413/415) for anything else."""
    if not isinstance(event, dict):
        raise RequestError(400, "InvalidEvent",
                           f"The event must be a JSON object with 'url' or 'image'; got {_json_type(event)}.")
    if _is_http_event(event):
        return _request_from_http_event(event)
    return _request_from_object(event, "event")


# ---------------------------------------------------------------------------------------------------------------
# The endpoint call and its answer


def _model_message(original: Any) -> str:
    """The model container's own error text (JSON error bodies unwrapped), shortened."""
    text = original if isinstance(original, str) else ""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        for candidate in (error.get("message") if isinstance(error, dict) else error,
                          parsed.get("message"), parsed.get("errorMessage")):
            if isinstance(candidate, str) and candidate.strip():
                text = candidate
                break
    text = " ".join(text.split())
    if len(text) > MODEL_MESSAGE_LIMIT:
        text = text[:MODEL_MESSAGE_LIMIT] + "..."
    return text or "The model rejected the request."


def _client_error(error: ClientError, endpoint: str) -> RequestError:
    details = error.response.get("Error", {})
    code = details.get("Code", "")
    message = details.get("Message", "") or ""
    if code == "ModelError":
        status = error.response.get("OriginalStatusCode")
        try:
            status = int(status)
        except (TypeError, ValueError):
            status = 0
        if 400 <= status < 500:
            return RequestError(status, "ModelRejectedRequest", _model_message(error.response.get("OriginalMessage")))
        return RequestError(502, "ModelError",
                            f"The model behind endpoint {endpoint} failed to process the request.")
    if code in ("AccessDeniedException", "AccessDenied"):
        return RequestError(502, "EndpointAccessDenied",
                            f"This function's execution role is not authorized to invoke SageMaker endpoint "
                            f"{endpoint} (sagemaker:InvokeEndpoint).")
    if code == "ValidationError" and "not found" in message.lower():
        return RequestError(503, "EndpointNotFound",
                            f"SageMaker endpoint {endpoint} does not exist (not deployed yet, or deleted).")
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException", "ServiceUnavailable",
                "ModelNotReadyException", "InternalDependencyException"):
        return RequestError(503, "EndpointUnavailable",
                            f"SageMaker endpoint {endpoint} is busy or not ready; retry shortly.")
    return RequestError(502, "EndpointError", f"SageMaker endpoint {endpoint} could not process the request.")


def invoke_endpoint(endpoint: str, request: InferenceRequest) -> Any:
    """Call InvokeEndpoint and return the decoded JSON answer; RequestError (502/503/504) when that fails."""
    kwargs: dict[str, Any] = {"EndpointName": endpoint, "Accept": JSON_CONTENT_TYPE}
    if request.url is not None:
        body: dict[str, Any] = {"url": request.url}
        if request.top_k is not None:
            body["top_k"] = request.top_k
        kwargs.update(Body=json.dumps(body).encode("utf-8"), ContentType=JSON_CONTENT_TYPE)
    else:
        kwargs.update(Body=request.image, ContentType=request.image_type)
        if request.top_k is not None:
            kwargs["CustomAttributes"] = f"top_k={request.top_k}"
    try:
        response = runtime_client().invoke_endpoint(**kwargs)
        raw = response["Body"].read()
    except ClientError as error:
        LOGGER.error("InvokeEndpoint on %s failed: %s (HTTP %s): %s", endpoint,
                     error.response.get("Error", {}).get("Code"),
                     error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                     error.response.get("Error", {}).get("Message"))
        raise _client_error(error, endpoint) from None
    except (ReadTimeoutError, ConnectTimeoutError) as error:
        LOGGER.error("InvokeEndpoint on %s timed out: %s", endpoint, error)
        raise RequestError(504, "EndpointTimeout",
                           f"SageMaker endpoint {endpoint} did not answer in time.") from None
    except (EndpointConnectionError, ConnectionClosedError) as error:
        LOGGER.error("InvokeEndpoint on %s could not connect: %s", endpoint, error)
        raise RequestError(503, "EndpointUnreachable",
                           f"SageMaker endpoint {endpoint} could not be reached.") from None
    except BotoCoreError as error:
        LOGGER.error("InvokeEndpoint on %s failed in botocore: %s", endpoint, error)
        raise RequestError(502, "EndpointError",
                           f"SageMaker endpoint {endpoint} could not be called.") from None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        LOGGER.error("endpoint %s answered with a body that is not JSON (%d bytes, starts %r)",
                     endpoint, len(raw), raw[:80])
        raise RequestError(502, "InvalidModelResponse",
                           f"SageMaker endpoint {endpoint} answered with something other than JSON.") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _from_scores(scores: list, top_k: int) -> list[dict]:
    """Top-k predictions from one row of class scores: softmax of logits, or the row itself if it sums to 1."""
    if all(0.0 <= s <= 1.0 for s in scores) and abs(sum(scores) - 1.0) < 1e-3:
        probabilities = [float(s) for s in scores]
    else:
        peak = max(scores)
        exps = [math.exp(s - peak) for s in scores]
        total = sum(exps)
        probabilities = [e / total for e in exps]
    order = sorted(range(len(probabilities)), key=lambda i: (-probabilities[i], i))[:top_k]
    return [{"label": None, "index": i, "probability": probabilities[i]} for i in order]


def _from_predictions(items: list, top_k: int | None) -> list[dict] | None:
    predictions = []
    for item in items:
        if not isinstance(item, dict):
            return None
        index, probability, label = item.get("index"), item.get("probability"), item.get("label")
        if isinstance(index, bool) or not isinstance(index, int) or not _is_number(probability):
            return None
        predictions.append({"label": label if isinstance(label, str) else None, "index": index,
                            "probability": float(probability)})
    predictions.sort(key=lambda p: (-p["probability"], p["index"]))
    return predictions[:top_k] if top_k is not None else predictions


def predictions_from(answer: Any, top_k: int | None) -> list[dict] | None:
    """Normalise the endpoint's answer: ``{"predictions": [...]}``, a list of them, or raw class scores."""
    if isinstance(answer, dict) and isinstance(answer.get("predictions"), list):
        return _from_predictions(answer["predictions"], top_k)
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], list):
        answer = answer[0]
    if isinstance(answer, list) and answer:
        if all(isinstance(item, dict) for item in answer):
            return _from_predictions(answer, top_k)
        if all(_is_number(item) for item in answer):
            return _from_scores(answer, top_k or DEFAULT_TOP_K)
    return None


# ---------------------------------------------------------------------------------------------------------------
# The handler


def _response(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": dict(RESPONSE_HEADERS), "body": json.dumps(body)}


def _error_response(error: RequestError, request_id: str | None) -> dict:
    payload: dict[str, Any] = {"code": error.code, "message": error.message}
    if request_id:
        payload["requestId"] = request_id
    return _response(error.status, {"error": payload})


def _request_id(context: Any) -> str | None:
    value = getattr(context, "aws_request_id", None)
    return value if isinstance(value, str) else None


def lambda_handler(event: Any, context: Any) -> dict:
    """Lambda entry point (handler string ``lambda_function.lambda_handler``)."""
    request_id = _request_id(context)
    try:
        endpoint = os.environ.get("ENDPOINT_NAME", "").strip()
        if not endpoint:
            raise RequestError(500, "EndpointNotConfigured",
                               "The function has no ENDPOINT_NAME environment variable set.")
        request = parse_event(event)
        LOGGER.info("request %s: invoking %s with %s", request_id, endpoint,
                    "url" if request.url is not None else f"{len(request.image)} bytes of {request.image_type}")
        answer = invoke_endpoint(endpoint, request)
        predictions = predictions_from(answer, request.top_k)
        if predictions is None:
            LOGGER.error("request %s: endpoint %s answered with an unexpected JSON shape: %.200s",
                         request_id, endpoint, json.dumps(answer))
            raise RequestError(502, "InvalidModelResponse",
                               f"SageMaker endpoint {endpoint} answered with an unexpected JSON shape.")
    except RequestError as error:
        log = LOGGER.warning if error.status < 500 else LOGGER.error
        log("request %s: %s %s: %s", request_id, error.status, error.code, error.message)
        return _error_response(error, request_id)
    except Exception:
        LOGGER.exception("request %s: unexpected failure", request_id)
        return _error_response(RequestError(500, "InternalError", "The function failed unexpectedly."), request_id)
    return _response(200, {"predictions": predictions, "endpoint": endpoint})
