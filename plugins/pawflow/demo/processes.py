"""The demo's service processes: started and ended by local_aws's process supervisor, each logged to a file.

Every service runs in its own process group with a parent-death signal and a record under
``<output-dir>/processes`` (``local_aws.processes``): stopping one ends everything it spawned, a demo killed
outright takes its services with it, and the next demo on the same output folder ends what an earlier one left.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from pathlib import Path

from local_aws.processes import ProcessSupervisor

log = logging.getLogger(__name__)


class ManagedProcess:
    """One service process; stopping it stops everything it spawned.

    :param name: short name used in messages and as the log file's stem.
    :param command: argv of the process.
    :param env: complete environment of the process.
    :param log_dir: folder for ``<name>.log`` (stdout and stderr together).
    :param cwd: working directory.
    """

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log_dir: Path, cwd: Path | None = None):
        self.name = name
        self.command = command
        self.env = env
        self.cwd = cwd
        self.log_path = Path(log_dir) / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self, supervisor: ProcessSupervisor) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.popen = supervisor.spawn(
                self.command, env=self.env, cwd=self.cwd, stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        log.info("started %s (pid %s): %s", self.name, self.popen.pid, " ".join(self.command))
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, supervisor: ProcessSupervisor, grace_seconds: float = 15.0) -> None:
        """SIGTERM the whole group, wait, then SIGKILL whatever of it is left (descendants included)."""
        if self.popen is not None:
            supervisor.terminate(self.popen, grace_seconds)


class DemoServices:
    """The demo's services: stopped (in reverse order) on exit, error, SIGINT or SIGTERM.

    :param state_dir: folder whose ``processes/`` holds the records of the running services.
    :param grace_seconds: how long each service gets between SIGTERM and SIGKILL.
    """

    def __init__(self, state_dir: Path, grace_seconds: float = 15.0) -> None:
        self.supervisor = ProcessSupervisor(state_dir)
        self.grace_seconds = grace_seconds
        self.processes: list[ManagedProcess] = []
        self._previous_handlers: dict[int, object] = {}

    def start(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process.start(self.supervisor))
        return process

    def check_alive(self) -> None:
        """Raise with the log tail of the first service that has exited."""
        for process in self.processes:
            if not process.running:
                raise RuntimeError(
                    f"{process.name} exited with status {process.popen.returncode}; last lines of "
                    f"{process.log_path}:\n{process.log_tail()}"
                )

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop(self.supervisor, self.grace_seconds)
        self.processes.clear()
        self.supervisor.stop_all()

    def _on_signal(self, signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def __enter__(self) -> DemoServices:
        self.supervisor.end_leftovers()  # what a demo killed outright on this output folder left running
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.stop_all()
        finally:
            for signum, handler in self._previous_handlers.items():
                signal.signal(signum, handler)


def wait_until(predicate, *, timeout: float, interval: float = 0.5, what: str, services: DemoServices | None = None):
    """Poll ``predicate`` until it returns a truthy value; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        if services is not None:
            services.check_alive()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
