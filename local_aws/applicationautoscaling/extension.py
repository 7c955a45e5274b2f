"""How Application Auto Scaling plugs into the server: its backend and responses, and the target-tracking loop."""

from __future__ import annotations

from local_aws import moto_seam
from local_aws.extension import ServerContext
from local_aws.applicationautoscaling.controller import TargetTrackingController
from local_aws.applicationautoscaling.models import LocalApplicationAutoscalingBackend
from local_aws.applicationautoscaling.responses import LocalApplicationAutoScalingResponse


class AutoScalingExtension:
    """Target-tracking policies that scale SageMaker variants, every ``--metric-period-seconds``."""

    def __init__(self) -> None:
        self.controller: TargetTrackingController | None = None

    def install(self, server: ServerContext) -> None:
        moto_seam.install_backend("applicationautoscaling", LocalApplicationAutoscalingBackend,
                                  LocalApplicationAutoScalingResponse)

    def resume(self, server: ServerContext) -> None:
        self.controller = TargetTrackingController(server.config.metric_period_seconds)
        self.controller.start()

    def uninstall(self, server: ServerContext) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
