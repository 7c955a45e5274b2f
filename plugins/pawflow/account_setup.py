"""The one-time set-up an administrator does in the account before the DAGs run, as code.

Creates (or brings up to date) what the pipeline expects to exist but must not create itself: the SageMaker
execution role with its trust and policy from ``iam/``, the permissions boundary that bounds the Lambda's
role, and the role Airflow works as (``pawflow-airflow``, holding exactly
``iam/airflow-execution-role-policy.json``; the ``aws_default`` connection assumes it with ``role_arn``).
Idempotent: a second run changes nothing. Works against real AWS and the local runtime alike::

    python -m pawflow.account_setup                      # default credentials and region
    python -m pawflow.account_setup --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

IAM_DIR = Path(__file__).resolve().parents[2] / "iam"
SAGEMAKER_ROLE = "pawflow-sagemaker-execution"
SAGEMAKER_POLICY = "pawflow-sagemaker"
LAMBDA_BOUNDARY = "pawflow-lambda-boundary"
AIRFLOW_ROLE = "pawflow-airflow"
AIRFLOW_POLICY = "pawflow-airflow"


def _document(name: str) -> str:
    return json.dumps(json.loads((IAM_DIR / name).read_text()))


def _ensure_role(iam, role_name: str, trust: str, description: str, policy_name: str, policy: str) -> str:
    """Create a role with ``trust`` and one inline ``policy``, or bring both up to date; return its ARN."""
    try:
        arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust, Description=description)["Role"]["Arn"]
        log.info("created role %s", role_name)
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
        arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        log.info("role %s exists; trust policy brought up to date", role_name)
    iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy)
    return arn


def ensure_sagemaker_execution_role(iam, role_name: str = SAGEMAKER_ROLE) -> str:
    """Create the role SageMaker jobs and models run as, or update its trust and policy; return its ARN."""
    return _ensure_role(iam, role_name, _document("sagemaker-execution-role-trust.json"),
                        "pawflow: SageMaker training jobs and models", SAGEMAKER_POLICY,
                        _document("sagemaker-execution-role-policy.json"))


def ensure_lambda_permissions_boundary(iam, account_id: str, policy_name: str = LAMBDA_BOUNDARY) -> str:
    """Create the managed policy that bounds the Lambda's role, or add a new default version; return its ARN."""
    arn = f"arn:aws:iam::{account_id}:policy/{policy_name}"
    document = _document("lambda-permissions-boundary.json")
    try:
        iam.create_policy(PolicyName=policy_name, PolicyDocument=document,
                          Description="pawflow: the most the Lambda's role may ever do")
        log.info("created policy %s", policy_name)
        return arn
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    current = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    if isinstance(current, str):
        current = json.loads(current)
    if current == json.loads(document):
        log.info("policy %s is up to date", policy_name)
        return arn
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= 5:  # IAM keeps at most five versions: drop the oldest non-default one
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    log.info("policy %s updated to a new default version", policy_name)
    return arn


def airflow_role_trust(account_id: str, partition: str = "aws") -> dict:
    """Who may assume the Airflow role: principals of this account whose own policies allow sts:AssumeRole.

    That is what a connection's ``role_arn`` needs when the workers' base credentials (an instance profile, a
    user, the local runtime's administrator) belong to the same account. On MWAA the environment's execution
    role plays this part instead: there, trust ``airflow-env.amazonaws.com`` and ``airflow.amazonaws.com``.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "sts:AssumeRole",
        }],
    }


def ensure_airflow_role(iam, account_id: str, role_name: str = AIRFLOW_ROLE) -> str:
    """Create the role Airflow's connection assumes, or update its trust and policy; return its ARN."""
    return _ensure_role(iam, role_name, json.dumps(airflow_role_trust(account_id)),
                        "pawflow: what Airflow's aws_default connection works as", AIRFLOW_POLICY,
                        _document("airflow-execution-role-policy.json"))


def set_up_account(iam, sts) -> dict:
    """Everything above, given boto3 IAM and STS clients of the account; return the ARNs."""
    account_id = sts.get_caller_identity()["Account"]
    return {
        "SageMakerExecutionRoleArn": ensure_sagemaker_execution_role(iam),
        "LambdaPermissionsBoundaryArn": ensure_lambda_permissions_boundary(iam, account_id),
        "AirflowRoleArn": ensure_airflow_role(iam, account_id),
    }


def main(argv: list[str] | None = None) -> None:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", help="AWS API endpoint, e.g. the local runtime's")
    parser.add_argument("--region", default=None, help="AWS region (default: the configured one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    session = boto3.session.Session(region_name=args.region)
    clients = (session.client(name, endpoint_url=args.endpoint_url) for name in ("iam", "sts"))
    print(json.dumps(set_up_account(*clients), indent=2))


if __name__ == "__main__":
    main()
