"""The identity-policy evaluator against AWS's documented evaluation logic and examples."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from local_aws.iam.policy_evaluation import (
    EvalDecision,
    PolicyDocument,
    PolicyDocumentError,
    access_denied_message,
    evaluate,
)

ACCOUNT = "123456789012"
ENDPOINT_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/dog-breed"
OTHER_ENDPOINT_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/other"
ROLE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/dog-breed-invoke-role/dog-breed-invoke"


def doc(*statements, version="2012-10-17") -> dict:
    return {"Version": version, "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# --- the course scenario ---------------------------------------------------------------------------------------

BASIC_EXECUTION = doc(
    {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:*"},
    {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/dog-breed-invoke:*"]},
)
INVOKE_ONE_ENDPOINT = doc({"Sid": "InvokeDogBreed", "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint",
                           "Resource": ENDPOINT_ARN})
SAGEMAKER_FULL_ACCESS = doc({"Effect": "Allow", "Action": ["sagemaker:*"], "Resource": "*"},
                            {"Effect": "Allow", "Action": ["application-autoscaling:*", "cloudwatch:*"],
                             "Resource": "*"})


def test_basic_execution_role_may_not_invoke_the_endpoint():
    result = evaluate([BASIC_EXECUTION], "sagemaker:InvokeEndpoint", ENDPOINT_ARN)
    assert result.decision is EvalDecision.IMPLICIT_DENY and result.statement is None
    assert result.message(ROLE_SESSION) == (
        f"User: {ROLE_SESSION} is not authorized to perform: sagemaker:InvokeEndpoint on resource: "
        f"{ENDPOINT_ARN} because no identity-based policy allows the sagemaker:InvokeEndpoint action")


def test_basic_execution_role_may_write_its_own_logs_only():
    own = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/dog-breed-invoke:log-stream:2024/01/01/x"
    other = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/another:log-stream:x"
    assert evaluate([BASIC_EXECUTION], "logs:PutLogEvents", own).allowed
    assert not evaluate([BASIC_EXECUTION], "logs:PutLogEvents", other).allowed


def test_endpoint_scoped_policy_allows_that_endpoint_only():
    policies = {"AWSLambdaBasicExecutionRole": BASIC_EXECUTION, "invoke-dog-breed": INVOKE_ONE_ENDPOINT}
    allowed = evaluate(policies, "sagemaker:InvokeEndpoint", ENDPOINT_ARN)
    assert allowed.allowed
    assert (allowed.statement.policy_name, allowed.statement.sid) == ("invoke-dog-breed", "InvokeDogBreed")
    other = evaluate(policies, "sagemaker:InvokeEndpoint", OTHER_ENDPOINT_ARN)
    assert other.decision is EvalDecision.IMPLICIT_DENY
    assert not evaluate(policies, "sagemaker:DeleteEndpoint", ENDPOINT_ARN).allowed


def test_sagemaker_full_access_allows_any_endpoint():
    for arn in (ENDPOINT_ARN, OTHER_ENDPOINT_ARN):
        assert evaluate([BASIC_EXECUTION, SAGEMAKER_FULL_ACCESS], "sagemaker:InvokeEndpoint", arn).allowed


def test_explicit_deny_in_another_document_beats_full_access():
    guard = doc(deny("sagemaker:InvokeEndpoint", ENDPOINT_ARN, Sid="NoProd"))
    result = evaluate({"full": SAGEMAKER_FULL_ACCESS, "guard": guard}, "sagemaker:InvokeEndpoint", ENDPOINT_ARN)
    assert result.decision is EvalDecision.EXPLICIT_DENY
    assert (result.statement.policy_name, result.statement.sid, result.statement.effect) == ("guard", "NoProd",
                                                                                              "Deny")
    assert result.allowing_statements and result.allowing_statements[0].policy_name == "full"
    assert result.message(ROLE_SESSION) == (
        f"User: {ROLE_SESSION} is not authorized to perform: sagemaker:InvokeEndpoint on resource: "
        f"{ENDPOINT_ARN} with an explicit deny in an identity-based policy")
    assert evaluate({"full": SAGEMAKER_FULL_ACCESS, "guard": guard}, "sagemaker:InvokeEndpoint",
                    OTHER_ENDPOINT_ARN).allowed


def test_no_policies_at_all_is_an_implicit_deny():
    assert evaluate([], "s3:GetObject", "arn:aws:s3:::bucket/key").decision is EvalDecision.IMPLICIT_DENY


# --- actions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("requested", ["sagemaker:InvokeEndpoint", "SageMaker:invokeendpoint",
                                       "SAGEMAKER:INVOKEENDPOINT"])
def test_actions_match_case_insensitively(requested):
    assert evaluate([INVOKE_ONE_ENDPOINT], requested, ENDPOINT_ARN).allowed
    assert evaluate([doc(allow("SAGEMAKER:invokeENDPOINT", ENDPOINT_ARN))], requested, ENDPOINT_ARN).allowed


@pytest.mark.parametrize("pattern, action, expected", [
    ("sagemaker:Invoke*", "sagemaker:InvokeEndpoint", True),
    ("sagemaker:Invoke*", "sagemaker:InvokeEndpointAsync", True),
    ("sagemaker:Invoke*", "sagemaker:CreateEndpoint", False),
    ("s3:*", "s3:GetObject", True),
    ("s3:*", "s3control:GetJob", False),
    ("*", "iam:CreateUser", True),
    ("s3:Get?bject", "s3:GetObject", True),
    ("s3:Get?bject", "s3:GetObjects", False),
    ("iam:*AccessKey*", "iam:CreateAccessKey", True),
    ("iam:*AccessKey*", "iam:ListAccessKeys", True),
    ("iam:*AccessKey*", "iam:CreateUser", False),
])
def test_action_globs(pattern, action, expected):
    assert evaluate([doc(allow(pattern))], action, "*").allowed is expected


def test_not_action_allows_everything_else():
    # AWS's example: everything except IAM.
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::bucket/key").allowed
    assert evaluate([policy], "IAM:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/bob").decision is (
        EvalDecision.IMPLICIT_DENY)


def test_deny_with_not_action_and_bool_if_exists_mfa():
    # AWS's example "DenyAllExceptListedIfNoMFA".
    policy = doc(allow("*"), {
        "Sid": "DenyAllExceptListedIfNoMFA", "Effect": "Deny",
        "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices",
                      "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "sts:GetSessionToken"],
        "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}})
    assert evaluate([policy], "s3:ListBucket", "arn:aws:s3:::b").explicit_deny
    assert evaluate([policy], "s3:ListBucket", "arn:aws:s3:::b", {"aws:MultiFactorAuthPresent": "false"}).explicit_deny
    assert evaluate([policy], "s3:ListBucket", "arn:aws:s3:::b", {"aws:MultiFactorAuthPresent": True}).allowed
    assert evaluate([policy], "iam:EnableMFADevice", "*").allowed


# --- resources -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern, resource, expected", [
    (f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/*", ENDPOINT_ARN, True),
    (f"arn:aws:sagemaker:*:{ACCOUNT}:endpoint/dog-breed", ENDPOINT_ARN, True),
    (f"arn:aws:sagemaker:*:*:endpoint/dog-*", ENDPOINT_ARN, True),
    (f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/Dog-Breed", ENDPOINT_ARN, False),
    (f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/dog-breed-v?", ENDPOINT_ARN + "-v1", True),
    (f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/dog-breed-v?", ENDPOINT_ARN + "-v10", False),
    (f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/dog-breed", ENDPOINT_ARN + "-v1", False),
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/1/2/test/3/object.jpg", True),
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/1-test/object.jpg", False),
    # A wildcard inside a segment stays inside it; a trailing one may run past the colons.
    ("arn:aws:sagemaker:us-*-1:123456789012:endpoint/x", "arn:aws:sagemaker:us-east:9-1:123456789012:endpoint/x",
     False),
    ("arn:aws:logs:*", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/f:log-stream:s", True),
    ("*", "arn:aws:anything", True),
])
def test_resource_globs(pattern, resource, expected):
    assert evaluate([doc(allow("sagemaker:InvokeEndpoint", pattern))], "sagemaker:InvokeEndpoint",
                    resource).allowed is expected


def test_not_resource_allows_all_but_the_listed_resources():
    # AWS's example: everything in S3 except the payroll folder.
    policy = doc({"Effect": "Allow", "Action": "s3:*",
                  "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]})
    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::HRBucket/Public/a.txt").allowed
    assert not evaluate([policy], "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/2024.csv").allowed
    assert not evaluate([policy], "s3:ListBucket", "arn:aws:s3:::HRBucket/Payroll").allowed
    assert not evaluate([policy], "ec2:RunInstances", "*").allowed


def test_deny_with_not_resource_denies_everything_outside_the_endpoint():
    policy = doc(allow("sagemaker:*"), {"Effect": "Deny", "Action": "sagemaker:*", "NotResource": ENDPOINT_ARN})
    assert evaluate([policy], "sagemaker:InvokeEndpoint", ENDPOINT_ARN).allowed
    assert evaluate([policy], "sagemaker:InvokeEndpoint", OTHER_ENDPOINT_ARN).explicit_deny


def test_policy_variables_are_resolved_in_2012_documents_only():
    statement = allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*")
    context = {"aws:username": "alice"}
    assert evaluate([doc(statement)], "s3:GetObject", "arn:aws:s3:::home/alice/notes.txt", context).allowed
    assert not evaluate([doc(statement)], "s3:GetObject", "arn:aws:s3:::home/bob/notes.txt", context).allowed
    assert not evaluate([doc(statement)], "s3:GetObject", "arn:aws:s3:::home/alice/notes.txt").allowed
    legacy = doc(statement, version="2008-10-17")
    assert not evaluate([legacy], "s3:GetObject", "arn:aws:s3:::home/alice/notes.txt", context).allowed
    assert evaluate([legacy], "s3:GetObject", "arn:aws:s3:::home/${aws:username}/x", context).allowed


def test_policy_variable_defaults_and_special_characters():
    with_default = doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username, 'shared'}/*"))
    assert evaluate([with_default], "s3:GetObject", "arn:aws:s3:::home/shared/a").allowed
    literal_star = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/${*}"))
    assert evaluate([literal_star], "s3:GetObject", "arn:aws:s3:::bucket/*").allowed
    assert not evaluate([literal_star], "s3:GetObject", "arn:aws:s3:::bucket/anything").allowed


# --- conditions ------------------------------------------------------------------------------------------------


def conditioned(condition: dict, effect: str = "Allow") -> dict:
    return doc({"Effect": effect, "Action": "s3:GetObject", "Resource": "*", "Condition": condition})


def allowed_with(condition: dict, context: dict | None) -> bool:
    return evaluate([conditioned(condition)], "s3:GetObject", "arn:aws:s3:::b/k", context).allowed


@pytest.mark.parametrize("condition, context, expected", [
    ({"StringEquals": {"aws:PrincipalTag/job": "admin"}}, {"aws:PrincipalTag/job": "admin"}, True),
    ({"StringEquals": {"aws:PrincipalTag/job": "admin"}}, {"aws:principaltag/JOB": "admin"}, True),
    ({"StringEquals": {"aws:PrincipalTag/job": "admin"}}, {"aws:PrincipalTag/job": "Admin"}, False),
    ({"StringEquals": {"aws:PrincipalTag/job": "admin"}}, {}, False),
    ({"StringEquals": {"aws:PrincipalTag/job": ["dev", "admin"]}}, {"aws:PrincipalTag/job": "admin"}, True),
    ({"StringEqualsIgnoreCase": {"aws:PrincipalTag/job": "ADMIN"}}, {"aws:PrincipalTag/job": "admin"}, True),
    ({"StringNotEquals": {"aws:PrincipalTag/job": "admin"}}, {"aws:PrincipalTag/job": "dev"}, True),
    ({"StringNotEquals": {"aws:PrincipalTag/job": ["dev", "admin"]}}, {"aws:PrincipalTag/job": "dev"}, False),
    ({"StringNotEquals": {"aws:PrincipalTag/job": "admin"}}, {}, True),
    ({"StringLike": {"s3:prefix": ["home/*", "public/?"]}}, {"s3:prefix": "home/alice/x"}, True),
    ({"StringLike": {"s3:prefix": ["home/*", "public/?"]}}, {"s3:prefix": "public/ab"}, False),
    ({"StringNotLike": {"s3:prefix": "secret*"}}, {}, True),
    ({"StringNotLike": {"s3:prefix": "secret*"}}, {"s3:prefix": "secret/x"}, False),
    ({"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}, {}, True),
    ({"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}, {"ec2:InstanceType": "m5.large"}, False),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, True),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, False),
    ({"NumericGreaterThan": {"s3:max-keys": 2.5}}, {"s3:max-keys": "3"}, True),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
    ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, True),
    ({"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
      "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}},
     {"aws:CurrentTime": "2020-05-05T12:00:00Z"}, True),
    ({"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
      "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}},
     {"aws:CurrentTime": datetime(2021, 1, 1, tzinfo=timezone.utc)}, False),
    ({"DateLessThan": {"aws:TokenIssueTime": 1700000000}}, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, True),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True),
    ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "false"}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, {}, False),
    ({"BinaryEquals": {"s3:x-amz-content": "QmluYXJ5"}}, {"s3:x-amz-content": b"Binary"}, True),
    ({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}, {"aws:SourceIp": "192.0.2.17"}, True),
    ({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}, {"aws:SourceIp": "2001:db8::1"}, True),
    ({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, False),
    ({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, True),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:lambda:*:123456789012:function:dog-*"}},
     {"aws:SourceArn": "arn:aws:lambda:us-east-1:123456789012:function:dog-breed-invoke"}, True),
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:lambda:us-east-1:123456789012:function:dog"}},
     {"aws:SourceArn": "arn:aws:lambda:us-east-1:123456789012:function:cat"}, False),
    ({"ArnNotLike": {"aws:SourceArn": "arn:aws:lambda:*:*:function:dog-*"}}, {}, True),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, False),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, True),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": None}, False),
    ({"StringEquals": {"aws:PrincipalTag/team": "${aws:PrincipalTag/owner}"}},
     {"aws:PrincipalTag/team": "ml", "aws:PrincipalTag/owner": "ml"}, True),
    ({"StringEquals": {"aws:PrincipalTag/team": "ml"}, "Bool": {"aws:SecureTransport": "true"}},
     {"aws:PrincipalTag/team": "ml", "aws:SecureTransport": "false"}, False),
])
def test_condition_operators(condition, context, expected):
    assert allowed_with(condition, context) is expected


@pytest.mark.parametrize("condition, context, expected", [
    # ForAllValues: every requested value must be in the list; an absent or empty key passes (AWS's warning).
    ({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}},
     {"dynamodb:Attributes": ["ID", "Message"]}, True),
    ({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}},
     {"dynamodb:Attributes": ["ID", "Secret"]}, False),
    ({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID"]}}, {}, True),
    ({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID"]}}, {"dynamodb:Attributes": []}, True),
    # ForAnyValue: at least one requested value must match; an absent key fails.
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "owner"]}}, {"aws:TagKeys": ["cost", "env"]}, True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "owner"]}}, {"aws:TagKeys": ["cost"]}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {}, False),
    ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}, {"aws:TagKeys": ["env", "owner"]}, True),
    ({"ForAnyValue:StringLike": {"aws:TagKeys": ["team-*"]}}, {"aws:TagKeys": ["x", "team-ml"]}, True),
])
def test_set_operators_on_multivalued_keys(condition, context, expected):
    assert allowed_with(condition, context) is expected


def test_condition_on_an_absent_key_in_a_deny_does_not_deny():
    policy = [doc(allow("s3:GetObject")),
              conditioned({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}, effect="Deny")]
    assert evaluate(policy, "s3:GetObject", "arn:aws:s3:::b/k").allowed
    assert evaluate(policy, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:RequestedRegion": "eu-west-1"}).explicit_deny


def test_ip_restriction_example_denies_requests_from_elsewhere():
    # AWS's example: deny everything unless from the listed ranges or via an AWS service.
    policy = [doc(allow("*")), doc({
        "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
                      "Bool": {"aws:ViaAWSService": "false"}}})]
    assert evaluate(policy, "ec2:RunInstances", "*", {"aws:SourceIp": "198.51.100.7",
                                                       "aws:ViaAWSService": False}).explicit_deny
    assert evaluate(policy, "ec2:RunInstances", "*", {"aws:SourceIp": "203.0.113.9",
                                                       "aws:ViaAWSService": False}).allowed
    assert evaluate(policy, "ec2:RunInstances", "*", {"aws:SourceIp": "198.51.100.7",
                                                       "aws:ViaAWSService": True}).allowed


# --- documents -------------------------------------------------------------------------------------------------


def test_documents_may_be_json_text_and_single_statement_objects():
    text = json.dumps({"Version": "2012-10-17", "Statement": allow("s3:GetObject", "arn:aws:s3:::b/*")})
    assert evaluate(text, "s3:GetObject", "arn:aws:s3:::b/k").allowed
    assert evaluate([text.encode()], "s3:GetObject", "arn:aws:s3:::b/k").allowed
    parsed = PolicyDocument.parse(text, name="read-b")
    assert parsed.version == "2012-10-17" and len(parsed.statements) == 1
    assert evaluate([parsed], "s3:GetObject", "arn:aws:s3:::b/k").statement.policy_name == "read-b"


def test_missing_version_means_the_2008_language():
    assert PolicyDocument.parse({"Statement": allow("s3:*")}).version == "2008-10-17"


@pytest.mark.parametrize("document, message", [
    ("{not json", "not valid JSON"),
    ([allow("s3:*")], "must be a JSON object"),
    ({"Version": "2013-01-01", "Statement": allow("s3:*")}, "Version must be \"2012-10-17\" or \"2008-10-17\""),
    ({"Version": "2012-10-17"}, "must contain a Statement"),
    ({"Version": "2012-10-17", "Statement": []}, "Statement must not be empty"),
    ({"Version": "2012-10-17", "Statement": allow("s3:*"), "Extra": 1}, "unsupported element(s): Extra"),
    (doc({"Action": "s3:*", "Resource": "*"}), "Effect must be \"Allow\" or \"Deny\"."),
    (doc({"Effect": "allow", "Action": "s3:*", "Resource": "*"}), "got 'allow'"),
    (doc({"Effect": "Allow", "Resource": "*"}), "exactly one of Action and NotAction"),
    (doc({"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"}),
     "exactly one of Action and NotAction"),
    (doc({"Effect": "Allow", "Action": "s3:*"}), "Policy statement must contain resources."),
    (doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotResource": "*"}), "both Resource and NotResource"),
    (doc(allow("s3:*", Principal={"AWS": "*"})), "should not specify a principal"),
    (doc(allow("GetObject")), "prefaced by a vendor"),
    (doc(allow("s3:Get:Object")), "prefaced by a vendor"),
    (doc(allow([])), "non-empty"),
    (doc(allow("s3:*", "bucket/key")), "must be in ARN format"),
    (doc(allow("s3:*", Sid="has space")), "alpha-numeric"),
    (doc(allow("s3:*", Sid="A"), allow("s3:*", Sid="A")), "must be unique"),
    (doc(allow("s3:*", Condition={"StringEqualz": {"k": "v"}})), "Invalid Condition type : StringEqualz"),
    (doc(allow("s3:*", Condition={"ForSomeValues:StringEquals": {"k": "v"}})), "Invalid Condition type"),
    (doc(allow("s3:*", Condition={"NullIfExists": {"k": "true"}})), "Invalid Condition type"),
    (doc(allow("s3:*", Condition={"NumericLessThan": {"s3:max-keys": "ten"}})), "must be a number"),
    (doc(allow("s3:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/40"}})), "IP address or CIDR"),
    (doc(allow("s3:*", Condition={"DateLessThan": {"aws:CurrentTime": "yesterday"}})), "ISO 8601"),
    (doc(allow("s3:*", Condition={"Bool": {"aws:SecureTransport": "yes"}})), "\"true\" or \"false\""),
    (doc(allow("s3:*", Condition={"StringEquals": {"k": {"nested": 1}}})), "strings, numbers or booleans"),
    (doc(allow("s3:*", Condition={"StringEquals": {}})), "must map condition keys"),
    (doc(allow("s3:*", Condition=["StringEquals"])), "Condition must be an object"),
])
def test_invalid_documents_get_specific_errors(document, message):
    with pytest.raises(PolicyDocumentError) as caught:
        PolicyDocument.parse(document, name="bad-policy")
    assert caught.value.code == "MalformedPolicyDocument"
    assert message in str(caught.value)
    assert str(caught.value).endswith("(policy bad-policy)")


def test_evaluate_rejects_malformed_requests():
    with pytest.raises(ValueError, match="service:Action"):
        evaluate([doc(allow("*"))], "InvokeEndpoint", ENDPOINT_ARN)
    with pytest.raises(ValueError, match="non-empty ARN"):
        evaluate([doc(allow("*"))], "sagemaker:InvokeEndpoint", "")


def test_a_bad_document_among_good_ones_is_reported_by_name():
    with pytest.raises(PolicyDocumentError, match=r"\(policy broken\)"):
        evaluate({"good": doc(allow("*")), "broken": doc({"Effect": "Permit", "Action": "*", "Resource": "*"})},
                 "s3:GetObject", "*")


def test_access_denied_message_has_no_form_for_an_allowed_request():
    with pytest.raises(ValueError, match="allowed"):
        access_denied_message(ROLE_SESSION, "s3:GetObject", "*", EvalDecision.ALLOWED)
