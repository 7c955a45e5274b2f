"""Airflow's services started as ``make demo`` starts them, and Debian's Chromium driven by Playwright.

Both are session-scoped: starting Airflow (about 30 s) and the browser is paid once for every UI test. On
teardown each fixture checks that none of the processes it started is still running.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest
from moto.server import ThreadedMotoServer

from pawflow.demo.airflow_services import AirflowApiClient, AirflowEnvironment
from pawflow.demo.processes import DemoServices, wait_until
from tests.processes import still_running
from tests.folder_runtime import aws, server  # noqa: F401  (this folder's own runtime)

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium reaches for Google services, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SCREENSHOTS_ENV = "PAWFLOW_UI_SCREENSHOTS"
LATEST_SCREENSHOTS = Path(__file__).resolve().parent / "output"
UI_TIMEOUT_MS = 30_000


class RunningAirflow(NamedTuple):
    environment: AirflowEnvironment
    client: AirflowApiClient


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _processes_with_environ(name: str, value: str) -> list[psutil.Process]:
    """Processes of this user whose environment has ``name=value`` (how Airflow's task processes are found too)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(name) == value and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return found


def _processes_with_argument(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(text in argument for argument in process.info["cmdline"] or ()) \
                    and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return found


def _describe(processes: list[psutil.Process]) -> str:
    lines = []
    for process in processes:
        try:
            lines.append(f"pid {process.pid}: {' '.join(process.cmdline())[:200]}")
        except psutil.Error:
            lines.append(f"pid {process.pid}")
    return "\n".join(lines)


@pytest.fixture(scope="package")
def aws_endpoint_url():
    """A moto server on a free port: the runs the UI triggers only need an AWS API to talk to, not to succeed."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="package")
def airflow(tmp_path_factory, aws_endpoint_url) -> RunningAirflow:
    """api-server, scheduler, dag-processor and triggerer on the repository's dags/, every DAG file parsed."""
    home = tmp_path_factory.mktemp("airflow_home")
    environment = AirflowEnvironment(home=home, api_port=_free_port(), aws_endpoint_url=aws_endpoint_url)
    started = time.monotonic()
    environment.prepare()
    with DemoServices(home) as services:
        client = environment.start(services, home / "service-logs")
        dag_files = sorted(environment.dags_folder.glob("*.py"))

        def every_dag_file_parsed() -> bool:
            errors = client.import_errors()
            if errors:
                raise RuntimeError(f"DAG import errors: {errors}")
            return len(client.dag_ids()) >= len(dag_files)

        wait_until(every_dag_file_parsed, timeout=120, interval=1.0, services=services,
                   what=f"the dag-processor to parse {', '.join(path.name for path in dag_files)}")
        log.info("Airflow up with %s DAGs at %s after %.1f s", len(dag_files), environment.base_url,
                 time.monotonic() - started)
        families = []
        for process in services.processes:
            root = psutil.Process(process.popen.pid)
            families.extend([root, *root.children(recursive=True)])
        try:
            yield RunningAirflow(environment, client)
        finally:
            client.close()
            stopping = time.monotonic()
    log.info("Airflow services stopped in %.1f s", time.monotonic() - stopping)
    left = still_running(families) + _processes_with_environ("AIRFLOW_HOME", str(home))
    assert not left, f"processes of the Airflow services still running after stop:\n{_describe(left)}"


@pytest.fixture(scope="package")
def chromium(tmp_path_factory):
    """A browser context of Debian's Chromium with a fresh profile; skipped, loudly, only if it cannot start."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install -y chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    playwright = sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
    except PlaywrightError as error:
        playwright.stop()
        pytest.skip(f"Chromium at {CHROMIUM} cannot start: {error}")
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    browser_processes = _processes_with_argument(str(profile))
    try:
        yield context
    finally:
        context.close()
        playwright.stop()
    left = still_running(browser_processes) + _processes_with_argument(str(profile))
    assert not left, f"Chromium processes still running after close:\n{_describe(left)}"


@pytest.fixture
def page(chromium):
    """A new tab with no login: every test starts signed out."""
    chromium.clear_cookies()
    tab = chromium.new_page()
    yield tab
    tab.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Folder for this test's screenshots: ``$PAWFLOW_UI_SCREENSHOTS`` when set, else the test's tmp_path."""
    folder = Path(os.environ[SCREENSHOTS_ENV]) if os.environ.get(SCREENSHOTS_ENV) else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def keep_latest():
    """Copy a screenshot to tests/ui/output/ (git-ignored), where the latest run's pictures are easy to find."""

    def copy(screenshot: Path) -> Path:
        LATEST_SCREENSHOTS.mkdir(exist_ok=True)
        return Path(shutil.copy2(screenshot, LATEST_SCREENSHOTS / screenshot.name))

    return copy
