"""Properties of the evaluation logic that hold for any policies: monotonicity of Allow and Deny, case, order."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from local_aws.iam.policy_evaluation import EvalDecision, evaluate

ACTIONS = ["sagemaker:InvokeEndpoint", "sagemaker:CreateEndpoint", "s3:GetObject", "s3:PutObject",
           "logs:PutLogEvents", "iam:PassRole"]
ACTION_PATTERNS = ACTIONS + ["*", "sagemaker:*", "sagemaker:Invoke*", "s3:Get?bject", "S3:*", "logs:Put*",
                             "iam:*Role"]
RESOURCES = ["arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-breed",
             "arn:aws:sagemaker:us-east-1:123456789012:endpoint/other",
             "arn:aws:s3:::pawflow-data/train/001.Affenpinscher/a.jpg",
             "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/dog:log-stream:x",
             "arn:aws:iam::123456789012:role/dog-breed-invoke-role"]
RESOURCE_PATTERNS = RESOURCES + ["*", "arn:aws:sagemaker:*:123456789012:endpoint/*",
                                 "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-?reed",
                                 "arn:aws:s3:::pawflow-data/*", "arn:aws:logs:*", "arn:aws:iam::*:role/dog-*"]
CONDITIONS = [
    {"StringEquals": {"aws:username": "alice"}},
    {"StringNotEquals": {"aws:username": "alice"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}},
    {"Null": {"aws:SourceIp": "true"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": ["team-*"]}},
]
CONTEXTS = st.fixed_dictionaries({}, optional={
    "aws:username": st.sampled_from(["alice", "bob"]),
    "aws:MultiFactorAuthPresent": st.booleans(),
    "aws:SourceIp": st.sampled_from(["10.1.2.3", "192.0.2.1"]),
    "aws:TagKeys": st.lists(st.sampled_from(["team-ml", "env"]), max_size=2),
})


def one_or_list(values):
    return st.lists(st.sampled_from(values), min_size=1, max_size=3).map(lambda v: v[0] if len(v) == 1 else v)


@st.composite
def statements(draw, effect=None):
    statement = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    statement["NotAction" if draw(st.booleans()) and draw(st.booleans()) else "Action"] = draw(
        one_or_list(ACTION_PATTERNS))
    statement["NotResource" if draw(st.booleans()) and draw(st.booleans()) else "Resource"] = draw(
        one_or_list(RESOURCE_PATTERNS))
    if draw(st.booleans()):
        statement["Condition"] = draw(st.sampled_from(CONDITIONS))
    return statement


def documents(effect=None):
    return st.lists(statements(effect), min_size=1, max_size=3).map(
        lambda s: {"Version": "2012-10-17", "Statement": s})


policy_sets = st.lists(documents(), max_size=3)
requests = st.tuples(st.sampled_from(ACTIONS), st.sampled_from(RESOURCES), CONTEXTS)


@settings(max_examples=300, deadline=None)
@given(policies=policy_sets, extra=documents("Allow"), request=requests)
def test_adding_an_allow_never_lifts_an_explicit_deny_nor_removes_an_allow(policies, extra, request):
    before = evaluate(policies, *request).decision
    after = evaluate(policies + [extra], *request).decision
    if before is EvalDecision.EXPLICIT_DENY:
        assert after is EvalDecision.EXPLICIT_DENY
    if before is EvalDecision.ALLOWED:
        assert after is EvalDecision.ALLOWED


@settings(max_examples=300, deadline=None)
@given(policies=policy_sets, extra=documents("Deny"), request=requests)
def test_adding_a_deny_never_turns_a_denial_into_an_allow(policies, extra, request):
    before = evaluate(policies, *request)
    after = evaluate(policies + [extra], *request)
    if before.denied:
        assert after.denied
    if before.explicit_deny:
        assert after.explicit_deny
    alone = evaluate([extra], *request)
    if alone.explicit_deny:
        assert after.explicit_deny


@settings(max_examples=200, deadline=None)
@given(policies=policy_sets, request=requests, data=st.data())
def test_decision_ignores_action_case_and_policy_order(policies, request, data):
    action, resource, context = request
    decision = evaluate(policies, action, resource, context).decision
    flipped = "".join(c.upper() if data.draw(st.booleans()) else c.lower() for c in action)
    assert evaluate(policies, flipped, resource, context).decision is decision
    shuffled = data.draw(st.permutations(policies))
    assert evaluate(shuffled, action, resource, context).decision is decision


@settings(max_examples=200, deadline=None)
@given(actions=st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=4), request=requests)
def test_an_action_list_is_the_union_of_its_items_and_not_action_is_its_complement(actions, request):
    action, resource, context = request
    listed = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": actions, "Resource": "*"}}
    split = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": a, "Resource": "*"} for a in actions]}
    negated = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": actions, "Resource": "*"}}
    allowed = evaluate([listed], action, resource, context).allowed
    assert evaluate([split], action, resource, context).allowed is allowed
    assert evaluate([negated], action, resource, context).allowed is not allowed


segment_text = st.text(st.sampled_from("abcXYZ019-_/."), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(name=segment_text, other=segment_text)
def test_a_resource_without_wildcards_matches_only_itself_case_sensitively(name, other):
    pattern = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"
    policy = [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": pattern}}]
    target = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{other}"
    assert evaluate(policy, "sagemaker:InvokeEndpoint", target).allowed is (name == other)


@settings(max_examples=300, deadline=None)
@given(name=segment_text, data=st.data())
def test_replacing_part_of_a_resource_name_by_a_wildcard_still_matches_it(name, data):
    start = data.draw(st.integers(0, len(name)))
    end = data.draw(st.integers(start, len(name)))
    wildcard = data.draw(st.sampled_from(["*", "?" * (end - start)]))
    pattern = f"arn:aws:s3:::bucket/{name[:start]}{wildcard}{name[end:]}"
    policy = [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": pattern}}]
    assert evaluate(policy, "s3:GetObject", f"arn:aws:s3:::bucket/{name}").allowed
    assert not evaluate(policy, "s3:GetObject", f"arn:aws:s3:::other/{name}").allowed


@settings(max_examples=300, deadline=None)
@given(service=st.from_regex(re.compile(r"[a-z][a-z0-9-]{0,10}", re.ASCII), fullmatch=True),
       name=st.from_regex(re.compile(r"[A-Za-z]{1,12}", re.ASCII), fullmatch=True),
       other=st.from_regex(re.compile(r"[A-Za-z]{1,12}", re.ASCII), fullmatch=True))
def test_an_action_without_wildcards_matches_only_itself_ignoring_case(service, name, other):
    policy = [{"Version": "2012-10-17",
               "Statement": {"Effect": "Allow", "Action": f"{service}:{name}", "Resource": "*"}}]
    assert evaluate(policy, f"{service.upper()}:{other}", "*").allowed is (name.lower() == other.lower())
