"""The action catalog: every operation the runtime serves maps to an IAM action, resource ARN and condition keys."""

from __future__ import annotations

import botocore.session
import pytest
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.utils import camelcase_to_underscores, method_names_from_class
from moto.iam.responses import IamResponse
from moto.logs.responses import LogsResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.sts.responses import TokenResponse

from local_aws.awslambda.responses import LocalLambdaResponse
from local_aws.iam.action_catalog import (
    UNAUTHORIZED_OPERATIONS,
    OperationCall,
    RecordLookup,
    UnmappedOperation,
    action_for,
    authorizations,
)
from local_aws.iam.s3_actions import BUCKET, OBJECT, s3_action
from local_aws.sagemaker.responses import LocalSageMakerResponse

REGION, ACCOUNT = "eu-west-1", "111122223333"
SERVED = {
    "iam": IamResponse, "sts": TokenResponse, "lambda": LocalLambdaResponse, "sagemaker": LocalSageMakerResponse,
    "sagemaker-runtime": SageMakerRuntimeResponse, "application-autoscaling": ApplicationAutoScalingResponse,
    "cloudwatch": CloudWatchResponse, "logs": LogsResponse,
}
# Operations the runtime executes that IAM's definition data (parliament) has no action for: denied to
# runtime-issued credentials until mapped. Empty today; botocore operations moto does not implement (e.g.
# sagemaker DeleteTrainingJob, lambda PutResourcePolicy) are unmapped too but never executed.
KNOWN_UNMAPPED: set[tuple[str, str]] = set()


def served_unmapped() -> set[tuple[str, str]]:
    session = botocore.session.get_session()
    unmapped = set()
    for service, response_class in SERVED.items():
        implemented = set(method_names_from_class(response_class))
        for operation in session.get_service_model(service).operation_names:
            if camelcase_to_underscores(operation) not in implemented or (service, operation) in UNAUTHORIZED_OPERATIONS:
                continue
            try:
                action_for(service, operation)
            except UnmappedOperation:
                unmapped.add((service, operation))
    return unmapped


def test_the_operations_served_without_an_iam_action_are_listed():
    assert served_unmapped() == KNOWN_UNMAPPED


def test_an_unmapped_operation_is_refused_with_a_clear_message():
    with pytest.raises(UnmappedOperation) as error:
        authorizations(OperationCall("sagemaker", "DeleteTrainingJob", {}, REGION, ACCOUNT), RecordLookup())

    assert error.value.message == ("The sagemaker operation DeleteTrainingJob has no IAM authorization mapping in "
                                   "local_aws (no IAM action sagemaker:DeleteTrainingJob); it is denied to "
                                   "runtime-issued credentials.")


def judged(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    call = OperationCall(service, operation, params, REGION, ACCOUNT)
    return [(a.action, a.resource) for a in authorizations(call, RecordLookup())]


@pytest.mark.parametrize("service, operation, params, expected", [
    ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "j"},
     [("sagemaker:DescribeTrainingJob", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/j")]),
    ("sagemaker", "ListEndpoints", {}, [("sagemaker:ListEndpoints", "*")]),
    ("sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "e"},
     [("sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/e")]),
    ("lambda", "Invoke", {"FunctionName": "f", "Qualifier": "live"},
     [("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f:live")]),
    ("iam", "AttachRolePolicy", {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
     [("iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/r")]),
    ("logs", "PutLogEvents", {"logGroupName": "/g", "logStreamName": "s"},
     [("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/g:log-stream:s")]),
    ("lambda", "PutProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "live"},
     [("lambda:PutProvisionedConcurrencyConfig", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f:live")]),
    ("lambda", "GetProvisionedConcurrencyConfig", {"FunctionName": "f:7"},
     [("lambda:GetProvisionedConcurrencyConfig", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f:7")]),
    ("sts", "GetCallerIdentity", {}, []),
])
def test_operations_map_to_their_action_and_resource(service, operation, params, expected):
    assert judged(service, operation, params) == expected


@pytest.mark.parametrize("service, operation, params, role, principal", [
    ("sagemaker", "CreateTrainingJob", {"TrainingJobName": "j", "RoleArn": "arn:aws:iam::1:role/a"},
     "arn:aws:iam::1:role/a", "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateHyperParameterTuningJob",
     {"HyperParameterTuningJobName": "h", "TrainingJobDefinition": {"RoleArn": "arn:aws:iam::1:role/b"}},
     "arn:aws:iam::1:role/b", "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateModel", {"ModelName": "m", "ExecutionRoleArn": "arn:aws:iam::1:role/c"},
     "arn:aws:iam::1:role/c", "sagemaker.amazonaws.com"),
    ("lambda", "CreateFunction", {"FunctionName": "f", "Role": "arn:aws:iam::1:role/d"},
     "arn:aws:iam::1:role/d", "lambda.amazonaws.com"),
    ("application-autoscaling", "RegisterScalableTarget", {"RoleARN": "arn:aws:iam::1:role/e"},
     "arn:aws:iam::1:role/e", "application-autoscaling.amazonaws.com"),
])
def test_handing_a_role_to_a_service_needs_pass_role(service, operation, params, role, principal):
    found = authorizations(OperationCall(service, operation, params, REGION, ACCOUNT), RecordLookup())

    assert [(a.action, a.resource, dict(a.context)) for a in found if a.kind == "PassRole"] == [
        ("iam:PassRole", role, {"iam:PassedToService": principal})]


def test_request_tags_become_request_tag_and_tag_keys_conditions():
    call = OperationCall("sagemaker", "CreateModel", {"ModelName": "m", "Tags": [{"Key": "team", "Value": "dogs"}]},
                         REGION, ACCOUNT)

    context = authorizations(call, RecordLookup())[0].context

    assert context == {"aws:RequestTag/team": "dogs", "aws:TagKeys": ["team"]}


@pytest.mark.parametrize("method, level, query, action", [
    ("GET", BUCKET, {"list-type", "prefix"}, "s3:ListBucket"),
    ("HEAD", BUCKET, set(), "s3:ListBucket"),
    ("GET", BUCKET, {"versions"}, "s3:ListBucketVersions"),
    ("DELETE", BUCKET, {"tagging"}, "s3:PutBucketTagging"),
    ("PUT", BUCKET, set(), "s3:CreateBucket"),
    ("GET", OBJECT, set(), "s3:GetObject"),
    ("GET", OBJECT, {"versionId"}, "s3:GetObjectVersion"),
    ("PUT", OBJECT, {"partNumber", "uploadId"}, "s3:PutObject"),
    ("DELETE", OBJECT, {"uploadId"}, "s3:AbortMultipartUpload"),
    ("POST", OBJECT, {"uploads"}, "s3:PutObject"),
])
def test_s3_requests_map_to_their_iam_action(method, level, query, action):
    assert s3_action(method, level, frozenset(query)) == action


def test_an_s3_request_naming_two_sub_resources_is_unmapped():
    with pytest.raises(UnmappedOperation) as error:
        s3_action("GET", BUCKET, frozenset({"tagging", "acl"}))

    assert "names more than one sub-resource" in error.value.message


def test_a_create_call_with_tags_also_needs_the_tagging_action_on_the_new_resource():
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/j"
    tagged = judged("sagemaker", "CreateTrainingJob", {"TrainingJobName": "j", "Tags": [{"Key": "k", "Value": "v"}]})
    untagged = judged("sagemaker", "CreateTrainingJob", {"TrainingJobName": "j"})

    assert ("sagemaker:AddTags", job) in tagged
    assert ("sagemaker:AddTags", job) not in untagged


class _ExistingRoles(RecordLookup):
    def role_exists(self, account_id: str, role_name: str) -> bool:
        return True


def test_the_first_sagemaker_scalable_target_needs_to_create_the_service_linked_role():
    params = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/e/variant/v",
              "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    call = OperationCall("application-autoscaling", "RegisterScalableTarget", params, REGION, ACCOUNT)
    first = authorizations(call, RecordLookup())
    later = authorizations(call, _ExistingRoles())

    linked = [a for a in first if a.action == "iam:CreateServiceLinkedRole"]
    assert [(a.resource, a.context) for a in linked] == [(
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"})]
    assert not [a for a in later if a.action == "iam:CreateServiceLinkedRole"]


@pytest.mark.parametrize("operation, params, expected", [
    ("ListAccessKeys", {}, f"arn:aws:iam::{ACCOUNT}:user/team/analyst"),
    ("CreateAccessKey", {}, f"arn:aws:iam::{ACCOUNT}:user/team/analyst"),
    ("ChangePassword", {"OldPassword": "a", "NewPassword": "b"}, f"arn:aws:iam::{ACCOUNT}:user/team/analyst"),
    ("ListAccessKeys", {"UserName": "other"}, f"arn:aws:iam::{ACCOUNT}:user/other"),
])
def test_self_service_iam_calls_are_judged_on_the_calling_user(operation, params, expected):
    caller = f"arn:aws:iam::{ACCOUNT}:user/team/analyst"
    call = OperationCall("iam", operation, params, REGION, ACCOUNT, caller_arn=caller)
    assert [(a.action, a.resource) for a in authorizations(call, RecordLookup())] == [(f"iam:{operation}", expected)]


def test_a_role_session_calling_a_self_service_operation_is_judged_on_every_user():
    caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/session"
    call = OperationCall("iam", "ListAccessKeys", {}, REGION, ACCOUNT, caller_arn=caller)
    assert [a.resource for a in authorizations(call, RecordLookup())] == ["*"]
