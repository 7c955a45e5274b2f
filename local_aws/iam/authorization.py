"""IAM judged on every call, where moto has parsed it: the signer, the call's authorizations, the verdict, the error.

:class:`Authorizer` is installed at moto's own authorization point (``moto_seam.install_authorization``): moto calls
it with the operation it is about to execute and that operation's parameters as moto parsed them, so the call
judged is the call executed. Routes the gateway answers itself (InvokeEndpoint) call :meth:`Authorizer.judge_route`
with their parsed operation.

The signer is the verified principal the authentication filter leaves in the WSGI environ
(``local_aws.principal``), else the access key id of the request's signature (Authorization header or presigned
query). Credentials the runtime issued (role sessions, IAM users' keys) are judged; any other key is the runtime's
administrator and is not. A call on a Lambda function is judged with the function's policy too
(``resource_policy``). A denied call gets AWS's AccessDenied error in its protocol's shape; every judged call is
appended to the judgement log, as are the service's own uses of execution roles (``service_access``).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Response

from local_aws import moto_seam
from local_aws.aws_errors import REST_JSON, access_denied, request_protocol
from local_aws.iam.action_catalog import Authorization, OperationCall, RecordLookup, UnmappedOperation, authorizations
from local_aws.iam.assume_role_target import missing_role_message
from local_aws.iam.identities import Identity, resolve_identity
from local_aws.iam.judgement import Verdict, judge
from local_aws.iam.judgement_log import JudgementLog
from local_aws.iam.resource_policy import judge_with_resource_policy

logger = logging.getLogger(__name__)

PRINCIPAL_ENVIRON_KEY = "local_aws.principal"


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class MotoRecords(RecordLookup):
    """The catalog's view of the runtime's records: moto's IAM roles and users, and resources' tags."""

    def role_path(self, account_id: str, role_name: str) -> str:
        role = moto_seam.role_record(account_id, role_name)
        return role.path if role is not None else "/"

    def role_exists(self, account_id: str, role_name: str) -> bool:
        return moto_seam.role_record(account_id, role_name) is not None

    def permissions_boundary(self, account_id: str, kind: str, name: str) -> str | None:
        record = (moto_seam.role_record if kind == "role" else moto_seam.user_record)(account_id, name)
        return getattr(record, "permissions_boundary_arn", None) or None

    def resource_tags(self, arn: str) -> dict[str, str] | None:
        return moto_seam.resource_tags(arn)

    def resource_policy(self, call: OperationCall, needed: list[Authorization]) -> dict[str, Any] | None:
        """The resource-based policy judged with the caller's: a Lambda function's (AddPermission's statements)."""
        if call.service != "lambda" or not needed or ":function:" not in needed[0].resource:
            return None
        return moto_seam.function_policy(needed[0].resource)


class Authorizer:
    """Judges calls signed with runtime-issued credentials and records each judgement."""

    def __init__(self, log: JudgementLog) -> None:
        self.log = log
        self.records = MotoRecords()

    def __call__(self, parts: moto_seam.MotoCallParts) -> moto_seam.AuthorizationDenial | None:
        """moto's hook: None to let the call run, or the error to answer with."""
        identity = signer_identity(parts.environ, parts.headers, _query_string(parts.environ))
        if identity is None:
            return self._administrator_refusal(parts)
        call = OperationCall(parts.service, parts.operation, parts.params, parts.region, parts.account_id,
                             parts.method, parts.query, parts.bucket, parts.key, parts.headers)
        denial = self._judge(identity, call, parts.environ)
        if denial is None:
            return None
        protocol = request_protocol(parts.service, parts.environ.get("PATH_INFO", ""), parts.headers,
                                    _query_string(parts.environ))
        response = access_denied(protocol, denial, service=parts.service)
        return moto_seam.AuthorizationDenial(response.status_code, dict(response.headers), response.get_data(),
                                             "AccessDenied", denial)

    def _administrator_refusal(self, parts: moto_seam.MotoCallParts) -> moto_seam.AuthorizationDenial | None:
        """The administrator is not judged, but what AWS refuses before judging still is (a missing AssumeRole
        target)."""
        principal = parts.environ.get(PRINCIPAL_ENVIRON_KEY)
        caller = getattr(principal, "arn", None) or f"arn:aws:iam::{parts.account_id}:root"
        message = missing_role_message(caller, parts.service, parts.operation, parts.params)
        if message is None:
            return None
        response = access_denied(request_protocol(parts.service, parts.environ.get("PATH_INFO", ""), parts.headers,
                                                  _query_string(parts.environ)), message, service=parts.service)
        return moto_seam.AuthorizationDenial(response.status_code, dict(response.headers), response.get_data(),
                                             "AccessDenied", message)

    def judge_route(self, environ: dict[str, Any], headers: Any, service: str, operation: str,
                    params: dict[str, Any], region: str, account_id: str) -> Response | None:
        """For a route the gateway answers itself: None to answer it, or the AccessDenied response."""
        identity = signer_identity(environ, headers, _query_string(environ))
        if identity is None:
            return None
        denial = self._judge(identity, OperationCall(service, operation, params, region, account_id), environ)
        if denial is None:
            return None
        return access_denied(REST_JSON, denial, service=service)

    def _judge(self, identity: Identity, call: OperationCall, environ: dict[str, Any]) -> str | None:
        """None when allowed; AWS's message when denied."""
        operation = f"{call.service}:{call.operation}"
        if call.account_id != identity.account_id:
            message = (f"User: {identity.arn} is not authorized to perform: {operation} in account "
                       f"{call.account_id}: cross-account calls are not supported by local_aws")
            self.log.record(identity.arn, operation, "", "", "denied", "crossAccount", message=message)
            return message
        call = dataclasses.replace(call, caller_arn=identity.arn)
        try:
            needed = authorizations(call, self.records)
        except UnmappedOperation as error:
            self.log.record(identity.arn, operation, "", "", "denied", "unmapped", message=error.message)
            return error.message
        if not needed:
            return None
        trust = None
        if needed[0].action.lower() == "sts:assumerole":
            role = moto_seam.role_record(call.account_id, needed[0].resource.rsplit("/", 1)[-1])
            trust = role.assume_role_policy_document if role is not None else {"Statement": []}
        shown = (lambda resource: f'"{resource}"') if call.service == "s3" else (lambda resource: resource)
        resource_policy = self.records.resource_policy(call, needed)
        if resource_policy is None:
            verdicts = judge(identity, needed, _request_context(environ, call.region), shown, trust)
        else:
            verdicts = judge_with_resource_policy(identity, needed, _request_context(environ, call.region),
                                                  resource_policy, shown)
        for verdict in verdicts:
            self._record(identity, operation, verdict)
        denied = next((v for v in verdicts if not v.allowed), None)
        if denied is None:
            return None
        logger.info("Denied %s on %s to %s", denied.authorization.action, denied.authorization.resource, identity.arn)
        return denied.message

    def record(self, identity: Identity, operation: str, verdict: Verdict) -> None:
        """Record a judgement made outside a request (a service acting as a role), as a call's is recorded."""
        self._record(identity, operation, verdict)

    def _record(self, identity: Identity, operation: str, verdict: Verdict) -> None:
        authorization: Authorization = verdict.authorization
        self.log.record(identity.arn, operation, authorization.action, authorization.resource,
                        "allowed" if verdict.allowed else "denied", verdict.decision, kind=authorization.kind,
                        policy=verdict.policy, sid=verdict.sid, statement_index=verdict.statement_index,
                        message=verdict.message, policies=list(verdict.allowed_by) or None)


def signer_identity(environ: dict[str, Any], headers: Any, query: str) -> Identity | None:
    """The runtime-issued identity that signed the request; None for the administrator (not judged)."""
    principal = environ.get(PRINCIPAL_ENVIRON_KEY)
    if principal is not None:
        if getattr(principal, "is_administrator", False):
            return None
        return resolve_identity(getattr(principal, "access_key_id", None))
    return resolve_identity(signer_access_key(headers, query))


def signer_access_key(headers: Any, query: str) -> str | None:
    """The access key id of a request's signature: its Authorization header, else a presigned URL's query."""
    match = _CREDENTIAL.search((headers.get("Authorization") if headers is not None else None) or "")
    if match:
        return match.group(1)
    params = parse_qs(query or "")
    credential = (params.get("X-Amz-Credential") or [""])[0]
    if credential:
        return credential.split("/", 1)[0]
    return (params.get("AWSAccessKeyId") or [None])[0]


def _query_string(environ: dict[str, Any]) -> str:
    return environ.get("QUERY_STRING", "") or ""


def _request_context(environ: dict[str, Any], region: str) -> dict[str, Any]:
    return {"aws:RequestedRegion": region, "aws:SourceIp": environ.get("REMOTE_ADDR"),
            "aws:SecureTransport": environ.get("wsgi.url_scheme") == "https"}
