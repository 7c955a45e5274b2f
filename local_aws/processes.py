"""Child processes of the runtime: each in its own process group, all ended when the runtime stops.

Training hosts and serving workers are started through ``ProcessSupervisor.spawn``. Each child leads a
new session (so ``killpg`` reaches anything it forks, e.g. data loader workers), and ``stop_all``
(called on server stop, SIGINT/SIGTERM and at interpreter exit) terminates every group still alive,
escalating to SIGKILL after a grace period.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)


def terminate_group(process: subprocess.Popen, grace_seconds: float = 3.0) -> None:
    """SIGTERM the process group led by ``process``, then SIGKILL it if it outlives the grace period."""
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        pgid = process.pid
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, grace_seconds)):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        break
    # The leader may have exited while members of its group linger: make sure none survive.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class ProcessSupervisor:
    """Starts child processes in their own groups and ends them all on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: set[subprocess.Popen] = set()
        self._closed = False
        atexit.register(self.stop_all)

    def spawn(self, args: Sequence[str], **popen_kwargs) -> subprocess.Popen:
        with self._lock:
            if self._closed:
                raise RuntimeError("the runtime is shutting down")
            process = subprocess.Popen(list(args), start_new_session=True, **popen_kwargs)
            self._children.add(process)
        log.debug("started pid %s: %s", process.pid, " ".join(args))
        return process

    def forget(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._children.discard(process)

    def terminate(self, process: subprocess.Popen, grace_seconds: float = 3.0) -> None:
        terminate_group(process, grace_seconds)
        self.forget(process)

    def live_pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._children if p.poll() is None]

    def stop_all(self, grace_seconds: float = 3.0) -> None:
        with self._lock:
            self._closed = True
            children = list(self._children)
            self._children.clear()
        if not children:
            return
        log.info("ending %s child process group(s)", len(children))
        for process in children:
            try:
                os.killpg(os.getpgid(process.pid), signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace_seconds
        for process in children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                pass
            terminate_group(process, grace_seconds=1.0)

    def reopen(self) -> None:
        with self._lock:
            self._closed = False
