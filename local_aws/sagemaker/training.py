"""Training jobs that really run: one subprocess per host, laid out like the SageMaker container.

A ``TrainingJobRunner`` owns one job from InProgress to Completed, Failed or Stopped:

* Starting: waits for a slot (``max_concurrent_jobs``); queued jobs stay InProgress/Starting.
* Downloading: lays out each host's ``/opt/ml`` and copies the input channels and the source into it
  (``local_aws.sagemaker.training_layout``).
* Training: starts ``InstanceCount`` processes, all on loopback with one free master port
  (``training_processes``), each with the job's role credentials and the container's variables
  (``training_environment``); every output line goes to CloudWatch Logs.
* Uploading: packs the model and output data to S3 and reads FinalMetricDataList from the log
  (``training_artifacts``).

What SageMaker itself does with the job's ``RoleArn`` (listing and reading the channels, reading the source
tarball, pulling ``TrainingImage`` from ECR, writing the log streams, uploading the artifacts) is judged first as
the role's ``SageMaker`` session (``local_aws.iam.service_access``): a denial fails the job with SageMaker's
ClientError (``training_failures``); a log stream the role may not write is dropped and the job runs on, as on AWS.

StopTrainingJob and MaxRuntimeInSeconds send SIGTERM to every host (a grace period, then SIGKILL) and
still upload what the model dir holds, as SageMaker does. Any exception in the runner fails the job
with a reason: a job never stays InProgress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_aws.iam.judgement import Verdict
from local_aws.iam.role_sessions import SAGEMAKER_SESSION_NAME, assume_service_role
from local_aws.iam.service_access import RoleSession, ServiceAccess
from local_aws.moto_seam import utcnow
from local_aws.processes import ProcessSupervisor
from local_aws.s3.objects import S3Objects
from local_aws.sagemaker.host_resources import machine_cpus, share_cores
from local_aws.sagemaker.training_artifacts import TrainingArtifacts
from local_aws.sagemaker.training_environment import host_environment
from local_aws.sagemaker.training_failures import JobFailure, image_pull_denied
from local_aws.sagemaker.training_layout import ContainerLayout
from local_aws.sagemaker.training_processes import TrainingHosts, free_port
from local_aws.state_paths import derived_name

log = logging.getLogger(__name__)

_FAILURE_REASON_LIMIT = 1024

STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped because it exceeded MaxRuntimeInSeconds",
}


class TrainingJobRunner:
    """Runs one training job in a background thread and keeps moto's job record current."""

    def __init__(self, scheduler: "TrainingScheduler", job: Any, region: str, account_id: str,
                 on_finished: Callable[[Any, list[str]], None] | None = None) -> None:
        self.scheduler = scheduler
        self.job = job
        self.region = region
        self.account_id = account_id
        self.on_finished = on_finished
        self.s3 = S3Objects(account_id)
        self.role = RoleSession(account_id, region, job.role_arn, SAGEMAKER_SESSION_NAME)
        self.job_dir = scheduler.jobs_dir / derived_name(job.arn)
        self.stop_requested = threading.Event()
        self.layout = ContainerLayout(job, self.job_dir, scheduler.jobs_dir, self.s3, self.role, self.judged,
                                      scheduler.allow_local_code)
        self.processes = TrainingHosts(job, region, account_id, scheduler.supervisor, self.role, self.judged,
                                       self.stop_requested, scheduler.stop_grace_seconds)
        self.artifacts = TrainingArtifacts(job, self.s3, self.role, self.judged)
        self.thread = threading.Thread(target=self.run, name=f"training-{job.training_job_name}", daemon=True)

    # --- status bookkeeping -------------------------------------------------------------------------
    def transition(self, status: str, message: str | None = None) -> None:
        now = utcnow()
        transitions = [dict(t) for t in (self.job.secondary_status_transitions or [])]
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now
        entry = {"Status": status, "StartTime": now, "StatusMessage": message or STATUS_MESSAGES.get(status, status)}
        if status in ("Completed", "Failed", "Stopped", "MaxRuntimeExceeded"):
            entry["EndTime"] = now
        transitions.append(entry)
        self.job.secondary_status_transitions = transitions
        self.job.secondary_status = status
        self.job.last_modified_time = now

    def finish(self, status: str, secondary: str, reason: str | None = None) -> None:
        now = utcnow()
        self.transition(secondary, reason if secondary == "Failed" and reason else None)
        if self.job.training_start_time is not None:
            self.job.training_end_time = now
            seconds = max(1, int((now - self.job.training_start_time).total_seconds()))
            self.job.training_time_in_seconds = seconds
            self.job.billable_time_in_seconds = seconds * int((self.job.resource_config or {}).get("InstanceCount", 1))
        if reason:
            self.job.failure_reason = reason[:_FAILURE_REASON_LIMIT]
        self.job.training_job_status = status
        log.info("training job %s: %s (%s)", self.job.training_job_name, status, reason or secondary)

    def judged(self, check: Callable[[ServiceAccess], Verdict | None]) -> Verdict | None:
        """What SageMaker does with the job's role, judged as the role's session: the denial, or None."""
        access = self.scheduler.service_access
        return None if access is None else check(access)

    # --- the job ----------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except JobFailure as failure:
            self.finish("Failed", "Failed", str(failure))
        except Exception as error:  # the job must never stay InProgress
            log.exception("training job %s crashed", self.job.training_job_name)
            self.finish("Failed", "Failed", f"InternalServerError: {type(error).__name__}: {error}")
        finally:
            self.scheduler.release(self)
            if self.on_finished is not None:
                try:
                    self.on_finished(self.job, self.lines())
                except Exception:
                    log.exception("callback after training job %s failed", self.job.training_job_name)

    def _run(self) -> None:
        if not self.scheduler.acquire_slot(self.stop_requested):
            if self.scheduler.closing:
                raise JobFailure("InternalServerError: the local runtime shut down before the job started")
            self.finish("Stopped", "Stopped")
            return
        self.job.training_start_time = utcnow()
        self.deadline = time.monotonic() + int((self.job.stopping_condition or {}).get("MaxRuntimeInSeconds", 86400))
        self.transition("Downloading")
        host_dirs = self.layout.prepare()
        if self.stop_requested.is_set():
            self.finish("Stopped", "Stopped")
            return
        image = self.job.algorithm_specification.get("TrainingImage") or ""
        denied = self.judged(lambda access: access.pull_image(self.role, image))
        if denied is not None:
            raise image_pull_denied(image, denied)
        self.transition("Training")
        exit_codes = self.train(host_dirs)
        interrupt_status = self.processes.interrupt_status
        if interrupt_status and self.scheduler.closing:
            raise JobFailure("InternalServerError: the local runtime shut down while the job was running")
        if interrupt_status:
            self.transition("Uploading")
            self.artifacts.upload(host_dirs)
            self.artifacts.report_metrics(self.lines())
            self.job.model_artifacts = {"S3ModelArtifacts": self.artifacts.model_artifact_uri()}
            self.finish("Stopped", interrupt_status)
            return
        failed = [(host, code) for host, code in exit_codes.items() if code != 0]
        if failed:
            self.artifacts.report_metrics(self.lines())
            raise JobFailure(self.processes.algorithm_error(*failed[0]))
        self.transition("Uploading")
        self.artifacts.upload(host_dirs)
        self.artifacts.report_metrics(self.lines())
        self.job.model_artifacts = {"S3ModelArtifacts": self.artifacts.model_artifact_uri()}
        self.finish("Completed", "Completed")

    def train(self, host_dirs: dict[str, Path]) -> dict[str, int]:
        """Run every host to its end, each with the job's role credentials: their exit codes."""
        hosts = list(host_dirs)
        master_port = free_port()
        credentials = assume_service_role(self.account_id, self.region, self.job.role_arn, SAGEMAKER_SESSION_NAME)
        shares = share_cores(hosts, machine_cpus()) if len(hosts) > 1 else {}
        environments = {
            host: host_environment(self.job, base, hosts, master_port, credentials, region=self.region,
                                   endpoint_url=self.scheduler.endpoint_url,
                                   shared_tmp_dir=self.scheduler.shared_tmp_dir, pass_env=self.scheduler.pass_env,
                                   cpus=shares.get(host))
            for host, base in host_dirs.items()
        }
        return self.processes.run(host_dirs, environments, self.deadline)

    def lines(self) -> list[str]:
        """Every output line of every host so far."""
        return self.processes.lines()


class TrainingScheduler:
    """Starts training job runners, at most ``max_concurrent_jobs`` running at a time."""

    def __init__(self, state_dir: Path, supervisor: ProcessSupervisor, max_concurrent_jobs: int,
                 endpoint_url: str = "", stop_grace_seconds: float = 10.0, allow_local_code: bool = False,
                 pass_env: tuple[str, ...] = ()) -> None:
        self.jobs_dir = Path(state_dir) / "sagemaker" / "training-jobs"
        self.shared_tmp_dir = Path(state_dir) / "sagemaker" / "tmp"
        self.allow_local_code = allow_local_code
        self.pass_env = pass_env
        self.supervisor = supervisor
        self.endpoint_url = endpoint_url
        self.stop_grace_seconds = stop_grace_seconds
        self.max_concurrent_jobs = max_concurrent_jobs
        self._slots = threading.BoundedSemaphore(max_concurrent_jobs)
        self._lock = threading.Lock()
        self._runners: dict[tuple[str, str], TrainingJobRunner] = {}
        self._holding: set[int] = set()
        self.closing = False
        # Judges what SageMaker does with a job's role (set by the runtime once IAM enforcement is installed).
        self.service_access: ServiceAccess | None = None

    def submit(self, job: Any, region: str, account_id: str,
               on_finished: Callable[[Any, list[str]], None] | None = None) -> TrainingJobRunner:
        """Run ``job``; ``on_finished(job, output_lines)`` is called once it has ended, whatever the outcome."""
        runner = TrainingJobRunner(self, job, region, account_id, on_finished)
        with self._lock:
            self._runners[(region, job.arn)] = runner
        runner.thread.start()
        return runner

    def acquire_slot(self, stop: threading.Event) -> bool:
        while not stop.is_set():
            if self._slots.acquire(timeout=0.2):
                with self._lock:
                    self._holding.add(threading.get_ident())
                return True
        return False

    def release(self, runner: TrainingJobRunner) -> None:
        with self._lock:
            self._runners.pop((runner.region, runner.job.arn), None)
            holding = threading.get_ident() in self._holding
            self._holding.discard(threading.get_ident())
        if holding:
            self._slots.release()

    def output_lines(self, region: str, job_arn: str) -> list[str]:
        """The output so far of a job that is running ([] once it has ended)."""
        with self._lock:
            runner = self._runners.get((region, job_arn))
        return runner.lines() if runner is not None else []

    def stop(self, region: str, job_arn: str) -> bool:
        with self._lock:
            runner = self._runners.get((region, job_arn))
        if runner is None:
            return False
        runner.stop_requested.set()
        return True

    def shutdown(self, timeout: float = 15.0) -> None:
        self.closing = True
        self._end_runners(timeout)

    def reset(self, timeout: float = 15.0) -> None:
        """End every job now, as a shutdown does (no upload), and take new jobs again afterwards."""
        self.closing = True
        try:
            self._end_runners(timeout)
        finally:
            self.closing = False

    def _end_runners(self, timeout: float) -> None:
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.stop_requested.set()
        deadline = time.monotonic() + timeout
        for runner in runners:
            runner.thread.join(timeout=max(0.1, deadline - time.monotonic()))
