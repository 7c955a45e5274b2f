"""The whole environment of a training host process: the job's role credentials and the container's variables.

HOME is the host's own; TMPDIR is shared by the runtime's training hosts (``<state-dir>/sagemaker/tmp``, private
to the runtime's user), so trials on this machine keep sharing what they cache there. Every host is on loopback:
``PAWFLOW_HOST_ADDRESSES`` maps each host name to 127.0.0.1 and ``MASTER_ADDR``/``MASTER_PORT`` name the one
rendezvous port of the job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local_aws.child_environment import child_environment
from local_aws.iam.role_sessions import Credentials
from local_aws.sagemaker.host_resources import host_variables

REPO_ROOT = Path(__file__).resolve().parents[2]


def host_environment(job: Any, base: Path, hosts: list[str], master_port: int, credentials: Credentials, *,
                     region: str, endpoint_url: str, shared_tmp_dir: Path,
                     pass_env: tuple[str, ...], cpus: list[int] | None = None) -> dict[str, str]:
    """The environment of the host whose ``/opt/ml`` is ``base``, no more than the container would have;
    ``cpus`` is the host's share of the machine's cores (``host_resources``), None for all of them."""
    return child_environment(
        home=base.parent.parent / "home", tmpdir=shared_tmp_dir, region=region,
        endpoint_url=endpoint_url, credentials=credentials,
        pass_env=pass_env,
        service={
            "SAGEMAKER_BASE_DIR": str(base),
            "PAWFLOW_HOST_ADDRESSES": json.dumps({host: "127.0.0.1" for host in hosts}),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(master_port),
            "TRAINING_JOB_NAME": job.training_job_name,
            "TRAINING_JOB_ARN": job.arn,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO_ROOT),
            **(host_variables(cpus) if cpus is not None else {}),
        },
        declared=job.environment,
    )
