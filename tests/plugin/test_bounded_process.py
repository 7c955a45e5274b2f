"""run_bounded: a child past its bound is killed with everything it started, and the run fails saying so."""

from __future__ import annotations

import logging
import sys
import textwrap

import psutil
import pytest
from airflow.providers.common.compat.sdk import AirflowTaskTimeout

from pawflow.bounded_process import run_bounded

#: A child that starts a grandchild, records both pids, and both outlive any bound short of five minutes.
#: The grandchild inherits the output pipe, as data loader workers do.
FORKING_SLEEPER = textwrap.dedent("""
    import os, subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open(sys.argv[1], "w") as pids:
        pids.write(f"{os.getpid()} {grandchild.pid}")
    print("started", flush=True)
    time.sleep(300)
""")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def python(source: str, *args: str) -> list[str]:
    return [sys.executable, "-c", source, *args]


@pytest.mark.timeout(60)
def test_a_child_past_its_bound_fails_the_run_with_the_timeout_message(tmp_path):
    with pytest.raises(AirflowTaskTimeout, match=r"sleeper did not finish within 1 s; it and every process it "
                                                 r"started were killed\. Last lines:\nstarted"):
        run_bounded(python(FORKING_SLEEPER, str(tmp_path / "pids")), timeout_seconds=1, name="sleeper")


@pytest.mark.timeout(60)
def test_a_child_past_its_bound_leaves_no_process_behind(tmp_path):
    with pytest.raises(AirflowTaskTimeout):
        run_bounded(python(FORKING_SLEEPER, str(tmp_path / "pids")), timeout_seconds=1, name="sleeper")
    child, grandchild = (int(pid) for pid in (tmp_path / "pids").read_text().split())
    assert gone(child)
    assert gone(grandchild)


@pytest.mark.timeout(60)
def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    stubborn = textwrap.dedent("""
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(sys.argv[1], "w").write(str(os.getpid()))
        time.sleep(300)
    """)
    with pytest.raises(AirflowTaskTimeout):
        run_bounded(python(stubborn, str(tmp_path / "pid")), timeout_seconds=1, name="stubborn", grace_seconds=1)
    assert gone(int((tmp_path / "pid").read_text()))


@pytest.mark.timeout(60)
def test_a_grandchild_holding_the_output_does_not_hold_the_run_after_the_child_exits(tmp_path):
    leaver = textwrap.dedent("""
        import subprocess, sys
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        open(sys.argv[1], "w").write(str(grandchild.pid))
        print("done", flush=True)
    """)
    assert run_bounded(python(leaver, str(tmp_path / "pid")), timeout_seconds=120, name="leaver") == ["done"]
    assert gone(int((tmp_path / "pid").read_text()))


def test_every_output_line_is_logged_with_the_name(caplog):
    with caplog.at_level(logging.INFO, logger="pawflow.bounded_process"):
        run_bounded(python("print('one'); print('two', end='')"), timeout_seconds=60, name="talker")
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("talker: ")] == [
        "talker: one", "talker: two"]


def test_a_non_zero_exit_fails_the_run_quoting_the_last_lines():
    failing = "import sys\nfor n in range(30): print(f'line {n}')\nsys.exit(3)"
    with pytest.raises(RuntimeError, match=r"^failing exited with 3:\nline 10\n(.*\n)*line 29$"):
        run_bounded(python(failing), timeout_seconds=60, name="failing")


def test_the_environment_and_working_directory_are_the_given_ones(tmp_path):
    lines = run_bounded(python("import os; print(os.getcwd()); print(os.environ.get('ONLY_THIS'))"),
                        timeout_seconds=60, name="env", env={"ONLY_THIS": "yes"}, cwd=tmp_path)
    assert lines == [str(tmp_path), "yes"]
