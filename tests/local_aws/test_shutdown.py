"""Stopping the runtime (SIGTERM or SIGINT) ends every process it started: no orphans."""

from __future__ import annotations

import signal

import psutil
import pytest

from local_aws.server import ServerProcess
from tests.aws_clients import client_factory
from tests.served_endpoints import in_service_endpoint, serve_model
from tests.timeouts import scaled


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_server_leaves_no_child_process(tmp_path, training_request, seed_bucket,
                                                     wait_until, bucket, sig, create_sagemaker_role):
    with ServerProcess(tmp_path / "state") as server:
        client = client_factory(server.endpoint_url, max_attempts=None)
        s3, sagemaker = client("s3"), client("sagemaker")
        serve_model(sagemaker, "m", role_arn=create_sagemaker_role(client("iam")),
                    model_data_url=seed_bucket(s3, bucket), image="x", program=None, instance_count=2)
        sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="m")
        sagemaker.create_training_job(**training_request("running-job", program="slow_train.py", instance_count=2))
        in_service_endpoint(sagemaker, "e", wait_until, timeout=scaled(40))
        wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="running-job")["SecondaryStatus"],
                   lambda status: status == "Training")
        descendants = wait_until(lambda: psutil.Process(server.pid).children(recursive=True),
                                 lambda children: len(children) >= 4)
        pids = [child.pid for child in descendants]

        assert server.stop(sig) == 0

    assert not [pid for pid in pids if not gone(pid)]
