"""How Application Auto Scaling plugs into the server: its backend and responses, and the target-tracking loop."""

from __future__ import annotations

from local_aws import moto_seam
from local_aws.applicationautoscaling.controller import TargetTrackingController
from local_aws.applicationautoscaling.models import LocalApplicationAutoscalingBackend
from local_aws.applicationautoscaling.responses import LocalApplicationAutoScalingResponse
from local_aws.extension import ServerContext

TARGET_TRACKING = "autoscaling"  # the name of the target-tracking loop among the live parts of ``LocalRuntime``


class AutoScalingExtension:
    """Target-tracking policies that scale SageMaker variants, every ``--metric-period-seconds``."""

    def install(self, server: ServerContext) -> None:
        moto_seam.install_backend("applicationautoscaling", LocalApplicationAutoscalingBackend,
                                  LocalApplicationAutoScalingResponse)

    def resume(self, server: ServerContext) -> None:
        controller = TargetTrackingController(server.config.metric_period_seconds)
        server.runtime.register(TARGET_TRACKING, controller)
        controller.restore_after_restart()
        controller.start()

    def uninstall(self, server: ServerContext) -> None:
        """Nothing to stop: the target-tracking loop is shut down with the server's runtime."""
