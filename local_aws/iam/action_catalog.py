"""Which IAM actions, on which resource ARNs and with which condition keys, an operation moto parsed asks for.

Actions and ARN formats come from parliament's IAM definition data (``parliament/iam_definition.json``); an
operation's parameters are the ones its botocore input shape declares (anything else a request carries is
ignored, so no extra parameter can pick the judged resource). Most operation names are action names; the few that
are not (Lambda's Invoke, every S3 operation) are in explicit tables here. An operation this catalog cannot map
raises :class:`UnmappedOperation`: callers deny it (fail closed).

Beyond the operation's own action, an operation may need more: ``iam:PassRole`` on a role it hands to a service
(with ``iam:PassedToService``), ``s3:GetObject`` on a copy source, one ``s3:DeleteObject`` per key deleted.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws.request_validation import service_model

PARTITION = "aws"

# IAM's action prefix where it differs from the botocore service name.
ACTION_PREFIX = {"sagemaker-runtime": "sagemaker"}

# Operations whose IAM action has another name.
ACTION_NAMES = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
    ("lambda", "GetLayerVersionByArn"): "GetLayerVersion",
    ("sagemaker-runtime", "InvokeEndpointWithResponseStream"): "InvokeEndpoint",
}

# Operations AWS answers for every caller without authorizing them.
UNAUTHORIZED_OPERATIONS = {("sts", "GetCallerIdentity")}

# Parameters holding a role the operation hands to a service: (service, operation) -> (paths, service principal).
PASSED_ROLES: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("sagemaker", "CreateTrainingJob"): (("RoleArn",), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateHyperParameterTuningJob"): (
        ("TrainingJobDefinition.RoleArn", "TrainingJobDefinitions[].RoleArn"), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateModel"): (("ExecutionRoleArn",), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateProcessingJob"): (("RoleArn",), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateNotebookInstance"): (("RoleArn",), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreatePipeline"): (("RoleArn",), "sagemaker.amazonaws.com"),
    ("sagemaker", "UpdatePipeline"): (("RoleArn",), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateCompilationJob"): (("RoleArn",), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateAutoMLJob"): (("RoleArn",), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateAutoMLJobV2"): (("RoleArn",), "sagemaker.amazonaws.com"),
    ("lambda", "CreateFunction"): (("Role",), "lambda.amazonaws.com"),
    ("lambda", "UpdateFunctionConfiguration"): (("Role",), "lambda.amazonaws.com"),
    ("application-autoscaling", "RegisterScalableTarget"): (("RoleARN",), "application-autoscaling.amazonaws.com"),
}

# IAM operations whose permissions boundary condition is the boundary they set (else the role's or user's own).
_BOUNDARY_PARAMETER = {"CreateRole": "PermissionsBoundary", "CreateUser": "PermissionsBoundary",
                       "PutRolePermissionsBoundary": "PermissionsBoundary",
                       "PutUserPermissionsBoundary": "PermissionsBoundary"}
_BOUNDARY_OPERATIONS = {"CreateRole", "CreateUser", "PutRolePermissionsBoundary", "PutUserPermissionsBoundary",
                        "DeleteRolePermissionsBoundary", "DeleteUserPermissionsBoundary", "PutRolePolicy",
                        "PutUserPolicy", "AttachRolePolicy", "AttachUserPolicy", "DeleteRolePolicy",
                        "DeleteUserPolicy", "DetachRolePolicy", "DetachUserPolicy"}


class UnmappedOperation(Exception):
    """An operation the catalog has no IAM action for; ``message`` says which."""

    def __init__(self, service: str, operation: str, reason: str = "") -> None:
        self.service, self.operation = service, operation
        self.message = (f"The {service} operation {operation} has no IAM authorization mapping in local_aws"
                        + (f" ({reason})" if reason else "") + "; it is denied to runtime-issued credentials.")
        super().__init__(self.message)


@dataclass(frozen=True)
class Authorization:
    """One action on one resource that the caller must be allowed, with the request's condition keys."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "operation"  # "operation", "PassRole", "copy source", "deleted key"


@dataclass(frozen=True)
class OperationCall:
    """An operation as moto parsed it: the service (botocore name), its name, parameters and where it acts.

    ``params`` are the operation's input members by botocore name. For S3, ``method``, ``query`` (names of the
    query parameters), ``bucket`` and ``key`` (as moto resolved them) and ``headers`` describe the request.
    """

    service: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account_id: str
    method: str = ""
    query: frozenset[str] = frozenset()
    bucket: str | None = None
    key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    caller_arn: str = ""  # the signer's ARN: IAM's self-service calls act on the calling user


@dataclass(frozen=True)
class _Privilege:
    name: str
    resource_types: tuple[tuple[str, bool], ...]  # (type, required)
    condition_keys: tuple[str, ...]
    dependent_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class _ServiceDefinition:
    prefix: str
    privileges: dict[str, _Privilege]  # lower-cased name -> privilege
    arns: dict[str, str]  # resource type -> ARN template


@functools.lru_cache(maxsize=None)
def _definitions() -> dict[str, _ServiceDefinition]:
    # Read without importing parliament (its import pulls in pkg_resources and its auditors).
    package = importlib.util.find_spec("parliament").submodule_search_locations[0]
    data = json.loads((Path(package) / "iam_definition.json").read_text())
    found: dict[str, _ServiceDefinition] = {}
    for service in data:
        privileges = {}
        for privilege in service["privileges"]:
            types = tuple((item["resource_type"].rstrip("*"), item["resource_type"].endswith("*"))
                          for item in privilege["resource_types"] if item["resource_type"])
            keys = tuple(key for item in privilege["resource_types"] for key in item["condition_keys"])
            dependent = tuple(action for item in privilege["resource_types"] for action in item["dependent_actions"])
            privileges[privilege["privilege"].lower()] = _Privilege(privilege["privilege"], types, keys, dependent)
        arns = {resource["resource"]: resource["arn"] for resource in service["resources"]}
        found[service["prefix"]] = _ServiceDefinition(service["prefix"], privileges, arns)
    return found


def action_for(service: str, operation: str) -> str:
    """``prefix:Action`` for an operation (UnmappedOperation if IAM has no such action)."""
    prefix = ACTION_PREFIX.get(service, service)
    definition = _definitions().get(prefix)
    name = ACTION_NAMES.get((service, operation), operation)
    if definition is None or name.lower() not in definition.privileges:
        raise UnmappedOperation(service, operation, f"no IAM action {prefix}:{name}")
    return f"{prefix}:{definition.privileges[name.lower()].name}"


def authorizations(call: OperationCall, lookup: "RecordLookup") -> list[Authorization]:
    """Everything ``call`` must be allowed, first its own action; [] when AWS authorizes nothing for it."""
    if (call.service, call.operation) in UNAUTHORIZED_OPERATIONS:
        return []
    if call.service == "s3":
        from local_aws.iam.s3_actions import s3_authorizations

        return s3_authorizations(call, lookup)
    action = action_for(call.service, call.operation)
    prefix, name = action.split(":")
    privilege = _definitions()[prefix].privileges[name.lower()]
    request_context = _request_tag_context(call.params)
    if call.service == "iam" and call.operation in _BOUNDARY_OPERATIONS:
        boundary = _permissions_boundary(call, lookup)
        if boundary:
            request_context["iam:PermissionsBoundary"] = boundary
    if call.service == "iam" and isinstance(call.params.get("PolicyArn"), str):
        request_context["iam:PolicyARN"] = call.params["PolicyArn"]
    found = []
    for resource in resources_for(prefix, privilege, call, lookup):
        context = dict(request_context)
        context.update({f"aws:ResourceTag/{k}": v for k, v in (lookup.resource_tags(resource) or {}).items()})
        found.append(Authorization(action, resource, context))
    found.extend(_tag_on_create(privilege, call, found, request_context))
    found.extend(_passed_roles(call))
    found.extend(_service_linked_role(call, lookup))
    return found


class RecordLookup:
    """What the catalog reads from the runtime's records (implemented over moto's backends by the caller)."""

    def role_path(self, account_id: str, role_name: str) -> str:
        return "/"

    def role_exists(self, account_id: str, role_name: str) -> bool:
        return False

    def permissions_boundary(self, account_id: str, kind: str, name: str) -> str | None:
        return None

    def resource_tags(self, arn: str) -> dict[str, str] | None:
        return None


def resources_for(prefix: str, privilege: _Privilege, call: OperationCall, lookup: RecordLookup) -> list[str]:
    """The ARNs the action is judged on: every required resource type the parameters name, else ``*``."""
    definition = _definitions()[prefix]
    required = [kind for kind, needed in privilege.resource_types if needed]
    optional = [kind for kind, needed in privilege.resource_types if not needed]
    filled = [arn for arn in (_fill(prefix, definition.arns.get(kind, ""), call, lookup) for kind in required) if arn]
    if filled:
        return list(dict.fromkeys(filled))
    if not required:
        for kind in optional:
            arn = _fill(prefix, definition.arns.get(kind, ""), call, lookup)
            if arn:
                return [arn]
    return ["*"]


_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")

# ARN variables filled from a parameter of another name (by service).
_VARIABLE_PARAMETERS = {
    "logs": {"LogGroupName": "logGroupName", "LogStreamName": "logStreamName"},
}


def _fill(prefix: str, template: str, call: OperationCall, lookup: RecordLookup) -> str | None:
    """The template with every variable filled from the call, or an ARN parameter matching it, else None."""
    if not template:
        return None
    params = call.params
    if prefix == "iam" and "policy/${" in template and isinstance(params.get("PolicyArn"), str):
        return params["PolicyArn"]
    if prefix == "lambda" and ":function:" in template:
        return _lambda_function_arn(template, call)
    if prefix == "iam" and template.endswith(":user/${UserNameWithPath}") and _acts_on_caller(call):
        return call.caller_arn
    values = {"Partition": PARTITION, "Region": call.region, "Account": call.account_id}
    aliases = _VARIABLE_PARAMETERS.get(prefix, {})
    for variable in _VARIABLE.findall(template):
        if variable in values:
            continue
        value = _parameter(params, aliases.get(variable, variable))
        if value is None and variable.endswith("NameWithPath"):
            kind = variable[: -len("NameWithPath")]
            name = _parameter(params, f"{kind}Name")
            if isinstance(name, str):
                path = lookup.role_path(call.account_id, name) if kind == "Role" else "/"
                value = f"{path.lstrip('/')}{name}"
        if not isinstance(value, str) or not value:
            return _matching_arn(template, params)
        values[variable] = value
    arn = _VARIABLE.sub(lambda match: values[match.group(1)], template)
    if prefix == "logs" and template.endswith("${LogGroupName}") and call.operation != "CreateLogGroup":
        arn += ":*"  # CloudWatch Logs judges log-group actions on the group's ARN with ":*"
    return arn


# IAM operations that act on the calling user: ChangePassword always, the others (those whose UserName is optional)
# when the request names no user. AWS judges them on the caller's user ARN.
_CALLER_USER_OPERATIONS = {"ChangePassword"}


def _acts_on_caller(call: OperationCall) -> bool:
    if ":user/" not in call.caller_arn or call.params.get("UserName") is not None:
        return False
    if call.operation in _CALLER_USER_OPERATIONS:
        return True
    model = service_model("iam")
    if call.operation not in model.operation_names:
        return False
    shape = model.operation_model(call.operation).input_shape
    return shape is not None and "UserName" in shape.members and "UserName" not in shape.required_members


def _parameter(params: Mapping[str, Any], name: str) -> Any:
    if name in params:
        return params[name]
    lowered = name.lower()
    for key, value in params.items():
        if key.lower() == lowered:
            return value
    return None


def _matching_arn(template: str, params: Mapping[str, Any]) -> str | None:
    """A parameter that is an ARN of the template's form (``ResourceArn`` of a tagging call, ...)."""
    pieces = _VARIABLE.split(template)  # literal, variable, literal, ...
    pattern = re.compile("^" + "".join(re.escape(piece) if i % 2 == 0 else ".+" for i, piece in enumerate(pieces)) + "$")
    for value in params.values():
        if isinstance(value, str) and value.startswith("arn:") and pattern.match(value):
            return value
    return None


def _lambda_function_arn(template: str, call: OperationCall) -> str | None:
    """Lambda's function resource: FunctionName may be a name, ``name:qualifier``, a partial or a full ARN.

    The alias and version templates (``function:${FunctionName}:${Alias}``) are filled only when the call names a
    qualifier: actions that take only those resource types (provisioned concurrency) are judged on the qualified
    ARN, as AWS does.
    """
    qualified_template = template.count("${") != 4
    name = _parameter(call.params, "FunctionName")
    if not isinstance(name, str) or not name:
        return None
    qualifier = _parameter(call.params, "Qualifier")
    if name.startswith("arn:"):
        arn = name
    else:
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:qualifier]
            arn = f"arn:{PARTITION}:lambda:{call.region}:{name}"
        else:
            arn = f"arn:{PARTITION}:lambda:{call.region}:{call.account_id}:function:{name}"
    if isinstance(qualifier, str) and qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    if qualified_template and arn.count(":") != 7:
        return None
    return arn


def _request_tag_context(params: Mapping[str, Any]) -> dict[str, Any]:
    tags = _parameter(params, "Tags")
    pairs: dict[str, str] = {}
    if isinstance(tags, Mapping):
        pairs = {str(k): str(v) for k, v in tags.items()}
    elif isinstance(tags, list):
        pairs = {str(t.get("Key")): str(t.get("Value", "")) for t in tags if isinstance(t, Mapping) and "Key" in t}
    if not pairs:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in pairs.items()}
    context["aws:TagKeys"] = sorted(pairs)
    return context


def _permissions_boundary(call: OperationCall, lookup: RecordLookup) -> str | None:
    parameter = _BOUNDARY_PARAMETER.get(call.operation)
    if parameter is not None and isinstance(call.params.get(parameter), str):
        return call.params[parameter]
    for kind in ("Role", "User"):
        name = call.params.get(f"{kind}Name")
        if isinstance(name, str):
            return lookup.permissions_boundary(call.account_id, kind.lower(), name)
    return None


def _tag_on_create(privilege: _Privilege, call: OperationCall, needed: list[Authorization],
                   request_context: dict[str, Any]) -> list[Authorization]:
    """A create call carrying ``Tags`` also needs the service's tagging action on the new resource (IAM's dependent
    action, e.g. ``sagemaker:AddTags`` for CreateTrainingJob), as AWS checks it; without tags it does not."""
    tagging = [action for action in privilege.dependent_actions if action.endswith((":AddTags", ":TagResource"))]
    if not tagging or not call.params.get("Tags") or not needed:
        return []
    return [Authorization(tagging[0], needed[0].resource, dict(request_context), kind="TagOnCreate")]


# Service-linked roles a service creates in the account on its first use, which needs iam:CreateServiceLinkedRole.
SERVICE_LINKED_ROLES = {
    ("application-autoscaling", "RegisterScalableTarget", "sagemaker"): (
        "sagemaker.application-autoscaling.amazonaws.com", "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"),
}


def service_linked_role(service: str, operation: str, namespace: Any) -> tuple[str, str] | None:
    """(AWS service name, role name) of the service-linked role the call creates when missing, or None."""
    return SERVICE_LINKED_ROLES.get((service, operation, namespace))


def _service_linked_role(call: OperationCall, lookup: RecordLookup) -> list[Authorization]:
    """Application Auto Scaling's first RegisterScalableTarget of a namespace creates its service-linked role, so
    the caller needs iam:CreateServiceLinkedRole then (and not once the role exists), unless it passes RoleARN."""
    linked = service_linked_role(call.service, call.operation, call.params.get("ServiceNamespace"))
    if linked is None or call.params.get("RoleARN") or lookup.role_exists(call.account_id, linked[1]):
        return []
    aws_service, role_name = linked
    arn = f"arn:{PARTITION}:iam::{call.account_id}:role/aws-service-role/{aws_service}/{role_name}"
    return [Authorization("iam:CreateServiceLinkedRole", arn, {"iam:AWSServiceName": aws_service},
                          kind="ServiceLinkedRole")]


def _passed_roles(call: OperationCall) -> list[Authorization]:
    spec = PASSED_ROLES.get((call.service, call.operation))
    if spec is None:
        return []
    paths, service_principal = spec
    roles = [role for path in paths for role in _values_at(call.params, path) if isinstance(role, str) and role]
    return [Authorization("iam:PassRole", role, {"iam:PassedToService": service_principal}, kind="PassRole")
            for role in dict.fromkeys(roles)]


def _values_at(data: Any, path: str) -> list[Any]:
    """Values at a dotted path; ``name[]`` walks every item of a list."""
    current = [data]
    for part in path.split("."):
        many = part.endswith("[]")
        name = part[:-2] if many else part
        following = []
        for item in current:
            value = item.get(name) if isinstance(item, Mapping) else None
            if many and isinstance(value, list):
                following.extend(value)
            elif value is not None and not many:
                following.append(value)
        current = following
    return current
