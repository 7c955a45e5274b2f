"""The runtime's live parts: configuration, child processes and the schedulers doing real work."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from local_aws.processes import ProcessSupervisor
from local_aws.sagemaker.endpoints import EndpointManager
from local_aws.sagemaker.training import TrainingScheduler
from local_aws.sagemaker.tuning import Tuner


def default_max_concurrent_jobs() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass
class RuntimeConfig:
    state_dir: Path
    max_concurrent_jobs: int
    metric_period_seconds: float = 60.0
    stop_grace_seconds: float = 10.0
    endpoint_url: str = ""


class LocalRuntime:
    """Everything that outlives a request: training and tuning schedulers, endpoint workers, children."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.supervisor = ProcessSupervisor()
        self.training = TrainingScheduler(
            config.state_dir, self.supervisor, config.max_concurrent_jobs,
            endpoint_url=config.endpoint_url, stop_grace_seconds=config.stop_grace_seconds,
        )
        self.tuning = Tuner(self.training)
        self.endpoints = EndpointManager(config.state_dir, self.supervisor)

    def set_endpoint_url(self, url: str) -> None:
        self.config.endpoint_url = url
        self.training.endpoint_url = url

    def shutdown(self) -> None:
        self.tuning.shutdown()
        self.training.shutdown()
        self.endpoints.shutdown()
        self.supervisor.stop_all()
