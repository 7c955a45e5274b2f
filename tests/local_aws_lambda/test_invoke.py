"""Invoke runs the handler from the deployment package in a worker process, as the AWS Python runtime does."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

ECHO = """
import json
import os

import boto3

print("initialising")


def lambda_handler(event, context):
    print("handling", json.dumps(event))
    return {
        "event": event,
        "greeting": os.environ["GREETING"],
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "caller": boto3.client("sts").get_caller_identity()["Arn"],
    }
"""

RAISES = """
def lambda_handler(event, context):
    raise ValueError("the event has no url")
"""

SLEEPS = """
import time


def lambda_handler(event, context):
    print("going to sleep")
    time.sleep(30)
"""

VERSIONED = """
def lambda_handler(event, context):
    return {"release": "%s"}
"""

EXITS = """
import os


def lambda_handler(event, context):
    if event.get("exit"):
        os._exit(3)
    return {"alive": True}
"""


def invoke(aws, name: str, event: dict | None = None, **kwargs) -> dict:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    response["Body"] = json.loads(response["Payload"].read())
    return response


def test_the_handler_runs_with_the_event_its_environment_and_the_context(aws, create_function):
    name = create_function({"lambda_function.py": ECHO}, environment={"GREETING": "woof"})

    response = invoke(aws, name, {"url": "s3://bucket/dog.jpg"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["Body"]["event"] == {"url": "s3://bucket/dog.jpg"}
    assert response["Body"]["greeting"] == "woof"
    assert response["Body"]["function_name"] == name


def test_the_function_calls_aws_as_its_execution_role_without_any_configuration(aws, create_function,
                                                                                   execution_role):
    name = create_function({"lambda_function.py": ECHO}, environment={"GREETING": "hi"})

    caller = invoke(aws, name)["Body"]["caller"]

    role_name = execution_role.rsplit("/", 1)[1]
    assert caller == f"arn:aws:sts::123456789012:assumed-role/{role_name}/{name}"


def test_logs_go_to_the_function_log_group_with_start_end_and_report(aws, create_function, log_messages):
    name = create_function({"lambda_function.py": ECHO}, environment={"GREETING": "hi"})

    request_id = invoke(aws, name, {"n": 1})["Body"]["request_id"]

    messages = log_messages(name)
    assert "initialising" in messages
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    assert messages[start + 1] == 'handling {"n": 1}'
    assert messages[start + 2] == f"END RequestId: {request_id}"
    report = messages[start + 3]
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "\tMemory Size: 128 MB\t" in report


def test_log_type_tail_returns_the_end_of_the_invocation_log(aws, create_function):
    name = create_function({"lambda_function.py": ECHO}, environment={"GREETING": "hi"})

    response = invoke(aws, name, {"n": 2}, LogType="Tail")

    tail = base64.b64decode(response["LogResult"]).decode()
    assert 'handling {"n": 2}' in tail
    assert f"END RequestId: {response['Body']['request_id']}" in tail


def test_a_raising_handler_is_an_unhandled_function_error_in_aws_shape(aws, create_function, log_messages):
    name = create_function({"lambda_function.py": RAISES})

    response = invoke(aws, name)

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    body = response["Body"]
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "the event has no url")
    assert 'raise ValueError("the event has no url")' in body["stackTrace"][-1]
    assert any(m.startswith("[ERROR] ValueError: the event has no url") for m in log_messages(name))


def test_a_handler_that_runs_past_its_timeout_is_killed_and_reported(aws, create_function, log_messages):
    name = create_function({"lambda_function.py": SLEEPS}, timeout=1)

    response = invoke(aws, name)

    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Sandbox.Timedout"
    assert response["Body"]["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    messages = log_messages(name)
    assert "going to sleep" in messages
    assert any(m.endswith("Task timed out after 1.00 seconds") and not m.startswith("REPORT") for m in messages)
    assert any(m.startswith("REPORT") and m.endswith("Status: timeout") for m in messages)


def test_a_missing_handler_module_is_a_runtime_import_error(aws, create_function):
    name = create_function({"lambda_function.py": ECHO}, handler="no_such_module.handler")

    response = invoke(aws, name)

    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Runtime.ImportModuleError"
    assert response["Body"]["errorMessage"] == "Unable to import module 'no_such_module': No module named 'no_such_module'"


def test_the_handler_string_may_name_a_module_in_a_package(aws, create_function):
    name = create_function({"app/__init__.py": "", "app/entry.py": VERSIONED % "packaged"}, handler="app/entry.lambda_handler")

    assert invoke(aws, name)["Body"] == {"release": "packaged"}


def test_versions_and_aliases_run_the_code_they_were_published_with(aws, create_function, zip_package):
    name = create_function({"lambda_function.py": VERSIONED % "one"})
    client = aws("lambda")
    first = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=first)
    client.update_function_code(FunctionName=name, ZipFile=zip_package({"lambda_function.py": VERSIONED % "two"}))

    assert invoke(aws, name)["Body"] == {"release": "two"}
    by_alias = invoke(aws, f"{name}:live")
    assert (by_alias["Body"], by_alias["ExecutedVersion"]) == ({"release": "one"}, first)
    by_qualifier = invoke(aws, name, Qualifier=first)
    assert by_qualifier["Body"] == {"release": "one"}


def test_invoking_a_missing_function_is_resource_not_found(aws):
    with pytest.raises(ClientError) as error:
        aws("lambda").invoke(FunctionName="no-such-function", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_function_whose_role_may_not_write_logs_runs_but_leaves_none(aws, zip_package):
    iam, lam = aws("iam"), aws("lambda")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="no-logging-rights", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    lam.create_function(FunctionName="silent", Runtime="python3.11", Role=role, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zip_package({"lambda_function.py": VERSIONED % "quiet"})})

    response = invoke(aws, "silent")

    assert response["Body"] == {"release": "quiet"}
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/silent")["logGroups"]
    assert groups == []


def test_a_payload_that_is_not_json_is_refused_before_the_function_runs(aws, create_function):
    name = create_function({"lambda_function.py": VERSIONED % "never"})

    with pytest.raises(ClientError) as error:
        aws("lambda").invoke(FunctionName=name, Payload=b"not json")

    assert error.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert error.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json: Could not parse payload into json: ")


def test_new_code_gets_a_fresh_environment(aws, create_function, zip_package):
    name = create_function({"lambda_function.py": VERSIONED % "one"})
    client = aws("lambda")
    assert invoke(aws, name)["Body"] == {"release": "one"}

    client.update_function_code(FunctionName=name, ZipFile=zip_package({"lambda_function.py": VERSIONED % "two"}))
    response = invoke(aws, name, LogType="Tail")

    assert response["Body"] == {"release": "two"}
    assert "Init Duration: " in base64.b64decode(response["LogResult"]).decode()


def test_an_alias_with_a_routing_configuration_splits_traffic_between_versions(aws, create_function, zip_package):
    name = create_function({"lambda_function.py": VERSIONED % "one"})
    client = aws("lambda")
    first = client.publish_version(FunctionName=name)["Version"]
    client.update_function_code(FunctionName=name, ZipFile=zip_package({"lambda_function.py": VERSIONED % "two"}))
    second = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="canary", FunctionVersion=first,
                        RoutingConfig={"AdditionalVersionWeights": {second: 0.5}})

    executed = {invoke(aws, name, Qualifier="canary")["ExecutedVersion"] for _ in range(40)}

    assert executed == {first, second}


def test_a_qualified_arn_names_the_version_to_run(aws, create_function):
    name = create_function({"lambda_function.py": VERSIONED % "one"})
    version = aws("lambda").publish_version(FunctionName=name)["Version"]

    response = invoke(aws, f"arn:aws:lambda:us-east-1:123456789012:function:{name}:{version}")

    assert (response["Body"], response["ExecutedVersion"]) == ({"release": "one"}, version)


def test_an_event_invocation_is_accepted_at_once_and_runs_in_the_background(aws, create_function, log_messages,
                                                                              wait_until):
    name = create_function({"lambda_function.py": ECHO}, environment={"GREETING": "later"})

    response = aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": true}')

    assert response["StatusCode"] == 202
    wait_until(lambda: log_messages(name) if aws("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] else [],
        lambda messages: 'handling {"async": true}' in messages)


def test_an_event_invocation_answers_no_payload_and_the_request_id_its_run_logs(aws, create_function, log_messages,
                                                                               wait_until):
    name = create_function({"lambda_function.py": ECHO}, environment={"GREETING": "later"})

    response = aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": 2}')

    request_id = response["ResponseMetadata"]["RequestId"]
    assert (response["StatusCode"], response["Payload"].read()) == (202, b"")
    assert "ExecutedVersion" not in response
    wait_until(lambda: log_messages(name) if aws("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] else [],
        lambda messages: any(message.startswith(f"END RequestId: {request_id}") for message in messages))


def test_an_event_invocation_that_fails_is_run_again_under_the_same_request_id(aws, create_function, log_messages,
                                                                               wait_until):
    name = create_function({"lambda_function.py": "def lambda_handler(event, context):\n    raise ValueError('nope')\n"})
    aws("lambda").put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)

    request_id = aws("lambda").invoke(FunctionName=name, InvocationType="Event",
                                      Payload=b"{}")["ResponseMetadata"]["RequestId"]

    starts = wait_until(lambda: [m for m in log_messages(name) if m.startswith("START")] if aws("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] else [], lambda found: len(found) >= 2, timeout=180)
    assert [start.split()[2] for start in starts] == [request_id, request_id]


def test_a_dry_run_checks_the_call_without_running_the_function(aws, create_function):
    name = create_function({"lambda_function.py": ECHO}, environment={"GREETING": "never"})

    response = aws("lambda").invoke(FunctionName=name, InvocationType="DryRun", Payload=b"{}")

    assert response["StatusCode"] == 204
    assert aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] == []


def test_a_handler_that_exits_the_runtime_is_an_exit_error_and_the_next_call_starts_afresh(aws, create_function):
    name = create_function({"lambda_function.py": EXITS})

    crashed = invoke(aws, name, {"exit": True})
    after = invoke(aws, name, LogType="Tail")

    assert crashed["FunctionError"] == "Unhandled"
    assert crashed["Body"]["errorType"] == "Runtime.ExitError"
    assert crashed["Body"]["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert after["Body"] == {"alive": True}
    assert "Init Duration: " in base64.b64decode(after["LogResult"]).decode()
