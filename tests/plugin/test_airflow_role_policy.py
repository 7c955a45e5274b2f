"""The Airflow role's policy in iam/ allows every call the DAGs make, scoped to pawflow's resources, and no more.

Judged with the runtime's identity-policy evaluator (AWS's evaluation logic: explicit deny, action and ARN
globs, conditions) and linted with parliament.
"""

import json
import warnings
from pathlib import Path

import pytest

from local_aws.iam.policy_evaluation import evaluate

POLICY = json.loads((Path(__file__).resolve().parents[2] / "iam" / "airflow-execution-role-policy.json").read_text())
ACCOUNT, REGION = "123456789012", "us-east-1"
SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dog-breed-classifier"
LAMBDA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dog-breed-classifier-role"
SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/pawflow-sagemaker-execution"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
BOUNDED = {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/pawflow-lambda-boundary"}
TRAINING_LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs"

#: (action, resource, context) of every call the pipeline, teardown and audit DAGs make with default Params.
CALLS = [
    ("s3:CreateBucket", "arn:aws:s3:::pawflow-dog-breeds", {}),
    ("s3:ListBucket", "arn:aws:s3:::pawflow-dog-breeds", {}),
    ("s3:PutObject", "arn:aws:s3:::pawflow-dog-breeds/dogImages/train/001.Affenpinscher/a.jpg", {}),
    ("s3:PutObject", "arn:aws:s3:::pawflow-dog-breeds/code/0123/sourcedir.tar.gz", {}),
    ("s3:GetObject", "arn:aws:s3:::pawflow-dog-breeds/dogImages/test/001.Affenpinscher/a.jpg", {}),
    ("iam:GetRole", SAGEMAKER_ROLE, {}),
    ("iam:PassRole", SAGEMAKER_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    ("sagemaker:CreateHyperParameterTuningJob", f"{SM}:hyper-parameter-tuning-job/dogs-hpo-20261125120000-abcdef", {}),
    ("sagemaker:DescribeHyperParameterTuningJob", f"{SM}:hyper-parameter-tuning-job/dogs-hpo-20261125120000-abcdef", {}),
    ("sagemaker:AddTags", f"{SM}:hyper-parameter-tuning-job/dogs-hpo-20261125120000-abcdef", {}),
    ("sagemaker:CreateTrainingJob", f"{SM}:training-job/dogs-train-multi-20261125120000-abcdef", {}),
    ("sagemaker:DescribeTrainingJob", f"{SM}:training-job/dogs-hpo-20261125120000-abcdef-001-12345678", {}),
    ("logs:DescribeLogStreams", TRAINING_LOGS, {}),
    ("logs:GetLogEvents", f"{TRAINING_LOGS}:log-stream:dogs-train-single-1/algo-1-1", {}),
    ("sagemaker:CreateModel", f"{SM}:model/dogs-model-20261125120000-abcdef", {}),
    ("sagemaker:CreateEndpointConfig", f"{SM}:endpoint-config/dogs-endpoint-config-20261125120000-abcdef", {}),
    ("sagemaker:CreateEndpoint", f"{SM}:endpoint/dog-breed-classifier", {}),
    ("sagemaker:UpdateEndpoint", f"{SM}:endpoint/dog-breed-classifier", {}),
    ("sagemaker:DescribeEndpoint", f"{SM}:endpoint/dog-breed-classifier", {}),
    ("application-autoscaling:RegisterScalableTarget", "*", {}),
    ("application-autoscaling:PutScalingPolicy", "*", {}),
    ("iam:CreateRole", LAMBDA_ROLE, BOUNDED),
    ("iam:AttachRolePolicy", LAMBDA_ROLE, {"iam:PolicyARN": BASIC, **BOUNDED}),
    # A role made before the boundary existed gets it on the next run: setting that boundary only narrows it.
    ("iam:PutRolePermissionsBoundary", LAMBDA_ROLE, BOUNDED),
    ("iam:PassRole", LAMBDA_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}),
    ("lambda:CreateFunction", FN, {}),
    ("lambda:UpdateFunctionCode", FN, {}),
    ("lambda:GetFunctionConfiguration", FN, {}),
    ("iam:PutRolePolicy", LAMBDA_ROLE, BOUNDED),
    ("iam:DetachRolePolicy", LAMBDA_ROLE, BOUNDED),
    ("iam:GetPolicyVersion", "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess", {}),
    ("lambda:InvokeFunction", FN, {}),
    ("lambda:GetAccountSettings", "*", {}),
    ("lambda:PublishVersion", FN, {}),
    ("lambda:CreateAlias", FN, {}),
    ("lambda:PutFunctionConcurrency", FN, {}),
    ("lambda:PutProvisionedConcurrencyConfig", f"{FN}:live", {}),
    ("lambda:DeleteProvisionedConcurrencyConfig", f"{FN}:live", {}),
    ("application-autoscaling:DeregisterScalableTarget", "*", {}),
    ("sagemaker:DeleteEndpoint", f"{SM}:endpoint/dog-breed-classifier", {}),
    ("sagemaker:DeleteEndpointConfig", f"{SM}:endpoint-config/dogs-endpoint-config-20261125120000-abcdef", {}),
    ("sagemaker:DeleteModel", f"{SM}:model/dogs-model-20261125120000-abcdef", {}),
    ("iam:GetAccountSummary", "*", {}),
    ("iam:ListRoles", "*", {}),
    ("iam:ListAttachedRolePolicies", f"arn:aws:iam::{ACCOUNT}:role/any-role", {}),
]

#: Calls the policy must refuse: other resources, other services to pass roles to, escalation paths.
REFUSED = [
    ("s3:GetObject", "arn:aws:s3:::someone-elses-bucket/secret.csv", {}),
    ("s3:DeleteObject", "arn:aws:s3:::pawflow-dog-breeds/dogImages/train/a.jpg", {}),
    ("sagemaker:DeleteEndpoint", f"{SM}:endpoint/production-fraud-model", {}),
    ("sagemaker:CreateTrainingJob", f"{SM}:training-job/crypto-miner", {}),
    ("iam:PassRole", SAGEMAKER_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Admin", {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    ("iam:AttachRolePolicy", LAMBDA_ROLE, {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess", **BOUNDED}),
    ("iam:CreateRole", LAMBDA_ROLE, {}),
    ("iam:PutRolePolicy", LAMBDA_ROLE, {}),
    ("iam:PutRolePolicy", LAMBDA_ROLE, {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/Wide"}),
    ("iam:PutRolePermissionsBoundary", LAMBDA_ROLE, {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/Wide"}),
    ("iam:PutRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/pawflow-sagemaker-execution", BOUNDED),
    ("iam:DeleteRolePermissionsBoundary", LAMBDA_ROLE, BOUNDED),
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/Admin", {}),
    ("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/pawflow-sagemaker-execution", {}),
    ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/backdoor", {}),
    ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:payments", {}),
    ("sagemaker:InvokeEndpoint", f"{SM}:endpoint/dog-breed-classifier", {}),
]


@pytest.mark.parametrize(("action", "resource", "context"), CALLS, ids=[f"{a} {r}" for a, r, _ in CALLS])
def test_allows_what_the_dags_call(action, resource, context):
    result = evaluate(POLICY, action, resource, context)
    assert result.allowed, f"{action} on {resource} is not allowed: {result.decision}"


@pytest.mark.parametrize(("action", "resource", "context"), REFUSED, ids=[f"{a} {r}" for a, r, _ in REFUSED])
def test_refuses_everything_else(action, resource, context):
    assert not evaluate(POLICY, action, resource, context).allowed


def test_parliament_finds_only_the_unavoidable_resource_star():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from parliament import analyze_policy_string, enhance_finding
    findings = analyze_policy_string(json.dumps(POLICY)).findings
    for finding in findings:
        enhance_finding(finding)
    # Application Auto Scaling names scalable targets by random ids: their ARNs cannot be written in advance.
    assert [(f.issue, f.severity) for f in findings] == [("RESOURCE_STAR", "LOW")]
    assert all(action.startswith("application-autoscaling:") for action in findings[0].detail)


def test_boundary_holds_what_the_invoke_policy_grants_and_nothing_else():
    boundary = json.loads((Path(__file__).resolve().parents[2] / "iam" / "lambda-permissions-boundary.json").read_text())
    endpoint = f"{SM}:endpoint/dog-breed-classifier"
    assert evaluate(boundary, "sagemaker:InvokeEndpoint", endpoint).allowed
    assert evaluate(boundary, "logs:PutLogEvents",
                    f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/dog-breed-classifier:log-stream:x").allowed
    assert not evaluate(boundary, "sagemaker:InvokeEndpoint", f"{SM}:endpoint/other").allowed
    assert not evaluate(boundary, "s3:GetObject", "arn:aws:s3:::pawflow-dog-breeds/x").allowed
    assert not evaluate(boundary, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x").allowed
