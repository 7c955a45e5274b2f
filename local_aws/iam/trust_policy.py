"""Whether a service may assume a role: the role's trust policy judged for ``sts:AssumeRole`` by that service.

AWS services check this when a role is handed to them (SageMaker's CreateTrainingJob, CreateModel and
CreateHyperParameterTuningJob; Lambda's CreateFunction): a role that does not exist, or whose trust policy does not
allow the service principal (e.g. ``sagemaker.amazonaws.com``) ``sts:AssumeRole``, is refused there. A statement
applies to the service when its ``Principal`` names it (``{"Service": ...}``, ``"*"`` or ``{"AWS": "*"}``) or its
``NotPrincipal`` does not; the applying statements are then evaluated as identity-based statements
(``policy_evaluation``: explicit deny, allow, implicit deny; conditions on ``aws:PrincipalServiceName``,
``aws:SourceAccount`` and ``aws:SourceArn``).
"""

from __future__ import annotations

import json
from typing import Any

from local_aws.iam.policy_evaluation import EvaluationResult, PolicyDocumentError, evaluate
from local_aws.moto_seam import get_partition, iam_backend

ASSUME_ROLE = "sts:AssumeRole"
SAGEMAKER = "sagemaker.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"


def service_can_assume(account_id: str, region: str, role_arn: str, service: str,
                       source_arn: str | None = None) -> bool:
    """True if ``role_arn`` exists in the account and its trust policy lets ``service`` assume it."""
    if not isinstance(role_arn, str) or not role_arn.startswith("arn:"):
        return False
    try:
        role = iam_backend(account_id, get_partition(region)).get_role_by_arn(role_arn)
    except Exception:
        return False
    context: dict[str, Any] = {"aws:PrincipalServiceName": service, "aws:SourceAccount": account_id}
    if source_arn:
        context["aws:SourceArn"] = source_arn
    return trust_allows(role.assume_role_policy_document, role_arn, service, context)


def trust_allows(document: Any, role_arn: str, service: str, context: dict[str, Any]) -> bool:
    """Judge a trust policy document (JSON text or dict) for ``service`` assuming ``role_arn``."""
    result = judge_trust(document, role_arn, {"Service": {service}}, context)
    return result is not None and result.allowed


def judge_trust(document: Any, role_arn: str, principals: dict[str, set[str]],
                context: dict[str, Any]) -> EvaluationResult | None:
    """The trust policy's decision on ``sts:AssumeRole`` of ``role_arn`` by a caller known by ``principals``.

    ``principals`` maps a principal kind to the names the caller goes by: ``{"Service": {"lambda.amazonaws.com"}}``
    for a service, ``{"AWS": {session ARN, role ARN, account id, account root ARN}}`` for an identity. A statement
    applies when its ``Principal`` names the caller (or ``"*"``) or its ``NotPrincipal`` does not; None when no
    statement applies (or the document is unreadable), which is an implicit deny.
    """
    return judge_for_principal(document, ASSUME_ROLE, role_arn, principals, context, "trust policy")


def judge_for_principal(document: Any, action: str, resource: str, principals: dict[str, set[str]],
                        context: dict[str, Any], policy_name: str = "resource policy") -> EvaluationResult | None:
    """A resource-based policy's decision on ``action`` on ``resource`` by a caller known by ``principals`` (see
    :func:`judge_trust`); None when no statement applies or the document is unreadable (an implicit deny)."""
    try:
        parsed = json.loads(document) if isinstance(document, (str, bytes)) else document
        raw = parsed["Statement"]
    except (ValueError, TypeError, KeyError):
        return None
    statements = [_without_principal(item) for item in (raw if isinstance(raw, list) else [raw])
                  if isinstance(item, dict) and _applies_to(item, principals)]
    if not statements:
        return None
    try:
        return evaluate({policy_name: {"Version": parsed.get("Version", "2012-10-17"), "Statement": statements}},
                        action, resource, context)
    except PolicyDocumentError:
        return None


def _applies_to(statement: dict[str, Any], principals: dict[str, set[str]]) -> bool:
    if "Principal" in statement:
        return _names(statement["Principal"], principals)
    if "NotPrincipal" in statement:
        return not _names(statement["NotPrincipal"], principals)
    return False


def _names(block: Any, principals: dict[str, set[str]]) -> bool:
    """Whether a Principal block names the caller: ``"*"``, ``{"AWS": "*"}``, or one of its names of that kind."""
    if block == "*":
        return True
    if not isinstance(block, dict):
        return False
    for kind, names in block.items():
        names = set(names) if isinstance(names, list) else {names}
        if (kind == "AWS" and "*" in names) or names & principals.get(kind, set()):
            return True
    return False


def _without_principal(statement: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in statement.items() if key not in ("Principal", "NotPrincipal")}
    if "Resource" not in kept and "NotResource" not in kept:
        kept["Resource"] = "*"
    return kept
