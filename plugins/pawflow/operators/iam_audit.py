"""The account's security review as a repeatable check: root MFA, broad policies, unused roles, policy lint."""

from __future__ import annotations

import datetime
import fnmatch
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException

from pawflow.hooks.iam import IamHook

if TYPE_CHECKING:
    from airflow.sdk import Context

SEVERITIES = ("HIGH", "MEDIUM", "LOW", "INFO")
#: Actions that, on every resource, let a principal take over more than the resource it was meant for.
SENSITIVE_ACTIONS = (
    "iam:*", "iam:PassRole", "iam:Create*", "iam:Put*", "iam:Attach*", "iam:Update*", "iam:Delete*",
    "sts:AssumeRole", "kms:Decrypt", "secretsmanager:GetSecretValue", "ssm:GetParameter*",
    "s3:*", "s3:Delete*", "s3:Put*", "sagemaker:*", "lambda:*", "lambda:UpdateFunctionCode", "ec2:*",
    "organizations:*", "cloudtrail:*",
)
#: Managed policies that give administrator rights, worse than any ``*FullAccess``.
ADMIN_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _finding(severity: str, check: str, resource: str, detail: str) -> dict[str, str]:
    return {"Severity": severity, "Check": check, "Resource": resource, "Detail": detail}


def _is_sensitive(action: str) -> bool:
    action = action.lower()
    if action.endswith(":*") or action == "*":
        return True
    return any(fnmatch.fnmatchcase(action, pattern.lower()) or fnmatch.fnmatchcase(pattern.lower(), action)
               for pattern in SENSITIVE_ACTIONS)


def statement_findings(document: dict[str, Any], resource: str) -> list[dict[str, str]]:
    """
    Return findings for Allow statements with ``Action: "*"`` or with ``Resource: "*"`` on sensitive actions.

    :param document: An IAM policy document.
    :param resource: What the document belongs to, for the finding (e.g. ``role/x inline policy y``).
    """
    findings = []
    for index, statement in enumerate(_as_list(document.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        resources = [str(r) for r in _as_list(statement.get("Resource"))]
        where = f"{resource} statement {statement.get('Sid') or index}"
        if "*" in actions:
            findings.append(_finding("HIGH", "ActionStar", where, 'Allow with Action "*" grants every action'))
        elif "NotAction" in statement and "*" in resources:
            findings.append(_finding("HIGH", "NotActionOnStar", where,
                                     'Allow with NotAction on Resource "*" grants everything not listed'))
        elif "*" in resources:
            sensitive = sorted(a for a in actions if _is_sensitive(a))
            if sensitive:
                findings.append(_finding("HIGH" if any(a.lower().startswith("iam:") for a in sensitive) else "MEDIUM",
                                         "SensitiveActionOnResourceStar", where,
                                         f'Resource "*" with {", ".join(sensitive)}'))
    return findings


def lint_findings(document: dict[str, Any], resource: str) -> list[dict[str, str]]:
    """Return parliament's findings for a policy document, with parliament's severities."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources and has invalid regex escapes
        from parliament import analyze_policy_string, enhance_finding

    policy = analyze_policy_string(json.dumps(document))
    findings = []
    for finding in policy.findings:
        enhance_finding(finding)
        detail = finding.detail if isinstance(finding.detail, str) else json.dumps(finding.detail, default=str)
        if len(detail) > 200:
            detail = detail[:197] + "..."
        findings.append(_finding(finding.severity or "INFO", f"parliament:{finding.issue}", resource,
                                 f"{finding.title}: {detail}" if finding.title else detail))
    return findings


def unused_role_finding(
    role: dict[str, Any], now: datetime.datetime, unused_days: int
) -> dict[str, str] | None:
    """Return an ``UnusedRole`` finding when a GetRole ``Role`` was last used (or created) over N days ago."""
    last_used = (role.get("RoleLastUsed") or {}).get("LastUsedDate")
    since = last_used or role["CreateDate"]
    if now - since <= datetime.timedelta(days=unused_days):
        return None
    what = f"last used {since.date()}" if last_used else f"never used, created {since.date()}"
    return _finding("LOW", "UnusedRole", f"role/{role['RoleName']}", f"{what} (over {unused_days} days)")


def findings_table(findings: list[dict[str, str]]) -> str:
    """Return findings as a fixed-width text table, most severe first."""
    if not findings:
        return "No findings."
    columns = ("Severity", "Check", "Resource", "Detail")
    rows = [[f[c] for c in columns] for f in findings]
    widths = [min(max(len(c), *(len(r[i]) for r in rows)), 80) for i, c in enumerate(columns)]
    line = "  ".join("{:<%d}" % w for w in widths)
    out = [line.format(*columns), line.format(*("-" * w for w in widths))]
    out += [line.format(*(cell[:80] for cell in row)) for row in rows]
    return "\n".join(out)


class IamAuditOperator(AwsBaseOperator[IamHook]):
    """
    Audit the account's IAM: root MFA, ``*FullAccess`` roles, ``*`` grants, unused roles, and lint every policy.

    The course project's security review, done by hand once, as a check that runs every day. Findings:

    - ``RootAccountWithoutMfa`` (HIGH): the account summary says the root user has no MFA device.
    - ``AdminManagedPolicy`` (HIGH) / ``FullAccessManagedPolicy`` (MEDIUM): a role carries
      ``AdministratorAccess``-like or ``*FullAccess`` managed policies.
    - ``ActionStar`` (HIGH), ``NotActionOnStar`` (HIGH), ``SensitiveActionOnResourceStar`` (HIGH for IAM
      actions, MEDIUM otherwise): Allow statements in the role's inline and customer-managed policies.
    - ``UnusedRole`` (LOW): a role not used (or, never used, not created) within ``unused_days``.
    - ``parliament:<ISSUE>``: what the parliament linter reports on each of those policy documents.

    Service-linked roles (path ``/aws-service-role/``) are AWS's own and skipped. AWS-managed policy
    documents are not linted (AWS maintains them); their names are checked.

    :param role_path_prefix: Only roles under this IAM path are audited. (templated)
    :param unused_days: Days without use after which a role is reported. (templated)
    :param fail_on_severity: Fail the task when a finding is at least this severe (``HIGH``, ``MEDIUM``,
        ``LOW``); ``None`` only reports. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``{"Findings": [...], "Summary": {severity: count}, "RolesAudited": n, "PoliciesLinted": n}``.
    """

    aws_hook_class = IamHook
    template_fields: Sequence[str] = aws_template_fields("role_path_prefix", "unused_days", "fail_on_severity")
    ui_color = "#dd344c"

    def __init__(
        self,
        *,
        role_path_prefix: str = "/",
        unused_days: int | str = 90,
        fail_on_severity: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.role_path_prefix = role_path_prefix
        self.unused_days = unused_days
        self.fail_on_severity = fail_on_severity

    def _validated(self) -> tuple[int, str | None]:
        try:
            days = int(str(self.unused_days))
        except ValueError:
            raise ValueError(f"unused_days must be an integer >= 1, got {self.unused_days!r}") from None
        if days < 1:
            raise ValueError(f"unused_days must be an integer >= 1, got {days}")
        severity = self.fail_on_severity or None
        if severity is not None and severity not in SEVERITIES[:3]:
            raise ValueError(f"fail_on_severity must be one of {SEVERITIES[:3]} or None, got {severity!r}")
        return days, severity

    @staticmethod
    def _document(raw: Any) -> dict[str, Any]:
        if isinstance(raw, str):
            return json.loads(unquote(raw))
        return raw

    def _role_findings(self, role: dict[str, Any], now: datetime.datetime, unused_days: int) -> tuple[list, int]:
        iam = self.hook.conn
        name = role["RoleName"]
        findings, linted = [], 0
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for policy in page["AttachedPolicies"]:
                policy_name, arn = policy["PolicyName"], policy["PolicyArn"]
                if policy_name in ADMIN_POLICIES:
                    findings.append(_finding("HIGH", "AdminManagedPolicy", f"role/{name}", f"{arn} is attached"))
                elif policy_name.endswith("FullAccess"):
                    findings.append(_finding("MEDIUM", "FullAccessManagedPolicy", f"role/{name}", f"{arn} is attached"))
                if ":aws:policy/" in arn:
                    continue
                version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                document = self._document(
                    iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
                )
                where = f"role/{name} managed policy {policy_name}"
                findings += statement_findings(document, where) + lint_findings(document, where)
                linted += 1
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                document = self._document(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
                where = f"role/{name} inline policy {policy_name}"
                findings += statement_findings(document, where) + lint_findings(document, where)
                linted += 1
        unused = unused_role_finding(iam.get_role(RoleName=name)["Role"], now, unused_days)
        return findings + ([unused] if unused else []), linted

    def execute(self, context: Context) -> dict[str, Any]:
        unused_days, fail_on = self._validated()
        iam = self.hook.conn
        findings: list[dict[str, str]] = []
        summary = iam.get_account_summary()["SummaryMap"]
        if not summary.get("AccountMFAEnabled"):
            findings.append(_finding("HIGH", "RootAccountWithoutMfa", "account root user",
                                     "the root user has no MFA device (AccountMFAEnabled = 0)"))
        now = datetime.datetime.now(datetime.timezone.utc)
        roles_audited = linted = 0
        for page in iam.get_paginator("list_roles").paginate(PathPrefix=self.role_path_prefix):
            for role in page["Roles"]:
                if role.get("Path", "/").startswith("/aws-service-role/"):
                    continue
                role_findings, role_linted = self._role_findings(role, now, unused_days)
                findings += role_findings
                linted += role_linted
                roles_audited += 1
        findings.sort(key=lambda f: (SEVERITIES.index(f["Severity"]) if f["Severity"] in SEVERITIES else 9,
                                     f["Resource"], f["Check"]))
        counts = Counter(f["Severity"] for f in findings)
        self.log.info("IAM audit: %s roles, %s policy documents linted, findings %s\n%s",
                      roles_audited, linted, dict(counts), findings_table(findings))
        result = {
            "Findings": findings,
            "Summary": {severity: counts.get(severity, 0) for severity in SEVERITIES},
            "RolesAudited": roles_audited,
            "PoliciesLinted": linted,
        }
        if fail_on is not None:
            blocking = [f for f in findings if f["Severity"] in SEVERITIES[: SEVERITIES.index(fail_on) + 1]]
            if blocking:
                raise AirflowException(
                    f"IAM audit found {len(blocking)} finding(s) at {fail_on} or above: "
                    + "; ".join(f"{f['Check']} on {f['Resource']}" for f in blocking[:10])
                )
        return result
