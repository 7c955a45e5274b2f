"""A restart brings endpoints back as they were: an update in flight resumes (never the old config with no reason),
and instance counts autoscaling set come back with a scaling activity recorded."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from local_aws.server import ServerProcess
from tests.archives import tar_gz

SCRIPTS = Path(__file__).resolve().parent / "scripts"
# A model that takes a while to load: an update to it is still in flight when the runtime is stopped.
SLOW_LOADING = ("import time\nfrom tiny_inference import *\nfrom tiny_inference import model_fn as load\n\n"
                "def model_fn(model_dir):\n    time.sleep(20)\n    return load(model_dir)\n")


def clients(url: str):
    def client(service: str):
        return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def _deploy(aws, seed_bucket, create_sagemaker_role, bucket: str, instances: int = 1) -> None:
    """Model ``m`` (doubles numbers), config ``c`` and endpoint ``e`` with ``instances`` instances."""
    s3, sagemaker = aws("s3"), aws("sagemaker")
    seed_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="models/double.tar.gz", Body=tar_gz({
        "model.json": b'{"scale": 2.0, "target": 0.0}', "code/inference.py": (SCRIPTS / "tiny_inference.py").read_bytes()}))
    sagemaker.create_model(ModelName="m", ExecutionRoleArn=create_sagemaker_role(aws("iam")),
                           PrimaryContainer={"Image": "x", "ModelDataUrl": f"s3://{bucket}/models/double.tar.gz"})
    sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": instances,
        "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")


def _status(sagemaker):
    return lambda: sagemaker.describe_endpoint(EndpointName="e")


def test_an_update_in_flight_at_shutdown_resumes_after_a_restart(tmp_path, seed_bucket, create_sagemaker_role,
                                                                wait_until):
    state_dir = tmp_path / "state"
    with ServerProcess(state_dir) as first:
        aws = clients(first.endpoint_url)
        sagemaker = aws("sagemaker")
        _deploy(aws, seed_bucket, create_sagemaker_role, "restart-update")
        wait_until(_status(sagemaker), lambda d: d["EndpointStatus"] == "InService", timeout=120)
        aws("s3").put_object(Bucket="restart-update", Key="models/triple.tar.gz", Body=tar_gz({
            "model.json": b'{"scale": 3.0, "target": 0.0}', "code/inference.py": SLOW_LOADING.encode(),
            "code/tiny_inference.py": (SCRIPTS / "tiny_inference.py").read_bytes()}))
        sagemaker.create_model(ModelName="m3", ExecutionRoleArn=create_sagemaker_role(aws("iam")),
                               PrimaryContainer={"Image": "x", "ModelDataUrl": "s3://restart-update/models/triple.tar.gz"})
        sagemaker.create_endpoint_config(EndpointConfigName="c3", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "m3", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        sagemaker.update_endpoint(EndpointName="e", EndpointConfigName="c3")
        assert sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"] == "Updating"
        assert first.stop() == 0

    with ServerProcess(state_dir) as second:
        aws = clients(second.endpoint_url)
        described = wait_until(_status(aws("sagemaker")), lambda d: d["EndpointStatus"] not in ("Creating", "Updating"),
                               timeout=180)
        answer = aws("sagemaker-runtime").invoke_endpoint(EndpointName="e", Body=b"[2]", ContentType="application/json")

    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "c3")
    assert "PendingDeploymentSummary" not in described
    assert json.loads(answer["Body"].read())["predictions"] == [6.0]


def test_instance_counts_set_by_autoscaling_come_back_with_a_scaling_activity(tmp_path, seed_bucket,
                                                                            create_sagemaker_role, wait_until):
    state_dir = tmp_path / "state"
    resource = "endpoint/e/variant/AllTraffic"
    with ServerProcess(state_dir, "--metric-period-seconds", "1") as first:
        aws = clients(first.endpoint_url)
        sagemaker = aws("sagemaker")
        _deploy(aws, seed_bucket, create_sagemaker_role, "restart-scaled")
        wait_until(_status(sagemaker), lambda d: d["EndpointStatus"] == "InService", timeout=120)
        aws("application-autoscaling").register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=2, MaxCapacity=3)
        wait_until(_status(sagemaker), lambda d: d["EndpointStatus"] == "InService"
                   and d["ProductionVariants"][0]["CurrentInstanceCount"] == 2, timeout=120)
        assert first.stop() == 0

    with ServerProcess(state_dir, "--metric-period-seconds", "1") as second:
        aws = clients(second.endpoint_url)
        described = wait_until(_status(aws("sagemaker")), lambda d: d["EndpointStatus"] == "InService", timeout=180)
        activities = wait_until(
            lambda: aws("application-autoscaling").describe_scaling_activities(
                ServiceNamespace="sagemaker", ResourceId=resource)["ScalingActivities"],
            lambda found: any("restarted" in a["Cause"] and a["StatusCode"] == "Successful" for a in found), timeout=60)

    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    restored = next(a for a in activities if "restarted" in a["Cause"])
    assert restored["Description"] == "Setting desired instance count to 2."
    assert restored["StatusMessage"] == ("Successfully set desired instance count to 2. "
                                         "Change successfully fulfilled by sagemaker.")
