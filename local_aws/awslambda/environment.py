"""One Lambda execution environment: a long-lived Python process that imported the handler and serves invocations.

A cold start is spawning the process and importing the handler; a warm invoke reuses it. The process speaks the
newline-delimited JSON protocol of ``bootstrap.py``. A timed-out invocation kills the process, as AWS discards an
environment whose invocation timed out.
"""

import json
import logging
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from local_aws.processes import ProcessSupervisor

logger = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
_END = object()


@dataclass
class InvocationOutcome:
    """What one invocation produced: a payload or an error, its log lines, and the figures for REPORT."""

    payload: str | None = None
    error: dict | None = None
    timed_out: bool = False
    log_lines: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    max_memory_mb: int = 0


class EnvironmentStartError(Exception):
    """The handler could not be initialised; ``error`` is the AWS-shaped error payload."""

    def __init__(self, error: dict, log_lines: list[str]):
        super().__init__(error.get("errorMessage", "init failed"))
        self.error = error
        self.log_lines = log_lines


class ExecutionEnvironment:
    """A worker process for one function version, with its environment variables and credentials."""

    def __init__(self, env: dict[str, str], task_root: Path, log_stream_name: str, stderr_path: Path,
                 credentials_expire_at: float, supervisor: ProcessSupervisor, layers_root: Path | None = None):
        self.env = env
        self.layers_root = layers_root
        self.supervisor = supervisor
        self.task_root = task_root
        self.log_stream_name = log_stream_name
        self.credentials_expire_at = credentials_expire_at
        self.init_ms: float | None = None
        self.invocations = 0
        self.last_used = time.monotonic()
        self._stderr_path = stderr_path
        self._frames: queue.Queue = queue.Queue()
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, init_timeout: float) -> list[str]:
        """Spawn the process and wait until the handler is imported; returns the log lines written at init."""
        started = time.perf_counter()
        self._stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._stderr_path, "ab") as stderr:
            command = [sys.executable, "-u", str(BOOTSTRAP)]
            if self.layers_root is not None:  # the function's /opt: the bootstrap puts its Python folders on sys.path
                command += ["--layers", str(self.layers_root)]
            self._process = self.supervisor.spawn(
                command, cwd=self.task_root, env=self.env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            )
        self._reader = threading.Thread(target=self._read_frames, name=f"lambda-env-{self._process.pid}", daemon=True)
        self._reader.start()
        log_lines: list[str] = []
        deadline = time.monotonic() + init_timeout
        while True:
            frame = self._next_frame(deadline)
            if frame is None:
                self.kill()
                raise EnvironmentStartError(
                    {"errorType": "Runtime.InitError", "errorMessage": f"Init timed out after {init_timeout:.2f} seconds"},
                    log_lines)
            if frame is _END:
                raise EnvironmentStartError(
                    {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: Error: Runtime exited with error: exit status {self._process.wait()}"},
                    log_lines)
            if frame["type"] == "log":
                log_lines.append(frame["line"])
            elif frame["type"] == "init_error":
                self.kill()
                raise EnvironmentStartError(frame["error"], log_lines)
            elif frame["type"] == "ready":
                self.init_ms = (time.perf_counter() - started) * 1000.0
                return log_lines

    def invoke(self, invocation: dict, timeout: float) -> InvocationOutcome:
        """Send one invocation and wait for its result, killing the process when ``timeout`` passes."""
        outcome = InvocationOutcome()
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        self.invocations += 1
        try:
            self._process.stdin.write((json.dumps(invocation) + "\n").encode("utf-8"))
            self._process.stdin.flush()
        except OSError:
            self.kill()
            outcome.error = {"errorType": "Runtime.ExitError",
                             "errorMessage": f"RequestId: {invocation['request_id']} Error: Runtime exited without providing a reason"}
            return outcome
        while True:
            frame = self._next_frame(deadline)
            if frame is None:
                outcome.timed_out = True
                self.kill()
                break
            if frame is _END:
                code = self._process.wait()
                outcome.error = {"errorType": "Runtime.ExitError",
                                 "errorMessage": f"RequestId: {invocation['request_id']} Error: Runtime exited with error: exit status {code}"}
                break
            if frame["type"] == "log":
                outcome.log_lines.append(frame["line"])
            elif frame["type"] == "result":
                outcome.payload = frame["payload"]
                outcome.max_memory_mb = frame["max_memory_mb"]
                break
            elif frame["type"] == "error":
                outcome.error = frame["error"]
                outcome.max_memory_mb = frame["max_memory_mb"]
                break
        outcome.duration_ms = (time.perf_counter() - started) * 1000.0
        self.last_used = time.monotonic()
        return outcome

    def kill(self) -> None:
        """End the process (and anything it started) at once."""
        if self._process is None:
            return
        self.supervisor.kill(self._process)

    def stop(self, grace: float = 2.0) -> None:
        """Close stdin so the runtime loop ends; kill if it does not exit within ``grace`` seconds."""
        if self._process is None:
            return
        try:
            self._process.stdin.close()
            self._process.wait(timeout=grace)
        except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
            self.kill()
            return
        self.supervisor.release(self._process)

    def _next_frame(self, deadline: float):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            return self._frames.get(timeout=remaining)
        except queue.Empty:
            return None

    def _read_frames(self) -> None:
        stream = self._process.stdout
        for raw in stream:
            try:
                self._frames.put(json.loads(raw))
            except json.JSONDecodeError:
                logger.warning("Lambda environment %s wrote a malformed frame: %r", self._process.pid, raw[:200])
        self._frames.put(_END)
