"""A restart keeps S3 objects and created resources; work that was running comes back Failed."""

from __future__ import annotations

import json

from local_aws.server import ServerProcess
from tests.aws_clients import client_factory
from tests.served_endpoints import in_service_endpoint, serve_model
from tests.timeouts import scaled


def test_restart_keeps_objects_and_resources_and_fails_interrupted_jobs(tmp_path, training_request, seed_bucket,
                                                                        wait_until, bucket, create_sagemaker_role):
    state_dir = tmp_path / "state"
    request = training_request("interrupted-job", program="slow_train.py")
    with ServerProcess(state_dir) as first:
        aws = client_factory(first.endpoint_url, max_attempts=None)
        s3, sagemaker = aws("s3"), aws("sagemaker")
        model_url = seed_bucket(s3, bucket)
        serve_model(sagemaker, "kept-model", role_arn=create_sagemaker_role(aws("iam")), model_data_url=model_url,
                    image="x", program=None)
        sagemaker.create_endpoint(EndpointName="kept-endpoint", EndpointConfigName="kept-model")
        in_service_endpoint(sagemaker, "kept-endpoint", wait_until, timeout=scaled(40))
        sagemaker.create_training_job(**request)
        wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="interrupted-job")["SecondaryStatus"],
                   lambda status: status == "Training")
        assert first.stop() == 0

    with ServerProcess(state_dir) as second:
        aws = client_factory(second.endpoint_url, max_attempts=None)
        s3, sagemaker = aws("s3"), aws("sagemaker")

        assert s3.get_object(Bucket=bucket, Key="data/train/part-0.txt")["Body"].read() == b"1"
        job = sagemaker.describe_training_job(TrainingJobName="interrupted-job")
        assert job["TrainingJobStatus"] == "Failed"
        assert "local runtime" in job["FailureReason"]
        assert sagemaker.describe_model(ModelName="kept-model")["PrimaryContainer"]["ModelDataUrl"].endswith("m.tar.gz")
        in_service_endpoint(sagemaker, "kept-endpoint", wait_until, timeout=scaled(40))
        answer = aws("sagemaker-runtime").invoke_endpoint(EndpointName="kept-endpoint", Body=b"[2]",
                                                          ContentType="application/json")
        assert json.loads(answer["Body"].read())["predictions"] == [2.0]
