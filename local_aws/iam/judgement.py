"""The judgement of one call: may this identity perform these authorizations, and which statement decided.

An identity's identity-based policies must allow each authorization (an explicit deny anywhere wins), then its
permissions boundary and session policy must allow it too, as AWS evaluates them (``policy_evaluation``). For
``sts:AssumeRole`` the target role's trust policy must also allow the caller. Each judged authorization is a
:class:`Verdict` naming the policy and statement Sid that allowed or denied it, so a recording can say which
statement each call used.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from local_aws.iam.action_catalog import Authorization
from local_aws.iam.identities import Identity
from local_aws.iam.judgement_log import document_digest
from local_aws.iam.policy_evaluation import EvaluationResult, PolicyDocument, access_denied_message, evaluate
from local_aws.iam.trust_policy import judge_trust


@dataclass(frozen=True)
class Verdict:
    """One authorization judged: allowed or not, AWS's message when not, and the deciding policy statement."""

    authorization: Authorization
    allowed: bool
    decision: str
    policy: str | None = None
    sid: str | None = None
    statement_index: int | None = None
    message: str | None = None
    # For an allowed call, each policy that took part (identity policy, permissions boundary, session policy):
    # its kind, name, document digest and the index and Sid of the statement that allowed the call.
    allowed_by: tuple[dict[str, Any], ...] = ()


def judge(identity: Identity, authorizations: list[Authorization], request_context: dict[str, Any],
          resource_in_message=lambda resource: resource, trust_policy: Any = None) -> list[Verdict]:
    """Every authorization judged in order, stopping after the first denial."""
    now = datetime.now(timezone.utc)
    base = {"aws:CurrentTime": now.isoformat(), "aws:EpochTime": int(now.timestamp()),
            **identity.context, **request_context}
    verdicts = []
    for authorization in authorizations:
        verdict = _judge_one(identity, authorization, {**base, **authorization.context},
                             resource_in_message(authorization.resource))
        if verdict.allowed and authorization.action.lower() == "sts:assumerole" and trust_policy is not None:
            verdict = _trust_verdict(identity, authorization, trust_policy, {**base, **authorization.context},
                                     verdict)
        verdicts.append(verdict)
        if not verdict.allowed:
            break
    return verdicts


def _judge_one(identity: Identity, authorization: Authorization, context: dict[str, Any],
               shown_resource: str) -> Verdict:
    action, resource = authorization.action, authorization.resource
    result = evaluate(_parsed(identity.policies), action, resource, context)
    if not result.allowed:
        return _verdict(authorization, result, access_denied_message(identity.arn, action, shown_resource, result))
    allowed_by = [_part("identity policy", result, identity.policies.get(result.statement.policy_name))]
    for kind, document in (("permissions boundary", identity.permissions_boundary),
                           ("session policy", identity.session_policy)):
        if document is None:
            continue
        limit = evaluate(_parsed({kind: document}), action, resource, context)
        if not limit.allowed:
            reason = (f"with an explicit deny in a {kind}" if limit.explicit_deny
                      else f"because no {kind} allows the {action} action")
            message = (f"User: {identity.arn} is not authorized to perform: {action} on resource: {shown_resource} "
                       f"{reason}")
            return _verdict(authorization, limit, message)
        allowed_by.append(_part(kind, limit, document))
    return replace(_verdict(authorization, result, None), allowed_by=tuple(allowed_by))


def _part(kind: str, result: EvaluationResult, document: Any) -> dict[str, Any]:
    ref = result.statement
    return {"kind": kind, "policy": ref.policy_name, "sid": ref.sid, "statement": ref.statement_index,
            "effect": ref.effect, "digest": document_digest(document) if document is not None else None}


def _verdict(authorization: Authorization, result: EvaluationResult, message: str | None) -> Verdict:
    ref = result.statement
    return Verdict(authorization, result.allowed, result.decision.value,
                   policy=ref.policy_name if ref else None, sid=ref.sid if ref else None,
                   statement_index=ref.statement_index if ref else None, message=message)


def _trust_verdict(identity: Identity, authorization: Authorization, trust_policy: Any, context: dict[str, Any],
                   allowed: Verdict) -> Verdict:
    """The target role's trust policy, evaluated for the caller's principal (its statements' Principal matched)."""
    account = identity.account_id
    names = {identity.arn, identity.context.get("aws:PrincipalArn", identity.arn), account,
             f"arn:aws:iam::{account}:root"}
    result = judge_trust(trust_policy, authorization.resource, {"AWS": names}, context)
    message = (f"User: {identity.arn} is not authorized to perform: sts:AssumeRole on resource: "
               f"{authorization.resource}")
    if result is None:
        return Verdict(authorization, False, "implicitDeny", policy="trust policy", message=message)
    if not result.allowed:
        return _verdict(authorization, result, message)
    return allowed


def _parsed(policies: dict[str, Any]) -> list[PolicyDocument]:
    return [_parse_document(name, _as_text(document)) for name, document in policies.items()]


@functools.lru_cache(maxsize=1024)
def _parse_document(name: str, text: str) -> PolicyDocument:
    return PolicyDocument.parse(text, name=name)


def _as_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document, sort_keys=True)
