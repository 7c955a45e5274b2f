"""The execution roles tests create: SageMaker's (trusting ``sagemaker.amazonaws.com``, allowed what SageMaker does)
and Lambda's (trusting ``lambda.amazonaws.com``, with managed policies).

A real account's role must let SageMaker read the job's data and code, pull its image, write its logs and upload
its artifacts; the runtime judges each of these as the role's session, so the tests' role is given that policy
(on any bucket: the tests make a fresh one each).
"""

from __future__ import annotations

import json
from typing import Any

SAGEMAKER_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}

SAGEMAKER_ROLE_POLICY_NAME = "sagemaker-service-access"
SAGEMAKER_ROLE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadAndWriteTestBuckets", "Effect": "Allow",
     "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject"], "Resource": "*"},
    {"Sid": "PullImages", "Effect": "Allow",
     "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage"], "Resource": "*"},
    {"Sid": "WriteLogs", "Effect": "Allow",
     "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*"},
]}


def create_sagemaker_role(iam: Any, name: str = "SageMakerRole") -> str:
    """Create the role through an IAM client unless it exists, give it the policy; return its ARN."""
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName=SAGEMAKER_ROLE_POLICY_NAME,
                        PolicyDocument=json.dumps(SAGEMAKER_ROLE_POLICY))
    return arn


LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def create_lambda_role(iam: Any, name: str, policy_arns: tuple[str, ...] = (BASIC_EXECUTION,)) -> str:
    """Create a Lambda execution role with the given managed policies (basic execution only by default); return its
    ARN."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    for policy_arn in policy_arns:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn
