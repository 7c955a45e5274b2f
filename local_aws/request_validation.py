"""Request parameters checked against botocore's service model, refused with AWS's "N validation errors detected" text.

``validation_message(service, operation, params)`` walks the operation's input shape over the parsed
parameters (structures, lists, nested members) and checks each string member's ``min``, ``max`` and
``pattern``: the whole value must match, as AWS matches. Only members whose shape is in ``CHECKED_SHAPES``
are checked today: the identifiers the runtime could build a file path from (SageMaker job, model, endpoint,
endpoint config, variant and channel names; SageMaker Runtime's endpoint and target variant; Lambda function
names, qualifiers and alias names). Widening the check to more parameters means adding shape names there
(``None`` for a service checks every string member).

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
from botocore.model import ListShape, OperationModel, OperationNotFoundError, ServiceModel, Shape, StructureShape

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


class RequestValidator:
    """Checks one service's requests against its botocore model."""

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
        """Every constraint the parameters break, each as AWS words it, in the model's member order."""
        model = self.operation(operation)
        if model is None or model.input_shape is None:
            return []
        found: list[str] = []
        self._walk(model.input_shape, params, "", found)
        return found

    def _walk(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if value is None:
            return
        if isinstance(shape, StructureShape):
            if not isinstance(value, Mapping):
                return
            for name, member in shape.members.items():
                if name in value:
                    label = member_label(name)
                    self._walk(member, value[name], f"{path}.{label}" if path else label, found)
        elif isinstance(shape, ListShape):
            if isinstance(value, (list, tuple)):
                for index, item in enumerate(value, start=1):
                    self._walk(shape.member, item, f"{path}.{index}.member", found)
        elif shape.type_name == "string" and isinstance(value, str):
            if self.checked is None or shape.name in self.checked:
                found.extend(f"Value '{value}' at '{path}' failed to satisfy constraint: {problem}"
                             for problem in self.string_problems(shape, value))

    def string_problems(self, shape: Shape, value: str) -> list[str]:
        problems = []
        metadata = shape.metadata
        if "min" in metadata and len(value) < metadata["min"]:
            problems.append(f"Member must have length greater than or equal to {metadata['min']}")
        if "max" in metadata and len(value) > metadata["max"]:
            problems.append(f"Member must have length less than or equal to {metadata['max']}")
        pattern = metadata.get("pattern")
        if pattern:
            compiled = compiled_pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                shown = self.displayed.get(pattern, pattern)
                problems.append(f"Member must satisfy regular expression pattern: {shown}")
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
