"""The standalone-training, teardown and IAM-audit DAGs run with ``dag.test()`` on the local runtime.

Their connection is the pipeline's: Airflow works as the ``pawflow-airflow`` role, judged by IAM.
"""

from __future__ import annotations

import pytest

from tests.timeouts import QUIET_DAG_RUN_SECONDS, scaled

# The audit test runs its DAG twice.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(scaled(2 * QUIET_DAG_RUN_SECONDS))]


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from pawflow.sample_data import generate_dog_images

    return generate_dog_images(tmp_path_factory.mktemp("standalone_data"), num_classes=2, train_per_class=4,
                               valid_per_class=2, test_per_class=2, image_size=64, seed=1, overwrite=True)


def test_standalone_training_writes_model_pth_locally_and_to_s3(run_dag, client, small_dataset, tmp_path):
    client("s3").create_bucket(Bucket="pawflow-standalone")
    report = run_dag("dog_breed_standalone_training", {
        "data_dir": str(small_dataset), "model_dir": str(tmp_path / "TrainedModels"), "epochs": 1,
        "batch_size": 4, "extra_args": ["--num-workers", "0"], "s3_model_uri": "s3://pawflow-standalone/models/run1",
    })
    trained = report["xcom"]["train"]
    assert trained["model_path"] == str(tmp_path / "TrainedModels" / "model.pth")
    assert (tmp_path / "TrainedModels" / "model.pth").stat().st_size > 0
    assert (tmp_path / "TrainedModels" / "code" / "inference.py").exists()
    assert report["xcom"]["upload_model"] == "s3://pawflow-standalone/models/run1/model.pth"
    keys = {o["Key"] for o in client("s3").list_objects_v2(Bucket="pawflow-standalone")["Contents"]}
    assert {"models/run1/model.pth", "models/run1/classes.json", "models/run1/model_config.json"} <= keys


def test_standalone_training_fails_with_train_py_message_on_bad_data(run_dag, tmp_path):
    (tmp_path / "empty").mkdir()
    report = run_dag("dog_breed_standalone_training", {"data_dir": str(tmp_path / "empty"),
                                                       "model_dir": str(tmp_path / "model")}, expect="failed")
    assert report["tasks"]["train"] == "failed"
    assert report["tasks"]["upload_model"] == "upstream_failed"


def test_teardown_of_a_stack_that_was_never_deployed_succeeds(run_dag):
    # The default endpoint name: the Airflow role's policy covers that one only. The end-to-end module deploys it
    # too, but creates and removes it within one fixture, so here it is absent either way.
    report = run_dag("dog_breed_teardown", {"endpoint_name": "dog-breed-classifier", "lambda_function_name": None})
    assert report["xcom"]["tear_down"]["Deleted"] == []
    assert "endpoint/dog-breed-classifier" in report["xcom"]["tear_down"]["AlreadyGone"]


def test_iam_audit_reports_findings_and_fails_on_high_when_asked(run_dag):
    report = run_dag("iam_audit", {})
    findings = report["xcom"]["audit_iam"]["Findings"]
    assert any(f["Check"] == "RootAccountWithoutMfa" for f in findings)
    failing = run_dag("iam_audit", {"fail_on_severity": "HIGH"}, expect="failed")
    assert failing["tasks"]["audit_iam"] == "failed"
