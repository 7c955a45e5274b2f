"""A restart keeps functions, versions, aliases and concurrency settings; provisioned environments start again."""

from __future__ import annotations

import json

from local_aws.server import ServerProcess
from tests.aws_clients import client_factory
from tests.execution_roles import create_lambda_role

HANDLER = """
def lambda_handler(event, context):
    return {"kept": True}
"""
def test_a_restart_keeps_functions_and_their_concurrency(tmp_path, zip_package, wait_until):
    state_dir = tmp_path / "state"
    with ServerProcess(state_dir) as first:
        aws = client_factory(first.endpoint_url, max_attempts=None)
        role = create_lambda_role(aws("iam"), "kept", policy_arns=())
        lam = aws("lambda")
        lam.create_function(FunctionName="kept", Runtime="python3.11", Role=role,
                            Handler="lambda_function.lambda_handler",
                            Code={"ZipFile": zip_package({"lambda_function.py": HANDLER})})
        version = lam.publish_version(FunctionName="kept")["Version"]
        lam.create_alias(FunctionName="kept", Name="live", FunctionVersion=version)
        lam.put_function_concurrency(FunctionName="kept", ReservedConcurrentExecutions=5)
        lam.put_provisioned_concurrency_config(FunctionName="kept", Qualifier="live", ProvisionedConcurrentExecutions=2)

    with ServerProcess(state_dir) as second:
        lam = client_factory(second.endpoint_url, max_attempts=None)("lambda")

        assert lam.get_alias(FunctionName="kept", Name="live")["FunctionVersion"] == version
        assert lam.get_function_concurrency(FunctionName="kept")["ReservedConcurrentExecutions"] == 5
        ready = wait_until(lambda: lam.get_provisioned_concurrency_config(FunctionName="kept", Qualifier="live"),
                           lambda config: config["Status"] == "READY")
        assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
        response = lam.invoke(FunctionName="kept", Qualifier="live", Payload=b"{}")
        assert json.loads(response["Payload"].read()) == {"kept": True}
