"""Reserved and provisioned concurrency for a Lambda function behind a published version and an alias."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
from botocore.exceptions import ClientError

from pawflow.hooks.lambda_function import LambdaWaitersHook
from pawflow.links import LambdaFunctionLink
from pawflow.serialization import json_safe

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Lambda keeps at least this much of the account's concurrency unreserved.
MINIMUM_UNRESERVED = 100
#: Configuration that makes a published version differ from another with the same code.
VERSIONED_FIELDS = ("CodeSha256", "Handler", "Runtime", "MemorySize", "Timeout", "Role", "Environment", "Layers")


def validate_concurrency(reserved: Any, provisioned: Any) -> tuple[int, int]:
    """Return both as ints, or raise ValueError naming the allowed range of the first bad one."""
    numbers = []
    for name, value in (("reserved_concurrency", reserved), ("provisioned_concurrency", provisioned)):
        if isinstance(value, bool):
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}") from None
        if number < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {number}")
        numbers.append(number)
    reserved_number, provisioned_number = numbers
    if provisioned_number > reserved_number:
        raise ValueError(
            f"provisioned_concurrency must be between 0 and reserved_concurrency ({reserved_number}), "
            f"got {provisioned_number}: provisioned environments count against the reservation"
        )
    return reserved_number, provisioned_number


def _versioned(configuration: dict[str, Any]) -> dict[str, Any]:
    return {field: configuration.get(field) for field in VERSIONED_FIELDS}


class LambdaConcurrencyOperator(AwsBaseOperator[LambdaWaitersHook]):
    """
    Publish a Lambda version, point an alias at it, reserve concurrency and provision it on the alias.

    The course project published a version, reserved 5 concurrent executions for the function and kept 2 of
    them provisioned (pre-initialised) so the first requests do not wait for a cold start. This operator does
    the same and waits until the provisioned concurrency is ``READY``. Before reserving it reads the account's
    concurrency: Lambda keeps 100 executions unreserved, and a new account may have a limit of only 10, in
    which case no reservation can be granted; the operator then fails saying so instead of failing on
    Lambda's generic error. A version is published only when the code or configuration changed since the
    newest version; the alias, the reservation and the provisioned configuration are put in place whether
    they exist or not, so a re-run converges.

    :param function_name: The Lambda function. (templated)
    :param alias_name: The alias that points at the published version and carries provisioned concurrency.
        (templated)
    :param reserved_concurrency: Concurrent executions reserved for the function, >= 0. (templated)
    :param provisioned_concurrency: Pre-initialised environments on the alias, 0..reserved_concurrency;
        0 removes the provisioned configuration. (templated)
    :param wait_for_completion: Wait until the provisioned concurrency is ``READY`` (the
        ``ProvisionedConcurrencyReady`` waiter of :class:`~pawflow.hooks.lambda_function.LambdaWaitersHook`).
    :param waiter_delay: Seconds between status checks.
    :param waiter_max_attempts: Status checks before giving up.
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``{"FunctionName", "Version", "Alias", "ReservedConcurrentExecutions", "ProvisionedConcurrency"}``.
    """

    aws_hook_class = LambdaWaitersHook
    template_fields: Sequence[str] = aws_template_fields(
        "function_name", "alias_name", "reserved_concurrency", "provisioned_concurrency"
    )
    operator_extra_links = (LambdaFunctionLink(),)
    ui_color = "#ff7300"

    def __init__(
        self,
        *,
        function_name: str,
        alias_name: str = "live",
        reserved_concurrency: int | str = 5,
        provisioned_concurrency: int | str = 2,
        wait_for_completion: bool = True,
        waiter_delay: int = 5,
        waiter_max_attempts: int = 120,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.function_name = function_name
        self.alias_name = alias_name
        self.reserved_concurrency = reserved_concurrency
        self.provisioned_concurrency = provisioned_concurrency
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def _latest(self) -> dict[str, Any]:
        try:
            return self.hook.conn.get_function_configuration(FunctionName=self.function_name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                raise ValueError(f"Lambda function {self.function_name!r} does not exist") from error
            raise

    def _check_account_allows(self, reserved: int) -> None:
        settings = self.hook.conn.get_account_settings()["AccountLimit"]
        current = self.hook.conn.get_function_concurrency(FunctionName=self.function_name).get(
            "ReservedConcurrentExecutions", 0
        )
        grantable = settings["UnreservedConcurrentExecutions"] + current - MINIMUM_UNRESERVED
        if reserved > grantable:
            raise ValueError(
                f"cannot reserve {reserved} concurrent executions for {self.function_name!r}: the account's "
                f"concurrency limit is {settings['ConcurrentExecutions']}, "
                f"{settings['UnreservedConcurrentExecutions']} unreserved, and Lambda keeps "
                f"{MINIMUM_UNRESERVED} unreserved, so at most {max(grantable, 0)} can be reserved here; "
                "request a higher 'Concurrent executions' quota in Service Quotas or lower reserved_concurrency"
            )

    def _published_version(self, latest: dict[str, Any]) -> str:
        paginator = self.hook.conn.get_paginator("list_versions_by_function")
        versions = [
            v for page in paginator.paginate(FunctionName=self.function_name)
            for v in page["Versions"] if v["Version"] != "$LATEST"
        ]
        wanted = _versioned(latest)
        for version in sorted(versions, key=lambda v: int(v["Version"]), reverse=True):
            if _versioned(version) == wanted:
                self.log.info("Version %s already holds this code and configuration; not publishing.",
                              version["Version"])
                return version["Version"]
        published = self.hook.conn.publish_version(FunctionName=self.function_name, CodeSha256=latest["CodeSha256"])
        self.log.info("Published version %s (CodeSha256 %s).", published["Version"], published["CodeSha256"])
        return published["Version"]

    def _point_alias(self, version: str) -> dict[str, Any]:
        try:
            alias = self.hook.conn.get_alias(FunctionName=self.function_name, Name=self.alias_name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            self.log.info("Creating alias %s -> version %s.", self.alias_name, version)
            return self.hook.conn.create_alias(
                FunctionName=self.function_name, Name=self.alias_name, FunctionVersion=version
            )
        if alias["FunctionVersion"] == version:
            self.log.info("Alias %s already points at version %s.", self.alias_name, version)
            return alias
        self.log.info("Moving alias %s from version %s to %s.", self.alias_name, alias["FunctionVersion"], version)
        return self.hook.conn.update_alias(FunctionName=self.function_name, Name=self.alias_name, FunctionVersion=version)

    def _provision(self, provisioned: int) -> dict[str, Any]:
        conn = self.hook.conn
        if provisioned == 0:
            try:
                conn.delete_provisioned_concurrency_config(FunctionName=self.function_name, Qualifier=self.alias_name)
                self.log.info("Removed provisioned concurrency from alias %s.", self.alias_name)
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("ResourceNotFoundException", "ProvisionedConcurrencyConfigNotFoundException"):
                    raise
            return {}
        conn.put_provisioned_concurrency_config(
            FunctionName=self.function_name, Qualifier=self.alias_name, ProvisionedConcurrentExecutions=provisioned
        )
        if self.wait_for_completion:
            config = self._wait_ready()
        else:
            config = conn.get_provisioned_concurrency_config(FunctionName=self.function_name, Qualifier=self.alias_name)
        if config["Status"] == "FAILED":
            raise RuntimeError(
                f"provisioned concurrency on {self.function_name}:{self.alias_name} failed: "
                f"{config.get('StatusReason', '(no reason given)')}"
            )
        return config

    def _wait_ready(self) -> dict[str, Any]:
        """Wait for ``READY``; return the provisioned configuration as it ended (``READY`` or ``FAILED``)."""
        target = {"FunctionName": self.function_name, "Qualifier": self.alias_name}
        try:
            wait(
                waiter=self.hook.get_waiter("ProvisionedConcurrencyReady"),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                args=target,
                failure_message=f"Provisioned concurrency on {self.function_name}:{self.alias_name} failed",
                status_message=f"Provisioned concurrency on {self.function_name}:{self.alias_name} is",
                status_args=["Status", "AllocatedProvisionedConcurrentExecutions"],
            )
        except WaiterTerminalFailure as failure:
            return failure.last_response
        return self.hook.conn.get_provisioned_concurrency_config(**target)

    def execute(self, context: Context) -> dict[str, Any]:
        reserved, provisioned = validate_concurrency(self.reserved_concurrency, self.provisioned_concurrency)
        latest = self._latest()
        LambdaFunctionLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            function_name=self.function_name,
        )
        self._check_account_allows(reserved)
        version = self._published_version(latest)
        alias = self._point_alias(version)
        self.log.info("Reserving %s concurrent executions for %s.", reserved, self.function_name)
        self.hook.conn.put_function_concurrency(FunctionName=self.function_name, ReservedConcurrentExecutions=reserved)
        config = self._provision(provisioned)
        return {
            "FunctionName": self.function_name,
            "Version": version,
            "Alias": json_safe(alias),
            "ReservedConcurrentExecutions": reserved,
            "ProvisionedConcurrency": json_safe(config),
        }
