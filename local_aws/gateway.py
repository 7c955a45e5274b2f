"""The runtime's WSGI app: a few routes of our own in front of moto's dispatcher.

Each request's service is read from its SigV4 credential scope. A route (service, method, path rule)
answers with our code; request filters see every request first (and may answer it, e.g. to deny it);
everything else goes to moto's ``DomainDispatcherApplication`` unchanged. Response filters see the headers
of every answer, whoever wrote it, and may rewrite them (e.g. CORS headers).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from local_aws.aws_errors import QUERY, S3, error_response, request_protocol

log = logging.getLogger(__name__)

_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_QUERY_CREDENTIAL_SCOPE = re.compile(r"(?:^|&)X-Amz-Credential=([^/&%]+)(?:/|%2F)(\d{8})(?:/|%2F)([^/&%]+)(?:/|%2F)"
                                     r"([^/&%]+)(?:/|%2F)aws4_request", re.IGNORECASE)

Handler = Callable[..., Response]
RequestFilter = Callable[["AWSRequest"], "Response | None"]
ResponseFilter = Callable[["AWSRequest", list[tuple[str, str]]], list[tuple[str, str]]]


@dataclass
class AWSRequest:
    """A request with what the runtime needs to know about its signer."""

    request: Request
    service: str | None
    region: str
    access_key_id: str | None
    # Who signed the request, once the authentication filter has verified the signature (None before).
    principal: Any = None

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> "AWSRequest":
        match = (_CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
                 or _QUERY_CREDENTIAL_SCOPE.search(environ.get("QUERY_STRING", "")))  # presigned URLs
        if match:
            return cls(Request(environ), match.group(4).lower(), match.group(3), match.group(1))
        return cls(Request(environ), None, "us-east-1", None)


def json_error(status: int, code: str, message: str, **extra: Any) -> Response:
    """An AWS JSON-protocol error (restJson/json services: SageMaker Runtime, Lambda, ...)."""
    body = {"__type": code, "message": message, **extra}
    response = Response(json.dumps(body), status=status, content_type="application/x-amz-json-1.1")
    response.headers["x-amzn-ErrorType"] = code
    return response


def internal_failure(aws_request: AWSRequest) -> Response:
    """AWS's answer to a request that failed inside the service: ``InternalFailure`` (S3: ``InternalError``), HTTP
    500, in the request's protocol, with AWS's wording and nothing of the failure itself."""
    request = aws_request.request
    protocol = request_protocol(aws_request.service, request.path, request.headers,
                                request.query_string.decode("latin-1"), request.get_data(cache=True))
    if protocol == S3:
        return error_response(protocol, 500, "InternalError", "We encountered an internal error. Please try again.")
    return error_response(protocol, 500, "InternalFailure",
                          "The request processing has failed because of an unknown error, exception or failure.")


class Gateway:
    """The WSGI entry point: our routes and filters first, moto for the rest."""

    def __init__(self, fallback: Callable[[dict[str, Any], Any], Any]) -> None:
        self.fallback = fallback
        self._maps: dict[str, Map] = {}
        self._handlers: dict[str, Handler] = {}
        self._filters: list[RequestFilter] = []
        self._response_filters: list[ResponseFilter] = []

    def add_route(self, service: str, methods: list[str], rule: str, handler: Handler) -> None:
        """Answer ``rule`` (a werkzeug rule, e.g. ``/endpoints/<name>/invocations``) for ``service``.

        The handler is called as ``handler(aws_request, **rule_arguments)`` and returns a Response.
        """
        endpoint = f"{service}:{len(self._handlers)}"
        self._maps.setdefault(service, Map(strict_slashes=False)).add(Rule(rule, methods=methods, endpoint=endpoint))
        self._handlers[endpoint] = handler

    def add_filter(self, request_filter: RequestFilter) -> None:
        """Run ``request_filter`` on every request before routing; a Response it returns is the answer."""
        self._filters.append(request_filter)

    def add_response_filter(self, response_filter: ResponseFilter) -> None:
        """Pass every answer's headers through ``response_filter`` (called with the request and the headers)."""
        self._response_filters.append(response_filter)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        aws_request = AWSRequest.from_environ(environ)
        if self._response_filters:
            start_response = self._filtered_start_response(aws_request, start_response)
        if self._filters:
            body = aws_request.request.get_data(cache=True)
            environ["wsgi.input"] = io.BytesIO(body)
            for request_filter in self._filters:
                answer = request_filter(aws_request)
                if answer is not None:
                    return answer(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
        route_map = self._maps.get(aws_request.service or "")
        if route_map is not None:
            adapter = route_map.bind_to_environ(environ)
            try:
                endpoint, arguments = adapter.match()
            except (NotFound, MethodNotAllowed):
                pass
            except HTTPException as error:
                return error(environ, start_response)
            else:
                try:
                    response = self._handlers[endpoint](aws_request, **arguments)
                except Exception:
                    log.exception("handler for %s failed", environ.get("PATH_INFO"))
                    response = internal_failure(aws_request)
                return response(environ, start_response)
        try:
            if self._protocol(aws_request) == QUERY:
                return self._query_fallback(environ, start_response)
            return self.fallback(environ, start_response)
        except Exception:
            # moto raised: the client gets its protocol's error body (never an HTML page), the traceback stays here.
            log.exception("%s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return internal_failure(aws_request)(environ, start_response)

    @staticmethod
    def _protocol(aws_request: AWSRequest) -> str:
        if aws_request.service == "s3":  # never read an upload's body only to learn it is S3
            return S3
        request = aws_request.request
        return request_protocol(aws_request.service, request.path, request.headers,
                                request.query_string.decode("latin-1"), request.get_data(cache=True))

    def _query_fallback(self, environ: dict[str, Any], start_response: Any) -> Any:
        """moto for a query-protocol request (IAM, STS, CloudFormation, ...), its error re-written as the query
        protocol's XML when moto let another service's JSON error through (CloudFormation creating a Lambda
        function that Lambda refuses), which botocore could not parse."""
        captured: dict[str, Any] = {}
        written: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured.update(status=status, headers=headers)
            return written.append  # WSGI's legacy write(), kept in order before the returned chunks

        chunks = self.fallback(environ, capture)
        try:
            body = b"".join(written) + b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status = int(captured["status"].split()[0])
        if status >= 400 and body.lstrip().startswith(b"{"):
            try:
                error = json.loads(body)
            except ValueError:
                error = None
            if isinstance(error, dict) and isinstance(error.get("__type"), str):
                code = error["__type"].rsplit("#", 1)[-1]
                message = str(error.get("message") or error.get("Message") or "")
                return error_response(QUERY, status, code, message)(environ, start_response)
        start_response(captured["status"], captured["headers"])
        return [body]

    def _filtered_start_response(self, aws_request: AWSRequest, start_response: Any) -> Any:
        def filtered(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            for response_filter in self._response_filters:
                headers = response_filter(aws_request, list(headers))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return filtered
