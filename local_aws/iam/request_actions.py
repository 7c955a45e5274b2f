"""Which IAM action a request performs and on which resource ARN, read from the request as AWS reads it.

Covers the calls a pipeline's roles make: SageMaker (JSON, ``X-Amz-Target: SageMaker.<Op>``), SageMaker Runtime
(``/endpoints/<name>/invocations``), S3 (REST: bucket and object ARNs), CloudWatch Logs (log group and log
stream ARNs), Lambda Invoke, and any JSON or query-protocol call by its operation name on resource ``*``.
Each request's ``protocol`` tells the caller how to shape an error for it.
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

JSON = "json"
REST_JSON = "rest-json"
QUERY = "query"
S3 = "s3"

# IAM's action prefix where it differs from the SigV4 signing name.
_ACTION_PREFIX = {"monitoring": "cloudwatch", "runtime.sagemaker": "sagemaker", "application-autoscaling": "application-autoscaling"}

# Operations AWS never authorizes (every principal may call them).
_UNAUTHORIZED_OPERATIONS = {("sts", "GetCallerIdentity")}

# SageMaker resources: operation noun -> (request parameter holding the name, ARN resource type).
_SAGEMAKER_RESOURCES = [
    ("HyperParameterTuningJob", "HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    ("TrainingJobsForHyperParameterTuningJob", "HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    ("TrainingJob", "TrainingJobName", "training-job"),
    ("ProcessingJob", "ProcessingJobName", "processing-job"),
    ("TransformJob", "TransformJobName", "transform-job"),
    ("EndpointConfig", "EndpointConfigName", "endpoint-config"),
    ("EndpointWeightsAndCapacities", "EndpointName", "endpoint"),
    ("Endpoint", "EndpointName", "endpoint"),
    ("ModelPackageGroup", "ModelPackageGroupName", "model-package-group"),
    ("ModelPackage", "ModelPackageName", "model-package"),
    ("Model", "ModelName", "model"),
]
_SAGEMAKER_VERBS = ("Create", "Describe", "Delete", "Update", "Stop", "List", "Start")

_LOG_STREAM_OPERATIONS = {"CreateLogStream", "PutLogEvents", "GetLogEvents", "DeleteLogStream"}

_S3_BUCKET_SUBRESOURCES = {
    ("GET", "location"): "GetBucketLocation",
    ("GET", "policy"): "GetBucketPolicy",
    ("PUT", "policy"): "PutBucketPolicy",
    ("GET", "tagging"): "GetBucketTagging",
    ("PUT", "tagging"): "PutBucketTagging",
    ("GET", "versioning"): "GetBucketVersioning",
    ("PUT", "versioning"): "PutBucketVersioning",
    ("GET", "versions"): "ListBucketVersions",
    ("GET", "uploads"): "ListBucketMultipartUploads",
    ("GET", "acl"): "GetBucketAcl",
    ("PUT", "acl"): "PutBucketAcl",
    ("GET", "notification"): "GetBucketNotification",
    ("PUT", "notification"): "PutBucketNotification",
    ("POST", "delete"): "DeleteObject",
}

_LAMBDA_INVOKE = re.compile(r"^/\d{4}-\d{2}-\d{2}/functions/(?P<function>[^/]+)/invocations/?$")
_SAGEMAKER_INVOKE = re.compile(r"^/endpoints/(?P<endpoint>[^/]+)/(?P<kind>invocations|async-invocations|invocations-response-stream)/?$")


@dataclass(frozen=True)
class RequestedAction:
    """The action a request asks for, on which resource, and the protocol its errors are written in."""

    action: str
    resource: str
    protocol: str

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0]


def requested_action(service: str, method: str, path: str, query: str, headers, body: bytes, region: str,
                     account_id: str) -> RequestedAction | None:
    """The action and resource of a request, or None when AWS would not authorize it (or it is not understood).

    ``service`` is the SigV4 signing name; ``headers`` anything with case-insensitive ``get``.
    """
    prefix = _ACTION_PREFIX.get(service, service)
    target = headers.get("X-Amz-Target")
    if service == "s3":
        return _s3_action(method, path, query, headers)
    if service == "sagemaker" and not target:
        match = _SAGEMAKER_INVOKE.match(path)
        if match is None:
            return None
        action = {"invocations": "InvokeEndpoint", "async-invocations": "InvokeEndpointAsync",
                  "invocations-response-stream": "InvokeEndpointWithResponseStream"}[match["kind"]]
        return RequestedAction(f"sagemaker:{action}", _sagemaker_arn("endpoint", unquote(match["endpoint"]), region, account_id), REST_JSON)
    if service == "lambda":
        match = _LAMBDA_INVOKE.match(path)
        if match is None:
            return None
        return RequestedAction("lambda:InvokeFunction", _lambda_arn(unquote(match["function"]), query, region, account_id), REST_JSON)
    if target:
        operation = target.rsplit(".", 1)[-1]
        if (service, operation) in _UNAUTHORIZED_OPERATIONS:
            return None
        params = _json_body(body)
        if service == "sagemaker":
            resource = _sagemaker_resource(operation, params, region, account_id)
        elif service == "logs":
            resource = _logs_resource(operation, params, region, account_id)
        else:
            resource = "*"
        return RequestedAction(f"{prefix}:{operation}", resource, JSON)
    operation = _query_operation(query, headers, body)
    if operation is None or (service, operation) in _UNAUTHORIZED_OPERATIONS:
        return None
    return RequestedAction(f"{prefix}:{operation}", "*", QUERY)


def _json_body(body: bytes) -> dict:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _query_operation(query: str, headers, body: bytes) -> str | None:
    params = parse_qs(query)
    if "Action" not in params and "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
        params = parse_qs(body.decode("utf-8", "replace"))
    values = params.get("Action")
    return values[0] if values else None


def _sagemaker_arn(resource_type: str, name: str, region: str, account_id: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:{resource_type}/{name}"


def _sagemaker_resource(operation: str, params: dict, region: str, account_id: str) -> str:
    if isinstance(params.get("ResourceArn"), str):
        return params["ResourceArn"]
    noun = operation
    for verb in _SAGEMAKER_VERBS:
        if operation.startswith(verb):
            noun = operation[len(verb):]
            break
    for suffix, parameter, resource_type in _SAGEMAKER_RESOURCES:
        if noun == suffix and isinstance(params.get(parameter), str):
            return _sagemaker_arn(resource_type, params[parameter], region, account_id)
    return "*"


def _logs_resource(operation: str, params: dict, region: str, account_id: str) -> str:
    group = params.get("logGroupName")
    if not isinstance(group, str):
        return "*"
    arn = f"arn:aws:logs:{region}:{account_id}:log-group:{group}"
    stream = params.get("logStreamName")
    if operation in _LOG_STREAM_OPERATIONS and isinstance(stream, str):
        return f"{arn}:log-stream:{stream}"
    if operation == "CreateLogGroup":
        return arn
    return f"{arn}:*"


def _lambda_arn(function: str, query: str, region: str, account_id: str) -> str:
    if function.startswith("arn:"):
        return function
    qualifier = parse_qs(query).get("Qualifier", [None])[0]
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{function}"
    return f"{arn}:{qualifier}" if qualifier and ":" not in function else arn


def _s3_action(method: str, path: str, query: str, headers) -> RequestedAction:
    bucket, key = _s3_bucket_and_key(path, headers.get("Host") or "")
    params = parse_qs(query, keep_blank_values=True)
    method = method.upper()
    if not bucket:
        return RequestedAction("s3:ListAllMyBuckets", "*", S3)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if key:
        object_arn = f"{bucket_arn}/{key}"
        if method in ("GET", "HEAD"):
            operation = "ListMultipartUploadParts" if "uploadId" in params else (
                "GetObjectTagging" if "tagging" in params else "GetObject")
        elif method in ("PUT", "POST"):
            operation = "PutObjectTagging" if "tagging" in params else "PutObject"
        elif method == "DELETE":
            operation = "AbortMultipartUpload" if "uploadId" in params else "DeleteObject"
        else:
            operation = "GetObject"
        return RequestedAction(f"s3:{operation}", object_arn, S3)
    for name in params:
        operation = _S3_BUCKET_SUBRESOURCES.get((method, name))
        if operation is not None:
            resource = f"{bucket_arn}/*" if operation == "DeleteObject" else bucket_arn
            return RequestedAction(f"s3:{operation}", resource, S3)
    operation = {"GET": "ListBucket", "HEAD": "ListBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, "ListBucket")
    return RequestedAction(f"s3:{operation}", bucket_arn, S3)


def _s3_bucket_and_key(path: str, host: str) -> tuple[str, str]:
    hostname = host.split(":")[0]
    virtual = re.match(r"^(?P<bucket>.+?)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$", hostname) or \
        re.match(r"^(?P<bucket>.+?)\.localhost$", hostname)
    path = unquote(path)
    if virtual:
        return virtual["bucket"], path.lstrip("/")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key
