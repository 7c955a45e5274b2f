"""The Amazon provider's operators run against the local runtime with only the connection pointing at it."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def aws_connection(server, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": server.endpoint_url, "region_name": "us-east-1"},
    }))


def test_training_operator_waits_for_the_job_and_tails_its_log(aws_connection, training_request, job_name, capfd):
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator

    operator = SageMakerTrainingOperator(
        task_id="train", config=training_request(job_name, hyperparameters={"learning_rate": "0.5"}),
        aws_conn_id="aws_default", wait_for_completion=True, print_log=True, check_interval=1,
    )
    result = operator.execute(context={})
    logged = "".join(capfd.readouterr())

    assert result["Training"]["TrainingJobStatus"] == "Completed"
    assert result["Training"]["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{job_name}/output/model.tar.gz")
    # lines of the job's own output, tailed from CloudWatch Logs by the provider's hook
    assert "Testing Loss: 2.125000" in logged
    assert "Epoch 1: Train Loss: 1.000000" in logged


def test_training_operator_raises_with_the_failure_reason(aws_connection, training_request, job_name):
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator

    operator = SageMakerTrainingOperator(
        task_id="train", config=training_request(job_name, program="broken_train.py"),
        aws_conn_id="aws_default", wait_for_completion=True, print_log=False, check_interval=1,
    )

    with pytest.raises(Exception, match="the training data has no class folders"):
        operator.execute(context={})


def test_endpoint_operator_creates_then_falls_back_to_update(aws_connection, aws, bucket, tar_gz_bytes, scripts_dir,
                                                             sagemaker_role):
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerEndpointOperator

    aws("s3").put_object(Bucket=bucket, Key="models/m.tar.gz", Body=tar_gz_bytes({
        "model.json": json.dumps({"scale": 1.0, "target": 0.0}).encode(),
        "code/inference.py": (scripts_dir / "tiny_inference.py").read_bytes()}))
    endpoint = f"op-{bucket}"

    def config(suffix: str) -> dict:
        return {
            "Model": {"ModelName": f"{endpoint}-{suffix}", "ExecutionRoleArn": sagemaker_role,
                      "PrimaryContainer": {"Image": "x", "ModelDataUrl": f"s3://{bucket}/models/m.tar.gz"}},
            "EndpointConfig": {"EndpointConfigName": f"{endpoint}-{suffix}", "ProductionVariants": [{
                "VariantName": "AllTraffic", "ModelName": f"{endpoint}-{suffix}", "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large"}]},
            "Endpoint": {"EndpointName": endpoint, "EndpointConfigName": f"{endpoint}-{suffix}"},
        }

    first = SageMakerEndpointOperator(task_id="deploy", config=config("a"), aws_conn_id="aws_default",
                                      wait_for_completion=True, check_interval=1).execute(context={})
    second = SageMakerEndpointOperator(task_id="deploy", config=config("b"), aws_conn_id="aws_default",
                                       wait_for_completion=True, check_interval=1).execute(context={})

    assert first["Endpoint"]["EndpointStatus"] == "InService"
    assert first["Endpoint"]["EndpointConfigName"] == f"{endpoint}-a"
    assert second["Endpoint"]["EndpointStatus"] == "InService"
    assert second["Endpoint"]["EndpointConfigName"] == f"{endpoint}-b"
    aws("sagemaker").delete_endpoint(EndpointName=endpoint)
