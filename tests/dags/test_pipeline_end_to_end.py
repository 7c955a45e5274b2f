"""dog_breed_pipeline runs end to end with ``dag.test()`` on the local AWS runtime, twice: the second run converges.

Real parts throughout: Airflow's own test runner (triggers run in line in the deferrable run), the local
runtime as AWS (training, tuning and serving really run on a small generated data set; Airflow works as the
``pawflow-airflow`` role holding exactly ``iam/airflow-execution-role-policy.json``, the Lambda as its
least-privilege role, and IAM judges every call of both), and the repository's training code, Lambda and
serving code. The first run defers its SageMaker waits, the second polls in the task; the second also tears the
endpoint down.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_aws.iam.judgement_log import JUDGEMENTS_FILE, document_digest
from tests.timeouts import QUIET_DAG_RUN_SECONDS, scaled

# The module fixture runs the pipeline twice, within the first test's time.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(scaled(2 * QUIET_DAG_RUN_SECONDS + 120))]

BUCKET = "pawflow-e2e"
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from pawflow.sample_data import generate_dog_images

    return generate_dog_images(tmp_path_factory.mktemp("dogImages"), num_classes=3, train_per_class=6,
                               valid_per_class=2, test_per_class=2, image_size=64, seed=0, overwrite=True)


@pytest.fixture(scope="module")
def runs(run_dag, dataset):
    conf = {"data_source": str(dataset), "bucket": BUCKET, "epochs": 1, "tuning_max_jobs": 2,
            "tuning_max_parallel_jobs": 2, "multi_instance_count": 2, "poll_seconds": 1,
            "extra_hyperparameters": {"num_workers": 0}}
    first = run_dag("dog_breed_pipeline", {**conf, "deferrable": True, "keep_resources": True})
    second = run_dag("dog_breed_pipeline", {**conf, "deferrable": False, "keep_resources": False})
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


def test_first_run_shows_the_lambda_denied_by_iam_before_the_grant(runs):
    first, _ = runs
    before = first["xcom"]["invoke_before_grant"]
    assert (before["StatusCode"], before["Code"]) == (502, "EndpointAccessDenied")
    assert before["AwsError"].startswith("User: arn:aws:sts::")
    assert before["AwsError"].endswith(
        ":endpoint/dog-breed-classifier because no identity-based policy allows the sagemaker:InvokeEndpoint action")


def test_first_run_leaves_a_least_privilege_lambda_with_concurrency(runs, client):
    first, _ = runs
    policy = first["xcom"]["grant_least_privilege_invoke"]["PolicyDocument"]
    assert policy["Statement"][0]["Resource"].endswith(":endpoint/dog-breed-classifier")
    concurrency = first["xcom"]["lambda_concurrency"]
    assert concurrency["ReservedConcurrentExecutions"] == 5
    assert concurrency["ProvisionedConcurrency"]["Status"] == "READY"
    target = first["xcom"]["autoscale_endpoint"]["ScalableTarget"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    # As on AWS, the first registration created Application Auto Scaling's role for SageMaker endpoints.
    linked = client("iam").get_role(RoleName="AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")["Role"]
    assert linked["Path"] == "/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"


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


def _log_text(client, job_name: str) -> str:
    logs, group = client("logs"), "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    assert streams, f"no log stream of {job_name}"
    return "\n".join(event["message"] for stream in streams
                     for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"])


def test_first_run_extracts_features_once_and_trials_train_heads_on_them(runs, client):
    first, _ = runs
    xcom, tasks = first["xcom"], first["tasks"]
    plan = xcom["feature_plan"]
    assert (plan["Needed"], plan["Exists"], plan["Objects"]) == (True, False, 30)
    assert (tasks["extraction_needed"], tasks["extract_features"]) == ("success", "success")
    assert xcom["extract_features"]["Training"]["HyperParameters"]["extract_features_only"] == "true"
    assert xcom["publish_features"]["FeaturesUri"] == plan["FeaturesUri"]
    assert xcom["publish_features"]["Files"][-1] == "features.json"
    channels = xcom["tune_hyperparameters"]["Tuning"]["TrainingJobDefinition"]["InputDataConfig"]
    assert [(c["ChannelName"], c["DataSource"]["S3DataSource"]["S3Uri"]) for c in channels] == [
        ("features", plan["FeaturesUri"])]
    best = xcom["training_configs"]["best_trial"]
    assert "features channel (backbone computed them in" in _log_text(client, best)
    assert "Feature cache" not in _log_text(client, best)


def test_second_run_with_unchanged_data_skips_the_extraction_and_still_tunes(runs):
    first, second = runs
    xcom, tasks = second["xcom"], second["tasks"]
    assert xcom["feature_plan"]["Exists"] is True
    assert xcom["feature_plan"]["FeaturesUri"] == first["xcom"]["feature_plan"]["FeaturesUri"]
    assert (tasks["extraction_needed"], tasks["extract_features"], tasks["publish_features"]) == (
        "success", "skipped", "skipped")
    tuning = xcom["tune_hyperparameters"]["Tuning"]
    assert (tuning["HyperParameterTuningJobStatus"], tuning["TrainingJobStatusCounters"]["Completed"]) == ("Completed", 2)
    assert xcom["train_single_instance"]["Training"]["InputDataConfig"][0]["ChannelName"] == "features"


def test_second_run_tears_the_endpoint_down(runs, client):
    _, second = runs
    assert "endpoint/dog-breed-classifier" in second["xcom"]["tear_down"]["Deleted"]
    endpoints = client("sagemaker").list_endpoints()["Endpoints"]
    assert [e["EndpointName"] for e in endpoints] == []


def test_both_runs_work_as_the_airflow_role_and_only_the_lambda_is_denied_before_its_grant(runs, server):
    judgements = [json.loads(line) for line in (server.state_dir / JUDGEMENTS_FILE).read_text().splitlines()]
    airflow = [j for j in judgements if ":assumed-role/pawflow-airflow/" in j["identity"]]
    shipped = document_digest((Path(__file__).resolve().parents[2] / "iam" / "airflow-execution-role-policy.json")
                              .read_text())
    assert len(airflow) > 100
    assert all(j["outcome"] == "allowed" for j in airflow), [j for j in airflow if j["outcome"] != "allowed"][:3]
    assert all(shipped in {part["digest"] for part in j["policies"]} for j in airflow)
    denied = [(j["identity"].split("/")[1], j["action"]) for j in judgements if j["outcome"] != "allowed"]
    assert set(denied) == {("dog-breed-classifier-role", "sagemaker:InvokeEndpoint")}
