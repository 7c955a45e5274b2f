"""Request parameters checked against botocore's service model, refused with AWS's "N validation errors detected" text.

``RequestValidator.check(operation, params)`` walks the operation's input shape over the members a request
carries (``local_aws.wire_request`` reads them off the wire) and reports, as AWS words them, every missing
required member (``Value null at 'roleArn' ... Member must not be null``), enum, ``min``/``max`` (lengths of
strings, lists, maps and blobs; values of numbers) and ``pattern`` (the whole value must match, as AWS matches)
it breaks; a value of the wrong JSON type raises :class:`TypeMismatch` (AWS's SerializationException text).
The gateway filter ``local_aws.validation_filter`` runs it on every JSON and REST-JSON request.

``validation_message(service, operation, params)`` checks only the identifiers the runtime could build a file
path from (``CHECKED_SHAPES``: SageMaker job, model, endpoint, endpoint config, variant and channel names;
SageMaker Runtime's endpoint and target variant; Lambda function names, qualifiers and alias names), on the
parameters as moto parsed them: the response classes call it as a second guard for paths the gateway filter does
not read (InvokeEndpoint's route, Lambda paths no botocore template matches).

Patterns botocore writes in a form Python's ``re`` cannot compile are skipped, never guessed at; SageMaker
quotes some patterns anchored (``^...``) in its messages where botocore's copy has lost the anchor, so the
message uses AWS's form (``DISPLAYED_PATTERNS``).
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    OperationNotFoundError,
    ServiceModel,
    Shape,
    StructureShape,
)

log = logging.getLogger(__name__)

CHECKED_SHAPES: dict[str, frozenset[str] | None] = {
    "sagemaker": frozenset({
        "TrainingJobName", "HyperParameterTuningJobName", "ModelName", "EndpointConfigName", "EndpointName",
        "VariantName", "ChannelName",
    }),
    "sagemaker-runtime": frozenset({"EndpointName", "TargetVariantHeader"}),
    "lambda": frozenset({
        "FunctionName", "NamespacedFunctionName", "UnqualifiedFunctionName", "Qualifier",
        "NumericLatestPublishedOrAliasQualifier", "Alias", "Version",
    }),
}

# How SageMaker quotes these patterns in its messages (its model's form; botocore's copy has no anchors).
DISPLAYED_PATTERNS: dict[str, dict[str, str]] = {
    "sagemaker": {
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}": "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}": "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}",
        "[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?": "^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$",
    },
}


@functools.lru_cache(maxsize=None)
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@functools.lru_cache(maxsize=None)
def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """The pattern as Python's ``re`` reads it, or None when it uses syntax only Java's regexes know."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(pattern)
    except re.error as error:
        log.debug("not checking pattern %r: %s", pattern, error)
        return None


def member_label(name: str) -> str:
    """``TrainingJobName`` -> ``trainingJobName``: how AWS names a member in a validation message."""
    return name[:1].lower() + name[1:]


class TypeMismatch(TypeError):
    """A member's JSON value is not of its shape's type: AWS answers SerializationException, naming the
    value's token and the expected type (``STRING_VALUE can not be converted to an Integer``)."""


_EXPECTED_TYPES = {"integer": "an Integer", "long": "a Long", "float": "a Float", "double": "a Double",
                   "boolean": "a Boolean", "string": "a String", "timestamp": "a Date", "blob": "a ByteBuffer"}


def json_token(value: Any) -> str:
    """The JSON token AWS's deserializer reports for ``value``."""
    if isinstance(value, bool):
        return "TRUE_VALUE" if value else "FALSE_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    return "STRING_VALUE"


def shown(value: Any) -> str:
    """``value`` as AWS prints it in a validation message (Java's toString of the parsed value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{shown(k)}={shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if isinstance(value, bytes):
        return "java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]" % (len(value), len(value))
    return str(value)


class RequestValidator:
    """Checks one service's requests against its botocore model: required members, types, enums, ``min``/``max``
    (lengths of strings, lists, maps and blobs; values of numbers) and patterns."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.model = service_model(service)
        self.checked = CHECKED_SHAPES.get(service, frozenset())
        self.displayed = DISPLAYED_PATTERNS.get(service, {})

    def operation(self, name: str | None) -> OperationModel | None:
        if not name:
            return None
        try:
            return self.model.operation_model(name)
        except OperationNotFoundError:  # an operation botocore does not know is moto's to answer
            return None

    def errors(self, operation: str | None, params: Mapping[str, Any]) -> list[str]:
        """Every constraint the parameters break on the identifiers in ``CHECKED_SHAPES``, as AWS words it."""
        model = self.operation(operation)
        if model is None or model.input_shape is None:
            return []
        found: list[str] = []
        self._walk(model.input_shape, params, "", found, complete=False)
        return found

    def check(self, operation: OperationModel, params: Mapping[str, Any]) -> list[str]:
        """Every constraint the request's members break, in the model's member order.

        Raises :class:`TypeMismatch` for a value of the wrong JSON type (AWS fails the request before it
        validates anything else).
        """
        if operation.input_shape is None:
            return []
        found: list[str] = []
        self._walk(operation.input_shape, params, "", found, complete=True)
        return found

    def _walk(self, shape: Shape, value: Any, path: str, found: list[str], complete: bool) -> None:
        if value is None:
            return
        if complete:
            self._check_type(shape, value)
        if isinstance(shape, StructureShape):
            if not isinstance(value, Mapping):
                return
            for name, member in shape.members.items():
                label = member_label(name)
                member_path = f"{path}.{label}" if path else label
                if value.get(name) is None:
                    if complete and name in shape.required_members:
                        found.append(f"Value null at '{member_path}' failed to satisfy constraint: "
                                     "Member must not be null")
                    continue
                self._walk(member, value[name], member_path, found, complete)
        elif isinstance(shape, ListShape):
            if isinstance(value, (list, tuple)):
                if complete:
                    found.extend(self._problems(shape, value, path))
                for index, item in enumerate(value, start=1):
                    self._walk(shape.member, item, f"{path}.{index}.member", found, complete)
        elif isinstance(shape, MapShape):
            if isinstance(value, Mapping) and complete:
                found.extend(self._problems(shape, value, path))
                key_problems = sorted({p for key in value for p in self.value_problems(shape.key, key)})
                value_problems = sorted({p for item in value.values() if item is not None
                                         for p in self.value_problems(shape.value, item)})
                for kind, problems in (("keys", key_problems), ("value", value_problems)):
                    if problems:
                        found.append(f"Value '{shown(value)}' at '{path}' failed to satisfy constraint: "
                                     f"Map {kind} must satisfy constraint: [{', '.join(problems)}]")
                for item in value.values():
                    if isinstance(shape.value, (StructureShape, ListShape, MapShape)):
                        self._walk(shape.value, item, path, found, complete)
        elif complete or shape.name in (self.checked or ()) or self.checked is None:
            found.extend(self._problems(shape, value, path))

    def _problems(self, shape: Shape, value: Any, path: str) -> list[str]:
        return [f"Value '{shown(value)}' at '{path}' failed to satisfy constraint: {problem}"
                for problem in self.value_problems(shape, value)]

    @staticmethod
    def _check_type(shape: Shape, value: Any) -> None:
        type_name = shape.type_name
        if type_name in ("structure", "map"):
            if not isinstance(value, Mapping):
                raise TypeMismatch(f"{json_token(value)} can not be converted to a Map"
                                   if not isinstance(value, list) else "Start of list found where not expected")
            return
        if type_name == "list":
            if not isinstance(value, (list, tuple)):
                raise TypeMismatch("Start of structure or map found where not expected."
                                   if isinstance(value, Mapping) else
                                   f"{json_token(value)} can not be converted to a List")
            return
        if isinstance(value, Mapping):
            raise TypeMismatch("Start of structure or map found where not expected.")
        if isinstance(value, (list, tuple)):
            raise TypeMismatch("Start of list found where not expected")
        if type_name in ("integer", "long"):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif type_name in ("float", "double"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif type_name == "boolean":
            ok = isinstance(value, bool)
        elif type_name == "string":
            ok = isinstance(value, str)
        elif type_name == "timestamp":
            ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        elif type_name == "blob":
            ok = isinstance(value, (str, bytes))
        else:
            ok = True
        if not ok:
            raise TypeMismatch(f"{json_token(value)} can not be converted to {_EXPECTED_TYPES[type_name]}")

    def value_problems(self, shape: Shape, value: Any) -> list[str]:
        """The constraints of ``shape`` that ``value`` breaks, in AWS's words."""
        problems = []
        metadata = shape.metadata
        if shape.type_name in ("integer", "long", "float", "double"):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return []
            if "min" in metadata and value < metadata["min"]:
                problems.append(f"Member must have value greater than or equal to {metadata['min']}")
            if "max" in metadata and value > metadata["max"]:
                problems.append(f"Member must have value less than or equal to {metadata['max']}")
            return problems
        if shape.type_name not in ("string", "list", "map", "blob") or isinstance(value, bool):
            return []
        if not hasattr(value, "__len__"):
            return []
        if "min" in metadata and len(value) < metadata["min"]:
            problems.append(f"Member must have length greater than or equal to {metadata['min']}")
        if "max" in metadata and len(value) > metadata["max"]:
            problems.append(f"Member must have length less than or equal to {metadata['max']}")
        if shape.type_name == "string" and isinstance(value, str):
            if shape.enum and value not in shape.enum:
                problems.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            pattern = metadata.get("pattern")
            if pattern:
                compiled = compiled_pattern(pattern)
                if compiled is not None and compiled.fullmatch(value) is None:
                    displayed = self.displayed.get(pattern, pattern)
                    problems.append(f"Member must satisfy regular expression pattern: {displayed}")
        return problems


@functools.lru_cache(maxsize=None)
def validator(service: str) -> RequestValidator:
    return RequestValidator(service)


def error_message(errors: list[str]) -> str:
    """``1 validation error detected: ...`` / ``2 validation errors detected: ...; ...``."""
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} validation {noun} detected: " + "; ".join(errors)


def validation_message(service: str, operation: str | None, params: Mapping[str, Any]) -> str | None:
    """AWS's ValidationException message for the request, None when it breaks no checked constraint."""
    errors = validator(service).errors(operation, params)
    return error_message(errors) if errors else None
