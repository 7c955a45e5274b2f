"""Request-level IAM enforcement: who signed a request, and do their policies allow its action on its resource.

A request signed with credentials the runtime issued (an STS role session, an IAM user's access key) is judged by
that identity's identity-based policies, its session policy and permissions boundary, against the action and the
resource ARN (``request_actions``), with the evaluator of ``policy_evaluation``. A denied request gets AWS's
AccessDenied error in its protocol's shape. Requests signed with any other credentials pass untouched: they act
as the account's administrator, so plain scripts keep working.

``IAMEnforcement`` is a request filter for the runtime's WSGI gateway: called with the request, it returns None
to let it through or the error response to send.
"""

import functools
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from local_aws.aws_errors import error_response
from local_aws.iam.identities import Identity, resolve_identity
from local_aws.iam.policy_evaluation import PolicyDocument, access_denied_message, evaluate
from local_aws.iam.request_actions import QUERY, RPC_V2_CBOR, S3, RequestedAction, requested_action

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Denial:
    """Why a request was refused: the action, the resource and AWS's message."""

    requested: RequestedAction
    message: str


def judge(identity: Identity, requested: RequestedAction, request_context: dict[str, Any] | None = None) -> Denial | None:
    """None when ``identity`` may perform ``requested``; otherwise the denial with AWS's message.

    ``request_context`` adds global condition keys of the request (``aws:SourceIp``, ``aws:RequestedRegion``...).
    """
    resource_in_message = f'"{requested.resource}"' if requested.protocol == S3 else requested.resource
    now = datetime.now(timezone.utc)
    context = {"aws:CurrentTime": now.isoformat(), "aws:EpochTime": int(now.timestamp()),
               **identity.context, **(request_context or {})}
    identity_result = evaluate(_parsed(identity.policies), requested.action, requested.resource, context)
    if identity_result.explicit_deny or not identity_result.allowed:
        return Denial(requested, access_denied_message(identity.arn, requested.action, resource_in_message,
                                                       identity_result.decision))
    for kind, document in (("permissions boundary", identity.permissions_boundary),
                           ("session policy", identity.session_policy)):
        if document is None:
            continue
        result = evaluate(_parsed({kind: document}), requested.action, requested.resource, context)
        if not result.allowed:
            prefix = (f"User: {identity.arn} is not authorized to perform: {requested.action} "
                      f"on resource: {resource_in_message}")
            reason = (f"with an explicit deny in a {kind}" if result.explicit_deny
                      else f"because no {kind} allows the {requested.action} action")
            return Denial(requested, f"{prefix} {reason}")
    return None


def _parsed(policies: dict[str, Any]) -> list[PolicyDocument]:
    return [_parse_document(name, _as_text(document)) for name, document in policies.items()]


@functools.lru_cache(maxsize=1024)
def _parse_document(name: str, text: str) -> PolicyDocument:
    return PolicyDocument.parse(text, name=name)


def _as_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document, sort_keys=True)


def access_denied_response(denial: Denial) -> Response:
    """AWS's AccessDenied error for the request's protocol."""
    protocol = denial.requested.protocol
    if protocol in (S3, QUERY):
        return error_response(protocol, 403, "AccessDenied", denial.message)
    if protocol == RPC_V2_CBOR:
        return error_response(protocol, 400, "AccessDeniedException", denial.message)
    status = 403 if denial.requested.service == "lambda" else 400
    return error_response(protocol, status, "AccessDeniedException", denial.message, message_key="Message")


class IAMEnforcement:
    """Gateway request filter that denies what the signer's policies do not allow."""

    def __call__(self, aws_request: Any) -> Response | None:
        request: Request = aws_request.request
        identity = resolve_identity(aws_request.access_key_id)
        if identity is None or not aws_request.service:
            return None
        requested = requested_action(
            aws_request.service, request.method, request.path, request.query_string.decode("latin-1"),
            request.headers, request.get_data(cache=True), aws_request.region, identity.account_id,
        )
        if requested is None:
            return None
        denial = judge(identity, requested, {
            "aws:RequestedRegion": aws_request.region,
            "aws:SourceIp": request.remote_addr,
            "aws:SecureTransport": request.scheme == "https",
        })
        if denial is None:
            return None
        logger.info("Denied %s on %s to %s", requested.action, requested.resource, identity.arn)
        return access_denied_response(denial)

