"""Delete what a deployed endpoint costs money for: scaling, provisioned concurrency, endpoint, config, models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
from botocore.exceptions import ClientError

from pawflow.hooks.application_autoscaling import ApplicationAutoScalingHook
from pawflow.operators.autoscaling import SCALABLE_DIMENSION, variant_resource_id

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Error codes that mean "already gone" for the calls made here.
GONE = frozenset({"ValidationException", "ObjectNotFoundException", "ResourceNotFoundException",
                  "ProvisionedConcurrencyConfigNotFoundException"})


class EndpointTeardownOperator(AwsBaseOperator[SageMakerHook]):
    """
    Tear down a deployed endpoint and what bills with it, tolerating whatever is already gone.

    In order: the variants' target-tracking policies and scalable targets, the Lambda alias's provisioned
    concurrency (when ``function_name`` is given), the endpoint (waiting until it is deleted), its endpoint
    config and the models that config served. Each "not found" is logged and counted as already gone, so
    the task succeeds on a half-deleted or never-deployed stack and on a re-run. Training artifacts in S3
    and the Lambda function itself cost nothing idle and stay.

    :param endpoint_name: The endpoint to delete. (templated)
    :param function_name: Lambda function whose provisioned concurrency is removed, or None. (templated)
    :param alias_name: The alias carrying provisioned concurrency. (templated)
    :param wait_for_completion: Wait until the endpoint is deleted before deleting its config and models.
    :param waiter_delay: Seconds between checks whether the endpoint is gone.
    :param waiter_max_attempts: Checks before giving up.
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``{"Deleted": [...], "AlreadyGone": [...]}``, each entry ``"<kind>/<name>"``.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("endpoint_name", "function_name", "alias_name")
    ui_color = "#bbbbbb"

    def __init__(
        self,
        *,
        endpoint_name: str,
        function_name: str | None = None,
        alias_name: str = "live",
        wait_for_completion: bool = True,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 60,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.function_name = function_name
        self.alias_name = alias_name
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def _delete(self, what: str, call: Callable[[], Any], report: dict[str, list[str]]) -> None:
        try:
            call()
        except ClientError as error:
            if error.response["Error"]["Code"] not in GONE:
                raise
            self.log.info("%s is already gone.", what)
            report["AlreadyGone"].append(what)
            return
        self.log.info("Deleted %s.", what)
        report["Deleted"].append(what)

    def _describe_endpoint(self) -> dict[str, Any] | None:
        try:
            return self.hook.conn.describe_endpoint(EndpointName=self.endpoint_name)
        except ClientError as error:
            if error.response["Error"]["Code"] in GONE:
                return None
            raise

    def _teardown_scaling(self, variants: list[str], report: dict[str, list[str]]) -> None:
        scaling = ApplicationAutoScalingHook(**self._hook_parameters).conn
        for variant in variants:
            resource_id = variant_resource_id(self.endpoint_name, variant)
            policies = scaling.describe_scaling_policies(
                ServiceNamespace="sagemaker", ResourceId=resource_id, ScalableDimension=SCALABLE_DIMENSION
            )["ScalingPolicies"]
            for policy in policies:
                self._delete(f"scaling-policy/{policy['PolicyName']}", lambda p=policy: scaling.delete_scaling_policy(
                    PolicyName=p["PolicyName"], ServiceNamespace="sagemaker", ResourceId=resource_id,
                    ScalableDimension=SCALABLE_DIMENSION), report)
            self._delete(f"scalable-target/{resource_id}", lambda r=resource_id: scaling.deregister_scalable_target(
                ServiceNamespace="sagemaker", ResourceId=r, ScalableDimension=SCALABLE_DIMENSION), report)

    def _wait_deleted(self) -> None:
        wait(
            waiter=self.hook.get_waiter("endpoint_deleted"),
            waiter_delay=self.waiter_delay,
            waiter_max_attempts=self.waiter_max_attempts,
            args={"EndpointName": self.endpoint_name},
            failure_message=f"Endpoint {self.endpoint_name} failed to delete",
            status_message=f"Endpoint {self.endpoint_name} is being deleted",
            status_args=["EndpointStatus"],
        )

    def execute(self, context: Context) -> dict[str, list[str]]:
        report: dict[str, list[str]] = {"Deleted": [], "AlreadyGone": []}
        sagemaker = self.hook.conn
        endpoint = self._describe_endpoint()
        config_name = endpoint["EndpointConfigName"] if endpoint else None
        variants = [v["VariantName"] for v in (endpoint or {}).get("ProductionVariants", [])] or ["AllTraffic"]
        self._teardown_scaling(variants, report)
        if self.function_name:
            lam = LambdaHook(**self._hook_parameters).conn
            self._delete(f"provisioned-concurrency/{self.function_name}:{self.alias_name}",
                         lambda: lam.delete_provisioned_concurrency_config(
                             FunctionName=self.function_name, Qualifier=self.alias_name), report)
        models: list[str] = []
        if config_name:
            try:
                config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
                models = [v["ModelName"] for v in config["ProductionVariants"]]
            except ClientError as error:
                if error.response["Error"]["Code"] not in GONE:
                    raise
        self._delete(f"endpoint/{self.endpoint_name}",
                     lambda: sagemaker.delete_endpoint(EndpointName=self.endpoint_name), report)
        if self.wait_for_completion:
            self._wait_deleted()
        if config_name:
            self._delete(f"endpoint-config/{config_name}",
                         lambda: sagemaker.delete_endpoint_config(EndpointConfigName=config_name), report)
        for model in models:
            self._delete(f"model/{model}", lambda m=model: sagemaker.delete_model(ModelName=m), report)
        return report
