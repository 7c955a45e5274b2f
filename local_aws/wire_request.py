"""A JSON or REST-JSON request read off the wire as its service reads it: the operation and its input members.

``read_request(service, method, path, query, headers, body)`` names the operation (from ``X-Amz-Target`` for the
JSON protocol, from the method and botocore's ``requestUri`` templates for REST-JSON) and gathers the input
members where the service's model says they travel (URI labels, query string, headers, the JSON body or a blob
payload). The JSON body is decoded strictly, as AWS decodes it: ``NaN``/``Infinity`` and malformed text are
refused (:class:`MalformedBody`); a target naming no operation is :class:`UnknownOperation`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import OperationModel, OperationNotFoundError, ServiceModel

from local_aws.request_validation import service_model

JSON_PROTOCOLS = ("json", "rest-json")


class MalformedBody(ValueError):
    """The body is not the JSON document the protocol requires."""


class UnknownOperation(LookupError):
    """The request names no operation of the service."""


@dataclass
class WireRequest:
    """One request's operation and the input members it carries, keyed by member name."""

    operation: OperationModel
    params: dict[str, Any] = field(default_factory=dict)


def _reject_constant(name: str) -> Any:
    raise MalformedBody(f"Non-standard token '{name}'")


def decode_json(body: bytes) -> Any:
    """``body`` as JSON, refusing what AWS's parsers refuse (``NaN``, ``Infinity``, malformed text)."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedBody(str(error)) from error


@functools.lru_cache(maxsize=None)
def _uri_templates(service: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """(method, path regex, operation) for every REST operation, most specific (longest literal) first."""
    model = service_model(service)
    templates = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = http.get("requestUri", "/").split("?", 1)[0]
        regex = ""
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                label = label.rstrip("+")
                regex += f"(?P<{label}>.+)" if greedy else f"(?P<{label}>[^/]+)"
            else:
                regex += re.escape(part)
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        templates.append((literal, http.get("method", "POST"), re.compile(f"^{regex.rstrip('/')}/?$"), name))
    templates.sort(key=lambda item: -item[0])
    return tuple((method, regex, name) for _, method, regex, name in templates)


def rest_operation(service: str, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The REST operation ``method path`` calls, with its URI labels (decoded), or None."""
    for template_method, regex, name in _uri_templates(service):
        if template_method != method:
            continue
        match = regex.match(path)
        if match:
            return name, {label: unquote(value) for label, value in match.groupdict().items()}
    return None


def scalar_from_text(type_name: str, text: str) -> Any:
    """A URI label, query parameter or header as its member's type (left as text when it does not read as one,
    for validation to refuse)."""
    if type_name in ("integer", "long") and re.fullmatch(r"-?\d+", text):
        return int(text)
    if type_name == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _json_request(model: ServiceModel, headers: Mapping[str, str], body: bytes) -> WireRequest:
    target = headers.get("X-Amz-Target", "")
    name = target.rsplit(".", 1)[-1]
    try:
        operation = model.operation_model(name)
    except OperationNotFoundError as error:
        raise UnknownOperation(target) from error
    params = decode_json(body) if body.strip() else {}
    if not isinstance(params, dict):
        raise MalformedBody("Start of structure or map expected")
    return WireRequest(operation, params)


def _rest_json_request(service: str, model: ServiceModel, method: str, path: str, query: str,
                       headers: Mapping[str, str], body: bytes) -> WireRequest | None:
    found = rest_operation(service, method, path)
    if found is None:
        return None
    name, labels = found
    operation = model.operation_model(name)
    shape = operation.input_shape
    if shape is None:
        return WireRequest(operation)
    query_values = parse_qs(query, keep_blank_values=True)
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    for member, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        wire_name = member_shape.serialization.get("name", member)
        if location == "uri" and wire_name in labels:
            params[member] = scalar_from_text(member_shape.type_name, labels[wire_name])
        elif location == "querystring" and wire_name in query_values:
            values = query_values[wire_name]
            params[member] = (values if member_shape.type_name == "list"
                              else scalar_from_text(member_shape.type_name, values[0]))
        elif location == "header" and wire_name in headers:
            params[member] = scalar_from_text(member_shape.type_name, headers[wire_name])
    if payload:
        if body:
            payload_shape = shape.members[payload]
            params[payload] = decode_json(body) if payload_shape.type_name == "structure" else body
    elif body.strip():
        document = decode_json(body)
        if not isinstance(document, dict):
            raise MalformedBody("Start of structure or map expected")
        for member, member_shape in shape.members.items():
            if "location" not in member_shape.serialization and member in document:
                params[member] = document[member]
    return WireRequest(operation, params)


def read_request(service: str, method: str, path: str, query: str, headers: Mapping[str, str],
                 body: bytes) -> WireRequest | None:
    """The operation and input members of a request to ``service``; None for a protocol this does not read
    or a REST path that names no operation (the service's own router answers those)."""
    model = service_model(service)
    if model.protocol == "json":
        return _json_request(model, headers, body)
    if model.protocol == "rest-json":
        return _rest_json_request(service, model, method, path, query, headers, body)
    return None
