"""Multi-host data-parallel training with the SageMaker conventions: one process per host, rank 0 on hosts[0].

SageMaker names the hosts of a job (``SM_HOSTS``, e.g. ``["algo-1", "algo-2"]``) and tells each process which
one it is (``SM_CURRENT_HOST``). The rank is the host's index, the world size the number of hosts, and the
master (the rendezvous store) is the first host. Host names are resolved before the rendezvous so that a name
that does not resolve fails at once with a clear message instead of hanging; a mapping
(``PAWFLOW_HOST_ADDRESSES`` / ``--host-addresses``, e.g. ``algo-1=127.0.0.1,algo-2=127.0.0.1``) or ``MASTER_ADDR``
lets a single machine play several hosts. The process group uses gloo on CPU and nccl on CUDA.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import socket
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


class DistributedSetupError(ValueError):
    """The host list, current host or addresses do not describe a cluster this process can join."""


def parse_hosts(value) -> list[str]:
    """Hosts from a JSON list (``SM_HOSTS``) or a comma-separated string; empty entries dropped."""
    if isinstance(value, (list, tuple)):
        hosts = [str(host).strip() for host in value]
    else:
        text = (value or "").strip()
        if text.startswith("["):
            try:
                hosts = [str(host).strip() for host in json.loads(text)]
            except ValueError as error:
                raise DistributedSetupError(f"hosts {text!r} is not a JSON list of host names: {error}") from None
        else:
            hosts = [host.strip() for host in text.split(",")]
    hosts = [host for host in hosts if host]
    if len(set(hosts)) != len(hosts):
        raise DistributedSetupError(f"hosts must be distinct, got {hosts}")
    return hosts


def parse_host_addresses(value) -> dict[str, str]:
    """``{"algo-1": "127.0.0.1"}`` from a JSON object or ``name=address`` pairs separated by commas."""
    text = (value or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            mapping = json.loads(text)
        except ValueError as error:
            raise DistributedSetupError(f"host addresses {text!r} are not a JSON object: {error}") from None
        return {str(name): str(address) for name, address in mapping.items()}
    mapping = {}
    for pair in text.split(","):
        name, equals, address = pair.partition("=")
        if not equals or not name.strip() or not address.strip():
            raise DistributedSetupError(
                f"host addresses {text!r}: expected name=address pairs such as algo-1=127.0.0.1,algo-2=127.0.0.1"
            )
        mapping[name.strip()] = address.strip()
    return mapping


@dataclass(frozen=True)
class ClusterSpec:
    """Where this process sits in the job: its rank, the world size and the rendezvous address."""

    hosts: tuple[str, ...]
    current_host: str
    master_addr: str
    master_port: int
    rank: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "rank", self.hosts.index(self.current_host))

    @property
    def world_size(self) -> int:
        return len(self.hosts)


def cluster_spec(hosts: list[str], current_host: str, master_port: int, master_addr: str | None = None,
                 host_addresses: dict[str, str] | None = None) -> ClusterSpec:
    """Validate the host list and pick the master address: override, mapped first host, or first host's name."""
    if not hosts:
        raise DistributedSetupError("no hosts given")
    if current_host not in hosts:
        raise DistributedSetupError(f"current host {current_host!r} is not among the hosts {hosts}")
    if not 0 < master_port < 65536:
        raise DistributedSetupError(f"master port must be between 1 and 65535, got {master_port}")
    address = master_addr or (host_addresses or {}).get(hosts[0], hosts[0])
    if len(hosts) > 1:  # a single host has no rendezvous, and its name need not resolve
        address = resolve_address(address, hosts[0])
    return ClusterSpec(tuple(hosts), current_host, address, master_port)


def resolve_address(address: str, host: str) -> str:
    """The IPv4/IPv6 address of ``address`` or a ``DistributedSetupError`` saying which name did not resolve."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(address, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise DistributedSetupError(
            f"master host {host!r} (address {address!r}) does not resolve: {error.strerror}; map host names to "
            "addresses with --host-addresses / PAWFLOW_HOST_ADDRESSES (e.g. algo-1=10.0.0.5) or set MASTER_ADDR"
        ) from None
    return infos[0][4][0]


@dataclass(frozen=True)
class DistributedContext:
    """Rank and world size of this process (``world_size == 1``: no process group)."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(spec: ClusterSpec, device: torch.device, timeout_seconds: float) -> DistributedContext:
    """Join the process group of ``spec`` (a single host needs none) and return this process's context."""
    if spec.world_size == 1:
        return DistributedContext()
    backend = "nccl" if device.type == "cuda" else "gloo"
    host = f"[{spec.master_addr}]" if ":" in spec.master_addr else spec.master_addr
    log.info("Joining %s process group at %s:%d as rank %d of %d (host %s)", backend, spec.master_addr,
             spec.master_port, spec.rank, spec.world_size, spec.current_host)
    dist.init_process_group(
        backend=backend, init_method=f"tcp://{host}:{spec.master_port}", rank=spec.rank,
        world_size=spec.world_size, timeout=datetime.timedelta(seconds=timeout_seconds),
    )
    return DistributedContext(spec.rank, spec.world_size, device)


def shutdown(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def sum_across_ranks(context: DistributedContext, *values: float) -> list[float]:
    """Element-wise sums of ``values`` over all ranks (the values themselves on a single process)."""
    if not context.enabled:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def gather_objects(context: DistributedContext, value) -> list:
    """``value`` from every rank, in rank order."""
    if not context.enabled:
        return [value]
    gathered = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered
