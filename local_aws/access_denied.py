"""The runtime's own refusals: a 403 ``AccessDenied`` written in the protocol the request's client reads.

Filters that refuse a request before any service sees it (browser origins, unknown ``Host`` names, moto's
management API) answer with this, so that an SDK shows the message (which names the flag that would allow the
request) instead of a parse error: S3 and unrecognised requests get S3's ``<Error>`` document, query-protocol
calls (IAM, STS) an ``<ErrorResponse>``, JSON and REST-JSON calls (SageMaker, Lambda, Logs, ...) a JSON body
with ``x-amzn-ErrorType``, RPCv2-CBOR calls (CloudWatch) a CBOR map.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

STATUS = 403
CODE = "AccessDenied"
JSON_CODE = "AccessDeniedException"
_REST_JSON_SERVICES = {"lambda"}


def access_denied(aws_request: Any, message: str) -> Response:
    """A 403 AccessDenied carrying ``message``, shaped for the client that sent ``aws_request``."""
    request = aws_request.request
    request_id = str(uuid.uuid4())
    headers = request.headers
    if headers.get("Smithy-Protocol", "").lower() == "rpc-v2-cbor":
        return Response(cbor_text_map({"__type": JSON_CODE, "message": message}), status=STATUS,
                        content_type="application/cbor",
                        headers={"smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": request_id})
    if _speaks_json(aws_request):
        body = json.dumps({"__type": JSON_CODE, "message": message})
        return Response(body, status=STATUS, content_type="application/x-amz-json-1.1",
                        headers={"x-amzn-ErrorType": JSON_CODE, "x-amzn-RequestId": request_id})
    if aws_request.service != "s3" and ("Action" in request.args or "Action" in request.form):
        body = ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return Response(body, status=STATUS, content_type="text/xml", headers={"x-amzn-RequestId": request_id})
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>")
    return Response(body, status=STATUS, content_type="application/xml", headers={"x-amz-request-id": request_id})


def _speaks_json(aws_request: Any) -> bool:
    request = aws_request.request
    if request.headers.get("X-Amz-Target") or "json" in (request.mimetype or ""):
        return True
    if aws_request.service in _REST_JSON_SERVICES:
        return True
    return aws_request.service == "sagemaker" and request.path.startswith("/endpoints/")


def cbor_text_map(values: dict[str, str]) -> bytes:
    """CBOR encoding of a small map of text to text (all an RPCv2-CBOR error body needs)."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        if length < 0x100:
            return bytes([major << 5 | 24, length])
        if length < 0x10000:
            return bytes([major << 5 | 25]) + length.to_bytes(2, "big")
        return bytes([major << 5 | 26]) + length.to_bytes(4, "big")

    encoded = head(5, len(values))
    for key, value in values.items():
        for text in (key, value):
            data = text.encode("utf-8")
            encoded += head(3, len(data)) + data
    return encoded
