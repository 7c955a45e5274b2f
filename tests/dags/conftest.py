"""Airflow pointed at a temporary home with the repository's dags/ and plugins/ folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pawflow.account_setup import set_up_account
from pawflow.local_connection import local_runtime_connection
from tests.aws_clients import client_factory
from tests.timeouts import QUIET_DAG_RUN_SECONDS, scaled
from tests.folder_runtime import aws, server  # noqa: F401  (this folder's own runtime)

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def airflow_environment(home: Path) -> dict[str, str]:
    """Environment for an Airflow process whose home, DAGs and plugins are this repository's."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in (".", "plugins", "training_code")),
    }


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """Environment of a fresh Airflow home (not migrated) for subprocesses."""
    return airflow_environment(tmp_path_factory.mktemp("airflow_home"))


@pytest.fixture(scope="session")
def run_python(airflow_env):
    """Run a Python snippet in a fresh interpreter under ``airflow_env``; return the completed process."""

    def run(code: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                              env=env or airflow_env, timeout=timeout, check=False)

    return run


RUN_DAG = textwrap.dedent("""
    import json, sys
    from sqlalchemy import select
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag = DagBag(sys.argv[1]).get_dag(sys.argv[2])
    run = dag.test(run_conf=json.loads(sys.argv[3]))
    with create_session() as session:
        rows = session.execute(select(XComModel.task_id, XComModel.value).where(
            XComModel.dag_id == dag.dag_id, XComModel.run_id == run.run_id, XComModel.key == "return_value")).all()
    print("RESULT " + json.dumps({
        "state": str(run.state),
        "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
        "xcom": {task_id: value for task_id, value in rows},
    }, default=str))
""")


@pytest.fixture(scope="package")
def client(server):
    """A boto3 client factory of the package's runtime (tests/conftest.py), as the administrator."""
    return client_factory(server.endpoint_url, max_attempts=None)


@pytest.fixture(scope="package")
def pipeline_env(server, client, airflow_env):
    """A migrated Airflow home whose aws_default works as the Airflow role on the runtime; the account set up.

    Every task's call is judged by IAM against ``iam/airflow-execution-role-policy.json`` (nothing more: the
    role holds that policy alone), as it would be on AWS.
    """
    arns = set_up_account(client("iam"), client("sts"))
    connection = local_runtime_connection(server.endpoint_url, REGION, role_arn=arns["AirflowRoleArn"])
    env = {**airflow_env, "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection), "AWS_DEFAULT_REGION": REGION}
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                             text=True, timeout=300, check=False)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    return env


@pytest.fixture(scope="package")
def run_dag(pipeline_env):
    """Run a DAG with ``dag.test(run_conf=...)`` in a fresh interpreter; return states and return values."""

    def run(dag_id: str, conf: dict, expect: str = "success") -> dict:
        return _run_dag(pipeline_env, dag_id, conf, expect)

    return run


def _run_dag(env, dag_id, conf, expect):
    result = subprocess.run([sys.executable, "-c", RUN_DAG, str(REPO / "dags"), dag_id, json.dumps(conf)], env=env,
                            capture_output=True, text=True, timeout=scaled(QUIET_DAG_RUN_SECONDS),
                            check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        pytest.fail(f"dag.test() exited with {result.returncode}:\n{(result.stdout + result.stderr)[-6000:]}")
    report = json.loads(lines[-1][len("RESULT "):])
    report["xcom"] = {k: json.loads(v) if isinstance(v, str) and v[:1] in "{[\"" else v
                      for k, v in report["xcom"].items()}
    failed = {task: state for task, state in report["tasks"].items() if state not in ("success", "skipped")}
    if expect != "success":
        assert report["state"] == expect, report["tasks"]
        return report
    if report["state"] != "success" or failed:
        errors = [line for line in (result.stdout + result.stderr).splitlines()
                  if "error" in line.lower() or "denied" in line.lower() or "exception" in line.lower()]
        pytest.fail(f"run {report['state']}; tasks not successful: {failed}\n" + "\n".join(errors[-40:]))
    return report


