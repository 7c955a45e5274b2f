"""The SageMaker execution role the benchmarks pass: trusted by SageMaker, allowed what SageMaker does with it."""

from __future__ import annotations

import json
from typing import Any

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
# Read the data, code and model, write the artifacts and the logs: the runtime judges each as the role.
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*"},
]}


def create_sagemaker_role(iam: Any, name: str = "bench-sagemaker") -> str:
    """Create the role and its policy through an IAM client; return its ARN."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="sagemaker-service-access", PolicyDocument=json.dumps(POLICY))
    return arn
