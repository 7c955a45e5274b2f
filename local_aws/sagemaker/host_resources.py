"""Each host of a training job gets its own share of this machine's cores, as separate instances would have.

The runtime runs every host of a job on one machine. Left alone, two hosts on two cores each start one thread per
core (and decoding workers), four threads fighting for two cores. The job runner gives each host a disjoint set of
cores when there are at least as many cores as hosts (one core each, round-robin, when there are fewer), passed to
the host as ``PAWFLOW_HOST_CPUS``; the host's container applies it with ``os.sched_setaffinity`` before it starts
the user's program, and reports its share as the training toolkit would on an instance of that size:
``SM_NUM_CPUS`` (also ``num_cpus`` in ``SM_TRAINING_ENV``) and ``OMP_NUM_THREADS``, which sizes torch's threads.
Variables the job declares in its ``Environment`` win over these.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

HOST_CPUS_VARIABLE = "PAWFLOW_HOST_CPUS"


def machine_cpus() -> list[int]:
    """The cores this process may run on (its affinity), in order."""
    return sorted(os.sched_getaffinity(0))


def share_cores(hosts: Sequence[str], cpus: Sequence[int]) -> dict[str, list[int]]:
    """Contiguous, disjoint, near-equal sets of ``cpus`` per host; one shared core each when hosts outnumber cores."""
    cpus = list(cpus)
    if not cpus:
        raise ValueError("no CPUs to share")
    if len(hosts) > len(cpus):
        return {host: [cpus[index % len(cpus)]] for index, host in enumerate(hosts)}
    size, extra = divmod(len(cpus), len(hosts))
    shares, start = {}, 0
    for index, host in enumerate(hosts):
        end = start + size + (1 if index < extra else 0)
        shares[host] = cpus[start:end]
        start = end
    return shares


def host_variables(cpus: Sequence[int]) -> dict[str, str]:
    """The variables a host is started with for its share ``cpus``."""
    return {HOST_CPUS_VARIABLE: ",".join(str(cpu) for cpu in cpus), "OMP_NUM_THREADS": str(len(cpus))}


def apply_host_share(environ: Mapping[str, str]) -> int | None:
    """In the host process: pin it to the cores in ``PAWFLOW_HOST_CPUS`` (inherited by the program it execs).

    Returns the number of cores it now runs on, or None when no share was given (a host alone keeps the machine).
    """
    text = environ.get(HOST_CPUS_VARIABLE, "")
    if not text:
        return None
    os.sched_setaffinity(0, {int(cpu) for cpu in text.split(",")})
    return len(os.sched_getaffinity(0))


def report_cpus(env: dict[str, str], cpus: int) -> None:
    """Correct the toolkit's ``SM_NUM_CPUS`` and ``SM_TRAINING_ENV.num_cpus`` (it counts the machine's cores)."""
    env["SM_NUM_CPUS"] = str(cpus)
    try:
        training_env = json.loads(env.get("SM_TRAINING_ENV", ""))
    except ValueError:
        return
    if isinstance(training_env, dict):
        training_env["num_cpus"] = cpus
        env["SM_TRAINING_ENV"] = json.dumps(training_env)
