"""Stopping the server ends every Lambda execution environment it started, provisioned ones included."""

from __future__ import annotations

import json
import signal

import psutil

from local_aws.server import ServerProcess
from tests.aws_clients import client_factory
from tests.execution_roles import create_lambda_role

PID = """
import os


def lambda_handler(event, context):
    return os.getpid()
"""


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stopping_the_server_leaves_no_lambda_worker(tmp_path, zip_package, wait_until):
    with ServerProcess(tmp_path / "state") as server:
        client = client_factory(server.endpoint_url, max_attempts=None)
        role = create_lambda_role(client("iam"), "fn", policy_arns=())
        lam = client("lambda")
        lam.create_function(FunctionName="pid", Runtime="python3.11", Role=role, Handler="lambda_function.lambda_handler",
                            Code={"ZipFile": zip_package({"lambda_function.py": PID})})
        on_demand = json.loads(lam.invoke(FunctionName="pid", Payload=b"{}")["Payload"].read())
        version = lam.publish_version(FunctionName="pid")["Version"]
        lam.put_provisioned_concurrency_config(FunctionName="pid", Qualifier=version, ProvisionedConcurrentExecutions=2)
        wait_until(lambda: lam.get_provisioned_concurrency_config(FunctionName="pid", Qualifier=version)["Status"],
                   lambda status: status == "READY")
        workers = [child.pid for child in psutil.Process(server.pid).children(recursive=True)]
        assert on_demand in workers and len(workers) >= 3

        assert server.stop(signal.SIGTERM) == 0

    assert not [pid for pid in workers if not gone(pid)]
