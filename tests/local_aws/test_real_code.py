"""The project's own training and serving code, run by the local runtime as SageMaker would run it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from classifier import breed_label
from pawflow.sample_data import generate_dog_images

REPO = Path(__file__).resolve().parents[2]
METRICS = [
    {"Name": "test:loss", "Regex": r"Testing Loss: ([0-9\.]+)"},
    {"Name": "test:accuracy", "Regex": r"Testing Accuracy: ([0-9\.]+)"},
    {"Name": "validation:accuracy", "Regex": r"Validation Accuracy: ([0-9\.]+)"},
]


@pytest.fixture(scope="module")
def dataset(aws, tmp_path_factory, tar_gz_bytes):
    """Generated dog images under s3://<bucket>/dogImages/ and training_code/ as the source tarball."""
    bucket = f"real-{uuid.uuid4().hex[:10]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    root = generate_dog_images(tmp_path_factory.mktemp("data"), num_classes=3, train_per_class=4,
                               valid_per_class=2, test_per_class=2, image_size=64)
    for path in sorted(root.rglob("*.jpg")):
        s3.put_object(Bucket=bucket, Key=f"dogImages/{path.relative_to(root).as_posix()}", Body=path.read_bytes())
    source = {p.name: p.read_bytes() for p in (REPO / "training_code").iterdir() if p.is_file() and p.suffix in (".py", ".txt")}
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=tar_gz_bytes(source))
    return bucket, root


def real_training_request(bucket: str, role: str, name: str, cache_dir: Path, instance_count: int = 1) -> dict:
    return {
        "TrainingJobName": name,
        "RoleArn": role,
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312",
            "TrainingInputMode": "File", "MetricDefinitions": METRICS},
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{bucket}/code/sourcedir.tar.gz"',
            "epochs": "2", "batch_size": "4", "learning_rate": "0.01", "num_workers": "0",
        },
        "InputDataConfig": [{"ChannelName": "training", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/dogImages", "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": instance_count, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "Environment": {"PAWFLOW_FEATURE_CACHE": str(cache_dir), "OMP_NUM_THREADS": "1"},
    }


def wait_for_job(aws, wait_until, name: str) -> dict:
    sagemaker = aws("sagemaker")
    return wait_until(lambda: sagemaker.describe_training_job(TrainingJobName=name),
                      lambda d: d["TrainingJobStatus"] not in ("InProgress", "Stopping"), timeout=240, interval=0.5)


@pytest.fixture(scope="module")
def trained_job(aws, dataset, tmp_path_factory, sagemaker_role):
    bucket, _ = dataset
    name = f"real-train-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_training_job(**real_training_request(bucket, sagemaker_role, name, tmp_path_factory.mktemp("cache")))
    return name


def test_real_training_job_completes_with_model_and_metrics(aws, wait_until, dataset, trained_job, untar):
    bucket, _ = dataset
    job = wait_for_job(aws, wait_until, trained_job)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {"test:loss", "test:accuracy", "validation:accuracy"}
    assert 0.0 <= metrics["test:accuracy"] <= 1.0 and metrics["test:loss"] > 0
    model = untar(aws("s3").get_object(Bucket=bucket, Key=f"output/{trained_job}/output/model.tar.gz")["Body"].read())
    assert {"model.pth", "classes.json", "model_config.json", "code/inference.py", "code/classifier.py"} <= set(model)
    assert len(json.loads(model["classes.json"])) == 3
    output = untar(aws("s3").get_object(Bucket=bucket, Key=f"output/{trained_job}/output/output.tar.gz")["Body"].read())
    assert "metrics.json" in output


def test_real_endpoint_answers_a_jpeg_and_turns_garbage_into_model_error(aws, wait_until, dataset, trained_job,
                                                                          sagemaker_role):
    bucket, root = dataset
    sagemaker, runtime = aws("sagemaker"), aws("sagemaker-runtime")
    job = wait_for_job(aws, wait_until, trained_job)
    name = f"dogs-{uuid.uuid4().hex[:8]}"
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=sagemaker_role,
                           PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
                                             "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
                                             "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "OMP_NUM_THREADS": "1"}})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_until(lambda: sagemaker.describe_endpoint(EndpointName=name),
                           lambda d: d["EndpointStatus"] != "Creating", timeout=180, interval=0.5)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    jpeg = next((root / "test").rglob("*.jpg")).read_bytes()

    answer = runtime.invoke_endpoint(EndpointName=name, Body=jpeg, ContentType="image/jpeg", Accept="application/json")
    predictions = json.loads(answer["Body"].read())["predictions"]
    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(EndpointName=name, Body=b"\x00garbage, not an image", ContentType="image/jpeg")
    sagemaker.delete_endpoint(EndpointName=name)

    assert len(predictions) == 3
    assert abs(sum(p["probability"] for p in predictions) - 1.0) < 1e-3
    assert {p["label"] for p in predictions} == {breed_label(d.name) for d in (root / "train").iterdir()}
    assert error.value.response["Error"]["Code"] == "ModelError"
    assert 400 <= error.value.response["OriginalStatusCode"] < 500


def test_real_two_instance_job_trains_one_model_across_both_hosts(aws, wait_until, dataset, tmp_path, sagemaker_role):
    bucket, _ = dataset
    sagemaker, logs = aws("sagemaker"), aws("logs")
    name = f"real-dist-{uuid.uuid4().hex[:8]}"
    sagemaker.create_training_job(**real_training_request(bucket, sagemaker_role, name, tmp_path / "cache", instance_count=2))

    job = wait_for_job(aws, wait_until, name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
    messages = [e["message"] for s in streams
                for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]]
    assert len(streams) == 2
    assert any("[algo-1]" in m and "Data shard of rank 0 of 2" in m for m in messages)
    assert any("[algo-2]" in m and "Data shard of rank 1 of 2" in m for m in messages)
