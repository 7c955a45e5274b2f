"""moto's Lambda backend, extended so that Invoke runs the handler and concurrency settings act.

``LocalLambdaBackend`` keeps moto's bookkeeping (functions, versions, aliases, tags) and adds: Invoke through the
``LambdaRuntime`` with the execution role's STS credentials, reserved concurrency enforced per account and region,
provisioned-concurrency configurations and GetAccountSettings.
"""

import contextlib
import functools
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from local_aws.awslambda.concurrency import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    MINIMUM_UNRESERVED_CONCURRENCY,
    ConcurrencyLimiter,
    Throttled,
)
from local_aws.awslambda.exceptions import (
    InvalidRequestContentException,
    ProvisionedConcurrencyConfigNotFoundException,
    RequestTooLargeException,
    TooManyRequestsException,
)
from local_aws.awslambda.package import check_deployment_package
from local_aws.awslambda.runtime import FunctionSpec, InvokeResult, LambdaRuntime, ProvisionedPool
from local_aws.iam.role_sessions import Credentials, assume_service_role
from local_aws.iam.service_access import LAMBDA_SERVICE, WRITE_LOGS, RoleSession, ServiceAccess
from local_aws.iam.trust_policy import LAMBDA, judge_for_principal, service_can_assume
from local_aws import moto_seam
from local_aws.moto_seam import ARN_PARTITION_REGEX, LambdaBackend, LambdaFunction
from local_aws.runtime import LocalRuntime, attached_runtime
from local_aws.moto_seam import LambdaInvalidParameterValue as InvalidParameterValueException

logger = logging.getLogger(__name__)

ASYNC_RETRY_SECONDS = 600.0
# Asynchronous invocation that returns an error: Lambda runs it again up to twice (MaximumRetryAttempts, default 2),
# one minute after the first attempt and two minutes after the second; an event older than MaximumEventAgeInSeconds
# (default six hours) is dropped.
ASYNC_ERROR_RETRY_DELAYS = (60.0, 120.0)
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 21600
MAX_SYNC_PAYLOAD_BYTES = 6291456
MAX_ASYNC_PAYLOAD_BYTES = 262144
_LOG_LOCK = threading.Lock()
# Set while an event source that invokes asynchronously (SNS, CloudWatch Logs subscriptions) hands moto's backend an
# event: its invocation is then an Event invocation, queued and retried as Lambda does.
_ASYNCHRONOUS_SOURCE = threading.local()


class LambdaRuntimeNotStarted(InvalidParameterValueException):
    """Invoke was called before the server attached a runtime."""

    def __init__(self) -> None:
        super().__init__("The local Lambda runtime is not running in this process.")


# Variables the Lambda runtime sets itself; CreateFunction and UpdateFunctionConfiguration refuse them.
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


def _refuse_reserved_variables(environment: Any) -> None:
    """Lambda's refusal of environment variables that would override what its runtime sets (the role's keys)."""
    variables = environment.get("Variables") if isinstance(environment, dict) else None
    reserved = sorted(name for name in (variables or {}) if name in RESERVED_VARIABLES)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. Reserved keys used "
            f"in this request: {', '.join(reserved)}")


LAMBDA_RUNTIME = "lambda"  # the name of Lambda's runtime among the live parts of ``LocalRuntime``


def running_lambda_runtime() -> LambdaRuntime | None:
    """The Lambda runtime registered with the runtime attached to this process, None when it is not running."""
    live = attached_runtime()
    runtime = live.component(LAMBDA_RUNTIME) if live is not None else None
    return runtime if isinstance(runtime, LambdaRuntime) else None


class LocalLambdaBackend(LambdaBackend):
    """LambdaBackend whose functions really run."""

    @property
    def runtime(self) -> LambdaRuntime | None:
        return running_lambda_runtime()

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.limiter = ConcurrencyLimiter(DEFAULT_ACCOUNT_CONCURRENCY)
        self.provisioned_requests: dict[tuple[str, str], int] = {}

    def __getstate__(self) -> dict[str, Any]:
        """moto's storages hold weak references and lambdas: save their contents, rebuild them on load."""
        state = moto_seam.picklable_lambda_state(self)
        del state["limiter"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        moto_seam.restore_lambda_state(self, state)
        self.limiter = ConcurrencyLimiter(DEFAULT_ACCOUNT_CONCURRENCY)

    # -- the execution role ---------------------------------------------------------------------------------------
    def create_function(self, spec: dict[str, Any]) -> LambdaFunction:
        """Refused, before anything is stored, as Lambda refuses it: a role it cannot assume, reserved environment
        variables, a deployment package that cannot be unpacked safely."""
        self._require_assumable(spec.get("Role"))
        _refuse_reserved_variables(spec.get("Environment"))
        check_deployment_package(spec.get("Code") or {}, self.account_id)
        return super().create_function(spec)

    def _require_assumable(self, role_arn: Any) -> None:
        """Lambda refuses a role it cannot assume: missing, or not trusting ``lambda.amazonaws.com``.

        A role ARN of another account or of the wrong form is left to moto, which answers as AWS does.
        """
        if not isinstance(role_arn, str) or f":iam::{self.account_id}:role/" not in role_arn:
            return
        if not service_can_assume(self.account_id, self.region_name, role_arn, LAMBDA):
            raise InvalidParameterValueException("The role defined for the function cannot be assumed by Lambda.")

    def create_event_source_mapping(self, spec: dict[str, Any]) -> Any:
        """Refused, as Lambda refuses it, when the function's execution role may not read the queue or stream."""
        source = spec.get("EventSourceArn")
        if isinstance(source, str) and spec.get("FunctionName"):
            fn = self.get_function(spec["FunctionName"])
            live = attached_runtime()
            access = live.service_access if live is not None and live.service_access is not None else ServiceAccess()
            denied = access.read_event_source(
                RoleSession(self.account_id, self.region_name, fn.role, fn.function_name), source)
            if denied is not None:
                raise InvalidParameterValueException(_event_source_refusal(source, denied.authorization.action))
        return super().create_event_source_mapping(spec)

    def publish_layer_version(self, spec: dict[str, Any]) -> Any:
        """Refused, as Lambda refuses it, when the layer's archive cannot be unzipped safely."""
        check_deployment_package(spec.get("Content") or {}, self.account_id)
        return super().publish_layer_version(spec)

    # -- event sources ------------------------------------------------------------------------------------------
    # moto builds each source's event and hands it to ``invoke`` (see moto_seam.route_function_invocations).
    # Stream and queue pollers (DynamoDB, Kinesis, SQS) invoke synchronously; SNS and CloudWatch Logs invoke
    # asynchronously, so their invocations are Event invocations.
    def send_sns_message(self, function_name: str, message: str, subject: str | None = None,
                         qualifier: str | None = None) -> None:
        """SNS invokes the function asynchronously, with the topic's real ARNs and message id, and only when the
        function's policy lets ``sns.amazonaws.com`` invoke it for that topic (else the delivery fails, as on
        AWS, and the publish still succeeds)."""
        delivery = moto_seam.sns_delivery()
        if delivery is None:
            with _asynchronous_source():
                super().send_sns_message(function_name, message, subject, qualifier)
            return
        if not service_may_invoke(delivery.endpoint, {SNS_PRINCIPAL}, delivery.topic_arn, self.account_id):
            logger.warning("SNS could not deliver message %s of %s to %s: the function's policy does not let %s "
                           "invoke it (AddPermission)", delivery.message_id, delivery.topic_arn, delivery.endpoint,
                           SNS_PRINCIPAL)
            return
        with _asynchronous_source():
            self.invoke(delivery.endpoint, None, json.dumps(_sns_event(delivery, message, subject)), {}, {})

    def send_log_event(self, function_arn: str, filter_name: str, log_group_name: str, log_stream_name: str,
                       log_events: Any) -> None:
        """Only the events the subscription filter's pattern matches are delivered, and none when none match
        (moto hands every event of the batch over)."""
        pattern = moto_seam.subscription_filter_pattern(self.account_id, self.region_name, log_group_name,
                                                        filter_name)
        if pattern:
            log_events = [event for event in log_events if moto_seam.log_message_matches(pattern, event["message"])]
        if not log_events:
            return
        with _asynchronous_source():
            super().send_log_event(function_arn, filter_name, log_group_name, log_stream_name, log_events)

    # -- invoke -------------------------------------------------------------------------------------------------
    def invoke(self, function_name: str, qualifier: str | None, body: Any, headers: Any,
               response_headers: Any) -> bytes:
        """moto's own callers (event sources): run the function (queue it, for an asynchronous source) and return
        its payload, setting ``x-amz-function-error`` in ``response_headers`` when it failed."""
        payload = body.encode() if isinstance(body, str) else (body or b"")
        invocation_type = "Event" if getattr(_ASYNCHRONOUS_SOURCE, "active", False) else "RequestResponse"
        try:
            result = self.invoke_function(function_name, qualifier, payload, invocation_type)
        except Exception as error:  # throttled, deleted, no runtime: the source's own request must not fail
            logger.warning("Event source invocation of %s failed: %s", function_name, error)
            response_headers["x-amz-function-error"] = "Unhandled"
            return b""
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["x-amz-log-result"] = result.log_tail
        return result.payload

    def invoke_function(self, function_name: str, qualifier: str | None, payload: bytes, invocation_type: str,
                        client_context: str | None = None) -> InvokeResult | None:
        """Invoke as the Invoke API does; None for a DryRun. An Event invocation is queued and answered at once: its
        result has the request id the run will log and an empty payload."""
        fn = self.get_function(function_name, qualifier)
        label = self._qualifier_label(function_name, qualifier)
        fn = self._route_alias(fn, label)
        _validate_payload(payload, invocation_type)
        if invocation_type == "DryRun":
            return None
        runtime = self._require_runtime()
        spec = self._spec(fn)
        invoked_arn = fn.function_arn.split(":function:")[0] + f":function:{fn.function_name}"
        if label != "$LATEST" or qualifier:
            invoked_arn += f":{label}"
        reserved = self._reserved(fn.function_name)
        slot_key = fn.function_name
        if invocation_type == "Event":
            request_id = str(uuid.uuid4())
            threading.Thread(target=self._invoke_event,
                             args=(runtime, spec, payload, label, invoked_arn, slot_key, request_id),
                             name=f"lambda-event-{fn.function_name}", daemon=True).start()
            return InvokeResult(request_id, b"", None, "", spec.version)
        try:
            self.limiter.acquire(slot_key, reserved, self._total_reserved())
        except Throttled as exc:
            raise TooManyRequestsException(exc.reason) from None
        try:
            return runtime.invoke(spec, payload, label, invoked_arn, client_context)
        finally:
            self.limiter.release(slot_key, reserved)

    def _invoke_event(self, runtime: LambdaRuntime, spec: FunctionSpec, payload: bytes, label: str,
                      invoked_arn: str, slot_key: str, request_id: str) -> None:
        """Run an accepted Event invocation; one that returns an error is run again, as Lambda retries it (same
        request id), until its retry attempts or its maximum age are used up, or the function is gone."""
        accepted = time.monotonic()
        retries, maximum_age = self._async_limits(spec.function_name)
        for attempt in range(retries + 1):
            if attempt:
                delay = ASYNC_ERROR_RETRY_DELAYS[min(attempt, len(ASYNC_ERROR_RETRY_DELAYS)) - 1]
                if time.monotonic() - accepted + delay > maximum_age or runtime.closed.wait(delay):
                    return
                if not self._still_exists(spec.function_name):
                    return
            if self._run_event_once(runtime, spec, payload, label, invoked_arn, slot_key, request_id):
                return
        logger.warning("Asynchronous invocation %s of %s failed after %s attempt(s)", request_id, spec.function_name,
                       retries + 1)

    def _async_limits(self, function_name: str) -> tuple[int, float]:
        """(MaximumRetryAttempts, MaximumEventAgeInSeconds) of the function's event invoke config, else AWS's."""
        try:
            config = self.get_function_event_invoke_config(function_name)
        except Exception:  # no config: AWS's defaults
            config = {}
        return (int(config.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)),
                float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS)))

    def _still_exists(self, function_name: str) -> bool:
        try:
            self.get_function(function_name)
        except Exception:  # deleted, or forgotten by a reset
            return False
        return True

    def _run_event_once(self, runtime: LambdaRuntime, spec: FunctionSpec, payload: bytes, label: str,
                        invoked_arn: str, slot_key: str, request_id: str) -> bool:
        """One attempt, once a concurrency slot is free: True when it is done with (ran without error, or dropped)."""
        deadline = time.monotonic() + ASYNC_RETRY_SECONDS
        while True:
            reserved = self._reserved(spec.function_name)
            try:
                self.limiter.acquire(slot_key, reserved, self._total_reserved())
                break
            except Throttled:
                if time.monotonic() > deadline:
                    logger.warning("Dropped an asynchronous invocation of %s: throttled for %.0f s",
                                   spec.function_name, ASYNC_RETRY_SECONDS)
                    return True
                time.sleep(0.2)
        try:
            return runtime.invoke(spec, payload, label, invoked_arn, request_id=request_id).function_error is None
        except Exception:
            logger.exception("Asynchronous invocation of %s failed", spec.function_name)
            return True
        finally:
            self.limiter.release(slot_key, reserved)

    def _route_alias(self, fn: LambdaFunction, label: str) -> LambdaFunction:
        """The version an alias with a routing configuration sends this invocation to (by its weights)."""
        if label == "$LATEST" or label.isdigit():
            return fn
        try:
            alias = self.get_alias(label, fn.function_name)
        except Exception:
            return fn
        weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        draw = random.random()
        for version, weight in weights.items():
            if draw < float(weight):
                return self.get_function(fn.function_name, str(version))
            draw -= float(weight)
        return fn

    def _qualifier_label(self, name_or_arn: str, qualifier: str | None) -> str:
        if re.match(ARN_PARTITION_REGEX, name_or_arn):
            _, in_name = moto_seam.function_name_in_arn(self, name_or_arn)
        elif ":" in name_or_arn:
            in_name = name_or_arn.split(":", 1)[1]
        else:
            in_name = None
        return in_name or qualifier or "$LATEST"

    def _spec(self, fn: LambdaFunction) -> FunctionSpec:
        return FunctionSpec(
            account_id=self.account_id, region=self.region_name, function_name=fn.function_name,
            version=str(fn.version), function_arn=fn.function_arn, handler=fn.handler or "",
            runtime=fn.run_time or "python3.11", role_arn=fn.role, code=fn.code_bytes or b"",
            environment=dict(fn.environment_vars or {}), memory_size=int(fn.memory_size),
            timeout=int(fn.timeout), layers=self._layer_code(fn),
        )

    def _layer_code(self, fn: LambdaFunction) -> tuple[bytes, ...]:
        """The code of the function's layer versions in its order. moto forgets a deleted layer version, so a
        function naming one is refused here; AWS keeps the code for the functions that still use it."""
        codes = []
        for arn in moto_seam.function_layer_arns(fn):
            code = moto_seam.layer_version_code(self, arn)
            if code is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            codes.append(code)
        return tuple(codes)

    def _require_runtime(self) -> LambdaRuntime:
        if self.runtime is None:
            raise LambdaRuntimeNotStarted()
        return self.runtime

    # -- reserved concurrency and account settings ------------------------------------------------------------
    def _reserved(self, function_name: str) -> int | None:
        value = self.get_function(function_name).reserved_concurrency
        return None if value is None else int(value)

    def _total_reserved(self, excluding: str | None = None) -> int:
        return sum(int(fn.reserved_concurrency) for fn in moto_seam.latest_functions(self)
                   if fn.reserved_concurrency is not None and fn.function_name != excluding)

    def put_function_concurrency(self, function_name: str, reserved_concurrency: str) -> str:
        fn = self.get_function(function_name)
        unreserved = self.limiter.account_limit - self._total_reserved(excluding=fn.function_name) - int(reserved_concurrency)
        if unreserved < MINIMUM_UNRESERVED_CONCURRENCY:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MINIMUM_UNRESERVED_CONCURRENCY}].")
        fn.reserved_concurrency = int(reserved_concurrency)
        return fn.reserved_concurrency

    def get_account_settings(self) -> dict[str, Any]:
        functions = moto_seam.latest_functions(self)
        return {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": self.limiter.account_limit,
                "UnreservedConcurrentExecutions": self.limiter.account_limit - self._total_reserved(),
            },
            "AccountUsage": {
                "TotalCodeSize": sum(int(fn.code_size or 0) for fn in moto_seam.function_versions(self)),
                "FunctionCount": len(functions),
            },
        }

    # -- provisioned concurrency --------------------------------------------------------------------------------
    def put_provisioned_concurrency_config(self, function_name: str, qualifier: str | None,
                                           count: int) -> dict[str, Any]:
        if not qualifier or qualifier == "$LATEST":
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        fn = self.get_function(function_name, qualifier)
        if str(fn.version) == "$LATEST":
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        reserved = self._reserved(fn.function_name)
        others = sum(pool.requested for pool in self._require_runtime().list_provisioned(self._scope, fn.function_name)
                     if pool.qualifier != qualifier)
        if reserved is not None and count + others > reserved:
            raise InvalidParameterValueException(
                "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                "for function")
        pool = self._require_runtime().put_provisioned(self._spec(fn), qualifier, count)
        self.provisioned_requests[(fn.function_name, qualifier)] = count
        return _provisioned_config(pool)

    def get_provisioned_concurrency_config(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        fn = self.get_function(self._base_name(function_name))
        pool = self._require_runtime().get_provisioned(self._scope, fn.function_name, qualifier or "")
        if pool is None:
            raise ProvisionedConcurrencyConfigNotFoundException()
        return _provisioned_config(pool)

    def delete_provisioned_concurrency_config(self, function_name: str, qualifier: str | None) -> None:
        fn = self.get_function(self._base_name(function_name))
        if not self._require_runtime().delete_provisioned(self._scope, fn.function_name, qualifier or ""):
            raise ProvisionedConcurrencyConfigNotFoundException()
        self.provisioned_requests.pop((fn.function_name, qualifier or ""), None)

    def list_provisioned_concurrency_configs(self, function_name: str) -> list[dict[str, Any]]:
        fn = self.get_function(self._base_name(function_name))
        configs = []
        for pool in self._require_runtime().list_provisioned(self._scope, fn.function_name):
            config = _provisioned_config(pool)
            config["FunctionArn"] = f"{fn.function_arn}:{pool.qualifier}"
            configs.append(config)
        return configs

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        fn = self.get_function(function_name, qualifier)
        super().delete_function(function_name, qualifier)
        if self.runtime is not None and qualifier is None and ":" not in function_name.split(":function:")[-1]:
            for pool in self.runtime.list_provisioned(self._scope, fn.function_name):
                self.runtime.delete_provisioned(self._scope, fn.function_name, pool.qualifier)
                self.provisioned_requests.pop((fn.function_name, pool.qualifier), None)
            self.runtime.retire(self.account_id, self.region_name, fn.function_name)

    def update_function_code(self, function_name: str, qualifier: str, body: dict[str, Any]) -> dict[str, Any] | None:
        check_deployment_package(body, self.account_id)
        result = super().update_function_code(function_name, qualifier, body)
        self._retire_latest(function_name)
        return result

    def update_function_configuration(self, function_name: str, qualifier: str,
                                      body: dict[str, Any]) -> dict[str, Any] | None:
        if "Role" in body:
            self._require_assumable(body["Role"])
        _refuse_reserved_variables(body.get("Environment"))
        result = super().update_function_configuration(function_name, qualifier, body)
        self._retire_latest(function_name)
        return result

    def _retire_latest(self, function_name: str) -> None:
        if self.runtime is not None:
            self.runtime.retire(self.account_id, self.region_name, self._base_name(function_name), "$LATEST")

    def restore_provisioned_concurrency(self) -> None:
        """Start the provisioned environments of configurations saved before a restart."""
        for (function_name, qualifier), count in list(self.provisioned_requests.items()):
            try:
                self.put_provisioned_concurrency_config(function_name, qualifier, count)
            except Exception:
                logger.exception("Could not restore provisioned concurrency of %s:%s", function_name, qualifier)
                self.provisioned_requests.pop((function_name, qualifier), None)

    @property
    def _scope(self) -> str:
        return f"{self.account_id}:{self.region_name}"

    def _base_name(self, name_or_arn: str) -> str:
        if re.match(ARN_PARTITION_REGEX, name_or_arn):
            return moto_seam.function_name_in_arn(self, name_or_arn)[0]
        return name_or_arn.split(":", 1)[0]


SNS_PRINCIPAL = "sns.amazonaws.com"


def _sns_event(delivery: moto_seam.SnsDelivery, message: str, subject: str | None) -> dict[str, Any]:
    """The event SNS hands a subscribed function (signature fields are placeholders: nothing here signs)."""
    timestamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": delivery.subscription_arn,
        "Sns": {
            "Type": "Notification", "MessageId": delivery.message_id, "TopicArn": delivery.topic_arn,
            "Subject": subject, "Message": message, "Timestamp": timestamp, "SignatureVersion": "1",
            "Signature": "EXAMPLE", "SigningCertUrl": "EXAMPLE", "UnsubscribeUrl": "EXAMPLE",
            "MessageAttributes": delivery.message_attributes,
        },
    }]}


# The service principals a function's policy names to let CloudWatch Logs deliver to it.
LOGS_PRINCIPALS = ("logs.amazonaws.com",)
LOGS_CANNOT_INVOKE = ("Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to "
                      "execute your function.")


def service_may_invoke(function_arn: str, services: set[str], source_arn: str, account_id: str) -> bool:
    """Whether the function's policy (AddPermission's statements) lets one of ``services`` invoke it for
    ``source_arn`` (conditions on ``aws:SourceArn`` and ``aws:SourceAccount`` evaluated)."""
    policy = moto_seam.function_policy(function_arn)
    if policy is None:
        return False
    context = {"aws:SourceArn": source_arn, "aws:SourceAccount": account_id,
               "aws:PrincipalServiceName": sorted(services)[0]}
    result = judge_for_principal(policy, "lambda:InvokeFunction", function_arn, {"Service": services}, context,
                                 "function policy")
    return result is not None and result.allowed


def check_log_subscription(account_id: str, region: str, log_group_name: str, destination_arn: str) -> None:
    """CloudWatch Logs refuses a subscription filter to a function whose policy does not let it invoke the function
    for that log group (a missing function is left to moto, which answers the same)."""
    if destination_arn.split(":")[2:3] != ["lambda"] or moto_seam.lambda_function(destination_arn) is None:
        return
    group_arn = f"arn:{moto_seam.get_partition(region)}:logs:{region}:{account_id}:log-group:{log_group_name}:*"
    principals = set(LOGS_PRINCIPALS) | {f"logs.{region}.amazonaws.com"}
    if not service_may_invoke(destination_arn, principals, group_arn, account_id):
        raise moto_seam.logs_invalid_parameter(LOGS_CANNOT_INVOKE)


def _event_source_refusal(source_arn: str, action: str) -> str:
    """Lambda's message when the execution role may not read an event source (``action`` is the first missing)."""
    service = source_arn.split(":")[2]
    if service == "sqs":
        return f"The provided execution role does not have permissions to call {action.split(':')[1]} on SQS"
    if service == "kinesis":
        actions = "GetRecords, GetShardIterator, DescribeStream, ListShards, and ListStreams"
    else:
        actions = "GetRecords, GetShardIterator, DescribeStream, and ListStreams"
    return (f"Cannot access stream {source_arn}. Please ensure the role can perform the {actions} Actions on your "
            "stream in IAM.")


@contextlib.contextmanager
def _asynchronous_source() -> Iterator[None]:
    _ASYNCHRONOUS_SOURCE.active = True
    try:
        yield
    finally:
        _ASYNCHRONOUS_SOURCE.active = False


def _validate_payload(payload: bytes, invocation_type: str) -> None:
    limit = MAX_ASYNC_PAYLOAD_BYTES if invocation_type == "Event" else MAX_SYNC_PAYLOAD_BYTES
    if len(payload) > limit:
        raise RequestTooLargeException(limit)
    if payload:
        try:
            json.loads(payload)
        except ValueError as exc:
            raise InvalidRequestContentException(str(exc)) from None


def _provisioned_config(pool: ProvisionedPool) -> dict[str, Any]:
    config = {
        "RequestedProvisionedConcurrentExecutions": pool.requested,
        "AvailableProvisionedConcurrentExecutions": pool.allocated,
        "AllocatedProvisionedConcurrentExecutions": pool.allocated,
        "Status": pool.status,
        "LastModified": pool.last_modified,
    }
    if pool.status_reason:
        config["StatusReason"] = pool.status_reason
    return config


def issue_role_credentials(spec: FunctionSpec) -> Credentials:
    """The function's execution role assumed through the runtime's STS, with the function name as session name."""
    return assume_service_role(spec.account_id, spec.region, spec.role_arn, spec.function_name)


def write_function_logs(spec: FunctionSpec, stream_name: str, lines: list[tuple[int, str]],
                        service_access: ServiceAccess | None = None) -> None:
    """Put log events into ``/aws/lambda/<name>`` in moto's CloudWatch Logs backend, as the execution role.

    As in AWS, the events are dropped when the role may not create the log group (if missing) and stream and put
    events in it: a function without logging rights runs but leaves no logs. The judgement is the role's session
    (named after the function), recorded as ``lambda-service:WriteLogs`` when ``service_access`` records.
    """
    group_name = f"/aws/lambda/{spec.function_name}"
    role = RoleSession(spec.account_id, spec.region, spec.role_arn, spec.function_name)
    with _LOG_LOCK:
        denied = (service_access or ServiceAccess()).write_logs(role, f"{LAMBDA_SERVICE}:{WRITE_LOGS}", group_name,
                                                                stream_name)
        if denied is not None:
            logger.info("Dropped %s log events of %s: %s", len(lines), spec.function_name, denied.message)
            return
        moto_seam.put_log_events(spec.region, group_name, stream_name,
                                 [{"timestamp": ts, "message": text} for ts, text in lines], spec.account_id)


def start_lambda_runtime(live: LocalRuntime, endpoint_url: str, pass_env: tuple[str, ...] = (),
                         idle_seconds: float = 600.0) -> LambdaRuntime:
    """Start Lambda's runtime as a live part of ``live`` (call once at server start, with ``live`` attached).

    The runtime's supervisor starts the execution environments; its ``service_access`` judges and records the
    log writes as each function's role. Provisioned concurrency saved before a restart starts again.
    """
    runtime = LambdaRuntime(Path(live.config.state_dir), endpoint_url, issue_role_credentials,
                            functools.partial(write_function_logs, service_access=live.service_access),
                            live.supervisor, idle_seconds=idle_seconds, pass_env=pass_env)
    live.register(LAMBDA_RUNTIME, runtime)
    for backend in moto_seam.lambda_backends_created():
        if isinstance(backend, LocalLambdaBackend):
            backend.restore_provisioned_concurrency()
    return runtime
