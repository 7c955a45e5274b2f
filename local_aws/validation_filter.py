"""The gateway filter that refuses, before any work, the requests AWS would refuse, with the service's own error.

For the JSON-protocol services the runtime serves (SageMaker, Application Auto Scaling, CloudWatch Logs: JSON;
Lambda: REST-JSON) it reads the request as the service would (``local_aws.wire_request``), then answers:

* malformed JSON or a member of the wrong JSON type: ``SerializationException`` (Lambda:
  ``InvalidRequestContentException``, "Could not parse request body into json: ...");
* an ``X-Amz-Target`` naming no operation: ``UnknownOperationException``;
* members that break the model's constraints (required, enum, min/max, pattern): the service's validation
  error with AWS's "N validation errors detected: ..." message (``ValidationException``; CloudWatch Logs:
  ``InvalidParameterException``, but ``ValidationException`` where an operation's model declares only that);
* SageMaker's documented limits (``local_aws.service_limits``).

Everything else passes on unchanged. Query and REST-XML services (IAM, STS, S3, CloudWatch) are left to moto.
"""

from __future__ import annotations

import logging
from typing import Any

from werkzeug.wrappers import Response

from local_aws import moto_seam, service_limits
from local_aws.aws_errors import JSON, REST_JSON, error_response
from local_aws.gateway import AWSRequest
from local_aws.request_validation import TypeMismatch, error_message, validator
from local_aws.wire_request import MalformedBody, UnknownOperation, read_request

log = logging.getLogger(__name__)

#: The JSON and REST-JSON services validated, by signing name: (the service's validation error code, message key).
VALIDATED_SERVICES: dict[str, tuple[str, str]] = {
    "sagemaker": ("ValidationException", "Message"),
    "application-autoscaling": ("ValidationException", "Message"),
    "logs": ("InvalidParameterException", "message"),
    "lambda": ("ValidationException", "message"),
}


def training_instances_in_use(region: str, account_id: str) -> service_limits.Utilization:
    """Instances of a type held by the account's running training jobs (endpoints are not counted)."""

    def used(instance_type: str, use: str) -> int:
        if use != "training job":
            return 0
        backend = moto_seam.sagemaker_backend(region, account_id)
        return sum(int((job.resource_config or {}).get("InstanceCount") or 0)
                   for job in moto_seam.training_jobs(backend)
                   if job.training_job_status in ("InProgress", "Stopping")
                   and (job.resource_config or {}).get("InstanceType") == instance_type)

    return used


def validation_error_code(service_code: str, operation: Any) -> str:
    """The code an operation's invalid input is answered with: the service's, unless the operation's model declares
    ``ValidationException`` and not the service's code (CloudWatch Logs' delivery APIs, e.g. PutDeliveryDestination).
    """
    declared = {shape.name for shape in operation.error_shapes}
    if service_code not in declared and "ValidationException" in declared:
        return "ValidationException"
    return service_code


class RequestValidation:
    """Gateway filter: None to pass a request on, or the error AWS answers it with."""

    def __init__(self, account_id: str = moto_seam.ACCOUNT_ID) -> None:
        self.account_id = account_id

    def __call__(self, aws_request: AWSRequest) -> Response | None:
        service = aws_request.service
        if service not in VALIDATED_SERVICES:
            return None
        request = aws_request.request
        if service == "sagemaker" and not request.headers.get("X-Amz-Target"):
            return None  # SageMaker Runtime (signed as sagemaker): its route checks InvokeEndpoint
        protocol = REST_JSON if service == "lambda" else JSON
        try:
            wire = read_request(service, request.method, request.path, request.query_string.decode("latin-1"),
                                request.headers, request.get_data(cache=True))
        except UnknownOperation as unknown:
            log.debug("unknown operation %s", unknown)
            return error_response(protocol, 400, "UnknownOperationException", "")
        except MalformedBody as malformed:
            return self.unreadable(service, protocol, str(malformed))
        if wire is None:
            return None
        try:
            errors = validator(service).check(wire.operation, wire.params)
        except TypeMismatch as mismatch:
            return self.unreadable(service, protocol, str(mismatch))
        code, message_key = VALIDATED_SERVICES[service]
        code = validation_error_code(code, wire.operation)
        if errors:
            return error_response(protocol, 400, code, error_message(errors), message_key=message_key)
        if service == "sagemaker":
            refused = service_limits.refusal(wire.operation.name, wire.params,
                                             training_instances_in_use(aws_request.region, self.account_id))
            if refused is not None:
                return error_response(protocol, refused.status, refused.code, refused.message, message_key="Message")
        return None

    @staticmethod
    def unreadable(service: str, protocol: str, detail: str) -> Response:
        """The answer to a body the service cannot deserialize."""
        if service == "lambda":
            return error_response(protocol, 400, "InvalidRequestContentException",
                                  f"Could not parse request body into json: {detail}", message_key="message")
        return error_response(protocol, 400, "SerializationException", detail, message_key="Message")

