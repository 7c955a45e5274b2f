"""Hyperparameter tuning jobs search for real: each trial is a training job, the best one is reported."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from tests.sagemaker_jobs import ended_tuning_job, tuning_job_request
from tests.timeouts import scaled


@pytest.fixture
def tuning_request(training_request):
    def build(name: str, strategy: str = "Bayesian", max_jobs: int = 4, parallel: int = 2,
              program: str = "tiny_train.py") -> dict:
        definition = training_request("unused", program=program)
        del definition["TrainingJobName"]
        return tuning_job_request(name, definition, strategy=strategy, max_jobs=max_jobs, parallel=parallel,
                                  parameter_ranges={
            "ContinuousParameterRanges": [] if strategy == "Grid" else [
                {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "3.0", "ScalingType": "Logarithmic"}],
            "IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": "2", "ScalingType": "Linear"}],
            "CategoricalParameterRanges": [{"Name": "batch_size", "Values": ["2", "8"]}],
        })
    return build


@pytest.fixture
def finished_tuning(aws, wait_until):
    """Wait until the tuning job of this name has ended; return its description."""
    return lambda name: ended_tuning_job(aws("sagemaker"), name, wait_until, timeout=scaled(40))


def list_trials(aws, name: str) -> list[dict]:
    return aws("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100)["TrainingJobSummaries"]


def test_bayesian_tuning_runs_four_trials_two_at_a_time_and_reports_the_best(aws, tuning_request, finished_tuning, wait_until):
    sagemaker = aws("sagemaker")
    name = f"tune-{uuid.uuid4().hex[:8]}"
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request(name))

    peak = 0
    def running() -> dict:
        nonlocal peak
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        peak = max(peak, described["TrainingJobStatusCounters"]["InProgress"])
        return described
    wait_until(running, lambda d: d["HyperParameterTuningJobStatus"] != "InProgress", timeout=120, interval=0.05)
    described = finished_tuning(name)
    trials = list_trials(aws, name)

    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"] == {
        "Completed": 4, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    assert 1 <= peak <= 2
    assert len(trials) == 4
    assert all(t["TrainingJobName"].startswith(f"{name}-") and t["TuningJobName"] == name for t in trials)
    best = described["BestTrainingJob"]
    values = {t["TrainingJobName"]: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(values.values())
    assert values[best["TrainingJobName"]] == min(values.values())
    assert best["TunedHyperParameters"] in [t["TunedHyperParameters"] for t in trials]
    assert set(best["TunedHyperParameters"]) == {"learning_rate", "epochs", "batch_size"}
    assert best["TunedHyperParameters"]["batch_size"] in ("2", "8")
    assert 0.001 <= float(best["TunedHyperParameters"]["learning_rate"]) <= 3.0
    job = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert job["TuningJobArn"] == described["HyperParameterTuningJobArn"]
    assert job["HyperParameters"]["learning_rate"] == best["TunedHyperParameters"]["learning_rate"]
    assert job["HyperParameters"]["sagemaker_program"] == '"tiny_train.py"'  # static hyperparameters pass through


def test_grid_search_tries_every_combination_once(aws, tuning_request, finished_tuning):
    name = f"grid-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_hyper_parameter_tuning_job(**tuning_request(name, strategy="Grid", max_jobs=10, parallel=2))

    described = finished_tuning(name)
    tried = sorted((t["TunedHyperParameters"]["epochs"], t["TunedHyperParameters"]["batch_size"]) for t in list_trials(aws, name))

    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert tried == [("1", "2"), ("1", "8"), ("2", "2"), ("2", "8")]


def test_failed_trials_are_counted_and_the_search_goes_on(aws, tuning_request, finished_tuning):
    name = f"fail-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_hyper_parameter_tuning_job(
        **tuning_request(name, strategy="Random", max_jobs=2, parallel=2, program="broken_train.py"))

    described = finished_tuning(name)
    trials = list_trials(aws, name)

    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert described["ObjectiveStatusCounters"]["Failed"] == 2
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert "BestTrainingJob" not in described
    assert all(t["TrainingJobStatus"] == "Failed" and t["ObjectiveStatus"] == "Failed" for t in trials)
    assert all("the training data has no class folders" in t["FailureReason"] for t in trials)


def test_stopping_a_tuning_job_stops_its_running_trials(aws, tuning_request, finished_tuning, wait_until):
    sagemaker = aws("sagemaker")
    name = f"stop-{uuid.uuid4().hex[:8]}"
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request(name, max_jobs=4, parallel=1, program="slow_train.py"))
    wait_until(lambda: list_trials(aws, name), lambda trials: len(trials) == 1)

    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    described = finished_tuning(name)

    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    assert [t["TrainingJobStatus"] for t in list_trials(aws, name)] == ["Stopped"]


def test_an_objective_missing_from_the_metric_definitions_is_rejected(aws, tuning_request):
    request = tuning_request(f"bad-{uuid.uuid4().hex[:8]}")
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "validation:acc"

    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_hyper_parameter_tuning_job(**request)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "validation:acc" in error.value.response["Error"]["Message"]


def test_listing_trials_of_a_missing_tuning_job_is_resource_not_found(aws):
    with pytest.raises(ClientError) as error:
        list_trials(aws, "no-such-tuning-job")
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"


def test_auto_early_stopping_stops_trials_worse_than_the_median(aws, tuning_request, finished_tuning):
    name = f"early-{uuid.uuid4().hex[:8]}"
    request = tuning_request(name, strategy="Grid", max_jobs=3, parallel=1, program="epochs_train.py")
    config = request["HyperParameterTuningJobConfig"]
    config["TrainingJobEarlyStoppingType"] = "Auto"
    config["HyperParameterTuningJobObjective"]["MetricName"] = "validation:loss"
    config["ParameterRanges"] = {"CategoricalParameterRanges": [{"Name": "learning_rate", "Values": ["1.0", "9.0", "1.05"]}]}
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "validation:loss", "Regex": r"Validation Loss: ([0-9\.]+)"}]
    aws("sagemaker").create_hyper_parameter_tuning_job(**request)

    described = finished_tuning(name)
    trials = {t["TunedHyperParameters"]["learning_rate"]: t for t in list_trials(aws, name)}

    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert trials["1.0"]["TrainingJobStatus"] == "Completed"
    assert trials["9.0"]["TrainingJobStatus"] == "Stopped"
    assert trials["9.0"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 8
    assert described["TrainingJobStatusCounters"]["Stopped"] >= 1
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"learning_rate": "1.0"}


def definitions_request(tuning_request, name: str) -> dict:
    """Two TrainingJobDefinitions of one script, told apart by their fixed batch size, each with its own range."""
    single = tuning_request(name, strategy="Random", max_jobs=4, parallel=2)
    base = single.pop("TrainingJobDefinition")
    config = single["HyperParameterTuningJobConfig"]
    del config["ParameterRanges"], config["HyperParameterTuningJobObjective"]
    objective = {"Type": "Minimize", "MetricName": "test:loss"}
    single["TrainingJobDefinitions"] = [{
        **base, "DefinitionName": f"batch-{batch}", "TuningObjective": objective,
        "StaticHyperParameters": {**base["StaticHyperParameters"], "batch_size": batch},
        "HyperParameterRanges": {"ContinuousParameterRanges": [
            {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "1.0", "ScalingType": "Linear"}]},
    } for batch in ("2", "8")]
    return single


def test_training_job_definitions_take_turns_and_the_best_is_chosen_over_all(aws, tuning_request, finished_tuning):
    name = f"multi-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_hyper_parameter_tuning_job(**definitions_request(tuning_request, name))

    described = finished_tuning(name)
    trials = list_trials(aws, name)
    best_value = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]

    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert sorted(t["TrainingJobDefinitionName"] for t in trials) == ["batch-2", "batch-2", "batch-8", "batch-8"]
    assert best_value == min(t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials)
    assert [d["DefinitionName"] for d in described["TrainingJobDefinitions"]] == ["batch-2", "batch-8"]


def test_a_trial_of_a_definition_runs_with_that_definitions_static_hyperparameters(aws, tuning_request,
                                                                                    finished_tuning):
    name = f"multi-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_hyper_parameter_tuning_job(**definitions_request(tuning_request, name))
    finished_tuning(name)

    batch_sizes = {}
    for trial in list_trials(aws, name):
        job = aws("sagemaker").describe_training_job(TrainingJobName=trial["TrainingJobName"])
        batch_sizes.setdefault(trial["TrainingJobDefinitionName"], set()).add(job["HyperParameters"]["batch_size"])

    assert batch_sizes == {"batch-2": {"2"}, "batch-8": {"8"}}


def test_early_stopping_with_several_definitions_is_refused(aws, tuning_request):
    request = definitions_request(tuning_request, f"multi-{uuid.uuid4().hex[:8]}")
    request["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"

    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_hyper_parameter_tuning_job(**request)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        "Early stopping is available only when tuning a single training job definition.")
