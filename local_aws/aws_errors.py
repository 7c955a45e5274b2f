"""AWS error responses as each wire protocol writes them, so that a botocore client parses them into ClientError.

``error_response`` renders one error in the shape of the request's protocol: query (IAM, STS: an XML
``ErrorResponse``), REST-XML (S3: an XML ``Error`` with extra fields), JSON and REST-JSON (SageMaker, CloudWatch
Logs, Application Auto Scaling, Lambda, SageMaker Runtime: ``__type``), and Smithy RPCv2-CBOR (CloudWatch, a
query-compatible service: the query error code travels in ``x-amzn-query-error``). ``request_protocol`` tells
which protocol a request speaks, from its signing name or, for an unsigned request, from the request itself.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

JSON = "json"
REST_JSON = "rest-json"
QUERY = "query"
RPC_V2_CBOR = "rpc-v2-cbor"
S3 = "s3"

_QUERY_SERVICES = {"iam", "sts"}
_REST_JSON_SERVICES = {"lambda"}
_RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/[A-Za-z0-9]+$")
_REST_JSON_PATH = re.compile(r"^/(\d{4}-\d{2}-\d{2}/functions|endpoints/[^/]+/(async-)?invocations)")


def request_protocol(service: str | None, path: str, headers: Any, query: str = "", body: bytes = b"") -> str:
    """The protocol a request speaks: by its signing name when signed, else by its path, headers and parameters.

    An unsigned request that looks like no other protocol is taken for S3, as AWS's S3 endpoint takes it.
    """
    if service == "s3":
        return S3
    if _RPC_V2_PATH.match(path) or headers.get("smithy-protocol") == "rpc-v2-cbor":
        return RPC_V2_CBOR
    if headers.get("X-Amz-Target"):
        return JSON
    if service in _REST_JSON_SERVICES or _REST_JSON_PATH.match(path):
        return REST_JSON
    if service in _QUERY_SERVICES or "Action=" in query or body[:200].find(b"Action=") >= 0:
        return QUERY
    if service is not None:
        return JSON
    return S3


def error_response(protocol: str, status: int, code: str, message: str, *, query_code: str | None = None,
                   message_key: str = "message", extra: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """AWS's error ``code`` with ``message`` and HTTP ``status``, in ``protocol``'s shape.

    ``query_code`` is the code a query-compatible service (CloudWatch over RPCv2-CBOR or JSON) reports to clients;
    ``extra`` adds S3's additional ``Error`` elements (e.g. ``AWSAccessKeyId``); ``message_key`` is the JSON
    member holding the message (``message`` or ``Message``, as the service writes it).
    """
    request_id = str(uuid.uuid4())
    response_headers = dict(headers or {})
    if protocol == S3:
        fields = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in (extra or {}).items())
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{fields}"
                f"<RequestId>{request_id}</RequestId><HostId>{uuid.uuid4().hex}</HostId></Error>")
        response_headers["x-amz-request-id"] = request_id
        return Response(body, status=status, content_type="application/xml", headers=response_headers)
    if protocol == QUERY:
        body = ("<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        response_headers["x-amzn-RequestId"] = request_id
        return Response(body, status=status, content_type="text/xml", headers=response_headers)
    if query_code:
        response_headers["x-amzn-query-error"] = f"{query_code};Sender"
    if protocol == RPC_V2_CBOR:
        response_headers.update({"smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": request_id})
        body = cbor_text_map({"__type": code, "message": message})
        return Response(body, status=status, content_type="application/cbor", headers=response_headers)
    content_type = "application/x-amz-json-1.1" if protocol == JSON else "application/json"
    response_headers.update({"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id})
    return Response(json.dumps({"__type": code, message_key: message}), status=status, content_type=content_type,
                    headers=response_headers)


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
