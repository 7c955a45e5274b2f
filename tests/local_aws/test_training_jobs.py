"""SageMaker training jobs run for real: layout, logs, metrics, artifacts, failure, stop and timeout."""

from __future__ import annotations

import json
import os

import pytest
from botocore.exceptions import ClientError


def test_completed_job_uploads_model_and_output_and_reports_the_metric(aws, training_request, finished_job, job_name, bucket, untar):
    sagemaker, s3 = aws("sagemaker"), aws("s3")
    sagemaker.create_training_job(**training_request(job_name, hyperparameters={"learning_rate": "0.5", "batch_size": "4"}))

    job = finished_job(job_name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{bucket}/output/{job_name}/output/model.tar.gz"
    model = untar(s3.get_object(Bucket=bucket, Key=f"output/{job_name}/output/model.tar.gz")["Body"].read())
    assert json.loads(model["model.json"]) == {"scale": 0.5, "target": 2.5}
    assert "def model_fn" in model["code/inference.py"].decode()
    output = untar(s3.get_object(Bucket=bucket, Key=f"output/{job_name}/output/output.tar.gz")["Body"].read())
    # mean of 1..4 is 2.5; |2.5 - 0.5| + 1/4
    assert json.loads(output["metrics.json"]) == {"test_loss": 2.25}
    assert [(m["MetricName"], m["Value"]) for m in job["FinalMetricDataList"]] == [("test:loss", 2.25)]
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert job["TrainingEndTime"] >= job["TrainingStartTime"]
    assert job["BillableTimeInSeconds"] >= 1


def test_job_output_lines_reach_cloudwatch_logs_per_host(aws, training_request, finished_job, job_name):
    sagemaker, logs = aws("sagemaker"), aws("logs")
    sagemaker.create_training_job(**training_request(job_name))
    finished_job(job_name)

    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                        logStreamNamePrefix=f"{job_name}/")["logStreams"]
    assert len(streams) == 1
    assert streams[0]["logStreamName"].startswith(f"{job_name}/algo-1-")
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                 logStreamName=streams[0]["logStreamName"])["events"]
    messages = [e["message"] for e in events]
    # mean of 1..4 is 2.5; default learning rate 0.1 and batch size 8: |2.5 - 0.1| + 1/8
    assert messages[:3] == ["Epoch 0: Train Loss: 2.400000", "Epoch 1: Train Loss: 1.200000", "Testing Loss: 2.525000"]
    assert messages[-1] == "done"
    assert any(m.startswith('Host algo-1 of ["algo-1"] saw files: ["part-0.txt"') for m in messages)


def test_broken_script_fails_with_the_error_from_its_output(aws, training_request, finished_job, job_name):
    sagemaker = aws("sagemaker")
    sagemaker.create_training_job(**training_request(job_name, program="broken_train.py"))

    job = finished_job(job_name)

    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode 1\n")
    assert 'ErrorMessage "ValueError: the training data has no class folders"' in job["FailureReason"]
    assert "ModelArtifacts" not in job


def test_stop_training_job_stops_it_and_keeps_what_the_model_dir_holds(aws, training_request, finished_job, job_name, bucket, wait_until, untar):
    sagemaker, s3, logs = aws("sagemaker"), aws("s3"), aws("logs")
    sagemaker.create_training_job(**training_request(job_name, program="slow_train.py"))
    wait_until(lambda: sagemaker.describe_training_job(TrainingJobName=job_name)["SecondaryStatus"],
               lambda status: status == "Training")
    group = "/aws/sagemaker/TrainingJobs"
    stream = wait_until(lambda: logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"],
                        lambda streams: len(streams) == 1)[0]["logStreamName"]
    wait_until(lambda: logs.get_log_events(logGroupName=group, logStreamName=stream)["events"],
               lambda events: any("slow training started" in e["message"] for e in events))

    sagemaker.stop_training_job(TrainingJobName=job_name)
    job = finished_job(job_name)

    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{bucket}/output/{job_name}/output/model.tar.gz"
    model = untar(s3.get_object(Bucket=bucket, Key=f"output/{job_name}/output/model.tar.gz")["Body"].read())
    assert model["interrupted.txt"] == b"signal 15"


def test_max_runtime_ends_the_job_as_stopped_with_max_runtime_exceeded(aws, training_request, finished_job, job_name):
    sagemaker = aws("sagemaker")
    sagemaker.create_training_job(**training_request(job_name, program="slow_train.py", max_runtime=2))

    job = finished_job(job_name)

    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_stopping_a_finished_job_is_rejected_with_its_status(aws, training_request, finished_job, job_name):
    sagemaker = aws("sagemaker")
    sagemaker.create_training_job(**training_request(job_name))
    finished_job(job_name)

    with pytest.raises(ClientError) as error:
        sagemaker.stop_training_job(TrainingJobName=job_name)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        "The request was rejected because the training job is in status Completed.")


def test_a_second_job_with_the_same_name_is_resource_in_use(aws, training_request, finished_job, job_name):
    sagemaker = aws("sagemaker")
    sagemaker.create_training_job(**training_request(job_name))

    with pytest.raises(ClientError) as error:
        sagemaker.create_training_job(**training_request(job_name))

    assert error.value.response["Error"]["Code"] == "ResourceInUse"
    assert "a training job with this name already exists" in error.value.response["Error"]["Message"]
    finished_job(job_name)


def test_describing_a_missing_job_is_a_validation_exception(aws):
    with pytest.raises(ClientError) as error:
        aws("sagemaker").describe_training_job(TrainingJobName="no-such-job")

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        "Could not find training job 'arn:aws:sagemaker:us-east-1:123456789012:training-job/no-such-job'.")


def test_a_job_without_an_entry_point_fails_with_a_clear_reason(aws, training_request, finished_job, job_name):
    request = training_request(job_name)
    del request["HyperParameters"]["sagemaker_program"]
    aws("sagemaker").create_training_job(**request)

    job = finished_job(job_name)

    assert job["TrainingJobStatus"] == "Failed"
    assert "sagemaker_program" in job["FailureReason"]


def test_an_empty_channel_fails_the_job_like_sagemaker(aws, training_request, finished_job, job_name, bucket):
    request = training_request(job_name)
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{bucket}/nothing-here"
    aws("sagemaker").create_training_job(**request)

    job = finished_job(job_name)

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f'ClientError: No S3 objects found under S3 URL "s3://{bucket}/nothing-here"')


def test_sharded_channel_gives_each_host_its_share(aws, training_request, finished_job, job_name):
    sagemaker, logs = aws("sagemaker"), aws("logs")
    sagemaker.create_training_job(**training_request(job_name, instance_count=2, distribution="ShardedByS3Key"))
    assert finished_job(job_name)["TrainingJobStatus"] == "Completed"

    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    seen = sorted(
        e["message"]
        for stream in streams
        for e in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
        if " saw files: " in e["message"]
    )

    assert seen == [
        'Host algo-1 of ["algo-1","algo-2"] saw files: ["part-0.txt", "part-2.txt"]',
        'Host algo-2 of ["algo-1","algo-2"] saw files: ["part-1.txt", "part-3.txt"]',
    ]


def test_jobs_beyond_the_concurrency_limit_wait_in_starting(aws, training_request, finished_job, wait_until, server):
    sagemaker = aws("sagemaker")
    names = [f"queued-{i}-{server.config.max_concurrent_jobs}-{id(aws) % 1000}" for i in range(server.config.max_concurrent_jobs + 1)]
    for name in names:
        sagemaker.create_training_job(**training_request(name, program="slow_train.py"))
    try:
        statuses = wait_until(
            lambda: [sagemaker.describe_training_job(TrainingJobName=n)["SecondaryStatus"] for n in names],
            lambda s: s.count("Training") == len(names) - 1)
        assert statuses.count("Starting") == 1
        assert all(sagemaker.describe_training_job(TrainingJobName=n)["TrainingJobStatus"] == "InProgress" for n in names)
    finally:
        for name in names:
            if sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress":
                sagemaker.stop_training_job(TrainingJobName=name)
        for name in names:
            finished_job(name)


def test_two_instance_job_forms_one_process_group(aws, training_request, finished_job, job_name):
    sagemaker, logs = aws("sagemaker"), aws("logs")
    sagemaker.create_training_job(**training_request(job_name, program="allreduce_train.py", instance_count=2))

    job = finished_job(job_name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    lines = sorted(e["message"] for s in streams
                   for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
                   if "all_reduce" in e["message"])
    assert lines == ["rank 0 of 2: all_reduce sum 3.0", "rank 1 of 2: all_reduce sum 3.0"]


def test_manifest_file_channel_downloads_only_the_listed_objects(aws, training_request, finished_job, job_name, bucket):
    sagemaker, s3, logs = aws("sagemaker"), aws("s3"), aws("logs")
    s3.put_object(Bucket=bucket, Key="manifests/train.manifest",
                  Body=json.dumps([{"prefix": f"s3://{bucket}/data/train/"}, "part-1.txt", "part-3.txt"]).encode())
    request = training_request(job_name)
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"].update(
        S3DataType="ManifestFile", S3Uri=f"s3://{bucket}/manifests/train.manifest")
    sagemaker.create_training_job(**request)
    assert finished_job(job_name)["TrainingJobStatus"] == "Completed"

    group = "/aws/sagemaker/TrainingJobs"
    stream = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"][0]
    messages = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]]
    assert 'Host algo-1 of ["algo-1"] saw files: ["part-1.txt", "part-3.txt"]' in messages


def _host_cores(logs, job_name: str) -> dict[str, dict]:
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    found = {}
    for stream in streams:
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]:
            host, marker, share = event["message"].partition(" cores: ")
            if marker:
                found[host.removeprefix("Host ")] = json.loads(share)
    return found


@pytest.mark.skipif(len(os.sched_getaffinity(0)) != 2, reason="the expected shares are those of a 2-core machine")
def test_two_hosts_on_two_cores_get_one_core_each(aws, training_request, finished_job, job_name):
    sagemaker, logs = aws("sagemaker"), aws("logs")
    sagemaker.create_training_job(**training_request(job_name, program="cores_train.py", instance_count=2))

    assert finished_job(job_name)["TrainingJobStatus"] == "Completed"
    cores = _host_cores(logs, job_name)

    assert set(cores) == {"algo-1", "algo-2"}
    assert set(cores["algo-1"]["affinity"]).isdisjoint(cores["algo-2"]["affinity"])
    for share in cores.values():
        assert share == {"affinity": share["affinity"], "SM_NUM_CPUS": "1", "num_cpus": 1, "OMP_NUM_THREADS": "1"}
        assert len(share["affinity"]) == 1


def test_a_single_host_keeps_every_core(aws, training_request, finished_job, job_name):
    sagemaker, logs = aws("sagemaker"), aws("logs")
    sagemaker.create_training_job(**training_request(job_name, program="cores_train.py"))

    assert finished_job(job_name)["TrainingJobStatus"] == "Completed"

    share = _host_cores(logs, job_name)["algo-1"]
    assert share["affinity"] == sorted(os.sched_getaffinity(0))
    assert share["SM_NUM_CPUS"] == str(os.cpu_count())
