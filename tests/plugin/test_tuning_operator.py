"""SageMakerReattachingTuningOperator creates the run's tuning job once; a retry re-attaches to it."""

from __future__ import annotations

import asyncio

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk.exceptions import TaskDeferred

from pawflow.operators.tuning import SageMakerReattachingTuningOperator
from tests.archives import tar_gz
from tests.sagemaker_jobs import ended_tuning_job, training_job_definition, tuning_job_request
from tests.timeouts import scaled

TRAIN = """\
import os
from pathlib import Path

print("Testing Loss: 0.25")
Path(os.environ["SM_MODEL_DIR"], "model.json").write_text("{}")
"""
BROKEN_TRAIN = """\
raise SystemExit("the training data has no class folders")
"""
# A trial that is surely still running when a retry looks at its tuning job a moment after creating it.
SLOW_TRAIN = "import time\ntime.sleep(8)\n" + TRAIN
FINISHED = ("Completed", "Failed", "Stopped")


@pytest.fixture
def tuning_config(client, unique, create_sagemaker_role):
    """A one-trial CreateHyperParameterTuningJob request whose trial runs ``train.py`` (or ``broken.py``)."""
    bucket = f"{unique}-tuning"
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="code/source.tar.gz", Body=tar_gz({"train.py": TRAIN, "broken.py": BROKEN_TRAIN,
                                                                     "slow.py": SLOW_TRAIN}))
    s3.put_object(Bucket=bucket, Key="data/train/part-0.txt", Body=b"1")
    role = create_sagemaker_role(client("iam"), "pawflow-sagemaker")

    def build(program: str = "train.py") -> dict:
        return tuning_job_request(f"{unique}-hpo", training_job_definition(bucket, role, program=program),
                                  parameter_ranges={"CategoricalParameterRanges": [
                                      {"Name": "batch_size", "Values": ["2", "8"]}]})

    return build


@pytest.fixture
def finished_tuning(client, wait_until):
    """Wait until the tuning job of this name has ended; return its description."""
    return lambda name: ended_tuning_job(client("sagemaker"), name, wait_until, timeout=scaled(60))


def operator(config: dict, deferrable: bool = False) -> SageMakerReattachingTuningOperator:
    return SageMakerReattachingTuningOperator(task_id="tune_hyperparameters", config=config, check_interval=1,
                                              deferrable=deferrable)


def tuning_jobs_named(client, name: str) -> list[str]:
    summaries = client("sagemaker").list_hyper_parameter_tuning_jobs(NameContains=name, MaxResults=100)
    return [job["HyperParameterTuningJobName"] for job in summaries["HyperParameterTuningJobSummaries"]]


def trials_of(client, name: str) -> list[str]:
    summaries = client("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100)
    return [trial["TrainingJobName"] for trial in summaries["TrainingJobSummaries"]]


def first_event(trigger) -> dict:
    """Run a trigger as the triggerer would, until its first event; return the event's payload."""

    async def run() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(run())


def test_a_missing_job_is_created_and_waited_for(client, context, tuning_config):
    config = tuning_config()

    result = operator(config).execute(context)

    assert result["Tuning"]["HyperParameterTuningJobName"] == config["HyperParameterTuningJobName"]
    assert result["Tuning"]["HyperParameterTuningJobStatus"] == "Completed"


def test_a_second_execute_returns_the_completed_jobs_result_without_creating_another(client, context, tuning_config):
    config = tuning_config()
    first = operator(config).execute(context)

    second = operator(tuning_config()).execute(context)

    name = config["HyperParameterTuningJobName"]
    assert second["Tuning"]["HyperParameterTuningJobArn"] == first["Tuning"]["HyperParameterTuningJobArn"]
    assert second["Tuning"]["BestTrainingJob"] == first["Tuning"]["BestTrainingJob"]
    assert tuning_jobs_named(client, name) == [name]
    assert len(trials_of(client, name)) == 1


def test_a_retry_logs_one_line_saying_it_re_attaches(client, context, tuning_config, finished_tuning, capfd):
    config = tuning_config()
    client("sagemaker").create_hyper_parameter_tuning_job(**config)
    finished_tuning(config["HyperParameterTuningJobName"])
    capfd.readouterr()

    operator(tuning_config()).execute(context)

    logged = "".join(capfd.readouterr())
    assert logged.count("re-attaching") == 1
    assert (f"SageMaker tuning job {config['HyperParameterTuningJobName']} already exists (Completed): "
            "re-attaching instead of creating it") in logged


def test_a_retry_while_the_job_runs_waits_in_the_task_for_that_job(client, context, tuning_config):
    config = tuning_config("slow.py")
    created = client("sagemaker").create_hyper_parameter_tuning_job(**config)

    result = operator(tuning_config("slow.py")).execute(context)

    assert result["Tuning"]["HyperParameterTuningJobArn"] == created["HyperParameterTuningJobArn"]
    assert result["Tuning"]["HyperParameterTuningJobStatus"] == "Completed"
    assert len(trials_of(client, config["HyperParameterTuningJobName"])) == 1


def test_a_deferrable_retry_while_the_job_runs_defers_on_that_job(client, context, tuning_config):
    config = tuning_config("slow.py")
    created = client("sagemaker").create_hyper_parameter_tuning_job(**config)
    task = operator(tuning_config("slow.py"), deferrable=True)

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)
    event = first_event(deferred.value.trigger)
    result = task.execute_complete(context, event)

    assert deferred.value.trigger.job_name == config["HyperParameterTuningJobName"]
    assert event["status"] == "success"
    assert result["Tuning"]["HyperParameterTuningJobArn"] == created["HyperParameterTuningJobArn"]
    assert result["Tuning"]["HyperParameterTuningJobStatus"] == "Completed"
    assert len(trials_of(client, config["HyperParameterTuningJobName"])) == 1


def test_a_deferrable_retry_after_the_job_completed_returns_without_deferring(client, context, tuning_config,
                                                                              finished_tuning):
    config = tuning_config()
    created = client("sagemaker").create_hyper_parameter_tuning_job(**config)
    finished_tuning(config["HyperParameterTuningJobName"])

    result = operator(tuning_config(), deferrable=True).execute(context)

    assert result["Tuning"]["HyperParameterTuningJobArn"] == created["HyperParameterTuningJobArn"]
    assert result["Tuning"]["HyperParameterTuningJobStatus"] == "Completed"


def test_a_retry_after_the_job_failed_fails_with_its_reason(client, context, tuning_config, finished_tuning):
    config = tuning_config(program="broken.py")
    client("sagemaker").create_hyper_parameter_tuning_job(**config)
    failed = finished_tuning(config["HyperParameterTuningJobName"])

    with pytest.raises(AirflowException) as error:
        operator(tuning_config(program="broken.py")).execute(context)

    assert failed["HyperParameterTuningJobStatus"] == "Failed"
    assert str(error.value) == (f"SageMaker tuning job {config['HyperParameterTuningJobName']} is Failed: "
                                f"{failed['FailureReason']}")
    assert "All training jobs failed" in str(error.value)
    assert tuning_jobs_named(client, config["HyperParameterTuningJobName"]) == [config["HyperParameterTuningJobName"]]
