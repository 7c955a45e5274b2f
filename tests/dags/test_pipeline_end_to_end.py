"""dog_breed_pipeline runs end to end with ``dag.test()`` on the local AWS runtime, twice: the second run converges.

Real parts throughout: Airflow's own test runner (triggers run in line in the deferrable run), the local
runtime as AWS (training, tuning and serving really run on a small generated data set, IAM is enforced on the
Lambda's role), and the repository's training code, Lambda and serving code. The first run defers its
SageMaker waits, the second polls in the task; the second also tears the endpoint down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.slow

REGION = "us-east-1"
BUCKET = "pawflow-e2e"
SAGEMAKER_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
RUN_DAG = textwrap.dedent("""
    import json, sys
    from sqlalchemy import select
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag = DagBag(sys.argv[1]).get_dag("dog_breed_pipeline")
    run = dag.test(run_conf=json.loads(sys.argv[2]))
    with create_session() as session:
        rows = session.execute(select(XComModel.task_id, XComModel.value).where(
            XComModel.dag_id == dag.dag_id, XComModel.run_id == run.run_id, XComModel.key == "return_value")).all()
    print("RESULT " + json.dumps({
        "state": str(run.state),
        "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
        "xcom": {task_id: value for task_id, value in rows},
    }, default=str))
""")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    from local_aws.server import ServerProcess

    with ServerProcess(tmp_path_factory.mktemp("e2e_state")) as server:
        yield server


@pytest.fixture(scope="module")
def client(runtime):
    def make(service: str):
        return boto3.client(service, endpoint_url=runtime.endpoint_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return make


@pytest.fixture(scope="module")
def pipeline_env(runtime, client, airflow_env):
    """A migrated Airflow home whose aws_default points at the runtime, and the SageMaker execution role."""
    client("iam").create_role(RoleName="pawflow-sagemaker-execution",
                              AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    connection = {"conn_type": "aws", "login": "testing", "password": "testing",
                  "extra": {"region_name": REGION, "endpoint_url": runtime.endpoint_url}}
    env = {**airflow_env, "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection), "AWS_DEFAULT_REGION": REGION}
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                             text=True, timeout=300, check=False)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from pawflow.sample_data import generate_dog_images

    return generate_dog_images(tmp_path_factory.mktemp("dogImages"), num_classes=3, train_per_class=6,
                               valid_per_class=2, test_per_class=2, image_size=64, seed=0, overwrite=True)


def run_pipeline(env, conf):
    dags = Path(__file__).resolve().parents[2] / "dags"
    result = subprocess.run([sys.executable, "-c", RUN_DAG, str(dags), json.dumps(conf)], env=env,
                            capture_output=True, text=True, timeout=900, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        pytest.fail(f"dag.test() exited with {result.returncode}:\n{(result.stdout + result.stderr)[-6000:]}")
    report = json.loads(lines[-1][len("RESULT "):])
    report["xcom"] = {k: json.loads(v) if isinstance(v, str) and v[:1] in "{[\"" else v
                      for k, v in report["xcom"].items()}
    failed = {task: state for task, state in report["tasks"].items() if state not in ("success", "skipped")}
    if report["state"] != "success" or failed:
        errors = [line for line in (result.stdout + result.stderr).splitlines()
                  if "error" in line.lower() or "denied" in line.lower() or "exception" in line.lower()]
        pytest.fail(f"run {report['state']}; tasks not successful: {failed}\n" + "\n".join(errors[-40:]))
    return report


@pytest.fixture(scope="module")
def runs(pipeline_env, dataset):
    conf = {"data_source": str(dataset), "bucket": BUCKET, "epochs": 1, "tuning_max_jobs": 2,
            "tuning_max_parallel_jobs": 2, "multi_instance_count": 2, "poll_seconds": 1,
            "extra_hyperparameters": {"num_workers": 0}}
    first = run_pipeline(pipeline_env, {**conf, "deferrable": True, "keep_resources": True})
    second = run_pipeline(pipeline_env, {**conf, "deferrable": False, "keep_resources": False})
    return first, second


def test_first_run_tunes_trains_deploys_and_answers_through_the_lambda(runs):
    first, _ = runs
    xcom = first["xcom"]
    assert xcom["sync_data"]["Uploaded"] == 3 * (6 + 2 + 2)
    tuning = xcom["tune_hyperparameters"]["Tuning"]
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
    assert xcom["train_multi_instance"]["Training"]["ResourceConfig"]["InstanceCount"] == 2
    chosen = xcom["deployment_config"]["chosen"]
    assert chosen["Value"] == min(chosen["Candidates"].values())
    assert xcom["deploy_endpoint"]["Endpoint"]["EndpointStatus"] == "InService"
    assert xcom["check_smoke_answer"]["label"] in {"Affenpinscher", "Afghan hound", "Airedale terrier"}
    assert first["tasks"]["tear_down"] == "skipped"


def test_first_run_leaves_a_least_privilege_lambda_with_concurrency(runs, client):
    first, _ = runs
    policy = first["xcom"]["grant_least_privilege_invoke"]["PolicyDocument"]
    assert policy["Statement"][0]["Resource"].endswith(":endpoint/dog-breed-classifier")
    concurrency = first["xcom"]["lambda_concurrency"]
    assert concurrency["ReservedConcurrentExecutions"] == 5
    assert concurrency["ProvisionedConcurrency"]["Status"] == "READY"
    target = first["xcom"]["autoscale_endpoint"]["ScalableTarget"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)


def test_second_run_converges_without_reuploading_or_republishing(runs):
    first, second = runs
    xcom = second["xcom"]
    assert (xcom["sync_data"]["Uploaded"], xcom["sync_data"]["Unchanged"]) == (0, 30)
    assert xcom["upload_training_code"] == first["xcom"]["upload_training_code"]
    assert (xcom["deploy_lambda"]["Created"], xcom["deploy_lambda"]["CodeUpdated"]) == (False, False)
    assert xcom["lambda_concurrency"]["Version"] == first["xcom"]["lambda_concurrency"]["Version"]
    assert xcom["grant_least_privilege_invoke"]["DetachedPolicyArns"] == []
    assert xcom["deploy_endpoint"]["Endpoint"]["EndpointConfigName"] != \
        first["xcom"]["deploy_endpoint"]["Endpoint"]["EndpointConfigName"]
    assert xcom["check_smoke_answer"]["probability"] > 0


def test_second_run_tears_the_endpoint_down(runs, client):
    _, second = runs
    assert "endpoint/dog-breed-classifier" in second["xcom"]["tear_down"]["Deleted"]
    endpoints = client("sagemaker").list_endpoints()["Endpoints"]
    assert [e["EndpointName"] for e in endpoints] == []
