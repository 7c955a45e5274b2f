"""Stopping the runtime (SIGTERM or SIGINT) ends every process it started: no orphans."""

from __future__ import annotations

import signal

import boto3
import psutil
import pytest

from local_aws.server import ServerProcess


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_server_leaves_no_child_process(tmp_path, training_request, seed_bucket,
                                                     wait_until, bucket, sig, create_sagemaker_role):
    with ServerProcess(tmp_path / "state") as server:
        def client(service: str):
            return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        s3, sagemaker = client("s3"), client("sagemaker")
        model_url = seed_bucket(s3, bucket)
        sagemaker.create_model(ModelName="m", ExecutionRoleArn=create_sagemaker_role(client("iam")),
                               PrimaryContainer={"Image": "x", "ModelDataUrl": model_url})
        sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
        sagemaker.create_training_job(**training_request("running-job", program="slow_train.py", instance_count=2))
        wait_until(lambda: sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"],
                   lambda status: status == "InService", timeout=120)
        wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="running-job")["SecondaryStatus"],
                   lambda status: status == "Training")
        descendants = wait_until(lambda: psutil.Process(server.pid).children(recursive=True),
                                 lambda children: len(children) >= 4)
        pids = [child.pid for child in descendants]

        assert server.stop(sig) == 0

    assert not [pid for pid in pids if not gone(pid)]
