"""A restart keeps S3 objects and created resources; work that was running comes back Failed."""

from __future__ import annotations

import json

import boto3

from local_aws.server import ServerProcess


def clients(url: str):
    def client(service: str):
        return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def test_restart_keeps_objects_and_resources_and_fails_interrupted_jobs(tmp_path, training_request, seed_bucket,
                                                                        wait_until, bucket, create_sagemaker_role):
    state_dir = tmp_path / "state"
    request = training_request("interrupted-job", program="slow_train.py")
    with ServerProcess(state_dir) as first:
        aws = clients(first.endpoint_url)
        s3, sagemaker = aws("s3"), aws("sagemaker")
        model_url = seed_bucket(s3, bucket)
        sagemaker.create_model(ModelName="kept-model", ExecutionRoleArn=create_sagemaker_role(aws("iam")),
                               PrimaryContainer={"Image": "x", "ModelDataUrl": model_url})
        sagemaker.create_endpoint_config(EndpointConfigName="kept-config", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "kept-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName="kept-endpoint", EndpointConfigName="kept-config")
        wait_until(lambda: sagemaker.describe_endpoint(EndpointName="kept-endpoint")["EndpointStatus"],
                   lambda status: status == "InService", timeout=120)
        sagemaker.create_training_job(**request)
        wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="interrupted-job")["SecondaryStatus"],
                   lambda status: status == "Training")
        assert first.stop() == 0

    with ServerProcess(state_dir) as second:
        aws = clients(second.endpoint_url)
        s3, sagemaker = aws("s3"), aws("sagemaker")

        assert s3.get_object(Bucket=bucket, Key="data/train/part-0.txt")["Body"].read() == b"1"
        job = sagemaker.describe_training_job(TrainingJobName="interrupted-job")
        assert job["TrainingJobStatus"] == "Failed"
        assert "local runtime" in job["FailureReason"]
        assert sagemaker.describe_model(ModelName="kept-model")["PrimaryContainer"]["ModelDataUrl"].endswith("m.tar.gz")
        wait_until(lambda: sagemaker.describe_endpoint(EndpointName="kept-endpoint")["EndpointStatus"],
                   lambda status: status == "InService", timeout=120)
        answer = aws("sagemaker-runtime").invoke_endpoint(EndpointName="kept-endpoint", Body=b"[2]",
                                                          ContentType="application/json")
        assert json.loads(answer["Body"].read())["predictions"] == [2.0]
