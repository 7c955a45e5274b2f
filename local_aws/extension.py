"""How a service plugs into the local server: ``ServiceExtension``, and ``ServerContext``, what it may use.

An extension's ``install`` runs before saved state is loaded (swap backend classes, add gateway routes or request
filters), ``resume`` once the server is bound and its URL known (restart interrupted work), ``uninstall`` when it
stops. Extensions see the server only through ``ServerContext``, so no service module imports the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from local_aws.gateway import Gateway
    from local_aws.runtime import LocalRuntime, RuntimeConfig


class ServerContext(Protocol):
    """The parts of the running server an extension works with."""

    state_dir: Path
    config: "RuntimeConfig"
    runtime: "LocalRuntime"
    gateway: "Gateway"
    # Judges calls at moto's authorization point (set by the IAM enforcement extension, None without it).
    authorizer: Any

    @property
    def endpoint_url(self) -> str: ...


class ServiceExtension(Protocol):
    """A service that does more than moto: installed, resumed and uninstalled with the server."""

    def install(self, server: ServerContext) -> None: ...

    def resume(self, server: ServerContext) -> None: ...

    def uninstall(self, server: ServerContext) -> None: ...
