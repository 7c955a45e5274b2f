"""The SageMaker execution role's policy in iam/ lets jobs read data, write artifacts and logs, and no more."""

import json
import warnings
from pathlib import Path

import pytest

from local_aws.iam.policy_evaluation import evaluate

IAM = Path(__file__).resolve().parents[2] / "iam"
POLICY = json.loads((IAM / "sagemaker-execution-role-policy.json").read_text())
LOGS = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs"

ALLOWED = [
    ("s3:GetObject", "arn:aws:s3:::pawflow-dog-breeds/dogImages/train/001.Affenpinscher/a.jpg", {}),
    ("s3:GetObject", "arn:aws:s3:::pawflow-dog-breeds/code/0123/sourcedir.tar.gz", {}),
    ("s3:ListBucket", "arn:aws:s3:::pawflow-dog-breeds", {}),
    ("s3:PutObject", "arn:aws:s3:::pawflow-dog-breeds/training-output/job/output/model.tar.gz", {}),
    ("ecr:BatchGetImage", "arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training", {}),
    ("ecr:GetAuthorizationToken", "*", {}),
    ("logs:PutLogEvents", f"{LOGS}:log-stream:job/algo-1-1", {}),
    ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}),
]
REFUSED = [
    ("s3:PutObject", "arn:aws:s3:::pawflow-dog-breeds/dogImages/train/poisoned.jpg", {}),
    ("s3:GetObject", "arn:aws:s3:::someone-elses-bucket/secret.csv", {}),
    ("ecr:BatchGetImage", "arn:aws:ecr:us-east-1:999999999999:repository/anything", {}),
    ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Billing"}),
    ("iam:PassRole", "arn:aws:iam::123456789012:role/Admin", {}),
]


@pytest.mark.parametrize(("action", "resource", "context"), ALLOWED)
def test_allows_what_jobs_and_endpoints_need(action, resource, context):
    assert evaluate(POLICY, action, resource, context).allowed


@pytest.mark.parametrize(("action", "resource", "context"), REFUSED)
def test_refuses_the_rest(action, resource, context):
    assert not evaluate(POLICY, action, resource, context).allowed


def test_trust_policy_lets_only_sagemaker_assume_the_role():
    trust = json.loads((IAM / "sagemaker-execution-role-trust.json").read_text())
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}]


def test_parliament_has_no_findings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from parliament import analyze_policy_string
    assert analyze_policy_string(json.dumps(POLICY)).findings == []
