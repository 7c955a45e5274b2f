"""SageMaker Runtime errors, shaped and worded as AWS returns them."""

from __future__ import annotations

import json

from werkzeug.wrappers import Response

from local_aws.gateway import json_error


def endpoint_not_found(name: str, account_id: str) -> Response:
    return json_error(400, "ValidationError", f"Endpoint {name} of account {account_id} not found.")


def invalid_parameters(message: str) -> Response:
    """``ValidationError`` (400): a parameter breaks the service model's constraints (``1 validation error ...``)."""
    return json_error(400, "ValidationError", message)


def payload_too_large(limit: int) -> Response:
    """HTTP 413: the request body is over InvokeEndpoint's payload limit. AWS's answer carries no error type, so
    botocore reports the status as the code ("An error occurred (413) ...")."""
    body = json.dumps({"message": f"HTTP content length exceeded {limit} bytes."})
    return Response(body, status=413, content_type="application/json")


def variant_not_found(variant: str, name: str) -> Response:
    return json_error(400, "ValidationError", f"Variant {variant} not found for endpoint {name}.")


def model_error(endpoint_name: str, region: str, account_id: str, variant: str, status: int, message: str) -> Response:
    """``ModelError`` (424): the model container answered with an error status."""
    kind = "client" if status < 500 else "server"
    group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    body = {
        "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
        "LogStreamArn": f"arn:aws:logs:{region}:{account_id}:log-group:{group}",
        "Message": (
            f"Received {kind} error ({status}) from primary with message \"{message}\". See "
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:group={group} "
            f"in account {account_id} for more information."
        ),
        "OriginalMessage": message,
        "OriginalStatusCode": status,
    }
    response = Response(json.dumps(body), status=424, content_type="application/json")
    response.headers["x-amzn-ErrorType"] = "ModelError"
    return response
