"""The SageMaker Python SDK v2 (in its own venv, ``make sdk-v2``) runs the course notebook's workflow against the
runtime: ``PyTorch.fit``, ``HyperparameterTuner.fit`` with two trials, ``attach``, ``best_estimator().deploy()``,
``predict`` and delete; then ``HyperparameterTuner.create`` over two estimators (``TrainingJobDefinitions``) and its
``attach``."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
SDK_PYTHON = REPO / ".venv-sdk-v2" / "bin" / "python"
SDK_CONFIG = REPO / "sdk-v2" / "config.yaml"
WORKFLOW = Path(__file__).with_name("sdk_v2_workflow.py")
SCRIPTS = REPO / "tests" / "local_aws" / "scripts"
SUMMARY_MARK = "sdk-v2-workflow-summary: "

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workflow(aws, sagemaker_role, client_environment, tmp_path_factory) -> dict[str, Any]:
    """The summary ``sdk_v2_workflow.py`` prints after running the whole workflow in the SDK's venv."""
    assert SDK_PYTHON.exists(), f"{SDK_PYTHON} is missing: `make sdk-v2` builds it (`make test` does first)"
    name = f"sdk2-{uuid.uuid4().hex[:6]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    for i in range(4):
        s3.put_object(Bucket=name, Key=f"data/train/part-{i}.txt", Body=str(i + 1).encode())
    home = tmp_path_factory.mktemp("sdk_v2_home")
    env = {**client_environment, "HOME": str(home), "SAGEMAKER_USER_CONFIG_OVERRIDE": str(SDK_CONFIG),
           "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    completed = subprocess.run(
        [str(SDK_PYTHON), str(WORKFLOW), "--bucket", name, "--role", sagemaker_role, "--source-dir", str(SCRIPTS),
         "--name", name], env=env, cwd=home, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    summary = next(line for line in completed.stdout.splitlines() if line.startswith(SUMMARY_MARK))
    return {**json.loads(summary[len(SUMMARY_MARK):]), "name": name, "log": completed.stdout + completed.stderr}


def test_an_estimator_fit_trains_and_reports_its_metric(workflow):
    assert workflow["training_status"] == "Completed"
    assert workflow["training_metrics"] == ["test:loss"]


def test_fit_tails_the_jobs_log_through_the_sdk(workflow):
    assert "Testing Loss: " in workflow["log"]


def test_a_tuner_runs_both_trials_to_completion(workflow):
    assert workflow["tuning_status"] == "Completed"
    assert workflow["trials_completed"] == 2


def test_best_estimator_of_an_attached_tuner_is_the_best_trial(workflow):
    assert workflow["best_estimator_job"] == workflow["best_job"]
    assert workflow["best_job"].startswith(f"{workflow['name']}-hpo-")


def test_best_estimator_carries_the_best_trials_hyperparameters(workflow, aws):
    best = aws("sagemaker").describe_training_job(TrainingJobName=workflow["best_job"])

    assert float(workflow["best_hyperparameters"]["learning_rate"]) == float(best["HyperParameters"]["learning_rate"])
    assert workflow["best_hyperparameters"]["batch_size"] in ("2", "8")


def test_the_deployed_best_trial_predicts_with_its_trained_model(workflow):
    learning_rate = float(workflow["best_hyperparameters"]["learning_rate"])
    target = sum(range(1, 5)) / 4  # tiny_train.py learns the mean of its four training numbers

    assert workflow["predictions"] == pytest.approx([x * learning_rate + target for x in (1, 2.5)])


def test_delete_endpoint_removes_the_endpoint(workflow, aws):
    with pytest.raises(ClientError) as error:
        aws("sagemaker").describe_endpoint(EndpointName=workflow["endpoint"])
    assert error.value.response["Error"]["Code"] == "ValidationException"
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{workflow['endpoint']}"
    assert error.value.response["Error"]["Message"] == f"Could not find endpoint '{arn}'."


def test_a_tuner_over_two_estimators_gives_each_definition_a_trial(workflow):
    assert workflow["multi_trial_definitions"] == ["batch-2", "batch-8"]


def test_an_attached_multi_estimator_tuner_knows_its_estimators_and_best_trial(workflow):
    assert workflow["multi_estimators"] == ["batch-2", "batch-8"]
    assert workflow["multi_best_estimator_job"] == workflow["multi_best_job"]
    assert workflow["multi_best_job"].startswith(f"{workflow['name']}-multi-")
