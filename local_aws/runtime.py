"""The runtime's live parts: configuration, child processes and the schedulers doing real work.

``LocalRuntime`` is the one registry of everything that outlives a request: its own training and tuning
schedulers, endpoint manager and process supervisor, and the parts services start on top (``register``: Lambda's
execution environments, the autoscaling loop). moto's backends are process-wide, so the server attaches its
runtime to the process (``LocalRuntime.attach``) and backends reach it with ``attached_runtime()``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from local_aws.iam.service_access import ServiceAccess
from local_aws.processes import ProcessSupervisor
from local_aws.sagemaker.endpoints import EndpointManager
from local_aws.sagemaker.training import TrainingScheduler
from local_aws.sagemaker.tuning import Tuner


# The runtime this process's moto backends use (set by ``LocalRuntime.attach``).
# Runtimes attached in this process, the newest last. A server started inside another (a test's own server
# beside its folder's) is attached on top; when it stops, the one below it is attached again.
_attached: list[LocalRuntime] = []


def attached_runtime() -> LocalRuntime | None:
    """The runtime attached to this process (the newest of those running), None when no server runs in it."""
    return _attached[-1] if _attached else None


def default_max_concurrent_jobs() -> int:
    return max(1, os.cpu_count() or 1)


class Component(Protocol):
    """A live part a service starts on top of the runtime; ended with it, emptied by a reset."""

    def shutdown(self) -> None: ...

    def reset(self) -> None: ...


DEFAULT_ACCESS_KEY_ID = "testing"
DEFAULT_SECRET_ACCESS_KEY = "testing"
# The docker-compose service name: Airflow's containers reach the runtime as http://local-aws:4566.
COMPOSE_SERVICE_NAME = "local-aws"


@dataclass(frozen=True)
class SecuritySettings:
    """What the runtime lets in and hands out; safe by default (see README, "Security model").

    ``access_key_id``/``secret_access_key``: the administrator's key pair (every request is signed with it or
    with credentials the runtime issued). ``cors_allow_origins``: browser origins allowed to call the runtime
    (none by default). ``allow_hosts``: extra ``Host`` names served besides loopback, the bind address and the
    compose service name. ``enable_moto_api``: moto's ``/moto-api/`` (administrator requests only).
    ``allow_local_code``: jobs may use ``file://`` source directories. ``pass_env``: names of the runtime's own
    environment variables handed to jobs, endpoints and functions (none by default).
    """

    access_key_id: str = DEFAULT_ACCESS_KEY_ID
    secret_access_key: str = DEFAULT_SECRET_ACCESS_KEY
    cors_allow_origins: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    enable_moto_api: bool = False
    allow_local_code: bool = False
    pass_env: tuple[str, ...] = ()


@dataclass
class RuntimeConfig:
    state_dir: Path
    max_concurrent_jobs: int
    metric_period_seconds: float = 60.0
    stop_grace_seconds: float = 10.0
    endpoint_url: str = ""
    security: SecuritySettings = field(default_factory=SecuritySettings)


class LocalRuntime:
    """Everything that outlives a request: training and tuning schedulers, endpoint workers, children."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.supervisor = ProcessSupervisor(config.state_dir)
        self.training = TrainingScheduler(
            config.state_dir, self.supervisor, config.max_concurrent_jobs,
            endpoint_url=config.endpoint_url, stop_grace_seconds=config.stop_grace_seconds,
            allow_local_code=config.security.allow_local_code,
            pass_env=config.security.pass_env,
        )
        self.tuning = Tuner(self.training)
        self.endpoints = EndpointManager(config.state_dir, self.supervisor, pass_env=config.security.pass_env)
        self.components: dict[str, Component] = {}
        # What the services do with execution roles is judged once IAM enforcement is installed.
        self.service_access: ServiceAccess | None = None

    def register(self, name: str, component: Component) -> None:
        """Keep a service's live part (e.g. Lambda workers, an autoscaler); it is shut down with the runtime."""
        self.components[name] = component

    def component(self, name: str) -> Component | None:
        """The live part registered under ``name``, None when the service has not started it."""
        return self.components.get(name)

    def attach(self) -> None:
        """Make this the runtime that this process's moto backends use."""
        if self in _attached:
            _attached.remove(self)
        _attached.append(self)

    def detach(self) -> None:
        """Backends of this process no longer reach this runtime; the runtime attached before it, if it still
        runs, is attached again (a runtime attached since is left alone)."""
        if self in _attached:
            _attached.remove(self)

    def set_service_access(self, access: ServiceAccess) -> None:
        """Judge (and record) what training jobs, endpoints and functions do with their execution roles."""
        self.service_access = access
        self.training.service_access = access
        self.endpoints.service_access = access

    def set_endpoint_url(self, url: str) -> None:
        self.config.endpoint_url = url
        self.training.endpoint_url = url
        self.endpoints.endpoint_url = url

    def reset(self) -> None:
        """End all live work before moto's ``/moto-api/reset`` forgets its records: the services' parts (Lambda
        workers...), tuning searches, training jobs, serving workers. Everything stays ready for new work."""
        for component in reversed(list(self.components.values())):
            component.reset()
        self.tuning.reset()
        self.training.reset()
        self.endpoints.reset()

    def shutdown(self) -> None:
        """End the services' parts (the last registered first), then tuning, training, endpoints and children."""
        for component in reversed(list(self.components.values())):
            component.shutdown()
        self.tuning.shutdown()
        self.training.shutdown()
        self.endpoints.shutdown()
        self.supervisor.stop_all()
