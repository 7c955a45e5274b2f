"""Child processes of the runtime: each in its own process group, recorded on disk, none outliving the runtime.

Training hosts, serving workers, Lambda workers and the services of ``make demo`` are started through
``ProcessSupervisor.spawn``. Each child:

* leads a new session, so ``killpg`` reaches anything it forks (e.g. data loader workers);
* asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), and exits at once if the runtime is
  already gone by then. The kernel sends that signal when the *thread* that forked the child ends, so every child
  is forked by one long-lived spawner thread, never by a short-lived request thread;
* is recorded under ``<state-dir>/processes/`` (pid, process group, start time from ``/proc/<pid>/stat``,
  command, and the runtime that started it) until it is reaped.

Descendants that moved to a process group of their own (Airflow's task processes do) are ended with their child
by ``terminate``, ``kill`` and ``stop_all`` while it is alive. A runtime killed with SIGKILL takes its direct
children with it; what they forked (and what ignores the parent death) is ended by the next runtime started on
the same state dir (``end_leftovers``), before anything else runs.
A recorded start time guards every kill, so a recycled pid is never signalled. ``stop_all`` (server stop,
SIGINT/SIGTERM and interpreter exit) terminates every group still alive, escalating to SIGKILL after a grace
period.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

RECORDS_DIR = "processes"
PR_SET_PDEATHSIG = 1


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of ``/proc/<pid>/stat``), None if gone."""
    stat = _stat_fields(pid)
    return int(stat[19]) if stat else None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            text = stream.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rindex(")") + 2:].split()


def _group_members(pgid: int) -> list[tuple[int, int]]:
    """(pid, start time) of every live process in process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat_fields(int(entry))
        if stat and stat[0] != "Z" and int(stat[2]) == pgid:
            members.append((int(entry), int(stat[19])))
    return members


def _pdeathsig_hook(parent_pid: int):
    """A ``preexec_fn``: SIGKILL this child when its parent dies; exit now if the parent already has."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    getppid, exit_now, sigkill = os.getppid, os._exit, int(signal.SIGKILL)

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if getppid() != parent_pid:  # the runtime died between fork and prctl: nobody would ever end this child
            exit_now(1)

    return hook


def strays(pid: int) -> list[psutil.Process]:
    """The running descendants of ``pid`` that are in another process group than the one ``pid`` leads."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for member in descendants:
        try:
            if os.getpgid(member.pid) != pid:
                found.append(member)
        except ProcessLookupError:
            pass
    return found


def _running(member: psutil.Process) -> bool:
    try:
        return member.is_running() and member.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_strays_gone(members: list[psutil.Process], timeout: float = 5.0) -> bool:
    """Wait until none of ``members`` runs any more (zombies count as ended); False if some outlive ``timeout``."""
    deadline = time.monotonic() + timeout
    while any(_running(member) for member in members):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def signal_strays(members: list[psutil.Process], sig: int) -> None:
    """Signal each of ``members`` still running (psutil checks that a pid was not reused)."""
    for member in members:
        try:
            member.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


@dataclass(frozen=True)
class ChildRecord:
    """What is written to disk for one child: enough to end its group safely after the runtime is gone."""

    pid: int
    pgid: int
    start_time: int
    command: list[str]
    runtime_pid: int
    runtime_start_time: int


def end_group(pgid: int, leader_start_time: int, sig: int = signal.SIGKILL) -> bool:
    """Signal what is left of the process group a recorded child led; False if nothing of it remains.

    The group is ours if its leader is still the recorded process (same start time), or if the leader is gone but
    members remain (the kernel never reuses a pid while a group of that id has members). A live process with the
    leader's pid and another start time means the pid was recycled: then nothing is signalled.
    """
    leader = _stat_fields(pgid)
    if leader is not None and int(leader[19]) != leader_start_time:
        return False
    if (leader is None or leader[0] == "Z") and not _group_members(pgid):
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_group_gone(pgid: int, timeout: float = 5.0) -> bool:
    """Wait until no live (non-zombie) member of process group ``pgid`` remains; False if some outlive ``timeout``.

    A SIGKILL is delivered asynchronously: a caller that says "stopped" must not return while members still run.
    """
    deadline = time.monotonic() + timeout
    while _group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


class ProcessSupervisor:
    """Starts child processes from one spawner thread, records them, and ends them all on demand."""

    def __init__(self, state_dir: str | os.PathLike) -> None:
        self.records_dir = Path(state_dir) / RECORDS_DIR
        self._lock = threading.Lock()
        self._children: dict[subprocess.Popen, ChildRecord] = {}
        self._closed = False
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._spawner = threading.Thread(target=self._spawn_loop, name="local_aws-spawner", daemon=True)
        self._runtime_start_time = process_start_time(os.getpid()) or 0
        self._started = False
        atexit.register(self.stop_all)

    # --- leftovers of an earlier runtime ----------------------------------------------------------------------
    def end_leftovers(self, timeout: float = 10.0) -> int:
        """End the process groups recorded by earlier runtimes on this state dir that are no longer running.

        Call before anything else starts. Returns how many groups still had processes.
        """
        if not self.records_dir.is_dir():
            return 0
        ended = 0
        for path in sorted(self.records_dir.glob("*.json")):
            try:
                record = ChildRecord(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError) as error:
                log.warning("ignoring unreadable child record %s: %s", path, error)
                path.unlink(missing_ok=True)
                continue
            if record.runtime_pid != os.getpid() and process_start_time(record.runtime_pid) == record.runtime_start_time:
                continue  # another runtime on this state dir is alive and owns it
            deadline = time.monotonic() + timeout
            if end_group(record.pgid, record.start_time):
                ended += 1
                log.warning("ended leftover process group %s of an earlier runtime: %s", record.pgid,
                            " ".join(record.command))
                while end_group(record.pgid, record.start_time) and time.monotonic() < deadline:
                    time.sleep(0.05)
            path.unlink(missing_ok=True)
        return ended

    # --- starting children -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the spawner thread (once)."""
        with self._lock:
            if not self._started:
                self._started = True
                self._spawner.start()

    def spawn(self, args: Sequence[str], **popen_kwargs) -> subprocess.Popen:
        """Start ``args`` in a new session, with a parent-death signal, from the spawner thread; record it."""
        self.start()
        result: Future = Future()
        with self._lock:  # no request can follow the spawner's stop request
            if self._closed:
                raise RuntimeError("the runtime is shutting down")
            self._requests.put((list(args), popen_kwargs, result))
        process = result.result()
        log.debug("started pid %s: %s", process.pid, " ".join(args))
        return process

    def _spawn_loop(self) -> None:
        hook = _pdeathsig_hook(os.getpid())
        while True:
            request = self._requests.get()
            if request is None:
                return
            args, popen_kwargs, result = request
            try:
                result.set_result(self._start_child(args, popen_kwargs, hook))
            except BaseException as error:  # the caller gets the error (e.g. FileNotFoundError), the loop goes on
                result.set_exception(error)

    def _start_child(self, args: list[str], popen_kwargs: dict, hook) -> subprocess.Popen:
        with self._lock:
            if self._closed:
                raise RuntimeError("the runtime is shutting down")
            process = subprocess.Popen(args, start_new_session=True, preexec_fn=hook, **popen_kwargs)
            record = ChildRecord(process.pid, process.pid, process_start_time(process.pid) or 0, args,
                                 os.getpid(), self._runtime_start_time)
            self._children[process] = record
        self._write_record(record)
        self._release_exited()
        return process

    # --- records -----------------------------------------------------------------------------------------------
    def _record_path(self, record: ChildRecord) -> Path:
        return self.records_dir / f"{record.pid}-{record.start_time}.json"

    def _write_record(self, record: ChildRecord) -> None:
        self.records_dir.mkdir(parents=True, exist_ok=True)
        path = self._record_path(record)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(record)))
        os.replace(temporary, path)

    def _unrecord(self, process: subprocess.Popen) -> None:
        with self._lock:
            record = self._children.pop(process, None)
        if record is not None:
            self._record_path(record).unlink(missing_ok=True)

    def _release_exited(self) -> None:
        """Unrecord children that exited without anyone calling ``release`` (ending what they left behind)."""
        with self._lock:
            exited = [process for process in self._children if process.poll() is not None]
        for process in exited:
            self.release(process)

    # --- ending children ---------------------------------------------------------------------------------------
    def release(self, process: subprocess.Popen) -> None:
        """A child whose leader has exited: end anything left in its group and forget it."""
        with self._lock:
            record = self._children.get(process)
        if record is not None and process.poll() is not None:
            end_group(record.pgid, record.start_time)
        self._unrecord(process)

    def _leader_start_time(self, process: subprocess.Popen) -> int | None:
        """The recorded start time of the child, None when it was released and reaped (its pid may be reused)."""
        with self._lock:
            record = self._children.get(process)
        if record is not None:
            return record.start_time
        return None if process.poll() is not None else process_start_time(process.pid)

    def terminate(self, process: subprocess.Popen, grace_seconds: float = 3.0,
                  stop_signal: int = signal.SIGTERM) -> None:
        """Ask the child's group and strays to stop (SIGTERM, or ``stop_signal``), SIGKILL them if they outlive the
        grace period, and forget it."""
        start_time = self._leader_start_time(process)
        if start_time is None:
            return
        others = strays(process.pid) if process.poll() is None else []
        for sig in (stop_signal, signal.SIGKILL):
            end_group(process.pid, start_time, sig)
            signal_strays(others, sig)
            deadline = time.monotonic() + grace_seconds
            try:
                process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                continue
            _, others = psutil.wait_procs(others, timeout=max(0.0, deadline - time.monotonic()))
            if not others:
                break
        # The leader may have exited while members of its group linger: make sure none survive.
        if end_group(process.pid, start_time):
            wait_group_gone(process.pid)
        signal_strays(others, signal.SIGKILL)
        wait_strays_gone(others)
        self._unrecord(process)

    def kill(self, process: subprocess.Popen) -> None:
        """End the child's group and strays at once, wait for the leader, and forget it."""
        start_time = self._leader_start_time(process)
        if start_time is None:
            return
        others = strays(process.pid) if process.poll() is None else []
        end_group(process.pid, start_time)
        signal_strays(others, signal.SIGKILL)
        process.wait()
        wait_group_gone(process.pid)
        wait_strays_gone(others)
        self._unrecord(process)

    def live_pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._children if p.poll() is None]

    def stop_all(self, grace_seconds: float = 3.0) -> None:
        """End every child (SIGTERM, then SIGKILL after the grace period) and stop the spawner thread."""
        with self._lock:
            self._closed = True
            children = dict(self._children)
        if children:
            log.info("ending %s child process group(s)", len(children))
        others = [member for process in children if process.poll() is None for member in strays(process.pid)]
        for process, record in children.items():
            end_group(record.pgid, record.start_time, signal.SIGTERM)
        signal_strays(others, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in children:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self.terminate(process, grace_seconds=1.0)
        _, others = psutil.wait_procs(others, timeout=max(0.0, deadline - time.monotonic()))
        signal_strays(others, signal.SIGKILL)
        with self._lock:
            self._requests.put(None)  # only now: the spawner thread's end is every remaining child's parent death
