"""Services started by the demo are stopped with everything they spawned, on exit and on error."""

import sys

import psutil
import pytest

from pawflow.demo.processes import ManagedProcess, ProcessSupervisor
from tests.timeouts import scaled

# A service that starts a grandchild and ignores SIGTERM, the worst case for cleanup.
STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)


def _family(process: ManagedProcess) -> list[psutil.Process]:
    root = psutil.Process(process.popen.pid)
    return [root, *root.children(recursive=True)]


def _wait_for_line(wait_until, process: ManagedProcess, text: str) -> None:
    wait_until(process.log_tail, lambda log: text in log, timeout=scaled(10), interval=0.05)


def test_stop_kills_the_whole_process_group_even_when_sigterm_is_ignored(tmp_path, wait_until):
    process = ManagedProcess("stubborn", [sys.executable, "-c", STUBBORN], env={}, log_dir=tmp_path)
    process.start()
    _wait_for_line(wait_until, process, "ready")
    family = _family(process)
    assert len(family) == 2
    process.stop(grace_seconds=0.5)
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_supervisor_stops_every_service_when_the_block_raises(tmp_path, wait_until):
    families = []
    with pytest.raises(RuntimeError, match="boom"):
        with ProcessSupervisor(grace_seconds=0.5) as supervisor:
            for name in ("one", "two"):
                process = supervisor.start(
                    ManagedProcess(name, [sys.executable, "-c", STUBBORN], env={}, log_dir=tmp_path))
                _wait_for_line(wait_until, process, "ready")
                families.extend(_family(process))
            raise RuntimeError("boom")
    assert len(families) == 4
    assert not [p for p in families if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_check_alive_names_the_service_that_exited_and_shows_its_log(tmp_path):
    with ProcessSupervisor() as supervisor:
        process = supervisor.start(ManagedProcess(
            "crashing", [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"], env={}, log_dir=tmp_path))
        process.popen.wait(timeout=30)
        with pytest.raises(RuntimeError, match=r"crashing exited with status 3(.|\n)*bad config"):
            supervisor.check_alive()
