"""Identity-based IAM policy evaluation: explicit deny first, then an allow, otherwise the implicit (default) deny.

This follows AWS's documented policy evaluation logic for a request judged by identity-based policies alone (no
resource policies, permissions boundaries, session policies or SCPs):

1. every request starts denied;
2. if any statement of any policy with ``"Effect": "Deny"`` applies, the request is explicitly denied;
3. otherwise, if a statement with ``"Effect": "Allow"`` applies, it is allowed;
4. otherwise it stays denied (implicit deny: "no identity-based policy allows ...").

A statement applies when its Action (or NotAction), Resource (or NotResource) and every Condition match.
Actions match case-insensitively with ``*`` and ``?`` globs; resource ARNs match case-sensitively, a wildcard
staying inside one colon-separated ARN segment unless ``*`` ends that segment (AWS's rule). ``NotAction`` /
``NotResource`` match everything their list does not match. Condition keys are case-insensitive; a condition on a
key missing from the request context is false, except for negated operators (``StringNotEquals``,
``ArnNotLike``, ...), which are true, ``...IfExists`` operators, which are true, and ``Null``, which tests
presence. Policy variables (``${aws:username}``, ``${key, 'default'}``, ``${*}``, ``${?}``, ``${$}``) are
resolved from the context in documents of Version ``2012-10-17`` and are literal text in ``2008-10-17`` ones.

Documents are validated first; a bad one raises :class:`PolicyDocumentError` with AWS's error code
``MalformedPolicyDocument`` and a message that names the problem.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import ipaddress
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "ConditionClause",
    "EvalDecision",
    "EvaluationResult",
    "PolicyDocument",
    "PolicyDocumentError",
    "Statement",
    "StatementRef",
    "access_denied_message",
    "evaluate",
]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
VALID_VERSIONS = (VERSION_2012, VERSION_2008)

_DOCUMENT_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal",
                   "NotPrincipal"}
_ACTION_RE = re.compile(r"^[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]*$")
_SID_RE = re.compile(r"^[0-9A-Za-z]*$")
_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_DEFAULT_RE = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")


class PolicyDocumentError(ValueError):
    """A policy document that AWS would refuse; ``code`` is AWS's error code."""

    code = "MalformedPolicyDocument"

    def __init__(self, message: str, policy_name: str | None = None) -> None:
        self.message = message if policy_name is None else f"{message} (policy {policy_name})"
        self.policy_name = policy_name
        super().__init__(self.message)


# ---------------------------------------------------------------------------------------------------------------
# Condition operators


class _Family(enum.Enum):
    STRING = "string"
    NUMERIC = "numeric"
    DATE = "date"
    BOOL = "bool"
    BINARY = "binary"
    IP = "ip"
    ARN = "arn"
    NULL = "null"


@dataclass(frozen=True)
class _Operator:
    family: _Family
    test: str  # what the positive form checks: "equals", "equals_ignore_case", "like", "lt", "le", "gt", "ge"
    negated: bool = False


_OPERATORS: dict[str, _Operator] = {
    "StringEquals": _Operator(_Family.STRING, "equals"),
    "StringNotEquals": _Operator(_Family.STRING, "equals", negated=True),
    "StringEqualsIgnoreCase": _Operator(_Family.STRING, "equals_ignore_case"),
    "StringNotEqualsIgnoreCase": _Operator(_Family.STRING, "equals_ignore_case", negated=True),
    "StringLike": _Operator(_Family.STRING, "like"),
    "StringNotLike": _Operator(_Family.STRING, "like", negated=True),
    "NumericEquals": _Operator(_Family.NUMERIC, "equals"),
    "NumericNotEquals": _Operator(_Family.NUMERIC, "equals", negated=True),
    "NumericLessThan": _Operator(_Family.NUMERIC, "lt"),
    "NumericLessThanEquals": _Operator(_Family.NUMERIC, "le"),
    "NumericGreaterThan": _Operator(_Family.NUMERIC, "gt"),
    "NumericGreaterThanEquals": _Operator(_Family.NUMERIC, "ge"),
    "DateEquals": _Operator(_Family.DATE, "equals"),
    "DateNotEquals": _Operator(_Family.DATE, "equals", negated=True),
    "DateLessThan": _Operator(_Family.DATE, "lt"),
    "DateLessThanEquals": _Operator(_Family.DATE, "le"),
    "DateGreaterThan": _Operator(_Family.DATE, "gt"),
    "DateGreaterThanEquals": _Operator(_Family.DATE, "ge"),
    "Bool": _Operator(_Family.BOOL, "equals"),
    "BinaryEquals": _Operator(_Family.BINARY, "equals"),
    "IpAddress": _Operator(_Family.IP, "in"),
    "NotIpAddress": _Operator(_Family.IP, "in", negated=True),
    "ArnEquals": _Operator(_Family.ARN, "like"),
    "ArnNotEquals": _Operator(_Family.ARN, "like", negated=True),
    "ArnLike": _Operator(_Family.ARN, "like"),
    "ArnNotLike": _Operator(_Family.ARN, "like", negated=True),
    "Null": _Operator(_Family.NULL, "null"),
}
_SET_QUALIFIERS = ("ForAnyValue", "ForAllValues")


@dataclass(frozen=True)
class ConditionClause:
    """One ``operator: {key: values}`` pair of a Condition block (all clauses of a statement must hold)."""

    operator: str
    key: str
    values: tuple[Any, ...]
    qualifier: str | None = None
    if_exists: bool = False

    @property
    def base(self) -> _Operator:
        return _OPERATORS[self.operator]


def _parse_operator(name: Any, policy_name: str | None) -> tuple[str, str | None, bool]:
    if not isinstance(name, str):
        raise PolicyDocumentError("Condition operators must be strings.", policy_name)
    qualifier = None
    rest = name
    if ":" in name:
        qualifier, rest = name.split(":", 1)
        if qualifier not in _SET_QUALIFIERS:
            raise PolicyDocumentError(f"Invalid Condition type : {name}", policy_name)
    if_exists = rest.endswith("IfExists") and rest != "IfExists"
    base = rest[: -len("IfExists")] if if_exists else rest
    if base not in _OPERATORS or (base == "Null" and (if_exists or qualifier)):
        raise PolicyDocumentError(f"Invalid Condition type : {name}", policy_name)
    return base, qualifier, if_exists


def _bool_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    else:
        number = _as_number(value)
        if number is not None:
            try:
                return datetime.fromtimestamp(number, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                return None
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _as_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def _check_condition_value(operator: str, value: Any, policy_name: str | None) -> None:
    family = _OPERATORS[operator].family
    if isinstance(value, (dict, list)) or value is None:
        raise PolicyDocumentError(f"Condition values for {operator} must be strings, numbers or booleans.",
                                  policy_name)
    checks = {
        _Family.NUMERIC: (_as_number, "a number"),
        _Family.DATE: (_as_datetime, "an ISO 8601 date or epoch seconds"),
        _Family.BOOL: (_bool_text, "\"true\" or \"false\""),
        _Family.NULL: (_bool_text, "\"true\" or \"false\""),
        _Family.IP: (_as_network, "an IP address or CIDR block"),
        _Family.BINARY: (_as_bytes, "base64"),
    }
    if family in checks:
        convert, expected = checks[family]
        if convert(value) is None:
            raise PolicyDocumentError(f"Condition value {value!r} for {operator} must be {expected}.", policy_name)


def _parse_conditions(block: Any, policy_name: str | None) -> tuple[ConditionClause, ...]:
    if not isinstance(block, dict):
        raise PolicyDocumentError("Condition must be an object of operator to {key: value} maps.", policy_name)
    clauses = []
    for operator_name, keys in block.items():
        base, qualifier, if_exists = _parse_operator(operator_name, policy_name)
        if not isinstance(keys, dict) or not keys:
            raise PolicyDocumentError(f"Condition operator {operator_name} must map condition keys to values.",
                                      policy_name)
        for key, raw_values in keys.items():
            values = raw_values if isinstance(raw_values, list) else [raw_values]
            if not values:
                raise PolicyDocumentError(f"Condition key {key} under {operator_name} has no values.", policy_name)
            for value in values:
                _check_condition_value(base, value, policy_name)
            clauses.append(ConditionClause(base, str(key), tuple(values), qualifier, if_exists))
    return tuple(clauses)


# ---------------------------------------------------------------------------------------------------------------
# Patterns: globs and policy variables


class _Unresolved(Exception):
    """A policy variable has no value in the request context (and no default)."""


def _lookup(context: Mapping[str, Any], key: str) -> tuple[bool, list[Any]]:
    """(present, values) for a condition key; keys are case-insensitive; None counts as absent."""
    wanted = key.lower()
    for name, value in context.items():
        if isinstance(name, str) and name.lower() == wanted:
            if value is None:
                return False, []
            if isinstance(value, (list, tuple, set, frozenset)):
                return True, [v for v in value if v is not None]
            return True, [value]
    return False, []


def _text(value: Any) -> str:
    flag = _bool_text(value) if isinstance(value, bool) else None
    if flag is not None:
        return flag
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _resolve_variable(spec: str, context: Mapping[str, Any]) -> str:
    if spec in ("*", "?", "$"):
        return spec
    match = _VARIABLE_DEFAULT_RE.match(spec)
    key, default = (match.group(1), match.group(2)) if match else (spec.strip(), None)
    present, values = _lookup(context, key)
    if present and len(values) == 1:
        return _text(values[0])
    if default is not None:
        return default
    raise _Unresolved(key)


def _tokens(pattern: str, context: Mapping[str, Any], variables: bool) -> list[tuple[bool, str]]:
    """Split a pattern into (is_literal_text, text) pieces, policy variables resolved to literal text."""
    if not variables:
        return [(False, pattern)]
    pieces: list[tuple[bool, str]] = []
    position = 0
    for match in _VARIABLE_RE.finditer(pattern):
        pieces.append((False, pattern[position:match.start()]))
        pieces.append((True, _resolve_variable(match.group(1), context)))
        position = match.end()
    pieces.append((False, pattern[position:]))
    return pieces


def _glob_regex(pieces: list[tuple[bool, str]], arn: bool) -> str:
    """Regex for a glob; in ARN mode a wildcard stays in its colon segment unless ``*`` ends the segment."""
    flat: list[tuple[bool, str]] = [(literal, ch) for literal, text in pieces for ch in text]
    out = []
    for i, (literal, ch) in enumerate(flat):
        if literal or ch not in "*?":
            out.append(re.escape(ch))
        elif ch == "?":
            out.append("[^:]" if arn else ".")
        elif not arn or i + 1 == len(flat) or flat[i + 1][1] == ":":
            out.append(".*")
        else:
            out.append("[^:]*")
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _compiled(regex: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@functools.lru_cache(maxsize=4096)
def _static_glob(pattern: str, ignore_case: bool, arn: bool) -> re.Pattern[str]:
    return _compiled(_glob_regex([(False, pattern)], arn), ignore_case)


def _glob_match(pattern: str, value: str, *, ignore_case: bool = False, arn: bool = False,
                context: Mapping[str, Any] | None = None, variables: bool = False) -> bool:
    if not variables or "${" not in pattern:
        return _static_glob(pattern, ignore_case, arn).fullmatch(value) is not None
    try:
        pieces = _tokens(pattern, context or {}, variables)
    except _Unresolved:
        return False
    return _compiled(_glob_regex(pieces, arn), ignore_case).fullmatch(value) is not None


def _literal(pattern: str, context: Mapping[str, Any], variables: bool) -> str | None:
    try:
        return "".join(text for _, text in _tokens(pattern, context, variables))
    except _Unresolved:
        return None


# ---------------------------------------------------------------------------------------------------------------
# Statements and documents


@dataclass(frozen=True)
class Statement:
    """One validated statement: exactly one of actions/not_actions and of resources/not_resources is set."""

    effect: str
    index: int
    sid: str | None = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    conditions: tuple[ConditionClause, ...] = ()


def _string_list(statement: dict, key: str, policy_name: str | None) -> tuple[str, ...] | None:
    if key not in statement:
        return None
    value = statement[key]
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise PolicyDocumentError(f"{key} must be a non-empty string or a non-empty list of strings.", policy_name)
    return tuple(values)


def _parse_statement(raw: Any, index: int, policy_name: str | None) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyDocumentError("Each Statement must be a JSON object.", policy_name)
    unknown = sorted(set(raw) - _STATEMENT_KEYS, key=str)
    if unknown:
        raise PolicyDocumentError(f"Statement has unsupported element(s): {', '.join(map(str, unknown))}.",
                                  policy_name)
    if "Principal" in raw or "NotPrincipal" in raw:
        raise PolicyDocumentError("Policy document should not specify a principal.", policy_name)
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyDocumentError(
            "Statement Effect must be \"Allow\" or \"Deny\"" + ("." if effect is None else f"; got {effect!r}."),
            policy_name)
    sid = raw.get("Sid")
    if sid is not None and (not isinstance(sid, str) or not _SID_RE.match(sid)):
        raise PolicyDocumentError("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
                                  "regular expression [0-9A-Za-z]*", policy_name)
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyDocumentError("Statement must contain exactly one of Action and NotAction.", policy_name)
    if ("Resource" in raw) == ("NotResource" in raw):
        raise PolicyDocumentError("Policy statement must contain resources." if "Resource" not in raw
                                  else "Statement must not contain both Resource and NotResource.", policy_name)
    actions = _string_list(raw, "Action", policy_name)
    not_actions = _string_list(raw, "NotAction", policy_name)
    for action in actions or not_actions:
        if action != "*" and not _ACTION_RE.match(action):
            raise PolicyDocumentError(f"Action {action!r} is invalid: actions must be \"*\" or be prefaced by a "
                                      "vendor, e.g., iam, sdb, ec2 (\"service:Action\").", policy_name)
    resources = _string_list(raw, "Resource", policy_name)
    not_resources = _string_list(raw, "NotResource", policy_name)
    for resource in resources or not_resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise PolicyDocumentError(f"Resource {resource} must be in ARN format or \"*\".", policy_name)
    conditions = _parse_conditions(raw["Condition"], policy_name) if "Condition" in raw else ()
    return Statement(effect, index, sid, actions, not_actions, resources, not_resources, conditions)


@dataclass(frozen=True)
class PolicyDocument:
    """A validated identity-based policy document."""

    version: str
    statements: tuple[Statement, ...]
    name: str | None = None
    id: str | None = None

    @classmethod
    def parse(cls, document: PolicyDocument | Mapping[str, Any] | str | bytes,
              name: str | None = None) -> PolicyDocument:
        """Validate a document given as a dict or JSON text; raises PolicyDocumentError naming the problem."""
        if isinstance(document, PolicyDocument):
            return document if name is None or document.name == name else cls(
                document.version, document.statements, name, document.id)
        if isinstance(document, (str, bytes)):
            try:
                document = json.loads(document)
            except (ValueError, RecursionError) as error:
                raise PolicyDocumentError(f"Policy document is not valid JSON: {error}", name) from None
        if not isinstance(document, Mapping):
            raise PolicyDocumentError("Policy document must be a JSON object.", name)
        unknown = sorted(set(document) - _DOCUMENT_KEYS, key=str)
        if unknown:
            raise PolicyDocumentError(f"Policy document has unsupported element(s): {', '.join(map(str, unknown))}.",
                                      name)
        version = document.get("Version", VERSION_2008)
        if version not in VALID_VERSIONS:
            raise PolicyDocumentError(
                f"Policy document Version must be \"{VERSION_2012}\" or \"{VERSION_2008}\"; got {version!r}.", name)
        if "Statement" not in document:
            raise PolicyDocumentError("Policy document must contain a Statement.", name)
        raw = document["Statement"]
        raw_statements = raw if isinstance(raw, list) else [raw]
        if not raw_statements:
            raise PolicyDocumentError("Policy document Statement must not be empty.", name)
        statements = tuple(_parse_statement(item, i, name) for i, item in enumerate(raw_statements))
        sids = [s.sid for s in statements if s.sid]
        if len(sids) != len(set(sids)):
            raise PolicyDocumentError("Statement IDs (SID) in a single policy must be unique.", name)
        policy_id = document.get("Id")
        return cls(version, statements, name, policy_id if isinstance(policy_id, str) else None)


# ---------------------------------------------------------------------------------------------------------------
# Matching


def _action_matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(_glob_match(p, action, ignore_case=True) for p in patterns)


def _resource_matches(patterns: tuple[str, ...], resource: str, context: Mapping[str, Any],
                      variables: bool) -> bool:
    return any(p == "*" or _glob_match(p, resource, arn=True, context=context, variables=variables)
               for p in patterns)


def _positive_match(operator: _Operator, request_value: Any, policy_value: Any, context: Mapping[str, Any],
                    variables: bool) -> bool:
    """Whether one request value satisfies one policy value under the operator's positive form."""
    family, test = operator.family, operator.test
    if family is _Family.STRING:
        if isinstance(request_value, (dict, list)):
            return False
        text = _text(request_value)
        pattern = _text(policy_value)
        if test == "like":
            return _glob_match(pattern, text, context=context, variables=variables)
        expected = _literal(pattern, context, variables)
        if expected is None:
            return False
        return text.casefold() == expected.casefold() if test == "equals_ignore_case" else text == expected
    if family is _Family.ARN:
        return isinstance(request_value, str) and _glob_match(_text(policy_value), request_value, arn=True,
                                                              context=context, variables=variables)
    if family is _Family.BOOL:
        got = _bool_text(request_value)
        return got is not None and got == _bool_text(policy_value)
    if family is _Family.BINARY:
        got = _as_bytes(request_value)
        return got is not None and got == _as_bytes(policy_value)
    if family is _Family.IP:
        network = _as_network(policy_value)
        try:
            address = ipaddress.ip_address(str(request_value).strip())
        except ValueError:
            return False
        return network is not None and address.version == network.version and address in network
    convert = _as_number if family is _Family.NUMERIC else _as_datetime
    got, bound = convert(request_value), convert(policy_value)
    if got is None or bound is None:
        return False
    return {"equals": got == bound, "lt": got < bound, "le": got <= bound, "gt": got > bound,
            "ge": got >= bound}[test]


def _value_holds(operator: _Operator, request_value: Any, clause: ConditionClause, context: Mapping[str, Any],
                 variables: bool) -> bool:
    """One request value against the clause's policy values: any of them (positive) / none of them (negated)."""
    hit = any(_positive_match(operator, request_value, v, context, variables) for v in clause.values)
    return not hit if operator.negated else hit


def _clause_holds(clause: ConditionClause, context: Mapping[str, Any], variables: bool) -> bool:
    operator = clause.base
    present, values = _lookup(context, clause.key)
    if operator.family is _Family.NULL:
        return any((_bool_text(v) == "true") != present for v in clause.values)
    if clause.qualifier == "ForAllValues":
        return all(_value_holds(operator, value, clause, context, variables) for value in values)
    if clause.qualifier == "ForAnyValue":
        return any(_value_holds(operator, value, clause, context, variables) for value in values)
    if not present or not values:
        return clause.if_exists or operator.negated
    if operator.negated:
        return all(_value_holds(operator, value, clause, context, variables) for value in values)
    return any(_value_holds(operator, value, clause, context, variables) for value in values)


def _statement_applies(statement: Statement, action: str, resource: str, context: Mapping[str, Any],
                       variables: bool) -> bool:
    if statement.actions is not None:
        if not _action_matches(statement.actions, action):
            return False
    elif _action_matches(statement.not_actions, action):
        return False
    if statement.resources is not None:
        if not _resource_matches(statement.resources, resource, context, variables):
            return False
    elif _resource_matches(statement.not_resources, resource, context, variables):
        return False
    return all(_clause_holds(clause, context, variables) for clause in statement.conditions)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


class EvalDecision(str, enum.Enum):
    """The outcome, named as IAM's policy simulator names it."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


@dataclass(frozen=True)
class StatementRef:
    """Which statement decided: the policy (name, or position in the list) and the statement in it."""

    policy_index: int
    statement_index: int
    policy_name: str | None = None
    sid: str | None = None
    effect: str = "Allow"


@dataclass(frozen=True)
class EvaluationResult:
    """The decision for one action on one resource, with the statement that made it (None for implicit deny)."""

    decision: EvalDecision
    action: str
    resource: str
    statement: StatementRef | None = None
    allowing_statements: tuple[StatementRef, ...] = field(default=(), repr=False)

    @property
    def allowed(self) -> bool:
        return self.decision is EvalDecision.ALLOWED

    @property
    def denied(self) -> bool:
        return not self.allowed

    @property
    def explicit_deny(self) -> bool:
        return self.decision is EvalDecision.EXPLICIT_DENY

    def message(self, principal_arn: str) -> str:
        """AWS's AccessDenied message for this denial (ValueError if the request was allowed)."""
        return access_denied_message(principal_arn, self.action, self.resource, self.decision)


def _documents(policies: Any) -> list[PolicyDocument]:
    if isinstance(policies, (str, bytes, PolicyDocument)) or (
            isinstance(policies, Mapping) and not _DOCUMENT_KEYS.isdisjoint(policies)):
        policies = [policies]
    if isinstance(policies, Mapping):
        return [PolicyDocument.parse(doc, name=str(name)) for name, doc in policies.items()]
    if not isinstance(policies, Iterable):
        raise TypeError("policies must be a policy document, a list of them, or a mapping of name to document")
    return [PolicyDocument.parse(doc) for doc in policies]


def evaluate(policies: Any, action: str, resource: str,
             context: Mapping[str, Any] | None = None) -> EvaluationResult:
    """Decide whether identity-based ``policies`` allow ``action`` on ``resource``.

    :param policies: one document, a list of documents, or a mapping of policy name to document; each document a
        dict, JSON text or :class:`PolicyDocument`.
    :param action: the request's action, ``service:Action`` (e.g. ``sagemaker:InvokeEndpoint``).
    :param resource: the resource ARN the request acts on (``*`` for actions without a resource type).
    :param context: request context keys (``aws:username``, ``aws:SourceIp``, ...) to values (str, number, bool,
        datetime, or a list for multivalued keys).
    """
    if not isinstance(action, str) or action.count(":") != 1 or not all(action.split(":")):
        raise ValueError(f"action must look like 'service:Action'; got {action!r}")
    if not isinstance(resource, str) or not resource:
        raise ValueError(f"resource must be a non-empty ARN or '*'; got {resource!r}")
    context = context or {}
    deny: StatementRef | None = None
    allows: list[StatementRef] = []
    for policy_index, document in enumerate(_documents(policies)):
        variables = document.version == VERSION_2012
        for statement in document.statements:
            if not _statement_applies(statement, action, resource, context, variables):
                continue
            ref = StatementRef(policy_index, statement.index, document.name, statement.sid, statement.effect)
            if statement.effect == "Deny":
                deny = deny or ref
            else:
                allows.append(ref)
    if deny is not None:
        return EvaluationResult(EvalDecision.EXPLICIT_DENY, action, resource, deny, tuple(allows))
    if allows:
        return EvaluationResult(EvalDecision.ALLOWED, action, resource, allows[0], tuple(allows))
    return EvaluationResult(EvalDecision.IMPLICIT_DENY, action, resource)


def access_denied_message(principal_arn: str, action: str, resource: str,
                          decision: EvalDecision | EvaluationResult) -> str:
    """AWS's AccessDenied message for an identity-based denial.

    ``User: <arn> is not authorized to perform: <action> on resource: <resource> because no identity-based policy
    allows the <action> action`` for an implicit deny, and ``... with an explicit deny in an identity-based
    policy`` for an explicit one.
    """
    if isinstance(decision, EvaluationResult):
        decision = decision.decision
    prefix = f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"
    if decision is EvalDecision.EXPLICIT_DENY:
        return f"{prefix} with an explicit deny in an identity-based policy"
    if decision is EvalDecision.IMPLICIT_DENY:
        return f"{prefix} because no identity-based policy allows the {action} action"
    raise ValueError("the request was allowed: there is no access-denied message")
