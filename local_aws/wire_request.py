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


@dataclass(frozen=True)
class UriTemplate:
    """One REST operation's ``requestUri``: its method, path regex and the query literals it requires
    (``?List=ALL`` tells ListProvisionedConcurrencyConfigs from GetProvisionedConcurrencyConfig)."""

    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]
    operation: str

    def match(self, method: str, path: str, query: Mapping[str, list[str]]) -> dict[str, str] | None:
        if method != self.method:
            return None
        for name, value in self.query:
            if name not in query or (value is not None and value not in query[name]):
                return None
        found = self.path.match(path)
        return None if found is None else {label: unquote(text) for label, text in found.groupdict().items()}


@functools.lru_cache(maxsize=None)
def _uri_templates(service: str) -> tuple[UriTemplate, ...]:
    """Every REST operation's template: those requiring query literals first, then the most literal paths."""
    model = service_model(service)
    ranked = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http.get("requestUri", "/").partition("?")
        regex = ""
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                label = label.rstrip("+")
                regex += f"(?P<{label}>.+)" if greedy else f"(?P<{label}>[^/]+)"
            else:
                regex += re.escape(part)
        literals = tuple((key, value if sep else None) for key, sep, value in
                         (item.partition("=") for item in query.split("&") if item))
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        template = UriTemplate(http.get("method", "POST"), re.compile(f"^{regex.rstrip('/')}/?$"), literals, name)
        ranked.append((-len(literals), -literal, template))
    ranked.sort(key=lambda item: item[:2])
    return tuple(template for _, _, template in ranked)


def rest_operation(service: str, method: str, path: str, query: str = "") -> tuple[str, dict[str, str]] | None:
    """The REST operation ``method path?query`` calls, with its URI labels (decoded), or None."""
    query_values = parse_qs(query, keep_blank_values=True)
    for template in _uri_templates(service):
        labels = template.match(method, path, query_values)
        if labels is not None:
            return template.operation, labels
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
    found = rest_operation(service, method, path, query)
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
