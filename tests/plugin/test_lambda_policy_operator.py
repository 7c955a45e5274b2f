"""LambdaEndpointInvokePolicyOperator scopes a Lambda role to invoking one endpoint."""

import json

import pytest

from pawflow.operators.lambda_policy import (
    LambdaEndpointInvokePolicyOperator,
    grants_sagemaker_beyond,
    invoke_policy_document,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dog-breeds"


def run(context, **kwargs):
    return LambdaEndpointInvokePolicyOperator(task_id="invoke_policy", **kwargs).execute(context)


def role_of(client, function_name):
    return client("lambda").get_function_configuration(FunctionName=function_name)["Role"].rsplit("/", 1)[-1]


def test_writes_invoke_on_the_endpoint_arn_only(client, context, endpoint, lambda_function):
    result = run(context, function_name=lambda_function, endpoint_name=endpoint)
    endpoint_arn = client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointArn"]
    statements = result["PolicyDocument"]["Statement"]
    assert statements[0] == {"Sid": "InvokeOneEndpoint", "Effect": "Allow",
                             "Action": "sagemaker:InvokeEndpoint", "Resource": endpoint_arn}
    assert all(r.startswith(f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{lambda_function}")
               for r in statements[1]["Resource"])
    stored = client("iam").get_role_policy(RoleName=result["RoleName"], PolicyName="pawflow-invoke-endpoint")
    assert stored["PolicyDocument"] == result["PolicyDocument"]
    json.dumps(result)


def test_detaches_sagemaker_full_access_and_keeps_basic_execution(client, context, endpoint, lambda_function):
    result = run(context, function_name=lambda_function, endpoint_name=endpoint)
    assert result["DetachedPolicyArns"] == ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]
    attached = client("iam").list_attached_role_policies(RoleName=role_of(client, lambda_function))["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]


def test_deletes_broad_inline_grants_but_keeps_unrelated_ones(client, context, endpoint, lambda_function):
    iam, role = client("iam"), role_of(client, lambda_function)
    broad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]}
    other = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                     "Resource": "arn:aws:s3:::bucket/*"}]}
    iam.put_role_policy(RoleName=role, PolicyName="sagemaker-everything", PolicyDocument=json.dumps(broad))
    iam.put_role_policy(RoleName=role, PolicyName="read-bucket", PolicyDocument=json.dumps(other))
    result = run(context, function_name=lambda_function, endpoint_name=endpoint)
    assert result["DeletedInlinePolicies"] == ["sagemaker-everything"]
    assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == ["pawflow-invoke-endpoint", "read-bucket"]


def test_a_rerun_converges_with_nothing_left_to_remove(client, context, endpoint, lambda_function):
    first = run(context, function_name=lambda_function, endpoint_name=endpoint)
    second = run(context, function_name=lambda_function, endpoint_name=endpoint)
    assert second["PolicyDocument"] == first["PolicyDocument"]
    assert (second["DetachedPolicyArns"], second["DeletedInlinePolicies"]) == ([], [])
    names = client("iam").list_role_policies(RoleName=first["RoleName"])["PolicyNames"]
    assert names == ["pawflow-invoke-endpoint"]


def test_missing_endpoint_fails_clearly(aws, context, lambda_function):
    with pytest.raises(ValueError, match=r"SageMaker endpoint 'no-such-endpoint' does not exist"):
        run(context, function_name=lambda_function, endpoint_name="no-such-endpoint")


def test_missing_function_fails_clearly(aws, context, endpoint):
    with pytest.raises(ValueError, match=r"Lambda function 'no-such-function' does not exist"):
        run(context, function_name="no-such-function", endpoint_name=endpoint)


def test_missing_role_fails_clearly(client, context, endpoint, lambda_function):
    iam, role = client("iam"), role_of(client, lambda_function)
    for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
    iam.delete_role(RoleName=role)
    with pytest.raises(ValueError, match=rf"IAM role '{role}' of Lambda function '{lambda_function}' does not exist"):
        run(context, function_name=lambda_function, endpoint_name=endpoint)


@pytest.mark.parametrize(
    ("statement", "broader"),
    [
        ({"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": ARN}, False),
        ({"Effect": "Allow", "Action": "SageMaker:invokeEndpoint", "Resource": ARN}, False),
        ({"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": ["logs:PutLogEvents", "sagemaker:DescribeEndpoint"], "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, True),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, True),
        ({"Effect": "Allow", "NotAction": ["sagemaker:*", "iam:*"], "Resource": "*"}, False),
        ({"Effect": "Deny", "Action": "sagemaker:*", "Resource": "*"}, False),
        ({"Effect": "Allow", "Action": "logs:*", "Resource": "*"}, False),
    ],
)
def test_grants_sagemaker_beyond_reads_actions_and_resources(statement, broader):
    assert grants_sagemaker_beyond({"Statement": statement}, ARN) is broader


def test_invoke_policy_document_is_itself_not_broader():
    assert not grants_sagemaker_beyond(invoke_policy_document(ARN, "fn"), ARN)
