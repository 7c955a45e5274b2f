"""Every moto internal local_aws depends on, in one place (written against moto 5.2.5).

moto has no plugin interface, so the runtime extends it through a few internals: service backends are
swapped for subclasses inside their ``BackendDict``; a subclass's ``_url_module`` (which moto derives from
the class's module) is pointed at a module whose ``url_paths`` name our response classes; the WSGI app is
moto's ``DomainDispatcherApplication``; S3, CloudWatch Logs and CloudWatch are reached in process through
their backend objects. A moto upgrade should only ever need this module re-checked, plus the record
attributes the SageMaker models read and write, which mirror botocore's shapes in snake case:

* ``FakeTrainingJob``: ``training_job_name, arn, hyper_parameters, algorithm_specification,
  input_data_config, output_data_config, resource_config, stopping_condition, training_job_status,
  secondary_status, secondary_status_transitions, model_artifacts, failure_reason, final_metric_data_list,
  creation_time, last_modified_time, training_start_time, training_end_time`` (DescribeTrainingJob is built
  from the record's ``__dict__``, so added attributes such as ``environment`` or ``tuning_job_name`` appear
  under their botocore names);
* ``HyperParameterTuningJob``: ``hyper_parameter_tuning_job_name, arn, hyper_parameter_tuning_job_config,
  training_job_definition, training_job_definitions, hyper_parameter_tuning_job_status, training_job_status_counters,
  objective_status_counters, best_training_job, OverallBestTrainingJob, failure_reason, ...`` and ``describe()``;
* ``FakeEndpoint`` / ``FakeEndpointConfig`` / ``Model``: ``endpoint_status, production_variants,
  endpoint_config_name, failure_reason``; ``primary_container``, ``containers`` (via ``model_container``).

Lambda, Application Auto Scaling and IAM enforcement read: ``LambdaFunction`` (``function_name, version,
function_arn, handler, run_time, role, code_bytes, code_size, environment_vars, memory_size, timeout,
reserved_concurrency``), CloudWatch's ``get_all_metrics()`` datums (``namespace, name, dimensions, timestamp,
value``), scalable targets and scaling policies (``service_namespace, resource_id, scalable_dimension``...),
STS sessions and IAM roles', users' and groups' ``policies`` and ``managed_policies``. IAM judgement replaces
``ActionAuthenticatorMixin``'s two entry points (``_authenticate_and_authorize_normal_action``,
``_authenticate_and_authorize_s3_action``) and reads the response object's ``_get_action()``,
``params``/``_get_param``/``uri_match``/``querystring``, ``region``, ``current_account`` and
``normalized_request.environ``; roles' ``path``, ``assume_role_policy_document``, ``permissions_boundary_arn`` and
the services' tag lists. Authentication reads IAM's ``access_keys`` and STS sessions' secrets, tokens and
expirations.

Everything else about moto's containers is reached through the accessors below and nowhere else: the backends'
record dictionaries (``training_jobs``, ``endpoints``, ``targets``, ``policies``, log ``groups``...), Lambda's
storages (``LambdaBackend._lambdas``/``_layers`` and their ``_functions, _aliases, _arns, _layers``, pickled by
:func:`picklable_lambda_state`), moto's request readers for the response subclasses (``_get_param``,
``_get_int_param``, ``_get_action``, ``_enrich_response``, ``_validate_params``) and the twenty keyword arguments
of ``SageMakerModelBackend.create_training_job`` (:func:`create_training_job_record`).
``tests/local_aws/test_moto_seam.py`` fails when another module imports moto or reaches a moto private.
"""

from __future__ import annotations

import importlib
import json
import threading
import types
from dataclasses import dataclass
from urllib.parse import unquote
from collections.abc import Callable, Iterator
from typing import Any

from moto.applicationautoscaling.exceptions import AWSValidationException as AutoScalingValidationException
from moto.applicationautoscaling.models import (
    ApplicationAutoscalingBackend,
    FakeApplicationAutoscalingPolicy,
    applicationautoscaling_backends,
)
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.awslambda.exceptions import InvalidParameterValueException as LambdaInvalidParameterValue
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction, LambdaStorage, LayerStorage, lambda_backends
from moto.awslambda.responses import LambdaResponse
from moto.backends import get_backend
from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import JsonRESTError, ServiceException
from moto.core.responses import TYPE_RESPONSE, ActionResult, BaseResponse, EmptyResult
from moto.iam.models import IAMBackend, iam_backends
from moto.logs.exceptions import InvalidParameterException as LogsInvalidParameterException
from moto.logs.models import LogsBackend, logs_backends
from moto.logs.utils import EventMessageFilter
from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.models import s3_backends
from moto.sns.models import Subscription as SnsSubscription
from moto.sagemaker import models as sagemaker_models
from moto.sagemaker.exceptions import ValidationError as SageMakerValidationError
from moto.sagemaker.responses import SageMakerResponse
from moto.sts.models import sts_backends
from moto.utilities.utils import ARN_PARTITION_REGEX, get_partition

ACCOUNT_ID = DEFAULT_ACCOUNT_ID

# Names for the rest of local_aws: moto classes the service packages subclass or raise, and accessors.
__all__ = [
    "ACCOUNT_ID",
    "ARN_PARTITION_REGEX",
    "ActionResult",
    "ApplicationAutoScalingResponse",
    "ApplicationAutoscalingBackend",
    "AuthorizationDenial",
    "AutoScalingValidationException",
    "BaseResponse",
    "EmptyResult",
    "FakeEndpoint",
    "FakeTrainingJob",
    "HyperParameterTuningJob",
    "IAMBackend",
    "JsonRESTError",
    "LambdaBackend",
    "LambdaClientError",
    "LambdaFunction",
    "LambdaInvalidParameterValue",
    "LambdaResponse",
    "MotoCallParts",
    "SageMakerModelBackend",
    "SageMakerResponse",
    "SageMakerValidationError",
    "ServiceException",
    "TYPE_RESPONSE",
    "arn_formatter",
    "autoscaling_backends_created",
    "backends_of",
    "bucket_objects",
    "cloudwatch_backend",
    "create_training_job_record",
    "dispatcher_app",
    "endpoint_config",
    "ensure_service_linked_role",
    "error_response",
    "find_role_session",
    "find_user_access_key",
    "forget_scaling_policy",
    "function_name_in_arn",
    "function_policy",
    "function_versions",
    "get_partition",
    "iam_accounts",
    "iam_backend",
    "install_authorization",
    "install_backend",
    "is_moto_api_path",
    "lambda_backends_created",
    "latest_functions",
    "load_aws_managed_policies",
    "log_group_exists",
    "model_container",
    "model_execution_role",
    "operation_name",
    "picklable_lambda_state",
    "put_log_events",
    "put_metric_data",
    "read_object",
    "request_handler_class",
    "request_int_param",
    "request_param",
    "resource_tags",
    "response_url_module",
    "restore_backend",
    "restore_lambda_state",
    "role_record",
    "s3_backend",
    "sagemaker_backend",
    "sagemaker_endpoint",
    "sagemaker_endpoints",
    "scalable_target",
    "scalable_target_exists",
    "scalable_targets",
    "scaling_policies",
    "scaling_policy",
    "select_operations_as_aws",
    "sts_accounts",
    "sts_backend",
    "training_job",
    "training_jobs",
    "tuning_job",
    "tuning_jobs",
    "uninstall_authorization",
    "user_record",
    "utcnow",
    "validate_autoscaling_request",
    "write_object",
]

SageMakerModelBackend = sagemaker_models.SageMakerModelBackend
FakeTrainingJob = sagemaker_models.FakeTrainingJob
FakeEndpoint = sagemaker_models.FakeEndpoint
HyperParameterTuningJob = sagemaker_models.HyperParameterTuningJob
arn_formatter = sagemaker_models.arn_formatter


def response_url_module(moto_urls: types.ModuleType, response_class: type[BaseResponse]) -> types.ModuleType:
    """A stand-in for a moto ``urls`` module that routes the service's paths to ``response_class``.

    moto derives a backend's URL module from the backend class's module name; a subclass living in
    local_aws returns this from ``_url_module`` instead.
    """
    module = types.ModuleType(f"local_aws_urls_{moto_urls.__name__}")
    module.url_bases = moto_urls.url_bases
    module.url_paths = {path: response_class.dispatch for path in moto_urls.url_paths}
    return module


_MOTO_PACKAGES = {"lambda": "awslambda"}  # moto's package where it is not the service's backend name


def install_backend(service: str, backend_class: type[BaseBackend],
                    response_class: type[BaseResponse] | None = None, extra_url_paths: tuple[str, ...] = ()) -> None:
    """Make ``backend_class`` the class moto instantiates for ``service`` (before its first request).

    With ``response_class``, the service's URL paths are answered by it (it adds or changes operations), and so
    are ``extra_url_paths`` (moto URL rules, ``{0}`` standing for the service's base URL) for operations moto has
    no rule for. Without, the subclass keeps moto's URL module although it lives in another package.
    """
    moto_urls = importlib.import_module(f"moto.{_MOTO_PACKAGES.get(service, service)}.urls")
    url_module = response_url_module(moto_urls, response_class) if response_class is not None else moto_urls
    if extra_url_paths:
        url_module.url_paths.update({path: response_class.dispatch for path in extra_url_paths})
    backend_class._url_module = property(lambda self: url_module)
    backend_dict = get_backend(service)
    backend_dict.backend = backend_class
    for account_backends in backend_dict.values():
        account_backends.backend = backend_class


def backends_of(service: str) -> Iterator[tuple[str, str, BaseBackend]]:
    """(account, region, backend) for every backend instance of ``service`` created so far."""
    backend_dict: BackendDict = get_backend(service)
    yield from list(backend_dict.iter_backends())


def restore_backend(service: str, account_id: str, region: str, backend: BaseBackend) -> None:
    """Put a previously saved backend instance back in place."""
    account_backends = get_backend(service)[account_id]
    dict.__setitem__(account_backends, region, backend)


def load_aws_managed_policies(enabled: bool = True) -> None:
    """Have IAM backends created from now on hold AWS managed policies (AmazonSageMakerFullAccess, ...).

    moto parses its 1,582 policies and builds them afresh for every IAM backend it creates, six per account and
    again on every ``/moto-api/reset`` (about 3 s). Here they are parsed once per process and partition, and
    an IAM backend gets its own copies (its attachment counts are its own) only when it first reads them.
    """
    from moto.core.models import default_user_config

    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = enabled
    _share_aws_managed_policies()


class _PendingAWSPolicies:
    """An IAM backend's AWS managed policies, not copied in yet (picklable: a saved backend copies them later)."""


_AWS_POLICY_PROTOTYPES: dict[str, list[Any]] = {}
_aws_policies_lock = threading.RLock()


def _aws_policy_prototypes(partition: str) -> list[Any]:
    """AWS managed policies of ``partition``, parsed from moto's data once per process."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy

    with _aws_policies_lock:
        if partition not in _AWS_POLICY_PROTOTYPES:
            data = json.loads(aws_managed_policies_data)
            _AWS_POLICY_PROTOTYPES[partition] = [AWSManagedPolicy.from_data(name, ACCOUNT_ID, partition, policy)
                                                 for name, policy in data.items()]
        return _AWS_POLICY_PROTOTYPES[partition]


def _aws_policy_copy(prototype: Any, account_id: str) -> Any:
    """One account's copy of an AWS managed policy: its own attachment count, tags and versions."""
    from moto.iam.models import PolicyVersion

    policy = object.__new__(type(prototype))
    fields = dict(prototype.__dict__)
    fields.update(account_id=account_id, tags={})
    versions = []
    for prototype_version in prototype.versions:
        version = object.__new__(PolicyVersion)
        version.__dict__.update(prototype_version.__dict__)
        versions.append(version)
    fields["versions"] = versions
    policy.__dict__ = fields
    return policy


def _copy_in_aws_policies(backend: IAMBackend) -> None:
    """Give ``backend`` its copies of the AWS managed policies if it has not got them yet."""
    fields = backend.__dict__
    for name in ("aws_managed_policies", "managed_policies"):  # a backend pickled before policies were shared
        if name in fields:
            fields[f"_shared_{name}"] = fields.pop(name)
    if not isinstance(fields.get("_shared_aws_managed_policies"), _PendingAWSPolicies):
        return
    with _aws_policies_lock:
        if not isinstance(fields.get("_shared_aws_managed_policies"), _PendingAWSPolicies):
            return
        policies = [_aws_policy_copy(prototype, backend.account_id)
                    for prototype in _aws_policy_prototypes(get_partition(backend.region_name))]
        fields["_shared_managed_policies"] = {policy.arn: policy for policy in policies}
        fields["_shared_aws_managed_policies"] = policies


def _policies_attribute(name: str) -> property:
    def read(backend: IAMBackend) -> Any:
        _copy_in_aws_policies(backend)
        return backend.__dict__[f"_shared_{name}"]

    def write(backend: IAMBackend, value: Any) -> None:
        backend.__dict__[f"_shared_{name}"] = value

    return property(read, write)


def _share_aws_managed_policies() -> None:
    """Replace moto's per-backend loading of AWS managed policies by shared parsing and copies on first read."""
    if getattr(IAMBackend, "_aws_policies_shared", False):
        return
    from moto.settings import load_iam_aws_managed_policies

    def init_aws_policies(backend: IAMBackend) -> Any:
        return _PendingAWSPolicies() if load_iam_aws_managed_policies() else []

    def init_managed_policies(backend: IAMBackend) -> Any:
        pending = backend.__dict__.get("_shared_aws_managed_policies")
        return _PendingAWSPolicies() if isinstance(pending, _PendingAWSPolicies) else {}

    IAMBackend._init_aws_policies = init_aws_policies
    IAMBackend._init_managed_policies = init_managed_policies
    IAMBackend.aws_managed_policies = _policies_attribute("aws_managed_policies")
    IAMBackend.managed_policies = _policies_attribute("managed_policies")
    IAMBackend._aws_policies_shared = True


def dispatcher_app() -> DomainDispatcherApplication:
    """moto's WSGI app that routes every request to the service named in its signature or host.

    moto's own allow-all CORS (flask_cors on every service app) is switched off: the gateway decides which
    browser origins get CORS headers (``local_aws.request_origin``).
    """
    werkzeug_app.DISABLE_GLOBAL_CORS = True
    return DomainDispatcherApplication(create_backend_app)


def is_moto_api_path(path_info: str) -> bool:
    """Whether moto's dispatcher sends a request for ``path_info`` to its management API (reset, seed, dumps)."""
    return path_info.startswith("/moto-api")


def s3_backend(account_id: str = ACCOUNT_ID) -> Any:
    return s3_backends[account_id]["aws"]


def logs_backend(region: str, account_id: str = ACCOUNT_ID) -> Any:
    return logs_backends[account_id][region]


def cloudwatch_backend(region: str, account_id: str = ACCOUNT_ID) -> Any:
    return cloudwatch_backends[account_id][region]


def sagemaker_backend(region: str, account_id: str = ACCOUNT_ID) -> Any:
    return sagemaker_models.sagemaker_backends[account_id][region]


def model_container(backend: Any, model_name: str) -> dict[str, Any] | None:
    """The primary (or first) container of a SageMaker model record, None when the model does not exist."""
    model = backend._models.get(model_name)
    if model is None:
        return None
    return model.primary_container or (model.containers or [{}])[0]


def model_execution_role(backend: Any, model_name: str) -> str | None:
    """The ExecutionRoleArn of a SageMaker model record, None when the model does not exist."""
    model = backend._models.get(model_name)
    return None if model is None else model.execution_role_arn


def bucket_objects(account_id: str, bucket: str, prefix: str) -> list[tuple[str, int]]:
    """(key, size) of the latest version of every object under ``prefix``, sorted by key."""
    backend = s3_backend(account_id)
    found = backend.get_bucket(bucket)
    return sorted(
        (key.name, key.size) for name, key in found.keys.items() if name.startswith(prefix)
    )


def read_object(account_id: str, bucket: str, key: str) -> bytes:
    obj = s3_backend(account_id).get_object(bucket, key)
    if obj is None:
        raise KeyError(f"s3://{bucket}/{key}")
    return obj.value


def write_object(account_id: str, bucket: str, key: str, body: bytes) -> None:
    s3_backend(account_id).put_object(bucket, key, body)


def put_log_events(region: str, group: str, stream: str, events: list[dict[str, Any]], account_id: str = ACCOUNT_ID) -> None:
    """Append events (``{"timestamp": ms, "message": str}``) to a stream, creating group and stream."""
    backend = logs_backend(region, account_id)
    backend.ensure_log_group(group)
    if stream not in backend.groups[group].streams:
        backend.create_log_stream(group, stream)
    if events:
        backend.put_log_events(group, stream, events)


def log_group_exists(region: str, group: str, account_id: str = ACCOUNT_ID) -> bool:
    return group in logs_backend(region, account_id).groups


def function_policy(function_arn: str) -> dict[str, Any] | None:
    """The resource-based policy (AddPermission's statements) of the Lambda function or version ``function_arn``
    names, as a policy document; None when it has none or the function does not exist."""
    fn = lambda_function(function_arn)
    statements = list(getattr(getattr(fn, "policy", None), "statements", None) or [])
    return {"Version": "2012-10-17", "Statement": [dict(statement) for statement in statements]} if statements else None


def lambda_function(function_arn: str) -> Any | None:
    """The function (or version) a Lambda ARN names, None when it is not a function ARN or does not exist."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        return None
    try:
        return lambda_backends[parts[4]][parts[3]].get_function(function_arn)
    except Exception:  # moto's not-found errors: the call itself answers them
        return None


def subscription_filter_pattern(account_id: str, region: str, group: str, filter_name: str) -> str | None:
    """The filter pattern of a log group's subscription filter, None when there is no such filter."""
    log_group = logs_backends[account_id][region].groups.get(group)
    found = log_group.subscription_filters.get(filter_name) if log_group is not None else None
    return None if found is None else found.filter_pattern


def log_message_matches(pattern: str, message: str) -> bool:
    """Whether a log message matches a filter pattern, as far as moto reads patterns (terms and quoted phrases;
    any other pattern matches every message)."""
    return EventMessageFilter(pattern).matches(message)


def put_metric_data(region: str, namespace: str, metric_data: list[dict[str, Any]], account_id: str = ACCOUNT_ID) -> None:
    """Record CloudWatch data points, in the shape PutMetricData's request takes."""
    cloudwatch_backend(region, account_id).put_metric_data(namespace, metric_data)


def find_user_access_key(access_key_id: str) -> tuple[Any, Any] | None:
    """(user, key) for an IAM user's access key (key: ``access_key_id, secret_access_key, status``; user: ``name,
    arn, account_id``), or None. Looks in the IAM backends created so far only (creating one is costly)."""
    for _account_id, _partition, iam in list(iam_backends.iter_backends()):
        key = iam.access_keys.get(access_key_id)
        if key is not None and key.user_name is not None and key.user_name in iam.users:
            return iam.users[key.user_name], key
    return None


def find_role_session(access_key_id: str) -> Any | None:
    """The STS role session issued with ``access_key_id`` (``secret_access_key, session_token, expiration`` as
    naive UTC, ``arn, account_id, role_arn``), or None."""
    for _account_id, _partition, sts in list(sts_backends.iter_backends()):
        session = sts.get_assumed_role_from_access_key(access_key_id)
        if session is not None:
            return session
    return None


def request_handler_class() -> type:
    """moto's werkzeug request handler (keeps S3 metadata headers with underscores)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


def utcnow() -> Any:
    """Now, as moto stores times (naive UTC): records compare and filter against each other."""
    from moto.core.utils import utcnow as moto_utcnow

    return moto_utcnow()


# ---------------------------------------------------------------------------------------------------------------
# IAM authorization: moto's own hook (``ActionAuthenticatorMixin``), called from ``BaseResponse.call_action`` once
# the operation is known and from S3's handlers with the bucket and key they resolved.


def install_authorization(authorize: Any) -> None:
    """Have every request moto executes judged by ``authorize(parts)`` first.

    ``parts`` is a :class:`MotoCallParts`; ``authorize`` returns None to let the call run, or an
    :class:`AuthorizationDenial` (sent instead of the operation's answer).
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.s3.exceptions import S3ClientError

    def normal(self: Any, resource: str = "*") -> None:
        denial = authorize(_call_parts(self))
        if denial is not None:
            self.response_headers.update(denial.headers)
            raise _Denied(denial.status, denial.body)

    def s3(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        denial = authorize(_call_parts(self, bucket_name, key_name))
        if denial is not None:
            raise S3ClientError(denial.code, denial.message)

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = normal
    ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = s3


def select_operations_as_aws() -> None:
    """Have moto pick a request's operation as AWS does: by ``X-Amz-Target`` for the JSON protocol, by method and
    path for the REST protocols, by ``Action`` only for the query protocol.

    moto's ``BaseResponse._get_action`` reads an ``Action`` query parameter (or a form-looking body) first, so a
    SageMaker call whose target is ListEndpoints but whose URL carries ``?Action=ListModels`` would run
    ListModels, and a Lambda ``GET /functions/?Action=ListLayers`` ListLayers. Idempotent.
    """
    if getattr(BaseResponse._get_action, "_as_aws", False):
        return
    moto_get_action = BaseResponse._get_action

    def get_action(self: Any) -> str:
        target = self.headers.get("X-Amz-Target") or self.headers.get("x-amz-target")
        if target:
            return target.split(".")[-1]
        if _protocol_of(self.boto3_service_name) in ("rest-json", "rest-xml"):
            operation = self._get_action_from_method_and_request_uri(self.normalized_request)
            if operation:
                return operation
        return moto_get_action(self)

    get_action._as_aws = True
    BaseResponse._get_action = get_action


def _protocol_of(service_name: str) -> str:
    from moto.core.responses import get_service_model

    try:
        return get_service_model(service_name).protocol
    except Exception:  # a service botocore does not describe: moto's own rules apply
        return ""


def uninstall_authorization() -> None:
    """moto's own (inactive by default) authorization back in place."""
    from moto.core.authorization import ActionAuthenticatorMixin

    for name in ("_authenticate_and_authorize_normal_action", "_authenticate_and_authorize_s3_action"):
        setattr(ActionAuthenticatorMixin, name, _MOTO_AUTHORIZATION[name])


def _moto_authorization() -> dict[str, Any]:
    from moto.core.authorization import ActionAuthenticatorMixin

    return {name: ActionAuthenticatorMixin.__dict__[name]
            for name in ("_authenticate_and_authorize_normal_action", "_authenticate_and_authorize_s3_action")}


_MOTO_AUTHORIZATION = _moto_authorization()


def _denied_class() -> type:
    from werkzeug.exceptions import HTTPException

    class Denied(HTTPException):
        def __init__(self, status: int, body: str) -> None:
            super().__init__(description=body)
            self.code = status

    return Denied


# An HTTPException: call_action answers it with its status and body.
_Denied = _denied_class()


@dataclass(frozen=True)
class AuthorizationDenial:
    """The error sent instead of a denied operation's answer."""

    status: int
    headers: dict[str, str]
    body: str
    code: str
    message: str


@dataclass(frozen=True)
class MotoCallParts:
    """A request as moto parsed it, for judging: the operation, its input members, where it acts, its signer."""

    service: str
    operation: str
    params: dict[str, Any]
    region: str
    account_id: str
    method: str
    query: frozenset[str]
    headers: Any
    environ: dict[str, Any]
    bucket: str | None = None
    key: str | None = None


def _call_parts(response: Any, bucket: str | None = None, key: str | None = None) -> MotoCallParts:
    service = response.boto3_service_name
    operation = response._get_action() or ""
    request = response.normalized_request
    query: frozenset[str] = frozenset()
    if service == "s3":
        params = _s3_params(response, bucket, key)
        query = frozenset(_s3_query(response).keys())
    else:
        params = _operation_params(response, service, operation)
    return MotoCallParts(service, operation, params, response.region, response.current_account, response.method,
                         query, response.headers, getattr(request, "environ", {}) or {}, bucket, key)


def _s3_query(response: Any) -> dict[str, Any]:
    from urllib.parse import parse_qs

    return parse_qs(response.parsed_url.query, keep_blank_values=True)


def _s3_params(response: Any, bucket: str | None, key: str | None) -> dict[str, Any]:
    """The keys a DeleteObjects body names (parsed as moto parses it) and a form upload's key."""
    params: dict[str, Any] = {}
    if bucket and not key and response.method == "POST":
        if "delete" in _s3_query(response):
            try:
                import xmltodict

                objects = xmltodict.parse(response.body, strip_whitespace=False)["Delete"].get("Object", [])
                objects = objects if isinstance(objects, list) else [objects]
                params["DeletedKeys"] = [obj["Key"] for obj in objects]
            except Exception:
                params["DeletedKeys"] = []
        elif response.querystring.get("key"):
            params["FormKey"] = response.querystring["key"][0]
    return params


def _operation_params(response: Any, service: str, operation: str) -> dict[str, Any]:
    """The operation's input members, read where moto's handler reads them."""
    if getattr(response, "automated_parameter_parsing", False):
        return dict(response.params or {})
    from moto.core.utils import get_service_model

    try:
        shape = get_service_model(service).operation_model(operation).input_shape
    except Exception:
        return {}
    if shape is None:
        return {}
    body: dict[str, Any] = {}
    if service == "lambda":
        try:
            parsed = json.loads(response.body or "{}")
            body = parsed if isinstance(parsed, dict) else {}
        except (TypeError, ValueError):
            body = {}
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            value = (response.uri_match or {}).get(wire_name, (response.uri_match or {}).get(name))
            value = unquote(value) if isinstance(value, str) else value
        elif location == "querystring":
            value = (response.querystring.get(wire_name) or [None])[0]
        elif location == "header":
            value = response.headers.get(wire_name)
        elif service == "lambda":
            value = body.get(name)
        else:
            value = response._get_param(name)
        if value is not None:
            params[name] = value
    return params


def role_record(account_id: str, role_name: str) -> Any | None:
    """moto's record of an IAM role (``path``, ``assume_role_policy_document``, ``permissions_boundary``...)."""
    iam = iam_backends[account_id]["aws"]
    for role in list(iam.roles.values()):
        if role.name == role_name:
            return role
    return None


def ensure_service_linked_role(account_id: str, aws_service: str, role_name: str) -> None:
    """Create a service-linked role (path ``/aws-service-role/<service>/``, trusting the service) unless it exists."""
    if role_record(account_id, role_name) is not None:
        return
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": aws_service},
                                                     "Action": "sts:AssumeRole"}]}
    iam_backends[account_id]["aws"].create_role(
        role_name, json.dumps(trust), f"/aws-service-role/{aws_service}/", None, "", [], None,
        linked_service=aws_service)


def user_record(account_id: str, user_name: str) -> Any | None:
    return iam_backends[account_id]["aws"].users.get(user_name)


def resource_tags(arn: str) -> dict[str, str] | None:
    """The tags moto keeps for the resource ``arn`` names (None when it has none or the service is not read)."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    _, partition, service, region, account_id, resource = parts
    try:
        if service == "sagemaker":
            tags = sagemaker_models.sagemaker_backends[account_id][region].list_tags(arn)
            return {t["Key"]: t["Value"] for t in tags}
        if service == "lambda":
            return dict(lambda_backends[account_id][region].list_tags(arn))
        if service == "logs":
            group = resource.split(":")[1] if resource.startswith("log-group:") else None
            return dict(logs_backends[account_id][region].list_tags_log_group(group)) if group else None
        if service == "iam" and resource.startswith("role/"):
            role = role_record(account_id, resource.rsplit("/", 1)[-1])
            return {t["Key"]: t["Value"] for t in role.get_tags()} if role is not None else None
    except Exception:
        return None
    return None


# ---------------------------------------------------------------------------------------------------------------
# Response classes: moto's request readers, for the operations local_aws adds or replaces.


def request_param(response: BaseResponse, name: str, default: Any = None) -> Any:
    """The request member ``name`` as moto's handlers read it (query string, JSON body or parsed parameters)."""
    return response._get_param(name, default)


def request_int_param(response: BaseResponse, name: str) -> int | None:
    return response._get_int_param(name)


def operation_name(response: BaseResponse) -> str | None:
    """The operation the request calls, as moto picked it (see :func:`select_operations_as_aws`)."""
    return response._get_action()


def error_response(response: BaseResponse, error: Exception) -> TYPE_RESPONSE:
    """The answer moto sends for ``error`` (one of its ``ServiceException``\\ s) raised by an operation."""
    status, headers, body = response.serialized(ActionResult(error))
    headers, body = response._enrich_response(headers, body)
    return status, headers, body


def validate_autoscaling_request(response: ApplicationAutoScalingResponse) -> None:
    """moto's checks of ServiceNamespace and ScalableDimension (raises its ValidationException)."""
    response._validate_params()


# ---------------------------------------------------------------------------------------------------------------
# SageMaker: the backend's record dictionaries.

# CreateTrainingJob's request members and moto's ``create_training_job`` arguments, with moto's defaults.
_TRAINING_JOB_ARGUMENTS = (
    ("training_job_name", "TrainingJobName", None),
    ("hyper_parameters", "HyperParameters", None),
    ("algorithm_specification", "AlgorithmSpecification", None),
    ("role_arn", "RoleArn", None),
    ("input_data_config", "InputDataConfig", None),
    ("output_data_config", "OutputDataConfig", None),
    ("resource_config", "ResourceConfig", None),
    ("vpc_config", "VpcConfig", None),
    ("stopping_condition", "StoppingCondition", None),
    ("tags", "Tags", None),
    ("enable_network_isolation", "EnableNetworkIsolation", False),
    ("enable_inter_container_traffic_encryption", "EnableInterContainerTrafficEncryption", False),
    ("enable_managed_spot_training", "EnableManagedSpotTraining", False),
    ("checkpoint_config", "CheckpointConfig", None),
    ("debug_hook_config", "DebugHookConfig", None),
    ("debug_rule_configurations", "DebugRuleConfigurations", None),
    ("tensor_board_output_config", "TensorBoardOutputConfig", None),
    ("experiment_config", "ExperimentConfig", None),
)


def create_training_job_record(backend: SageMakerModelBackend, request: dict[str, Any]) -> FakeTrainingJob:
    """moto's record of a new training job, stored in ``backend``, from CreateTrainingJob's request members
    (botocore names). Members moto keeps no argument for (``Environment``) are the caller's to set."""
    arguments = {argument: request.get(member, default) for argument, member, default in _TRAINING_JOB_ARGUMENTS}
    return SageMakerModelBackend.create_training_job(backend, **arguments)


def training_jobs(backend: SageMakerModelBackend) -> list[FakeTrainingJob]:
    return list(backend.training_jobs.values())


def training_job(backend: SageMakerModelBackend, name: str) -> FakeTrainingJob | None:
    return backend.training_jobs.get(name)


def tuning_jobs(backend: SageMakerModelBackend) -> list[HyperParameterTuningJob]:
    return list(backend.hyper_parameter_tuning_jobs.values())


def tuning_job(backend: SageMakerModelBackend, name: str) -> HyperParameterTuningJob | None:
    return backend.hyper_parameter_tuning_jobs.get(name)


def sagemaker_endpoints(backend: SageMakerModelBackend) -> list[FakeEndpoint]:
    return list(backend.endpoints.values())


def sagemaker_endpoint(backend: SageMakerModelBackend, name: str) -> FakeEndpoint | None:
    return backend.endpoints.get(name)


def endpoint_config(backend: SageMakerModelBackend, name: str) -> Any | None:
    return backend.endpoint_configs.get(name)


# ---------------------------------------------------------------------------------------------------------------
# Lambda: moto's function and layer storages.


def lambda_backends_created() -> list[LambdaBackend]:
    """Every Lambda backend instance created so far."""
    return [backend for _account_id, _region, backend in lambda_backends.iter_backends()]


def latest_functions(backend: LambdaBackend) -> list[LambdaFunction]:
    """The ``$LATEST`` version of every function."""
    return list(backend._lambdas.latest())


def function_versions(backend: LambdaBackend) -> list[LambdaFunction]:
    """Every version (``$LATEST`` and published) of every function."""
    return list(backend._lambdas.all())


def function_name_in_arn(backend: LambdaBackend, arn: str) -> tuple[str, str | None]:
    """(name, qualifier) of a function ARN, the qualifier None when it has none."""
    _unqualified, name, qualifier = backend._lambdas.split_function_arn(arn)
    return name, qualifier


def layer_version_code(backend: LambdaBackend, layer_version_arn: str) -> bytes | None:
    """The unzipped-from-base64 code of a layer version the function names, None when the backend has none such."""
    layer_version = backend.layers_versions_by_arn(layer_version_arn)
    return None if layer_version is None else layer_version.code_bytes


def function_layer_arns(fn: LambdaFunction) -> list[str]:
    """The layer version ARNs of a function, in its order."""
    return [layer["Arn"] for layer in (fn.layers or [])]


_MOTO_FUNCTION_INVOKE = LambdaFunction.invoke


def _invoke_through_backend(fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> Any:
    backend = lambda_backends[fn.account_id][fn.region]
    return backend.invoke(fn.function_arn, None, body, request_headers, response_headers)


_ROUTED_SERVERS = [0]  # servers in this process that route invocations (an inner server may stop first)
_MOTO_PUT_SUBSCRIPTION_FILTER = LogsBackend.put_subscription_filter


def route_function_invocations(check_subscription: Callable[[str, str, str, str], None]) -> None:
    """moto's event sources (SNS, DynamoDB and Kinesis streams, CloudWatch Logs subscriptions) call
    ``LambdaFunction.invoke``, which runs Docker: send them to the function's backend's ``invoke`` instead.

    ``check_subscription(account_id, region, log_group_name, destination_arn)`` runs before CloudWatch Logs puts a
    subscription filter (moto checks only that a Lambda destination exists); it raises to refuse it.
    """
    _ROUTED_SERVERS[0] += 1
    LambdaFunction.invoke = _invoke_through_backend

    def put_subscription_filter(backend: LogsBackend, log_group_name: str, filter_name: str, filter_pattern: str,
                                destination_arn: str, role_arn: str) -> None:
        check_subscription(backend.account_id, backend.region_name, log_group_name, destination_arn)
        return _MOTO_PUT_SUBSCRIPTION_FILTER(backend, log_group_name, filter_name, filter_pattern, destination_arn,
                                             role_arn)

    LogsBackend.put_subscription_filter = put_subscription_filter
    SnsSubscription.publish = _publish_noting_delivery


@dataclass(frozen=True)
class SnsDelivery:
    """The SNS message a Lambda subscription is being handed (what moto's Lambda event leaves out)."""

    topic_arn: str
    subscription_arn: str
    endpoint: str
    message_id: str
    message_attributes: dict[str, Any]


_MOTO_SUBSCRIPTION_PUBLISH = SnsSubscription.publish
_SNS_DELIVERY = threading.local()


def _publish_noting_delivery(subscription: SnsSubscription, message: str, message_id: str, *args: Any,
                             **kwargs: Any) -> None:
    if subscription.protocol == "lambda":
        attributes = kwargs.get("message_attributes") or (args[1] if len(args) > 1 else None) or {}
        _SNS_DELIVERY.current = SnsDelivery(subscription.topic.arn, subscription.arn, subscription.endpoint,
                                            message_id, dict(attributes))
    try:
        return _MOTO_SUBSCRIPTION_PUBLISH(subscription, message, message_id, *args, **kwargs)
    finally:
        _SNS_DELIVERY.current = None


def sns_delivery() -> SnsDelivery | None:
    """The SNS delivery this thread is making to a Lambda subscription, None outside one."""
    return getattr(_SNS_DELIVERY, "current", None)


def unroute_function_invocations() -> None:
    """Undo :func:`route_function_invocations` once the last server that asked for it is gone."""
    _ROUTED_SERVERS[0] = max(0, _ROUTED_SERVERS[0] - 1)
    if not _ROUTED_SERVERS[0]:
        LambdaFunction.invoke = _MOTO_FUNCTION_INVOKE
        LogsBackend.put_subscription_filter = _MOTO_PUT_SUBSCRIPTION_FILTER
        SnsSubscription.publish = _MOTO_SUBSCRIPTION_PUBLISH


def logs_invalid_parameter(message: str) -> Exception:
    """CloudWatch Logs' InvalidParameterException (answered in Logs' JSON shape)."""
    return LogsInvalidParameterException(message)


def picklable_lambda_state(backend: LambdaBackend) -> dict[str, Any]:
    """The backend's ``__dict__`` with moto's function and layer storages, which hold weak references and lambdas,
    replaced by their contents (see :func:`restore_lambda_state`)."""
    state = dict(backend.__dict__)
    functions = state.pop("_lambdas")
    state["_saved_functions"] = functions._functions
    state["_saved_aliases"] = dict(functions._aliases)
    state["_saved_layers"] = state.pop("_layers")._layers
    return state


def restore_lambda_state(backend: LambdaBackend, state: dict[str, Any]) -> None:
    """Put a state :func:`picklable_lambda_state` made into ``backend``, its storages rebuilt."""
    state = dict(state)
    functions = state.pop("_saved_functions")
    aliases = state.pop("_saved_aliases")
    layers = state.pop("_saved_layers")
    backend.__dict__.update(state)
    backend._lambdas = LambdaStorage(region_name=backend.region_name, account_id=backend.account_id)
    backend._lambdas._functions = functions
    backend._lambdas._aliases.update(aliases)
    for group in functions.values():
        for fn in [group["latest"], *group["versions"]]:
            if fn is not None:
                backend._lambdas._arns[fn.function_arn] = fn
    backend._layers = LayerStorage()
    backend._layers._layers = layers


# ---------------------------------------------------------------------------------------------------------------
# Application Auto Scaling: the backend's targets and policies.


def autoscaling_backends_created() -> list[tuple[str, str, ApplicationAutoscalingBackend]]:
    """(account, region, backend) for every Application Auto Scaling backend instance created so far."""
    return list(applicationautoscaling_backends.iter_backends())


def scalable_targets(backend: ApplicationAutoscalingBackend) -> list[Any]:
    """Every registered scalable target (``service_namespace, resource_id, scalable_dimension, min_capacity,
    max_capacity``)."""
    return [target for by_resource in backend.targets.values() for target in by_resource.values()]


def scalable_target(backend: ApplicationAutoscalingBackend, resource_id: str, dimension: str) -> Any | None:
    return backend.targets.get(dimension, {}).get(resource_id)


def scalable_target_exists(backend: ApplicationAutoscalingBackend, resource_id: str, dimension: str) -> bool:
    return scalable_target(backend, resource_id, dimension) is not None


def scaling_policies(backend: ApplicationAutoscalingBackend) -> list[FakeApplicationAutoscalingPolicy]:
    return list(backend.policies.values())


def scaling_policy(backend: ApplicationAutoscalingBackend, namespace: str, resource_id: str, dimension: str,
                   policy_name: str) -> FakeApplicationAutoscalingPolicy | None:
    key = FakeApplicationAutoscalingPolicy.formulate_key(namespace, resource_id, dimension, policy_name)
    return backend.policies.get(key)


def forget_scaling_policy(backend: ApplicationAutoscalingBackend, policy: FakeApplicationAutoscalingPolicy) -> None:
    """Remove ``policy`` from the backend's records (its alarms are the caller's)."""
    for key, kept in list(backend.policies.items()):
        if kept is policy:
            del backend.policies[key]


# ---------------------------------------------------------------------------------------------------------------
# IAM and STS: the backends of one account (created on first use, as moto creates them for a request).


def iam_backend(account_id: str, partition: str = "aws") -> IAMBackend:
    return iam_backends[account_id][partition]


def sts_backend(account_id: str, partition: str = "aws") -> Any:
    return sts_backends[account_id][partition]


def iam_accounts() -> list[str]:
    """The accounts whose IAM backends exist so far."""
    return list(iam_backends.keys())


def sts_accounts() -> list[str]:
    """The accounts whose STS backends exist so far."""
    return list(sts_backends.keys())
