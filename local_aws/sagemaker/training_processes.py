"""The host processes of a training job: one per host, their output in CloudWatch Logs, ended together.

Each host runs ``local_aws.sagemaker.container`` (which hands over to ``sagemaker_program`` with the toolkit's
environment) through the runtime's process supervisor. Every output line, stdout and stderr interleaved in the
order they were written, goes to CloudWatch Logs ``/aws/sagemaker/TrainingJobs`` stream
``<job>/algo-<n>-<epoch>``, written as the job's role (a stream the role may not write is dropped and the job
runs on, as on AWS). One failed host ends the others; a stop request or MaxRuntimeInSeconds sends SIGTERM to
every host (a grace period, then SIGKILL).
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws.iam.service_access import SAGEMAKER_SERVICE, WRITE_LOGS, RoleSession
from local_aws.logs.streams import DroppedLogStream, LogStreamWriter
from local_aws.processes import ProcessSupervisor
from local_aws.sagemaker.training_failures import RoleJudge
from local_aws.sagemaker.training_layout import decode_hyperparameter

log = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_ERROR_LINE = re.compile(r"^(\w+\.)*\w*(Error|Exception|Exit|Interrupt)\b.*")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class HostProcess:
    host: str
    process: subprocess.Popen
    output_tail: deque = field(default_factory=lambda: deque(maxlen=40))
    pumps: list[threading.Thread] = field(default_factory=list)


class TrainingHosts:
    """Runs the hosts of one job to their end and keeps every line they print."""

    def __init__(self, job: Any, region: str, account_id: str, supervisor: ProcessSupervisor, role: RoleSession,
                 judged: RoleJudge, stop_requested: threading.Event, stop_grace_seconds: float) -> None:
        self.job = job
        self.region = region
        self.account_id = account_id
        self.supervisor = supervisor
        self.role = role
        self.judged = judged
        self.stop_requested = stop_requested
        self.stop_grace_seconds = stop_grace_seconds
        self.interrupt_status = ""
        self.hosts: list[HostProcess] = []
        self.log_lines: list[str] = []
        self._log_lock = threading.Lock()

    def run(self, host_dirs: dict[str, Path], environments: dict[str, dict[str, str]],
            deadline: float) -> dict[str, int]:
        """Start a process per host (in its ``/opt/ml``, with its environment), wait for all: their exit codes."""
        epoch = int(time.time())
        for host, base in host_dirs.items():
            writer = self.log_stream(f"{self.job.training_job_name}/{host}-{epoch}")
            process = self.supervisor.spawn(
                [sys.executable, "-m", "local_aws.sagemaker.container"],
                env=environments[host], cwd=str(base),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            # One stream per host, stdout and stderr interleaved in the order they were written, as on AWS.
            host_process = HostProcess(host, process)
            pump = threading.Thread(target=self.pump, args=(process.stdout, writer, host_process.output_tail), daemon=True)
            pump.start()
            host_process.pumps.append(pump)
            self.hosts.append(host_process)
        self.wait_for_hosts(deadline)
        for host_process in self.hosts:
            for pump in host_process.pumps:
                pump.join(timeout=5)
            self.supervisor.release(host_process.process)
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

    def wait_for_hosts(self, deadline: float) -> None:
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
                self.end_hosts(self.stop_grace_seconds)
                return
            if time.monotonic() > deadline:
                self.interrupt_status = "MaxRuntimeExceeded"
                self.end_hosts(self.stop_grace_seconds)
                return
            time.sleep(0.1)

    def end_hosts(self, grace_seconds: float) -> None:
        for host_process in self.hosts:
            self.supervisor.terminate(host_process.process, grace_seconds)

    def algorithm_error(self, host: str, code: int) -> str:
        tail = [line for hp in self.hosts if hp.host == host for line in hp.output_tail if line.strip()]
        error_lines = [i for i, line in enumerate(tail) if _ERROR_LINE.match(line.strip())]
        message = "\n".join(tail[error_lines[-1]:] if error_lines else tail[-3:])
        program = decode_hyperparameter((self.job.hyper_parameters or {}).get("sagemaker_program"))
        if code < 0:
            return f"AlgorithmError: {host} was killed by signal {-code}"
        return (f"AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\nErrorMessage \"{message}\"\n"
                f"Command \"{Path(sys.executable).name} {program}\", exit code: {code}")
