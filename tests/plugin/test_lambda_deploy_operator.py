"""LambdaDeployFunctionOperator creates the function once and updates only what changed."""

import json

import pytest

from botocore.exceptions import ClientError

from pawflow.lambda_package import build_lambda_package
from pawflow.operators import lambda_deploy
from pawflow.operators.lambda_deploy import LambdaDeployFunctionOperator


def deploy(context, **kwargs):
    return LambdaDeployFunctionOperator(task_id="deploy_lambda", **kwargs).execute(context)


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "lambda"
    folder.mkdir()
    (folder / "lambda_function.py").write_text("def lambda_handler(event, context):\n    return event\n")
    return folder


def test_creates_function_and_basic_execution_role(client, context, source, unique):
    result = deploy(context, function_name=unique, source_dir=str(source), environment={"ENDPOINT_NAME": "dogs"})
    assert (result["Created"], result["CodeUpdated"], result["ConfigurationUpdated"]) == (True, False, False)
    assert result["CodeSha256"] == build_lambda_package(source).code_sha256
    configuration = client("lambda").get_function_configuration(FunctionName=unique)
    assert configuration["Environment"]["Variables"] == {"ENDPOINT_NAME": "dogs"}
    attached = client("iam").list_attached_role_policies(RoleName=f"{unique}-role")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
    trust = client("iam").get_role(RoleName=f"{unique}-role")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    json.dumps(result)


def test_rerun_with_same_code_changes_nothing(context, source, unique):
    deploy(context, function_name=unique, source_dir=str(source))
    result = deploy(context, function_name=unique, source_dir=str(source))
    assert (result["Created"], result["CodeUpdated"], result["ConfigurationUpdated"]) == (False, False, False)


def test_changed_code_is_uploaded(client, context, source, unique):
    deploy(context, function_name=unique, source_dir=str(source))
    (source / "lambda_function.py").write_text("def lambda_handler(event, context):\n    return 2\n")
    result = deploy(context, function_name=unique, source_dir=str(source))
    assert result["CodeUpdated"] is True
    assert client("lambda").get_function_configuration(FunctionName=unique)["CodeSha256"] == \
        build_lambda_package(source).code_sha256


def test_changed_environment_updates_the_configuration(client, context, source, unique):
    deploy(context, function_name=unique, source_dir=str(source), environment={"ENDPOINT_NAME": "a"})
    result = deploy(context, function_name=unique, source_dir=str(source), environment={"ENDPOINT_NAME": "b"})
    assert (result["CodeUpdated"], result["ConfigurationUpdated"]) == (False, True)
    variables = client("lambda").get_function_configuration(FunctionName=unique)["Environment"]["Variables"]
    assert variables == {"ENDPOINT_NAME": "b"}


def test_default_source_is_the_repository_lambda_folder(context, unique):
    result = deploy(context, function_name=unique)
    assert result["CodeSha256"] == build_lambda_package().code_sha256


@pytest.mark.parametrize(("kwargs", "message"), [({"timeout": 0}, "timeout must be between 1 and 900"),
                                                 ({"memory_size": 64}, "memory_size must be between 128 and 10240")])
def test_rejects_bad_limits(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LambdaDeployFunctionOperator(task_id="d", function_name="f", **kwargs)


@pytest.fixture
def boundary(client, unique):
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}
    return client("iam").create_policy(PolicyName=f"{unique}-boundary", PolicyDocument=json.dumps(document))[
        "Policy"]["Arn"]


def test_role_is_created_under_the_permissions_boundary(client, context, source, unique, boundary):
    deploy(context, function_name=unique, source_dir=str(source), permissions_boundary=f"{unique}-boundary")
    role = client("iam").get_role(RoleName=f"{unique}-role")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary


def test_an_existing_role_gets_the_boundary(client, context, source, unique, boundary):
    deploy(context, function_name=unique, source_dir=str(source))
    assert "PermissionsBoundary" not in client("iam").get_role(RoleName=f"{unique}-role")["Role"]
    deploy(context, function_name=unique, source_dir=str(source), permissions_boundary=boundary)
    role = client("iam").get_role(RoleName=f"{unique}-role")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary


#: A trust policy Lambda cannot use: the role exists but only EC2 may assume it.
EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


def test_create_is_retried_until_the_role_becomes_assumable(client, context, source, unique, monkeypatch):
    monkeypatch.setattr(lambda_deploy, "ROLE_PROPAGATION_RETRY_SECONDS", 0.1)
    iam = client("iam")
    iam.create_role(RoleName=f"{unique}-role", AssumeRolePolicyDocument=EC2_TRUST)
    operator = LambdaDeployFunctionOperator(task_id="deploy_lambda", function_name=unique, source_dir=str(source))
    refusals = []

    def trust_lambda_after_the_first_refusal(parsed, **_):
        if parsed.get("Error", {}).get("Message") == NOT_ASSUMABLE and not refusals:
            iam.update_assume_role_policy(RoleName=f"{unique}-role", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
                    "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
        if "Error" in parsed:
            refusals.append(parsed["Error"]["Code"])

    operator.hook.conn.meta.events.register("after-call.lambda.CreateFunction", trust_lambda_after_the_first_refusal)
    result = operator.execute(context)
    assert refusals == ["InvalidParameterValueException"]
    assert result["Created"] is True
    assert client("lambda").get_function_configuration(FunctionName=unique)["State"] == "Active"


def test_a_role_that_never_becomes_assumable_fails_with_lambdas_error(client, context, source, unique, monkeypatch):
    monkeypatch.setattr(lambda_deploy, "ROLE_PROPAGATION_SECONDS", 0.5)
    monkeypatch.setattr(lambda_deploy, "ROLE_PROPAGATION_RETRY_SECONDS", 0.1)
    client("iam").create_role(RoleName=f"{unique}-role", AssumeRolePolicyDocument=EC2_TRUST)
    with pytest.raises(ClientError) as raised:
        deploy(context, function_name=unique, source_dir=str(source))
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert raised.value.response["Error"]["Message"] == NOT_ASSUMABLE
