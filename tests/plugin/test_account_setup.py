"""The administrator's one-time set-up: the SageMaker execution role, the Lambda boundary and the Airflow role, idempotently."""

import json

import pytest

from pawflow.account_setup import (
    AIRFLOW_POLICY,
    AIRFLOW_ROLE,
    IAM_DIR,
    LAMBDA_BOUNDARY,
    SAGEMAKER_POLICY,
    SAGEMAKER_ROLE,
    set_up_account,
)


@pytest.fixture
def account(client):
    return client("iam"), client("sts")


def test_creates_the_role_with_its_trust_and_policy_and_the_boundary(account):
    iam, sts = account
    arns = set_up_account(iam, sts)
    role = iam.get_role(RoleName=SAGEMAKER_ROLE)["Role"]
    assert arns["SageMakerExecutionRoleArn"] == role["Arn"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    inline = iam.get_role_policy(RoleName=SAGEMAKER_ROLE, PolicyName=SAGEMAKER_POLICY)["PolicyDocument"]
    assert inline == json.loads((IAM_DIR / "sagemaker-execution-role-policy.json").read_text())
    assert iam.get_policy(PolicyArn=arns["LambdaPermissionsBoundaryArn"])["Policy"]["PolicyName"] == LAMBDA_BOUNDARY


def test_a_second_run_converges_without_new_policy_versions(account):
    iam, sts = account
    first = set_up_account(iam, sts)
    versions = iam.list_policy_versions(PolicyArn=first["LambdaPermissionsBoundaryArn"])["Versions"]
    second = set_up_account(iam, sts)
    assert first == second
    assert iam.list_policy_versions(PolicyArn=first["LambdaPermissionsBoundaryArn"])["Versions"] == versions


def test_a_changed_boundary_becomes_the_new_default_version(account):
    iam, sts = account
    arn = set_up_account(iam, sts)["LambdaPermissionsBoundaryArn"]
    stale = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(stale), SetAsDefault=True)
    set_up_account(iam, sts)
    default = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]["Document"]
    assert document == json.loads((IAM_DIR / "lambda-permissions-boundary.json").read_text())


def test_the_airflow_role_holds_exactly_the_shipped_policy_and_trusts_the_account(account):
    iam, sts = account
    arn = set_up_account(iam, sts)["AirflowRoleArn"]
    role = iam.get_role(RoleName=AIRFLOW_ROLE)["Role"]
    assert role["Arn"] == arn
    account_id = sts.get_caller_identity()["Account"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{account_id}:root"}
    assert iam.list_role_policies(RoleName=AIRFLOW_ROLE)["PolicyNames"] == [AIRFLOW_POLICY]
    assert iam.list_attached_role_policies(RoleName=AIRFLOW_ROLE)["AttachedPolicies"] == []
    inline = iam.get_role_policy(RoleName=AIRFLOW_ROLE, PolicyName=AIRFLOW_POLICY)["PolicyDocument"]
    assert inline == json.loads((IAM_DIR / "airflow-execution-role-policy.json").read_text())
