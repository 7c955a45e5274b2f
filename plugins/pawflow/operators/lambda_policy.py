"""Least-privilege permission for a Lambda function to invoke one SageMaker endpoint, and nothing broader."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from pawflow.hooks.iam import IamHook
from pawflow.links import IamRoleLink

if TYPE_CHECKING:
    from airflow.sdk import Context

INVOKE_ACTION = "sagemaker:InvokeEndpoint"
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def invoke_policy_document(endpoint_arn: str, function_name: str) -> dict[str, Any]:
    """
    Return the policy: ``sagemaker:InvokeEndpoint`` on one endpoint, logs on the function's own log group.

    :param endpoint_arn: ``arn:<partition>:sagemaker:<region>:<account>:endpoint/<name>``.
    :param function_name: The Lambda function whose ``/aws/lambda/<name>`` log group it may write.
    """
    partition, _, region, account = endpoint_arn.split(":")[1:5]
    log_group = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{function_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "InvokeOneEndpoint", "Effect": "Allow", "Action": INVOKE_ACTION, "Resource": endpoint_arn},
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": list(LOG_ACTIONS),
                "Resource": [log_group, f"{log_group}:*"],
            },
        ],
    }


def grants_sagemaker_beyond(document: dict[str, Any], endpoint_arn: str) -> bool:
    """
    Return True when a policy document allows any SageMaker action other than invoking ``endpoint_arn``.

    ``Action: "*"``, ``sagemaker:*``, any other ``sagemaker:`` action, ``InvokeEndpoint`` on other resources,
    and ``Allow`` with ``NotAction`` that does not exclude SageMaker all count as broader.
    """
    for statement in _as_list(document.get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            excluded = {action.lower() for action in _as_list(statement["NotAction"])}
            if not excluded & {"*", "sagemaker:*"}:
                return True
            continue
        resources = _as_list(statement.get("Resource"))
        for action in (action.lower() for action in _as_list(statement.get("Action"))):
            if action == "*" or (action.startswith("sagemaker:") and action != INVOKE_ACTION.lower()):
                return True
            if action == INVOKE_ACTION.lower() and (not resources or any(r != endpoint_arn for r in resources)):
                return True
    return False


class LambdaEndpointInvokePolicyOperator(AwsBaseOperator[IamHook]):
    """
    Give a Lambda function's role exactly ``sagemaker:InvokeEndpoint`` on one endpoint, and take broader grants away.

    Looks up the endpoint ARN with ``DescribeEndpoint`` and the role from the function's configuration, writes
    an inline policy allowing ``sagemaker:InvokeEndpoint`` on that ARN plus logs on the function's own log
    group, then detaches ``AmazonSageMakerFullAccess`` and any other managed policy, and deletes any other
    inline policy, that allows more SageMaker than that (the course project's fix for ``AccessDeniedException``
    was to attach ``AmazonSageMakerFullAccess``). Policies without SageMaker grants stay. Writing an inline
    policy replaces it, so a re-run converges.

    :param function_name: The Lambda function whose execution role is changed. (templated)
    :param endpoint_name: The SageMaker endpoint the function may invoke. (templated)
    :param policy_name: Name of the inline policy written to the role. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``{"RoleName", "PolicyName", "PolicyDocument", "DetachedPolicyArns", "DeletedInlinePolicies"}``.
    """

    aws_hook_class = IamHook
    template_fields: Sequence[str] = aws_template_fields("function_name", "endpoint_name", "policy_name")
    operator_extra_links = (IamRoleLink(),)
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        function_name: str,
        endpoint_name: str,
        policy_name: str = "pawflow-invoke-endpoint",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.function_name = function_name
        self.endpoint_name = endpoint_name
        self.policy_name = policy_name

    def _endpoint_arn(self) -> str:
        try:
            return SageMakerHook(**self._hook_parameters).conn.describe_endpoint(EndpointName=self.endpoint_name)[
                "EndpointArn"
            ]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException":
                raise ValueError(
                    f"SageMaker endpoint {self.endpoint_name!r} does not exist: {error.response['Error']['Message']}"
                ) from error
            raise

    def _role_name(self) -> str:
        try:
            configuration = LambdaHook(**self._hook_parameters).conn.get_function_configuration(
                FunctionName=self.function_name
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                raise ValueError(f"Lambda function {self.function_name!r} does not exist") from error
            raise
        role_name = self.hook.role_name_from_arn(configuration["Role"])
        try:
            self.hook.conn.get_role(RoleName=role_name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchEntity":
                raise ValueError(
                    f"IAM role {role_name!r} of Lambda function {self.function_name!r} does not exist"
                ) from error
            raise
        return role_name

    def _managed_document(self, policy_arn: str) -> dict[str, Any]:
        iam = self.hook.conn
        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
        return json.loads(document) if isinstance(document, str) else document

    def _detach_broad_managed(self, role_name: str, endpoint_arn: str) -> list[str]:
        detached = []
        paginator = self.hook.conn.get_paginator("list_attached_role_policies")
        attached = [p for page in paginator.paginate(RoleName=role_name) for p in page["AttachedPolicies"]]
        for policy in attached:
            if policy["PolicyName"] == "AmazonSageMakerFullAccess" or grants_sagemaker_beyond(
                self._managed_document(policy["PolicyArn"]), endpoint_arn
            ):
                self.log.info("Detaching %s from role %s: it grants more SageMaker than one endpoint.",
                              policy["PolicyArn"], role_name)
                self.hook.conn.detach_role_policy(RoleName=role_name, PolicyArn=policy["PolicyArn"])
                detached.append(policy["PolicyArn"])
        return detached

    def _delete_broad_inline(self, role_name: str, endpoint_arn: str) -> list[str]:
        deleted = []
        paginator = self.hook.conn.get_paginator("list_role_policies")
        names = [name for page in paginator.paginate(RoleName=role_name) for name in page["PolicyNames"]]
        for name in names:
            if name == self.policy_name:
                continue
            document = self.hook.conn.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            document = json.loads(document) if isinstance(document, str) else document
            if grants_sagemaker_beyond(document, endpoint_arn):
                self.log.info("Deleting inline policy %s of role %s: it grants more SageMaker than one endpoint.",
                              name, role_name)
                self.hook.conn.delete_role_policy(RoleName=role_name, PolicyName=name)
                deleted.append(name)
        return deleted

    def execute(self, context: Context) -> dict[str, Any]:
        endpoint_arn = self._endpoint_arn()
        role_name = self._role_name()
        IamRoleLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            role_name=role_name,
        )
        document = invoke_policy_document(endpoint_arn, self.function_name)
        self.log.info("Writing inline policy %s to role %s: %s on %s.", self.policy_name, role_name,
                      INVOKE_ACTION, endpoint_arn)
        self.hook.conn.put_role_policy(
            RoleName=role_name, PolicyName=self.policy_name, PolicyDocument=json.dumps(document)
        )
        detached = self._detach_broad_managed(role_name, endpoint_arn)
        deleted = self._delete_broad_inline(role_name, endpoint_arn)
        if not detached and not deleted:
            self.log.info("Role %s carried no broader SageMaker grant.", role_name)
        return {
            "RoleName": role_name,
            "PolicyName": self.policy_name,
            "PolicyDocument": document,
            "DetachedPolicyArns": detached,
            "DeletedInlinePolicies": deleted,
        }
