"""A restart keeps functions, versions, aliases and concurrency settings; provisioned environments start again."""

from __future__ import annotations

import json

import boto3

from local_aws.server import ServerProcess

HANDLER = """
def lambda_handler(event, context):
    return {"kept": True}
"""
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def lambda_client(url: str):
    return boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_a_restart_keeps_functions_and_their_concurrency(tmp_path, zip_package, wait_until):
    state_dir = tmp_path / "state"
    with ServerProcess(state_dir) as first:
        iam = boto3.client("iam", endpoint_url=first.endpoint_url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        role = iam.create_role(RoleName="kept", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        lam = lambda_client(first.endpoint_url)
        lam.create_function(FunctionName="kept", Runtime="python3.11", Role=role,
                            Handler="lambda_function.lambda_handler",
                            Code={"ZipFile": zip_package({"lambda_function.py": HANDLER})})
        version = lam.publish_version(FunctionName="kept")["Version"]
        lam.create_alias(FunctionName="kept", Name="live", FunctionVersion=version)
        lam.put_function_concurrency(FunctionName="kept", ReservedConcurrentExecutions=5)
        lam.put_provisioned_concurrency_config(FunctionName="kept", Qualifier="live", ProvisionedConcurrentExecutions=2)

    with ServerProcess(state_dir) as second:
        lam = lambda_client(second.endpoint_url)

        assert lam.get_alias(FunctionName="kept", Name="live")["FunctionVersion"] == version
        assert lam.get_function_concurrency(FunctionName="kept")["ReservedConcurrentExecutions"] == 5
        ready = wait_until(lambda: lam.get_provisioned_concurrency_config(FunctionName="kept", Qualifier="live"),
                           lambda config: config["Status"] == "READY")
        assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
        response = lam.invoke(FunctionName="kept", Qualifier="live", Payload=b"{}")
        assert json.loads(response["Payload"].read()) == {"kept": True}
