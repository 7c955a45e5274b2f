"""Services started by the demo are stopped with everything they spawned, on exit, on error and after a kill."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from local_aws.processes import ProcessSupervisor, wait_group_gone
from pawflow.demo.processes import DemoServices, ManagedProcess
from tests.processes import still_running
from tests.timeouts import scaled

REPO = Path(__file__).resolve().parents[2]

# A service that starts a grandchild and ignores SIGTERM, the worst case for cleanup.
STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)
# A service whose child moves to a process group of its own, as Airflow's task processes do.
WITH_OWN_GROUP_CHILD = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], process_group=0)\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)
# A demo that starts a stubborn service and waits to be killed.
DEMO = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from pawflow.demo.processes import DemoServices, ManagedProcess\n"
    "services = DemoServices(Path(sys.argv[1])).__enter__()\n"
    "services.start(ManagedProcess('stubborn', [sys.executable, '-c', sys.argv[2]], env={}, log_dir=Path(sys.argv[1])))\n"
    "time.sleep(600)\n"
)


def _family(process: ManagedProcess) -> list[psutil.Process]:
    root = psutil.Process(process.popen.pid)
    return [root, *root.children(recursive=True)]


def _wait_for_line(wait_until, process: ManagedProcess, text: str) -> None:
    wait_until(process.log_tail, lambda log: text in log, timeout=scaled(10), interval=0.05)


def _wait_for_family(wait_until, process: ManagedProcess, size: int) -> list[psutil.Process]:
    return wait_until(lambda: _family(process), lambda family: len(family) >= size, timeout=scaled(10), interval=0.05)


def test_stop_kills_the_whole_process_group_even_when_sigterm_is_ignored(tmp_path, wait_until):
    supervisor = ProcessSupervisor(tmp_path / "state")
    process = ManagedProcess("stubborn", [sys.executable, "-c", STUBBORN], env={}, log_dir=tmp_path)
    try:
        process.start(supervisor)
        _wait_for_line(wait_until, process, "ready")
        family = _family(process)
        assert len(family) == 2
        process.stop(supervisor, grace_seconds=0.5)
        assert still_running(family) == []
    finally:
        supervisor.stop_all(grace_seconds=0.5)


def test_stop_ends_a_child_that_moved_to_a_process_group_of_its_own(tmp_path, wait_until):
    supervisor = ProcessSupervisor(tmp_path / "state")
    process = ManagedProcess("grouping", [sys.executable, "-c", WITH_OWN_GROUP_CHILD], env={}, log_dir=tmp_path)
    try:
        process.start(supervisor)
        family = _wait_for_family(wait_until, process, 2)
        assert os.getpgid(family[1].pid) not in (os.getpgid(family[0].pid), os.getpgid(0))
        process.stop(supervisor, grace_seconds=0.5)
        assert still_running(family) == []
    finally:
        supervisor.stop_all(grace_seconds=0.5)


def test_services_are_all_stopped_when_the_block_raises(tmp_path, wait_until):
    families = []
    with pytest.raises(RuntimeError, match="boom"):
        with DemoServices(tmp_path, grace_seconds=0.5) as services:
            for name in ("one", "two"):
                process = services.start(
                    ManagedProcess(name, [sys.executable, "-c", STUBBORN], env={}, log_dir=tmp_path))
                _wait_for_line(wait_until, process, "ready")
                families.extend(_family(process))
            raise RuntimeError("boom")
    assert len(families) == 4
    assert still_running(families) == []


def test_check_alive_names_the_service_that_exited_and_shows_its_log(tmp_path):
    with DemoServices(tmp_path) as services:
        process = services.start(ManagedProcess(
            "crashing", [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"], env={}, log_dir=tmp_path))
        process.popen.wait(timeout=30)
        with pytest.raises(RuntimeError, match=r"crashing exited with status 3(.|\n)*bad config"):
            services.check_alive()


def test_what_a_killed_demo_left_running_is_ended_when_the_next_demo_starts(tmp_path, wait_until):
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")])}
    demo = subprocess.Popen([sys.executable, "-c", DEMO, str(tmp_path), STUBBORN], env=env, cwd=REPO)
    service = ManagedProcess("stubborn", [], env={}, log_dir=tmp_path)
    grandchild = None
    try:
        _wait_for_line(wait_until, service, "ready")
        service_process = psutil.Process(demo.pid).children()[0]
        grandchild = service_process.children()[0]
        demo.send_signal(signal.SIGKILL)
        demo.wait(timeout=30)
        psutil.wait_procs([service_process], timeout=15)  # the parent-death signal reaches the service only
        assert still_running([grandchild]) == [grandchild]

        with DemoServices(tmp_path):
            assert still_running([grandchild]) == []
    finally:
        if grandchild is not None and still_running([grandchild]):
            grandchild.kill()


def test_waiting_for_a_group_ends_only_when_no_member_runs(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        assert wait_group_gone(child.pid, timeout=0.2) is False
        os.killpg(child.pid, signal.SIGKILL)
        assert wait_group_gone(child.pid, timeout=5.0) is True  # a zombie (not yet reaped) counts as ended
    finally:
        child.kill()
        child.wait()
