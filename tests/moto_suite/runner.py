"""moto 5.2.5's own tests in server mode, folder by folder, against stock moto's server and against local_aws.

A test that passes on stock moto and fails on local_aws must be listed, with its reason, in
``expected_differences.txt`` beside this file; any other such test is a new difference and fails the run.
Run by ``make moto-suite`` (every folder) and by ``test_runner.py`` (one small folder).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from local_aws.server import ServerProcess

HERE = Path(__file__).resolve().parent
EXPECTED_DIFFERENCES = HERE / "expected_differences.txt"
FOLDERS = ("sts", "applicationautoscaling", "sagemakerruntime", "cloudwatch", "logs", "iam", "sagemaker",
           "awslambda")
# What moto's mock_aws puts in the environment of every test, so local_aws runs with it as the administrator.
ACCESS_KEY_ID = "FOOBARKEY"
SECRET_ACCESS_KEY = "FOOBARSECRET"
SERVER_START_TIMEOUT = 60.0
FOLDER_TIMEOUT = 3 * 3600.0
# Per test: moto's own tests wait at most 30 s for an asynchronous result (wait_for_log_msg); a test still running
# after this loops (moto's Lambda helper retries CreateRole forever when the server refuses it) and fails.
TEST_TIMEOUT = 180


@dataclass
class FolderRun:
    """One folder's outcomes on one server kind: test id -> passed, failed or skipped (and failure messages)."""

    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)


def load_expected_differences(path: Path = EXPECTED_DIFFERENCES) -> dict[str, str]:
    """``test id | reason`` lines; ``#`` starts a comment line. A line without a reason is an error."""
    expected = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        test_id, separator, reason = line.partition(" | ")
        if not separator or not reason.strip():
            raise ValueError(f"{path}:{number}: expected 'test id | reason', got {line!r}")
        expected[test_id.strip()] = reason.strip()
    return expected


def new_differences(stock: FolderRun, ours: FolderRun, expected: dict[str, str]) -> list[str]:
    """Tests that passed on stock moto and did not pass on local_aws, and are not explained."""
    return sorted(test_id for test_id, outcome in stock.outcomes.items()
                  if outcome == "passed" and ours.outcomes.get(test_id) != "passed" and test_id not in expected)


def stale_differences(stock: FolderRun, ours: FolderRun, expected: dict[str, str]) -> list[str]:
    """Listed tests of this run that no longer differ (both pass, or stock fails too): the list can shrink."""
    return sorted(test_id for test_id in expected if test_id in stock.outcomes
                  and not (stock.outcomes[test_id] == "passed" and ours.outcomes.get(test_id) != "passed"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(url: str, process: subprocess.Popen, timeout: float = SERVER_START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stock moto server at {url} exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"stock moto server at {url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def stock_servers(python: str, count: int) -> Iterator[list[str]]:
    """``count`` stock moto servers (``python -m moto.server``), one per pytest worker."""
    processes, urls = [], []
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen([python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            wait_for_server(urls[-1], process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def local_aws_servers(count: int, state_root: Path) -> Iterator[list[str]]:
    """``count`` local_aws servers with moto's management API on and moto's test keys as the administrator's."""
    servers = []
    try:
        for index in range(count):
            servers.append(ServerProcess(
                state_root / f"local-aws-{index}", "--enable-moto-api", "--access-key-id", ACCESS_KEY_ID,
                "--secret-access-key", SECRET_ACCESS_KEY, "--log-level", "WARNING",
            ).start())
        yield [server.endpoint_url for server in servers]
    finally:
        for server in servers:
            server.stop()


def read_junit(path: Path) -> FolderRun:
    run = FolderRun()
    if not path.exists():
        return run
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            run.outcomes[test_id] = "failed"
            run.messages[test_id] = (problem.get("message") or "").splitlines()[0][:300] if problem.get("message") else ""
        elif case.find("skipped") is not None:
            run.outcomes[test_id] = "skipped"
        else:
            run.outcomes[test_id] = "passed"
    return run


def run_folder(python: str, moto_tests: Path, folder: str, endpoints: list[str], workers: int,
               report: Path) -> FolderRun:
    """moto's ``tests/test_<folder>`` in server mode, worker N against ``endpoints[N]``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "MOTO_", "TEST_"))}
    env.update({
        "TEST_SERVER_MODE": "true",
        "TEST_SERVER_MODE_ENDPOINT": endpoints[0],
        "MOTO_SUITE_ENDPOINTS": ",".join(endpoints),
        "MOTO_SUITE_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "MOTO_SUITE_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "PYTHONPATH": str(HERE),
        "AWS_DEFAULT_REGION": "us-east-1",
    })
    command = [python, "-m", "pytest", f"tests/test_{folder}", "-q", "-p", "server_mode_plugin",
               "-p", "no:cacheprovider", "-n", str(workers), "--junitxml", str(report), "-o", "addopts=",
               "--timeout", str(TEST_TIMEOUT)]
    started = time.monotonic()
    subprocess.run(command, cwd=moto_tests, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=FOLDER_TIMEOUT, check=False)
    run = read_junit(report)
    run.seconds = time.monotonic() - started
    return run


def summary_line(folder: str, stock: FolderRun, ours: FolderRun) -> str:
    return (f"{folder}: stock moto {stock.count('passed')}/{len(stock.outcomes)} passed in {stock.seconds:.0f} s; "
            f"local_aws {ours.count('passed')}/{len(ours.outcomes)} passed in {ours.seconds:.0f} s")


def compare_folder(python: str, moto_tests: Path, folder: str, workers: int, results: Path,
                   expected: dict[str, str]) -> tuple[FolderRun, FolderRun, list[str]]:
    count = max(workers, 1)
    with stock_servers(python, count) as endpoints:
        stock = run_folder(python, moto_tests, folder, endpoints, workers, results / f"{folder}-stock.xml")
    with local_aws_servers(count, results / f"{folder}-state") as endpoints:
        ours = run_folder(python, moto_tests, folder, endpoints, workers, results / f"{folder}-local-aws.xml")
    return stock, ours, new_differences(stock, ours, expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--moto-tests", type=Path, required=True,
                        help="the extracted moto sdist (the folder holding tests/ and setup.cfg)")
    parser.add_argument("--python", required=True,
                        help="the interpreter with moto[server], pytest, pytest-xdist and freezegun installed")
    parser.add_argument("--folders", nargs="+", default=list(FOLDERS), choices=FOLDERS, metavar="FOLDER")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (each gets its own servers)")
    parser.add_argument("--results", type=Path, help="where JUnit reports and server state go (default: a temp dir)")
    args = parser.parse_args(argv)
    expected = load_expected_differences()
    with contextlib.ExitStack() as stack:
        results = args.results or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="moto-suite-")))
        results.mkdir(parents=True, exist_ok=True)
        unexplained = []
        for folder in args.folders:
            stock, ours, new = compare_folder(args.python, args.moto_tests.resolve(), folder, args.workers,
                                              results, expected)
            print(summary_line(folder, stock, ours), flush=True)
            if not stock.outcomes or not ours.outcomes:
                print(f"  NO TESTS RAN for {folder} on {'stock moto' if not stock.outcomes else 'local_aws'}: "
                      f"see the JUnit reports in {results}", flush=True)
                unexplained.append(folder)
            for test_id in stale_differences(stock, ours, expected):
                print(f"  no longer differs (remove from {EXPECTED_DIFFERENCES.name}): {test_id}", flush=True)
            for test_id in new:
                print(f"  NEW DIFFERENCE {test_id}: {ours.messages.get(test_id, ours.outcomes.get(test_id, 'not run'))}",
                      flush=True)
            unexplained += new
    if unexplained:
        print(f"{len(unexplained)} unexplained difference(s) above: a test that passes on stock moto and fails on "
              f"local_aws needs a reason in {EXPECTED_DIFFERENCES}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
