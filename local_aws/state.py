"""What survives a restart: moto's records of the services the pipeline uses, pickled under the state dir.

Saved when the runtime stops (and on demand); loaded when it starts. S3 objects, IAM, CloudWatch Logs
and metrics, Application Auto Scaling and SageMaker records come back as they were. Work that was under
way cannot resume: training and tuning jobs still InProgress come back Failed with a reason, and
endpoints that were serving are started again (Creating, then InService once their model loads).
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from local_aws import moto_seam

log = logging.getLogger(__name__)

SERVICES = ("s3", "iam", "sts", "sagemaker", "logs", "cloudwatch", "applicationautoscaling", "lambda")
STATE_FILE = "moto-state.pickle"
INTERRUPTED = "InternalServerError: the local runtime stopped while this job was running"


class StateStore:
    def __init__(self, state_dir: Path, services: tuple[str, ...] = SERVICES) -> None:
        self.path = Path(state_dir) / STATE_FILE
        self.services = services

    def save(self) -> int:
        """Pickle every backend instance of the services; returns the number of bytes written."""
        saved: list[tuple[str, str, str, bytes]] = []
        for service in self.services:
            for account_id, region, backend in moto_seam.backends_of(service):
                try:
                    saved.append((service, account_id, region, pickle.dumps(backend)))
                except Exception as error:  # one service that cannot be saved must not lose the others
                    log.warning("cannot save %s state (%s/%s): %s", service, account_id, region, error)
        data = pickle.dumps(saved)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, self.path)
        log.info("saved state of %s backends (%s bytes) to %s", len(saved), len(data), self.path)
        return len(data)

    def load(self) -> int:
        """Put saved backends back in place; returns how many were restored."""
        if not self.path.exists():
            return 0
        try:
            saved = pickle.loads(self.path.read_bytes())
        except Exception as error:
            log.error("ignoring unreadable state file %s: %s", self.path, error)
            return 0
        restored = 0
        for service, account_id, region, data in saved:
            try:
                moto_seam.restore_backend(service, account_id, region, pickle.loads(data))
                restored += 1
            except Exception as error:
                log.error("cannot restore %s state (%s/%s): %s", service, account_id, region, error)
        log.info("restored state of %s backends from %s", restored, self.path)
        return restored


def fail_interrupted_jobs(sagemaker_backend: Any) -> None:
    """Jobs that were running when the runtime stopped: Failed with a reason, never InProgress forever."""
    now = moto_seam.utcnow()
    for job in moto_seam.training_jobs(sagemaker_backend):
        if job.training_job_status in ("InProgress", "Stopping"):
            job.training_job_status = "Failed"
            job.secondary_status = "Failed"
            job.failure_reason = INTERRUPTED
            job.training_end_time = job.last_modified_time = now
    for tuning_job in moto_seam.tuning_jobs(sagemaker_backend):
        if tuning_job.hyper_parameter_tuning_job_status in ("InProgress", "Stopping"):
            tuning_job.hyper_parameter_tuning_job_status = "Failed"
            tuning_job.failure_reason = INTERRUPTED
            tuning_job.hyper_parameter_tuning_end_time = tuning_job.last_modified_time = now
