"""The operations half of the runtime attached to a server: Lambda that runs, IAM that is enforced, autoscaling that acts.

``Operations.install()`` swaps in the Lambda and Application Auto Scaling backends and loads AWS managed policies
(before any state is restored or request served); ``start()`` adds IAM enforcement to the gateway and starts the
Lambda runtime and the target-tracking controller; ``stop()`` ends every Lambda worker and the controller.
"""

from __future__ import annotations

from pathlib import Path

from local_aws import moto_seam
from local_aws.applicationautoscaling.controller import TargetTrackingController
from local_aws.applicationautoscaling.models import LocalApplicationAutoscalingBackend
from local_aws.awslambda.models import LocalLambdaBackend, start_lambda_runtime, stop_lambda_runtime
from local_aws.awslambda.runtime import LambdaRuntime
from local_aws.gateway import Gateway
from local_aws.iam.enforcement import IAMEnforcement


class Operations:
    """Lambda, IAM enforcement and Application Auto Scaling for one server."""

    def __init__(self, metric_period_seconds: float) -> None:
        self.metric_period_seconds = metric_period_seconds
        self.lambda_runtime: LambdaRuntime | None = None
        self.autoscaling: TargetTrackingController | None = None

    @staticmethod
    def install() -> None:
        moto_seam.load_aws_managed_policies()
        moto_seam.install_backend("lambda", LocalLambdaBackend)
        moto_seam.install_backend("applicationautoscaling", LocalApplicationAutoscalingBackend)

    def start(self, gateway: Gateway, endpoint_url: str, state_dir: Path) -> None:
        gateway.add_filter(IAMEnforcement())
        self.lambda_runtime = start_lambda_runtime(state_dir, endpoint_url)
        self.autoscaling = TargetTrackingController(self.metric_period_seconds)
        self.autoscaling.start()

    def stop(self) -> None:
        if self.autoscaling is not None:
            self.autoscaling.stop()
        stop_lambda_runtime()
        self.lambda_runtime = None
