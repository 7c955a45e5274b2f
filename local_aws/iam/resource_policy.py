"""A call judged by the caller's identity-based policies together with the resource's own policy, in one account.

As AWS evaluates a same-account request to a resource that has a resource-based policy (a Lambda function's policy,
written by AddPermission): an explicit deny in either policy wins; otherwise an allow in either one allows. A
resource-policy statement applies to the caller when its ``Principal`` names it: ``*``, the caller's own ARN (the
role session's or the user's), or the role the session belongs to. An account principal (``123456789012`` or its
``:root`` ARN) delegates to the account's identity-based policies and grants nothing by itself, but a Deny naming
the account applies to everyone in it. A ``Service`` principal names a service caller, never an IAM identity.

A role session allowed by the resource policy through the role's ARN (or ``*``) is still limited by its permissions
boundary and session policy; one named by its session ARN is not, and neither is a user named by its ARN (AWS's
rules for resource-based policies and permissions boundaries).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable

from local_aws.iam.action_catalog import PARTITION, Authorization
from local_aws.iam.identities import Identity
from local_aws.iam.judgement import Verdict, judge
from local_aws.iam.judgement_log import document_digest
from local_aws.iam.policy_evaluation import EvalDecision, evaluate

FUNCTION_POLICY = "function policy"
# What is evaluated of a statement; Sids are kept aside (Lambda's allow characters IAM's parser refuses).
_STATEMENT_KEYS = ("Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")


def judge_with_resource_policy(identity: Identity, authorizations: list[Authorization],
                               request_context: dict[str, Any], resource_policy: Any,
                               resource_in_message: Callable[[str], str] = lambda resource: resource,
                               policy_name: str = FUNCTION_POLICY) -> list[Verdict]:
    """Every authorization judged in order by both policies, stopping after the first denial."""
    verdicts = []
    for authorization in authorizations:
        identity_verdict = judge(identity, [authorization], request_context, resource_in_message)[0]
        verdict = _combined(identity, authorization, identity_verdict, resource_policy, request_context,
                            resource_in_message(authorization.resource), policy_name)
        verdicts.append(verdict)
        if not verdict.allowed:
            break
    return verdicts


def _combined(identity: Identity, authorization: Authorization, identity_verdict: Verdict, resource_policy: Any,
              request_context: dict[str, Any], shown: str, policy_name: str) -> Verdict:
    if identity_verdict.decision == EvalDecision.EXPLICIT_DENY.value:
        return identity_verdict
    now = datetime.now(timezone.utc)
    context = {"aws:CurrentTime": now.isoformat(), "aws:EpochTime": int(now.timestamp()), **identity.context,
               **request_context, **authorization.context}
    action, resource = authorization.action, authorization.resource
    denying = applicable_statements(resource_policy, identity, effect="Deny")
    deciding = _deciding(denying, policy_name, action, resource, context)
    if deciding is not None:
        index, sid = deciding
        return Verdict(authorization, False, EvalDecision.EXPLICIT_DENY.value, policy=policy_name, sid=sid,
                       statement_index=index,
                       message=(f"User: {identity.arn} is not authorized to perform: {action} on resource: {shown} "
                                "with an explicit deny in a resource-based policy"))
    if identity_verdict.allowed:
        return identity_verdict
    for limited in (False, True):
        allowing = applicable_statements(resource_policy, identity, effect="Allow", limited=limited)
        deciding = _deciding(allowing, policy_name, action, resource, context)
        if deciding is None:
            continue
        if limited:
            limit = _limit_denial(identity, authorization, context, shown)
            if limit is not None:
                return limit
        index, sid = deciding
        part = {"kind": "resource policy", "policy": policy_name, "sid": sid, "statement": index, "effect": "Allow",
                "digest": document_digest(resource_policy)}
        return Verdict(authorization, True, EvalDecision.ALLOWED.value, policy=policy_name, sid=sid,
                       statement_index=index, allowed_by=(part,))
    return identity_verdict


def _deciding(statements: list[tuple[int, str | None, dict[str, Any]]], policy_name: str, action: str,
              resource: str, context: dict[str, Any]) -> tuple[int, str | None] | None:
    """The (index, Sid) in the resource policy of the first of ``statements`` that applies to the request."""
    if not statements:
        return None
    document = {"Version": "2012-10-17", "Statement": [statement for _, _, statement in statements]}
    result = evaluate({policy_name: document}, action, resource, context)
    if result.statement is None:
        return None
    index, sid, _ = statements[result.statement.statement_index]
    return index, sid


def applicable_statements(resource_policy: Any, identity: Identity, effect: str,
                          limited: bool | None = None) -> list[tuple[int, str | None, dict[str, Any]]]:
    """The policy's statements of ``effect`` whose principal is the caller: (index, Sid, statement without its
    principal and Sid).

    ``limited`` picks, among Allow statements, those naming the caller in a way the caller's permissions boundary
    and session policy still limit (True) or not (False); None takes both.
    """
    document = json.loads(resource_policy) if isinstance(resource_policy, str) else resource_policy
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = statements if isinstance(statements, list) else [statements]
    kept = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != effect:
            continue
        named = principal_named(statement, identity, deny=effect == "Deny")
        if named is None or (limited is not None and named_is_limited(named, identity) != limited):
            continue
        kept.append((index, statement.get("Sid"), {key: statement[key] for key in _STATEMENT_KEYS if key in statement}))
    return kept


def principal_named(statement: dict[str, Any], identity: Identity, deny: bool = False) -> str | None:
    """The name under which the statement's Principal (or NotPrincipal) covers the caller; None when it does not."""
    if "NotPrincipal" in statement:
        names = _aws_names(statement["NotPrincipal"])
        return None if names & _identity_names(identity, account_too=True) else "*"
    principal = statement.get("Principal")
    if principal == "*":
        return "*"
    names = _aws_names(principal)
    if "*" in names:
        return "*"
    for name in (identity.arn, identity.context.get("aws:PrincipalArn")):
        if name in names:
            return name
    if deny and names & _account_names(identity.account_id):
        return identity.account_id
    return None


def named_is_limited(named: str, identity: Identity) -> bool:
    """Whether a resource-policy allow given under ``named`` is still bounded by the caller's boundary and session
    policy: for a role session, unless the session's own ARN was named."""
    return identity.context.get("aws:PrincipalType") == "AssumedRole" and named != identity.arn


def _limit_denial(identity: Identity, authorization: Authorization, context: dict[str, Any],
                  shown: str) -> Verdict | None:
    action, resource = authorization.action, authorization.resource
    for kind, document in (("permissions boundary", identity.permissions_boundary),
                           ("session policy", identity.session_policy)):
        if document is None:
            continue
        limit = evaluate({kind: document}, action, resource, context)
        if not limit.allowed:
            reason = (f"with an explicit deny in a {kind}" if limit.explicit_deny
                      else f"because no {kind} allows the {action} action")
            ref = limit.statement
            return Verdict(authorization, False, limit.decision.value, policy=kind, sid=ref.sid if ref else None,
                           statement_index=ref.statement_index if ref else None,
                           message=f"User: {identity.arn} is not authorized to perform: {action} on resource: "
                                   f"{shown} {reason}")
    return None


def _aws_names(principal: Any) -> set[str]:
    """AWS principal names of a Principal element; moto keeps AddPermission's plain strings as they were given."""
    if isinstance(principal, str):
        return {principal}
    if not isinstance(principal, dict):
        return set()
    values = principal.get("AWS", [])
    return set(values if isinstance(values, list) else [values])


def _account_names(account_id: str) -> set[str]:
    return {account_id, f"arn:{PARTITION}:iam::{account_id}:root"}


def _identity_names(identity: Identity, account_too: bool = False) -> set[str]:
    names = {identity.arn, identity.context.get("aws:PrincipalArn", identity.arn)}
    return names | _account_names(identity.account_id) if account_too else names

