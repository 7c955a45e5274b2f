"""InvokeEndpoint: ``POST /endpoints/<name>/invocations`` routed to the endpoint's serving workers.

moto's runtime response class cannot read the endpoint name from the path, so the runtime answers
this route itself (see ``local_aws.gateway``). The route takes any path between ``/endpoints/`` and
``/invocations`` so that a name holding ``/`` is refused as AWS refuses it (ValidationError), not passed on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Response

from local_aws import moto_seam
from local_aws.gateway import AWSRequest, Gateway, json_error
from local_aws.request_validation import validation_message
from local_aws.sagemaker.endpoints import EndpointManager
from local_aws.sagemaker_runtime.exceptions import (
    endpoint_not_found,
    invalid_parameters,
    model_error,
    payload_too_large,
    variant_not_found,
)
from local_aws.service_limits import INVOKE_ENDPOINT_MAX_BYTES


class InvokeEndpointHandler:
    def __init__(self, endpoints: EndpointManager, account_id: str = moto_seam.ACCOUNT_ID,
                 authorizer: Any = None) -> None:
        self.endpoints = endpoints
        self.account_id = account_id
        # Judges the call as moto's authorization point would (None: no IAM enforcement installed).
        self.authorizer = authorizer

    def register(self, gateway: Gateway) -> None:
        gateway.add_route("sagemaker", ["POST"], "/endpoints/<path:name>/invocations", self)

    def __call__(self, aws_request: AWSRequest, name: str) -> Response:
        name = unquote(name)
        request = aws_request.request
        region = aws_request.region
        target = request.headers.get("X-Amzn-SageMaker-Target-Variant")
        message = validation_message("sagemaker-runtime", "InvokeEndpoint",
                                     {"EndpointName": name, **({"TargetVariant": target} if target is not None else {})})
        if message is not None:
            return invalid_parameters(message)
        if len(request.get_data(cache=True)) > INVOKE_ENDPOINT_MAX_BYTES:
            return payload_too_large(INVOKE_ENDPOINT_MAX_BYTES)
        if self.authorizer is not None:
            denied = self.authorizer.judge_route(request.environ, request.headers, "sagemaker-runtime",
                                                 "InvokeEndpoint", {"EndpointName": name}, region, self.account_id)
            if denied is not None:
                return denied
        deployment = self.endpoints.deployment(self.account_id, region, name)
        if deployment is None:
            return endpoint_not_found(name, self.account_id)
        if target and target not in deployment.pools:
            return variant_not_found(target, name)
        try:
            result = self.endpoints.invoke(
                deployment, name, region, self.account_id, request.get_data(),
                request.headers.get("Content-Type"), request.headers.get("Accept"), target,
            )
        except (OSError, RuntimeError) as error:
            return json_error(500, "InternalFailure", f"The endpoint's instance did not answer: {error}")
        if result.status >= 400:
            message = result.body.decode("utf-8", "replace")
            return model_error(name, region, self.account_id, result.variant, result.status, message)
        response = Response(result.body, status=200, content_type=result.content_type)
        response.headers["x-Amzn-Invoked-Production-Variant"] = result.variant
        return response
