"""IamAuditOperator reports the write-up's security concerns and lints every policy it reads."""

import datetime
import json

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from pawflow.operators.iam_audit import (
    IamAuditOperator,
    findings_table,
    lint_findings,
    statement_findings,
    unused_role_finding,
)

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture
def audited(client, unique):
    """Three roles under a path of their own: a FullAccess one, a star one, a least-privilege one."""
    iam, path = client("iam"), f"/{unique}/"
    iam.create_role(RoleName=f"{unique}-full", Path=path, AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName=f"{unique}-full", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    iam.create_role(RoleName=f"{unique}-star", Path=path, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=f"{unique}-star", PolicyName="everything", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    managed = iam.create_policy(PolicyName=f"{unique}-pass", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}))
    iam.attach_role_policy(RoleName=f"{unique}-star", PolicyArn=managed["Policy"]["Arn"])
    iam.create_role(RoleName=f"{unique}-tight", Path=path, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=f"{unique}-tight", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                 "Resource": "arn:aws:s3:::pawflow-data/*"}]}))
    return path, unique


def run(context, **kwargs):
    return IamAuditOperator(task_id="iam_audit", **kwargs).execute(context)


def checks_on(result, resource_prefix):
    return {f["Check"] for f in result["Findings"] if f["Resource"].startswith(resource_prefix)}


def test_reports_root_without_mfa(aws, context, audited):
    path, _ = audited
    result = run(context, role_path_prefix=path)
    assert {"Severity": "HIGH", "Check": "RootAccountWithoutMfa", "Resource": "account root user",
            "Detail": "the root user has no MFA device (AccountMFAEnabled = 0)"} in result["Findings"]


def test_reports_full_access_and_star_grants_but_not_the_tight_role(aws, context, audited):
    path, unique = audited
    result = run(context, role_path_prefix=path)
    assert result["RolesAudited"] == 3
    assert "FullAccessManagedPolicy" in checks_on(result, f"role/{unique}-full")
    assert "ActionStar" in checks_on(result, f"role/{unique}-star inline policy everything")
    assert "SensitiveActionOnResourceStar" in checks_on(result, f"role/{unique}-star managed policy {unique}-pass")
    assert not [f for f in result["Findings"] if f["Resource"].startswith(f"role/{unique}-tight")]


def test_lints_every_customer_policy_with_parliament(aws, context, audited):
    path, unique = audited
    result = run(context, role_path_prefix=path)
    assert result["PoliciesLinted"] == 3
    assert any(f["Check"] == "parliament:RESOURCE_STAR" for f in result["Findings"])


def test_findings_are_json_and_sorted_most_severe_first(aws, context, audited):
    path, _ = audited
    result = run(context, role_path_prefix=path)
    json.dumps(result)
    order = ["HIGH", "MEDIUM", "LOW", "INFO"]
    ranks = [order.index(f["Severity"]) for f in result["Findings"]]
    assert ranks == sorted(ranks)
    assert result["Summary"]["HIGH"] == sum(1 for f in result["Findings"] if f["Severity"] == "HIGH")


def test_fails_on_high_findings_when_asked(aws, context, audited):
    path, unique = audited
    with pytest.raises(AirflowException, match=r"IAM audit found \d+ finding\(s\) at HIGH or above: .*ActionStar"):
        run(context, role_path_prefix=path, fail_on_severity="HIGH")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"unused_days": 0}, "unused_days must be an integer >= 1"),
     ({"fail_on_severity": "CRITICAL"}, r"fail_on_severity must be one of \('HIGH', 'MEDIUM', 'LOW'\)")],
)
def test_rejects_bad_arguments_when_run_before_any_call(kwargs, message):
    operator = IamAuditOperator(task_id="iam_audit", **kwargs)
    with pytest.raises(ValueError, match=message):
        operator.execute({})


def test_a_template_rendering_a_bad_day_count_fails_when_run_naming_the_range():
    operator = IamAuditOperator(task_id="iam_audit", unused_days="{{ params.days }}")
    operator.render_template_fields({"params": {"days": 0}})
    with pytest.raises(ValueError, match=r"unused_days must be an integer >= 1, got 0"):
        operator.execute({})


def test_unused_role_is_reported_after_the_window_only():
    now = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)
    old = {"RoleName": "r", "CreateDate": now - datetime.timedelta(days=400),
           "RoleLastUsed": {"LastUsedDate": now - datetime.timedelta(days=91)}}
    assert unused_role_finding(old, now, 90)["Detail"] == "last used 2026-08-26 (over 90 days)"
    assert unused_role_finding(old, now, 120) is None
    never = {"RoleName": "r", "CreateDate": now - datetime.timedelta(days=100)}
    assert unused_role_finding(never, now, 90)["Detail"].startswith("never used, created")


def test_statement_findings_ignore_deny_and_scoped_grants():
    document = {"Statement": [
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": "arn:aws:sagemaker:::endpoint/x"},
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"},
    ]}
    assert statement_findings(document, "p") == []
    assert statement_findings({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}, "p")[0][
        "Severity"] == "MEDIUM"


def test_lint_reports_unknown_actions():
    findings = lint_findings({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sagemaker:InvokeEndpointt", "Resource": "*"}]}, "p")
    assert any(f["Check"] == "parliament:UNKNOWN_ACTION" and "InvokeEndpointt" in f["Detail"] for f in findings)


def test_findings_table_has_a_header_and_one_row_per_finding():
    table = findings_table([{"Severity": "HIGH", "Check": "ActionStar", "Resource": "role/x", "Detail": "d"}])
    assert table.splitlines()[0].split() == ["Severity", "Check", "Resource", "Detail"]
    assert len(table.splitlines()) == 3
