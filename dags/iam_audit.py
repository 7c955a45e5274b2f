"""iam_audit: the account's IAM security review every day (root MFA, broad grants, unused roles, policy lint)."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from pawflow.operators.iam_audit import IamAuditOperator

with DAG(
    dag_id="iam_audit",
    description="Daily IAM audit: root MFA, *FullAccess roles, '*' grants, unused roles, parliament lint",
    schedule="@daily",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    tags=["pawflow", "iam", "security"],
    doc_md=__doc__,
    params={
        "role_path_prefix": Param("/", type="string", pattern=r"^/([\x21-\x7e]*/)?$"),
        "unused_days": Param(90, type="integer", minimum=1, maximum=3650),
        "fail_on_severity": Param(None, type=["null", "string"], enum=[None, "HIGH", "MEDIUM", "LOW"],
                                  description="Fail the run on findings this severe or worse; empty only reports"),
    },
) as dag:
    IamAuditOperator(
        task_id="audit_iam",
        role_path_prefix="{{ params.role_path_prefix }}",
        unused_days="{{ params.unused_days }}",
        fail_on_severity="{{ params.fail_on_severity or '' }}",
    )
