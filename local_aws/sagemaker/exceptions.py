"""SageMaker errors with AWS's codes and message wording."""

from __future__ import annotations

from local_aws.moto_seam import SageMakerValidationError, ServiceException


class ValidationException(SageMakerValidationError):
    """``ValidationException`` (HTTP 400), SageMaker's error for bad requests and missing resources."""


class ResourceInUse(ServiceException):
    code = "ResourceInUse"


class ResourceNotFound(ServiceException):
    code = "ResourceNotFound"


def job_not_found(kind: str, arn: str) -> ValidationException:
    return ValidationException(f"Could not find {kind} '{arn}'.")
