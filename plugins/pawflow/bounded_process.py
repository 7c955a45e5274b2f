"""A child process run to completion within a time bound: its output logged as it comes, its group ended after.

The child leads a new session, so its process group holds everything it forks (data loader workers, say). Its
output is read with a deadline, not to end of file, so a child (or a grandchild holding the pipe) that runs past
the bound cannot hold the task. On timeout, on any error or interruption of the caller (Airflow's
``execution_timeout``, a task being stopped) and after a normal exit, the whole group is sent SIGTERM, then
SIGKILL after a grace period: nothing the child started outlives the run.
"""

from __future__ import annotations

import codecs
import collections
import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil
from airflow.providers.common.compat.sdk import AirflowTaskTimeout

log = logging.getLogger(__name__)

#: How often the child's exit is checked while its output is quiet.
EXIT_CHECK_SECONDS = 0.5
#: Bytes read from the child's output at a time.
READ_SIZE = 65536


def run_bounded(
    command: Sequence[str],
    *,
    timeout_seconds: float,
    name: str,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    tail_lines: int = 20,
    grace_seconds: float = 10.0,
) -> list[str]:
    """
    Run ``command``, logging each output line as ``<name>: <line>``; return the last lines of its output.

    :param command: argv of the child.
    :param timeout_seconds: Wall-clock bound on the whole run, from start to exit.
    :param name: What the child is, in log lines and messages (e.g. ``train.py``).
    :param env: Complete environment of the child; the caller's when None.
    :param cwd: Working directory of the child.
    :param tail_lines: How many of the last output lines messages quote.
    :param grace_seconds: Time between SIGTERM and SIGKILL when the group is ended.
    :raises AirflowTaskTimeout: The child did not exit within ``timeout_seconds``; its group has been killed.
    :raises RuntimeError: The child exited with a non-zero status; the message quotes its last lines.
    """
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    deadline = time.monotonic() + timeout_seconds
    process = subprocess.Popen(
        list(command), env=None if env is None else dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.info("Started %s (pid %s, bounded to %s s)", name, process.pid, timeout_seconds)
    try:
        exited = _stream_until_exit(process, deadline, name, tail)
    finally:
        end_group(process, grace_seconds=grace_seconds)
    if not exited:
        raise AirflowTaskTimeout(
            f"{name} did not finish within {timeout_seconds:g} s; it and every process it started were killed. "
            f"Last lines:\n" + "\n".join(tail)
        )
    if process.returncode != 0:
        raise RuntimeError(f"{name} exited with {process.returncode}:\n" + "\n".join(tail))
    return list(tail)


def _stream_until_exit(process: subprocess.Popen, deadline: float, name: str, tail: collections.deque) -> bool:
    """Log the child's output until it exits (True) or the deadline passes (False)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    partial = ""

    def emit(data: bytes, final: bool = False) -> None:
        nonlocal partial
        *lines, partial = (partial + decoder.decode(data, final=final)).split("\n")
        if final and partial:
            lines.append(partial)
            partial = ""
        for line in lines:
            tail.append(line.rstrip("\r"))
            log.info("%s: %s", name, line.rstrip("\r"))

    stdout = process.stdout
    with stdout, selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        open_pipe = True
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                emit(b"", final=True)
                return False
            if open_pipe and selector.select(min(remaining, EXIT_CHECK_SECONDS)):
                chunk = os.read(stdout.fileno(), READ_SIZE)
                if chunk:
                    emit(chunk)
                    continue
                open_pipe = False
                selector.unregister(stdout)
            if process.poll() is not None:
                break
            if not open_pipe:
                try:
                    process.wait(timeout=min(max(deadline - time.monotonic(), 0), EXIT_CHECK_SECONDS))
                except subprocess.TimeoutExpired:
                    continue
                break
        while open_pipe and time.monotonic() < deadline and selector.select(0):  # written just before the exit
            chunk = os.read(stdout.fileno(), READ_SIZE)
            if not chunk:
                break
            emit(chunk)
        emit(b"", final=True)
    return True


def end_group(process: subprocess.Popen, *, grace_seconds: float = 10.0) -> None:
    """SIGTERM the child's process group and descendants, SIGKILL what is left after ``grace_seconds``; reap it."""
    others = _descendants_and_group(process)
    if process.poll() is None or others:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            _signal_group(process.pid, signum)
            for member in others:
                _signal(member, signum)
            if _ended(process, others, timeout=grace_seconds):
                break
            log.warning("%s process(es) of group %s did not stop on %s", len(others) + 1, process.pid, signum.name)
    process.wait()


def _descendants_and_group(process: subprocess.Popen) -> list[psutil.Process]:
    """The child's live descendants and the members of its group (reparented ones included), but not the child."""
    found: dict[int, psutil.Process] = {}
    try:
        found.update((member.pid, member) for member in psutil.Process(process.pid).children(recursive=True))
    except psutil.NoSuchProcess:
        pass
    for candidate in psutil.process_iter():
        try:
            if candidate.pid not in found and os.getpgid(candidate.pid) == process.pid:
                found[candidate.pid] = candidate
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    found.pop(process.pid, None)
    return [member for member in found.values() if _running(member)]


def _running(member: psutil.Process) -> bool:
    try:
        return member.is_running() and member.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _ended(process: subprocess.Popen, others: list[psutil.Process], *, timeout: float) -> bool:
    """Poll until the child has exited and every other member is gone (or a zombie); False at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None and not any(_running(member) for member in others):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _signal(member: psutil.Process, signum: int) -> None:
    try:
        member.send_signal(signum)
    except psutil.NoSuchProcess:
        pass


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
