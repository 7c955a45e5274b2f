"""Who signed a request: the runtime-issued identity behind an access key id, with the policies that judge it.

Only credentials the runtime itself issued are found here: STS AssumeRole sessions and IAM users' access keys in
moto's backends. Any other key (the usual ``testing``) resolves to None, which callers treat as the account's
administrator. Reads moto's IAM and STS backends in process (through ``moto_seam``).
"""

import json
from dataclasses import dataclass, field
from typing import Any

from local_aws.moto_seam import iam_accounts, iam_backend, sts_accounts, sts_backend

PARTITION = "aws"


@dataclass(frozen=True)
class Identity:
    """A principal and the identity-based policies that apply to it.

    ``policies`` maps a policy's name to its document (inline and attached managed, including groups' for users);
    ``session_policy`` and ``permissions_boundary`` further limit it when present, as in AWS.
    """

    arn: str
    account_id: str
    policies: dict[str, Any]
    session_policy: Any | None = None
    permissions_boundary: Any | None = None
    context: dict[str, Any] = field(default_factory=dict)


def resolve_identity(access_key_id: str | None, session_token: str | None = None) -> Identity | None:
    """The runtime-issued identity owning ``access_key_id``, or None for credentials the runtime did not issue."""
    if not access_key_id:
        return None
    for account_id in sts_accounts():
        sts = sts_backend(account_id, PARTITION)
        session = sts.get_assumed_role_from_access_key(access_key_id)
        if session is not None:
            return _role_session_identity(session)
    for account_id in iam_accounts():
        iam = iam_backend(account_id, PARTITION)
        for user in list(iam.users.values()):
            if any(key.access_key_id == access_key_id for key in user.access_keys):
                return _user_identity(iam, user)
    return None


def role_session_identity(account_id: str, role_arn: str, session_name: str) -> Identity:
    """The identity of a session of ``role_arn`` named ``session_name`` (no session policy)."""
    session = _Session(account_id, role_arn, session_name)
    return _role_session_identity(session)


@dataclass(frozen=True)
class _Session:
    account_id: str
    role_arn: str
    session_name: str
    policy: Any = None

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:sts::{self.account_id}:assumed-role/{self.role_arn.split('/')[-1]}/{self.session_name}"

    @property
    def user_id(self) -> str:
        return self.session_name


def _role_session_identity(session: Any) -> Identity:
    iam = iam_backend(session.account_id, PARTITION)
    role_name = session.role_arn.split("/")[-1]
    try:
        role = iam.get_role(role_name)
    except Exception:
        role = None
    policies: dict[str, Any] = {}
    boundary = None
    if role is not None:
        policies.update({f"inline:{name}": doc for name, doc in role.policies.items()})
        policies.update({arn: _default_document(policy) for arn, policy in role.managed_policies.items()})
        boundary = _boundary(iam, role.permissions_boundary_arn)
    return Identity(
        arn=session.arn, account_id=session.account_id, policies=policies,
        session_policy=session.policy or None, permissions_boundary=boundary,
        context={"aws:PrincipalArn": session.role_arn, "aws:PrincipalAccount": session.account_id,
                 "aws:PrincipalType": "AssumedRole", "aws:userid": session.user_id},
    )


def _user_identity(iam: Any, user: Any) -> Identity:
    policies: dict[str, Any] = {f"inline:{name}": doc for name, doc in user.policies.items()}
    policies.update({arn: _default_document(policy) for arn, policy in user.managed_policies.items()})
    for group in iam.get_groups_for_user(user.name):
        policies.update({f"group:{group.name}:{name}": doc for name, doc in group.policies.items()})
        policies.update({arn: _default_document(policy) for arn, policy in group.managed_policies.items()})
    arn = f"arn:{PARTITION}:iam::{user.account_id}:user{user.path}{user.name}"
    return Identity(
        arn=arn, account_id=user.account_id, policies=policies,
        permissions_boundary=_boundary(iam, getattr(user, "permissions_boundary_arn", None)),
        context={"aws:username": user.name, "aws:PrincipalArn": arn, "aws:PrincipalAccount": user.account_id,
                 "aws:PrincipalType": "User", "aws:userid": user.id},
    )


def _default_document(policy: Any) -> Any:
    for version in policy.versions:
        if version.is_default:
            return _as_document(version.document)
    return _as_document(policy.versions[-1].document)


def _boundary(iam: Any, arn: str | None) -> Any | None:
    if not arn:
        return None
    policy = iam.managed_policies.get(arn)
    return _default_document(policy) if policy is not None else None


def _as_document(document: Any) -> Any:
    return json.loads(document) if isinstance(document, str) else document
