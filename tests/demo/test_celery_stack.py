"""`make demo EXECUTOR=celery` for real: docker-compose.yaml's stack runs dog_breed_pipeline to success.

One run (a few minutes) is shared by the tests: PostgreSQL, Redis, the local AWS runtime, api-server, scheduler,
dag-processor, triggerer and two Celery workers start as the demo starts them; the pipeline is triggered through
the REST API with the demo's settings; then everything is stopped and the tests read what was recorded.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from pawflow.demo.airflow_services import AirflowApiClient
from pawflow.demo.celery_stack import CeleryStack, free_port
from pawflow.demo.local_runtime import start_local_runtime
from pawflow.demo.postgres_server import postgres_bin_dir
from pawflow.demo.processes import DemoServices, wait_until
from pawflow.demo.story import PipelineStory, worker_spread

# The shared run happens in the first test's set-up: up to ~15 minutes on a loaded 2-core machine, more than
# the suite's 900 s default per test. One xdist worker takes all four tests (`make test` runs --dist loadfile),
# so the stack is started once.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

DAG_ID = "dog_breed_pipeline"
#: The tasks that wait for SageMaker; with the demo's ``deferrable=True`` each hands its wait to the triggerer.
DEFERRING_TASKS = {"extract_features", "tune_hyperparameters", "train_single_instance", "train_multi_instance",
                   "deploy_endpoint"}


class StackRun(NamedTuple):
    ok: bool
    seconds: float
    task_instances: list[dict]
    triggered_waits: dict[str, int]
    triggerer_hosts: dict[int, str]
    worker_names: list[str]
    started_pids: list[int]
    left_running: list[str]


def _servers_missing() -> str | None:
    try:
        postgres_bin_dir()
    except RuntimeError as error:
        return str(error)
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian: apt-get install -y redis-server; `make test` does it as root)"
    return None


def _family_pids(services: DemoServices) -> list[int]:
    pids = []
    for process in services.processes:
        try:
            root = psutil.Process(process.popen.pid)
            pids += [root.pid, *(child.pid for child in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            pass
    return pids


def _still_running(pids: list[int], out: Path) -> list[str]:
    """Started processes still alive, and any process whose command line or AIRFLOW_HOME points into ``out``."""
    left = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            mine = process.pid in pids or any(str(out) in part for part in process.info["cmdline"] or ()) \
                or str(out) in process.environ().get("AIRFLOW_HOME", "")
            if mine:
                left.append(f"pid {process.pid}: {' '.join(process.info['cmdline'] or ())[:200]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return left


@pytest.fixture(scope="module")
def stack_run(tmp_path_factory) -> StackRun:
    missing = _servers_missing()
    if missing:
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("celery-stack")
    story = PipelineStory(out)
    started = time.monotonic()
    pids: list[int] = []
    with DemoServices(out) as services:
        data_dir = story.prepare_data()
        endpoint_url = start_local_runtime(services, port=free_port(), state_dir=out / "local-aws",
                                           log_dir=out / "logs", env=story.runtime_environ())
        story.runtime_ready(endpoint_url)
        stack = CeleryStack(out=out, api_port=free_port(), aws_endpoint_url=endpoint_url)
        client: AirflowApiClient = stack.start(services, out / "logs")
        try:
            wait_until(lambda: DAG_ID in client.dag_ids(), timeout=180, what=f"{DAG_ID} to be parsed",
                       services=services)
            client.unpause(DAG_ID)
            run_id = client.trigger(DAG_ID, story.run_conf(data_dir))["dag_run_id"]
            ok = story.follow(client, DAG_ID, run_id, services=services, timeout=1500)
            seconds = time.monotonic() - started
            task_instances = client.task_instances(DAG_ID, run_id)
            triggerer_hosts = {job["id"]: job["hostname"] for job in client.jobs("TriggererJob")}
            triggered_waits = stack.triggered_waits(DAG_ID, run_id)
            pids = _family_pids(services)
        finally:
            client.close()
    return StackRun(ok, seconds, task_instances, triggered_waits, triggerer_hosts, stack.worker_names, pids,
                    _still_running(pids, out))


def test_dog_breed_pipeline_succeeds_on_the_compose_stack(stack_run):
    failed = [ti["task_id"] for ti in stack_run.task_instances if ti["state"] not in ("success", "skipped")]
    assert stack_run.ok, f"run failed; tasks not successful: {failed}"
    print(f"run time: {stack_run.seconds:.0f} s")


def test_both_celery_workers_ran_tasks(stack_run):
    spread = worker_spread(stack_run.task_instances)
    print("task-to-worker spread:", {host: len(tasks) for host, tasks in spread.items()})
    assert set(spread) == set(stack_run.worker_names), spread


def test_every_sagemaker_wait_went_through_the_triggerer(stack_run):
    assert set(stack_run.triggered_waits) == DEFERRING_TASKS
    assert {stack_run.triggerer_hosts[job] for job in stack_run.triggered_waits.values()} == {"airflow-triggerer"}


def test_no_process_of_the_stack_is_left(stack_run):
    assert len(stack_run.started_pids) >= 10  # postgres, redis, local-aws and six Airflow services, with children
    assert stack_run.left_running == []
