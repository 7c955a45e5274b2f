"""Create or update the Lambda function that fronts the endpoint, from ``lambda/``, with a basic-execution role."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import tenacity
from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from pawflow.hooks.iam import IamHook
from pawflow.lambda_package import build_lambda_package
from pawflow.links import LambdaFunctionLink

if TYPE_CHECKING:
    from airflow.sdk import Context

LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
BASIC_EXECUTION_POLICY = "service-role/AWSLambdaBasicExecutionRole"
#: A role IAM just created is not assumable by Lambda for some seconds; create_function is retried meanwhile.
ROLE_PROPAGATION_SECONDS = 60
#: Seconds between those retries.
ROLE_PROPAGATION_RETRY_SECONDS = 5


def role_not_assumable_yet(error: BaseException) -> bool:
    """Whether CreateFunction failed only because Lambda cannot assume the execution role (yet)."""
    return (
        isinstance(error, ClientError)
        and error.response["Error"]["Code"] == "InvalidParameterValueException"
        and "cannot be assumed" in error.response["Error"].get("Message", "")
    )


class LambdaDeployFunctionOperator(AwsBaseOperator[LambdaHook]):
    """
    Create the Lambda function from a source folder, or update its code and configuration when they changed.

    The provider's ``LambdaCreateFunctionOperator`` only creates. This operator packs the folder
    reproducibly (see :mod:`pawflow.lambda_package`) and compares the package's ``CodeSha256`` with the
    deployed one: unchanged code is not uploaded again, so no needless version is published later.
    The execution role is created when missing, trusted by Lambda, with only
    ``AWSLambdaBasicExecutionRole`` attached; the right to invoke the endpoint is granted separately and
    narrowly (see ``LambdaEndpointInvokePolicyOperator``). With ``permissions_boundary`` the role is created
    under that boundary (and an existing role gets it): whoever may write the role's inline policies, as
    Airflow must, can then never give the function more than the boundary allows.

    :param function_name: The Lambda function. (templated)
    :param source_dir: Folder whose files become the zip's top level; ``None`` packs the repository's
        ``lambda/``. (templated)
    :param role_name: Execution role, created when missing; defaults to ``<function_name>-role``. (templated)
    :param permissions_boundary: Name or ARN of a managed policy to set as the role's permissions boundary,
        or None. (templated)
    :param environment: Environment variables, e.g. ``{"ENDPOINT_NAME": ...}``. (templated)
    :param runtime: Lambda runtime identifier.
    :param handler: ``module.function`` Lambda calls.
    :param timeout: Seconds a call may run.
    :param memory_size: MB of memory.
    :param description: Function description. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``{"FunctionName", "FunctionArn", "RoleArn", "CodeSha256", "Created", "CodeUpdated",
        "ConfigurationUpdated"}``.
    """

    aws_hook_class = LambdaHook
    template_fields: Sequence[str] = aws_template_fields(
        "function_name", "source_dir", "role_name", "permissions_boundary", "environment", "description"
    )
    template_fields_renderers = {"environment": "json"}
    operator_extra_links = (LambdaFunctionLink(),)
    ui_color = "#ff7300"

    def __init__(
        self,
        *,
        function_name: str,
        source_dir: str | None = None,
        role_name: str | None = None,
        permissions_boundary: str | None = None,
        environment: dict[str, str] | None = None,
        runtime: str = "python3.12",
        handler: str = "lambda_function.lambda_handler",
        timeout: int = 30,
        memory_size: int = 256,
        description: str = "pawflow: dog breed classifier endpoint front",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.function_name = function_name
        self.source_dir = source_dir
        self.role_name = role_name
        self.permissions_boundary = permissions_boundary
        self.environment = environment
        self.runtime = runtime
        self.handler = handler
        self.timeout = timeout
        self.memory_size = memory_size
        self.description = description
        if not 1 <= timeout <= 900:
            raise ValueError(f"timeout must be between 1 and 900 seconds, got {timeout}")
        if not 128 <= memory_size <= 10240:
            raise ValueError(f"memory_size must be between 128 and 10240 MB, got {memory_size}")

    def _iam(self) -> IamHook:
        return IamHook(**self._hook_parameters)

    def _boundary_arn(self, iam: IamHook) -> str | None:
        boundary = self.permissions_boundary or None
        if boundary is None or boundary.startswith("arn:"):
            return boundary
        return f"arn:{iam.conn_partition}:iam::{iam.account_id}:policy/{boundary}"

    def _ensure_role(self) -> str:
        iam = self._iam()
        name = self.role_name or f"{self.function_name}-role"
        policy_arn = f"arn:{iam.conn_partition}:iam::aws:policy/{BASIC_EXECUTION_POLICY}"
        boundary = self._boundary_arn(iam)
        try:
            role = iam.conn.get_role(RoleName=name)["Role"]
            self.log.info("Execution role %s exists.", name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchEntity":
                raise
            self.log.info("Creating execution role %s with basic execution rights only (boundary %s).",
                          name, boundary)
            extra = {"PermissionsBoundary": boundary} if boundary else {}
            role = iam.conn.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
                Description=f"Execution role of the {self.function_name} Lambda function (pawflow)",
                **extra,
            )["Role"]
        current = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary and current != boundary:
            self.log.info("Setting permissions boundary %s on role %s (was %s).", boundary, name, current)
            iam.conn.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
        iam.conn.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return role["Arn"]

    def _configuration(self, role_arn: str) -> dict[str, Any]:
        return {
            "Role": role_arn,
            "Handler": self.handler,
            "Runtime": self.runtime,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "Description": self.description,
            "Environment": {"Variables": dict(self.environment or {})},
        }

    def _create(self, role_arn: str, zip_bytes: bytes) -> dict[str, Any]:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(role_not_assumable_yet),
            wait=tenacity.wait_fixed(ROLE_PROPAGATION_RETRY_SECONDS),
            stop=tenacity.stop_after_delay(ROLE_PROPAGATION_SECONDS),
            before_sleep=lambda _: self.log.info("Role %s not assumable by Lambda yet; retrying in %s s.", role_arn,
                                                 ROLE_PROPAGATION_RETRY_SECONDS),
            reraise=True,
        )
        return retrying(
            self.hook.conn.create_function,
            FunctionName=self.function_name, Code={"ZipFile": zip_bytes}, Publish=False,
            **self._configuration(role_arn),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        package = build_lambda_package(self.source_dir) if self.source_dir else build_lambda_package()
        role_arn = self._ensure_role()
        LambdaFunctionLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            function_name=self.function_name,
        )
        conn = self.hook.conn
        created = code_updated = configuration_updated = False
        try:
            current = conn.get_function_configuration(FunctionName=self.function_name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            current = None
        if current is None:
            self.log.info("Creating function %s (CodeSha256 %s).", self.function_name, package.code_sha256)
            self._create(role_arn, package.zip_bytes)
            conn.get_waiter("function_active_v2").wait(FunctionName=self.function_name)
            created = True
        else:
            if package.needs_update(current["CodeSha256"]):
                self.log.info("Updating code of %s: CodeSha256 %s -> %s.", self.function_name,
                              current["CodeSha256"], package.code_sha256)
                conn.update_function_code(FunctionName=self.function_name, ZipFile=package.zip_bytes)
                conn.get_waiter("function_updated_v2").wait(FunctionName=self.function_name)
                code_updated = True
            else:
                self.log.info("Code of %s is unchanged (CodeSha256 %s).", self.function_name, package.code_sha256)
            wanted = self._configuration(role_arn)
            deployed = {key: current.get(key) for key in wanted}
            deployed["Environment"] = {"Variables": (current.get("Environment") or {}).get("Variables", {})}
            if deployed != wanted:
                changed = sorted(key for key in wanted if deployed[key] != wanted[key])
                self.log.info("Updating configuration of %s: %s changed.", self.function_name, ", ".join(changed))
                conn.update_function_configuration(FunctionName=self.function_name, **wanted)
                conn.get_waiter("function_updated_v2").wait(FunctionName=self.function_name)
                configuration_updated = True
        final = conn.get_function_configuration(FunctionName=self.function_name)
        return {
            "FunctionName": self.function_name,
            "FunctionArn": final["FunctionArn"],
            "RoleArn": role_arn,
            "CodeSha256": final["CodeSha256"],
            "Created": created,
            "CodeUpdated": code_updated,
            "ConfigurationUpdated": configuration_updated,
        }
