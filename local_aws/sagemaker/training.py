"""Training jobs that really run: one subprocess per host, laid out like the SageMaker container.

A ``TrainingJobRunner`` owns one job from InProgress to Completed, Failed or Stopped:

* Starting: waits for a slot (``max_concurrent_jobs``); queued jobs stay InProgress/Starting.
* Downloading: lays out ``<state-dir>/sagemaker/training-jobs/<digest of the job ARN>/algo-<n>/opt/ml``
  (hyperparameters.json, resourceconfig.json, inputdataconfig.json, input/data/<channel>/, model/,
  output/data/, code/), copies each
  S3 channel (S3Prefix or ManifestFile; ShardedByS3Key splits the objects between hosts) and unpacks
  ``sagemaker_submit_directory``. An object whose path relative to the channel is absolute, has ``..`` or empty
  components fails the job (ClientError) before anything is written; a local (``file://``) source directory
  is used only when the runtime runs with ``--allow-local-code``.
* Training: starts ``InstanceCount`` processes (``local_aws.sagemaker.container``, which hands over to
  ``sagemaker_program`` with the toolkit's environment), all on loopback with one free master port; every
  output line goes to CloudWatch Logs ``/aws/sagemaker/TrainingJobs`` stream ``<job>/algo-<n>-<epoch>``.
* Uploading: packs ``model/`` to ``<S3OutputPath>/<job>/output/model.tar.gz`` and ``output/data`` to
  ``output.tar.gz``; MetricDefinitions regexes over the log give FinalMetricDataList.

What SageMaker itself does with the job's ``RoleArn`` (listing and reading the channels, reading the source
tarball, pulling ``TrainingImage`` from ECR, writing the log streams, uploading the artifacts) is judged first as
the role's ``SageMaker`` session (``local_aws.iam.service_access``): a denial fails the job with SageMaker's
ClientError; a log stream the role may not write is dropped and the job runs on, as on AWS.

StopTrainingJob and MaxRuntimeInSeconds send SIGTERM to every host (a grace period, then SIGKILL) and
still upload what the model dir holds, as SageMaker does. Any exception in the runner fails the job
with a reason: a job never stays InProgress.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws.archives import ArchiveRefused, pack_tar_gz, unpack_tar
from local_aws.child_environment import child_environment
from local_aws.iam.judgement import Verdict
from local_aws.iam.role_sessions import SAGEMAKER_SESSION_NAME, Credentials, assume_service_role
from local_aws.iam.service_access import (
    DOWNLOAD_CODE, DOWNLOAD_DATA, SAGEMAKER_SERVICE, UPLOAD_ARTIFACTS, WRITE_LOGS, RoleSession, ServiceAccess,
    denial_detail, ecr_image,
)
from local_aws.logs.streams import DroppedLogStream, LogStreamWriter
from local_aws.moto_seam import utcnow
from local_aws.processes import ProcessSupervisor
from local_aws.s3.objects import S3Objects, join_key, parse_s3_uri, relative_key
from local_aws.sagemaker.metric_definitions import final_metric_data
from local_aws.state_paths import (
    PathOutside, checked_join, derived_name, ensure_inside, relative_path_problem, remove_tree,
)

log = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
REPO_ROOT = Path(__file__).resolve().parents[2]
_FAILURE_REASON_LIMIT = 1024
_ERROR_LINE = re.compile(r"^(\w+\.)*\w*(Error|Exception|Exit|Interrupt)\b.*")

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



def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def decode_hyperparameter(value: Any) -> Any:
    """SageMaker SDKs JSON-encode hyperparameter values (``'"train.py"'``); plain strings are taken as given."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


class JobFailure(Exception):
    """A training job failed for a reason to report as its FailureReason."""


def data_download_denied(verdict: Verdict) -> JobFailure:
    return JobFailure(f"ClientError: Data download failed:Failed to download data. AccessDenied (403): "
                      f"{denial_detail(verdict)}")


def source_download_denied(source: str, verdict: Verdict) -> JobFailure:
    """The training toolkit fails to fetch the source tarball with the role's credentials (HeadObject first)."""
    return JobFailure(f"AlgorithmError: framework error: Failed to download {source}: An error occurred (403) when "
                      f"calling the HeadObject operation: Forbidden ({denial_detail(verdict)})")


def image_pull_denied(image_uri: str, verdict: Verdict) -> JobFailure:
    image = ecr_image(image_uri)
    return JobFailure("ClientError: Cannot pull algorithm container. Either the image does not exist or its "
                      f"permissions are incorrect. Access denied for repository: {image.repository} in registry ID: "
                      f"{image.registry}. {denial_detail(verdict)}")


def artifact_upload_denied(verdict: Verdict) -> JobFailure:
    return JobFailure(f"ClientError: Artifact upload failed:AccessDenied (403): {denial_detail(verdict)}")


@dataclass
class HostProcess:
    host: str
    process: subprocess.Popen
    output_tail: deque = field(default_factory=lambda: deque(maxlen=40))
    pumps: list[threading.Thread] = field(default_factory=list)


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
        self.interrupt_status = ""
        self.hosts: list[HostProcess] = []
        self.log_lines: list[str] = []
        self._log_lock = threading.Lock()
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
        host_dirs = self.prepare()
        if self.stop_requested.is_set():
            self.finish("Stopped", "Stopped")
            return
        image = self.job.algorithm_specification.get("TrainingImage") or ""
        denied = self.judged(lambda access: access.pull_image(self.role, image))
        if denied is not None:
            raise image_pull_denied(image, denied)
        self.transition("Training")
        exit_codes = self.train(host_dirs)
        if self.interrupt_status and self.scheduler.closing:
            raise JobFailure("InternalServerError: the local runtime shut down while the job was running")
        if self.interrupt_status:
            self.transition("Uploading")
            self.upload(host_dirs)
            self.report_metrics()
            self.job.model_artifacts = {"S3ModelArtifacts": self.model_artifact_uri()}
            self.finish("Stopped", self.interrupt_status)
            return
        failed = [(host, code) for host, code in exit_codes.items() if code != 0]
        if failed:
            self.report_metrics()
            raise JobFailure(self.algorithm_error(*failed[0]))
        self.transition("Uploading")
        self.upload(host_dirs)
        self.report_metrics()
        self.job.model_artifacts = {"S3ModelArtifacts": self.model_artifact_uri()}
        self.finish("Completed", "Completed")

    # --- layout and input ------------------------------------------------------------------------------
    def host_names(self) -> list[str]:
        return [f"algo-{i + 1}" for i in range(int(self.job.resource_config.get("InstanceCount", 1)))]

    def prepare(self) -> dict[str, Path]:
        remove_tree(self.job_dir, self.scheduler.jobs_dir)
        hosts = self.host_names()
        host_dirs = {host: self.job_dir / host / "opt" / "ml" for host in hosts}
        channels = self.job.input_data_config or []
        input_config = {}
        for channel in channels:
            source = channel.get("DataSource", {}).get("S3DataSource")
            input_config[channel["ChannelName"]] = {
                "TrainingInputMode": channel.get("InputMode") or self.job.algorithm_specification.get("TrainingInputMode", "File"),
                "S3DistributionType": (source or {}).get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                **({"ContentType": channel["ContentType"]} if channel.get("ContentType") else {}),
            }
        instance_type = self.job.resource_config.get("InstanceType", "local")
        for host, base in host_dirs.items():
            ensure_inside(base, self.scheduler.jobs_dir)
            for sub in ("input/config", "model", "output/data", "output/intermediate", "code", "checkpoints"):
                (base / sub).mkdir(parents=True, exist_ok=True)
            config = base / "input" / "config"
            (config / "hyperparameters.json").write_text(json.dumps(self.job.hyper_parameters or {}))
            (config / "inputdataconfig.json").write_text(json.dumps(input_config))
            (config / "resourceconfig.json").write_text(json.dumps({
                "current_host": host,
                "current_instance_type": instance_type,
                "current_group_name": "homogeneousCluster",
                "hosts": hosts,
                "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": hosts}],
                "network_interface_name": "lo",
            }))
        for channel in channels:
            self.download_channel(channel, host_dirs)
        self.unpack_source(host_dirs)
        return host_dirs

    def download_channel(self, channel: dict[str, Any], host_dirs: dict[str, Path]) -> None:
        name = channel["ChannelName"]
        source = channel.get("DataSource", {}).get("S3DataSource")
        if source is None:
            raise JobFailure(f"ClientError: channel {name}: only S3DataSource channels can be used locally")
        bucket, prefix = parse_s3_uri(source["S3Uri"])
        data_type = source.get("S3DataType", "S3Prefix")
        operation = f"{SAGEMAKER_SERVICE}:{DOWNLOAD_DATA}"
        listed = [(bucket, prefix)] if data_type == "ManifestFile" else []
        denied = self.judged(lambda access: access.get_objects(self.role, operation, listed) if listed
                             else access.list_bucket(self.role, operation, bucket, prefix))
        if denied is not None:
            raise data_download_denied(denied)
        if data_type == "S3Prefix":
            objects = [(bucket, key, relative_key(key, prefix)) for key, _ in self.s3.list(bucket, prefix)
                       if not key.endswith("/")]
        elif data_type == "ManifestFile":
            objects = self.manifest_objects(bucket, prefix)
        else:
            raise JobFailure(f"ClientError: channel {name}: S3DataType {data_type} is not supported locally")
        if not objects:
            raise JobFailure(f"ClientError: No S3 objects found under S3 URL \"{source['S3Uri']}\" given in input data source. "
                             "Please ensure that the bucket exists in the selected region (us-east-1), that objects exist "
                             "under that S3 prefix, and that the role has s3:ListBucket permissions on the bucket.")
        objects.sort(key=lambda item: item[1])
        denied = self.judged(lambda access: access.get_objects(self.role, operation,
                                                               [(obj_bucket, key) for obj_bucket, key, _ in objects]))
        if denied is not None:
            raise data_download_denied(denied)
        hosts = list(host_dirs)
        sharded = source.get("S3DataDistributionType", "FullyReplicated") == "ShardedByS3Key"
        placed = [(obj_bucket, key, self.channel_path(name, obj_bucket, key, rel)) for obj_bucket, key, rel in objects]
        for index, host in enumerate(hosts):
            share = placed[index::len(hosts)] if sharded else placed
            target = self.channel_dir(host_dirs[host], name)
            target.mkdir(parents=True, exist_ok=True)
            for obj_bucket, key, rel in share:
                try:
                    path = checked_join(target, rel)
                except PathOutside as error:
                    raise JobFailure(f"ClientError: channel {name}: S3 object s3://{obj_bucket}/{key} cannot be placed "
                                     f"in /opt/ml/input/data/{name}: {error}") from None
                self.s3.download(obj_bucket, key, path)

    @staticmethod
    def channel_dir(base: Path, name: str) -> Path:
        try:
            return checked_join(base / "input" / "data", name)
        except PathOutside as error:
            raise JobFailure(f"ClientError: channel name {name!r} cannot be a folder under /opt/ml/input/data: "
                             f"{error}") from None

    @staticmethod
    def channel_path(name: str, bucket: str, key: str, rel: Any) -> str:
        """``rel`` when it is a relative path that stays inside the channel's folder; the job fails otherwise."""
        if not isinstance(rel, str):
            raise JobFailure(f"ClientError: channel {name}: manifest entry {rel!r} is not an S3 key suffix")
        problem = relative_path_problem(rel)
        if problem is not None:
            raise JobFailure(f"ClientError: channel {name}: S3 object s3://{bucket}/{key} cannot be placed in "
                             f"/opt/ml/input/data/{name}: its path relative to the channel, {rel!r}, {problem}")
        return rel

    def manifest_objects(self, bucket: str, key: str) -> list[tuple[str, str, str]]:
        try:
            manifest = json.loads(self.s3.read(bucket, key))
            base_bucket, base_prefix = parse_s3_uri(manifest[0]["prefix"])
            return [(base_bucket, base_prefix + rel if isinstance(rel, str) else "", rel) for rel in manifest[1:]]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise JobFailure(f"ClientError: manifest s3://{bucket}/{key} is not a SageMaker manifest: {error}") from error

    def unpack_source(self, host_dirs: dict[str, Path]) -> None:
        params = self.job.hyper_parameters or {}
        program = decode_hyperparameter(params.get("sagemaker_program"))
        if not program:
            raise JobFailure("ClientError: local_aws runs script-mode jobs: the hyperparameter sagemaker_program must name "
                             "the entry point (container images cannot run without Docker)")
        source = decode_hyperparameter(params.get("sagemaker_submit_directory"))
        if not source:
            raise JobFailure("ClientError: the hyperparameter sagemaker_submit_directory must point at the source "
                             "(an s3:// tar.gz or a local directory)")
        if source.startswith("s3://"):
            denied = self.judged(lambda access: access.get_objects(self.role, f"{SAGEMAKER_SERVICE}:{DOWNLOAD_CODE}",
                                                                   [parse_s3_uri(source)]))
            if denied is not None:
                raise source_download_denied(source, denied)
            archive = self.s3.read_uri(source)
            for base in host_dirs.values():
                unpack_source_archive(archive, base / "code", source)
        else:
            if not self.scheduler.allow_local_code:
                raise JobFailure(f"ClientError: sagemaker_submit_directory {source} is not an S3 URI: this runtime "
                                 "runs source directories from this machine only when started with --allow-local-code")
            local = Path(source.removeprefix("file://"))
            if not local.is_dir():
                raise JobFailure(f"ClientError: sagemaker_submit_directory {source} is neither an S3 URI nor a directory")
            for base in host_dirs.values():
                shutil.copytree(local, base / "code", dirs_exist_ok=True)

    # --- training -----------------------------------------------------------------------------------------
    def host_env(self, base: Path, hosts: list[str], master_port: int, credentials: Credentials) -> dict[str, str]:
        """The host's whole environment: the job's role credentials and the container's variables, no more.

        HOME is the host's own; TMPDIR is shared by the runtime's training hosts (``<state-dir>/sagemaker/tmp``,
        private to the runtime's user), so trials on this machine keep sharing what they cache there.
        """
        return child_environment(
            home=base.parent.parent / "home", tmpdir=self.scheduler.shared_tmp_dir, region=self.region,
            endpoint_url=self.scheduler.endpoint_url, credentials=credentials,
            pass_env=self.scheduler.pass_env,
            service={
                "SAGEMAKER_BASE_DIR": str(base),
                "PAWFLOW_HOST_ADDRESSES": json.dumps({host: "127.0.0.1" for host in hosts}),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(master_port),
                "TRAINING_JOB_NAME": self.job.training_job_name,
                "TRAINING_JOB_ARN": self.job.arn,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(REPO_ROOT),
            },
            declared=self.job.environment,
        )

    def train(self, host_dirs: dict[str, Path]) -> dict[str, int]:
        hosts = list(host_dirs)
        master_port = free_port()
        epoch = int(time.time())
        credentials = assume_service_role(self.account_id, self.region, self.job.role_arn, SAGEMAKER_SESSION_NAME)
        for host, base in host_dirs.items():
            writer = self.log_stream(f"{self.job.training_job_name}/{host}-{epoch}")
            process = self.scheduler.supervisor.spawn(
                [sys.executable, "-m", "local_aws.sagemaker.container"],
                env=self.host_env(base, hosts, master_port, credentials), cwd=str(base),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            # One stream per host, stdout and stderr interleaved in the order they were written, as on AWS.
            host_process = HostProcess(host, process)
            pump = threading.Thread(target=self.pump, args=(process.stdout, writer, host_process.output_tail), daemon=True)
            pump.start()
            host_process.pumps.append(pump)
            self.hosts.append(host_process)
        self.wait_for_hosts()
        for host_process in self.hosts:
            for pump in host_process.pumps:
                pump.join(timeout=5)
            self.scheduler.supervisor.release(host_process.process)
        return {hp.host: hp.process.returncode for hp in self.hosts}

    def log_stream(self, stream: str) -> LogStreamWriter | DroppedLogStream:
        """The host's CloudWatch Logs stream, written as the role; dropped when the role may not write it."""
        denied = self.judged(lambda access: access.write_logs(self.role, f"{SAGEMAKER_SERVICE}:{WRITE_LOGS}",
                                                              LOG_GROUP, stream))
        if denied is not None:
            return DroppedLogStream(LOG_GROUP, stream)
        return LogStreamWriter(self.region, LOG_GROUP, stream, self.account_id)

    def lines(self) -> list[str]:
        """Every output line of every host so far."""
        with self._log_lock:
            return list(self.log_lines)

    def pump(self, stream: Any, writer: LogStreamWriter | DroppedLogStream, tail: deque) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._log_lock:
                self.log_lines.append(line)
            tail.append(line)
            try:
                writer.write(line)
            except Exception:
                log.exception("could not write a log line of %s", self.job.training_job_name)
        stream.close()

    def wait_for_hosts(self) -> None:
        while True:
            codes = [hp.process.poll() for hp in self.hosts]
            if all(code is not None for code in codes):
                return
            if any(code not in (None, 0) for code in codes):
                # One host failed: SageMaker fails the whole job, so the others are ended.
                self.end_hosts(grace_seconds=2.0)
                return
            if self.stop_requested.is_set():
                self.interrupt_status = "Stopped"
                self.end_hosts(self.scheduler.stop_grace_seconds)
                return
            if time.monotonic() > self.deadline:
                self.interrupt_status = "MaxRuntimeExceeded"
                self.end_hosts(self.scheduler.stop_grace_seconds)
                return
            time.sleep(0.1)

    def end_hosts(self, grace_seconds: float) -> None:
        for host_process in self.hosts:
            self.scheduler.supervisor.terminate(host_process.process, grace_seconds)

    def algorithm_error(self, host: str, code: int) -> str:
        tail = [line for hp in self.hosts if hp.host == host for line in hp.output_tail if line.strip()]
        error_lines = [i for i, line in enumerate(tail) if _ERROR_LINE.match(line.strip())]
        message = "\n".join(tail[error_lines[-1]:] if error_lines else tail[-3:])
        program = decode_hyperparameter((self.job.hyper_parameters or {}).get("sagemaker_program"))
        if code < 0:
            return f"AlgorithmError: {host} was killed by signal {-code}"
        return (f"AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\nErrorMessage \"{message}\"\n"
                f"Command \"{Path(sys.executable).name} {program}\", exit code: {code}")

    # --- output -------------------------------------------------------------------------------------------
    def output_uri(self) -> str:
        return self.job.output_data_config["S3OutputPath"].rstrip("/")

    def model_artifact_uri(self) -> str:
        return f"{self.output_uri()}/{self.job.training_job_name}/output/model.tar.gz"

    def upload(self, host_dirs: dict[str, Path]) -> None:
        bucket, prefix = parse_s3_uri(self.output_uri())
        key_base = join_key(prefix, self.job.training_job_name, "output")
        # Hosts write into one artifact; the first host's files win, as rank 0 is the one that saves.
        ordered = list(reversed(list(host_dirs.values())))
        for name, folders in (("model.tar.gz", [base / "model" for base in ordered]),
                              ("output.tar.gz", [base / "output" / "data" for base in ordered])):
            key = f"{key_base}/{name}"
            denied = self.judged(lambda access: access.put_object(self.role, f"{SAGEMAKER_SERVICE}:{UPLOAD_ARTIFACTS}",
                                                                  bucket, key))
            if denied is not None:
                raise artifact_upload_denied(denied)
            self.s3.write(bucket, key, pack_tar_gz(folders))

    def report_metrics(self) -> None:
        definitions = self.job.algorithm_specification.get("MetricDefinitions") or []
        metrics = final_metric_data(definitions, self.lines())
        if metrics:
            self.job.final_metric_data_list = metrics


def unpack_source_archive(archive: bytes, target: Path, source: str) -> None:
    """Unpack the source tarball into ``code/``; a refused archive fails the job as the user's error."""
    try:
        unpack_tar(archive, target)
    except ArchiveRefused as refusal:
        raise JobFailure(f"ClientError: sagemaker_submit_directory {source}: {refusal}") from refusal


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
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.stop_requested.set()
        deadline = time.monotonic() + timeout
        for runner in runners:
            runner.thread.join(timeout=max(0.1, deadline - time.monotonic()))
