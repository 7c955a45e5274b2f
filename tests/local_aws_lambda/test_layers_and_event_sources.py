"""Layers are unpacked onto the worker's path; event sources (SNS, CloudWatch Logs subscriptions, DynamoDB and
Kinesis streams, SQS queues) invoke functions through the runtime's workers, without Docker."""

from __future__ import annotations

import json
import sys
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.archives import zip_archive
from tests.aws_clients import REGION
from tests.execution_roles import BASIC_EXECUTION, create_lambda_role

ACCOUNT = "123456789012"  # the runtime's one account

SITE_PACKAGES = f"python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"

USES_LAYERS = """
import greeting
import vendored


def lambda_handler(event, context):
    return {"greeting": greeting.TEXT, "vendored": vendored.NAME}
"""

# Prints what each source hands over, so the tests can read it back from the function's log group.
RECORDS = """
import base64
import gzip
import json


def lambda_handler(event, context):
    if "awslogs" in event:
        data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
        print("logs", json.dumps([e["message"] for e in data["logEvents"]]))
        return
    for record in event["Records"]:
        source = record.get("EventSource") or record.get("eventSource")
        if source == "aws:sns":
            print("sns", record["Sns"]["Message"], record["Sns"]["TopicArn"], record["Sns"]["MessageId"])
        elif source == "aws:kinesis":
            print("kinesis", base64.b64decode(record["kinesis"]["data"]).decode())
        elif source == "aws:sqs":
            print("sqs", record["body"])
        elif source == "aws:dynamodb":
            print("dynamodb", record["eventName"], json.dumps(record["dynamodb"]["Keys"]))
"""


def publish_layer(aws, files: dict[str, str]) -> str:
    name = f"layer-{uuid.uuid4().hex[:8]}"
    return aws("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": zip_archive(files)}, CompatibleRuntimes=["python3.11"],
    )["LayerVersionArn"]


def invoke(aws, name: str) -> dict:
    response = aws("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def test_a_functions_layers_are_importable_from_python_and_site_packages(aws, create_function):
    first = publish_layer(aws, {"python/greeting.py": "TEXT = 'from the first layer'",
                                f"{SITE_PACKAGES}/vendored.py": "NAME = 'vendored'"})
    name = create_function({"lambda_function.py": USES_LAYERS})
    aws("lambda").update_function_configuration(FunctionName=name, Layers=[first])

    assert invoke(aws, name) == {"greeting": "from the first layer", "vendored": "vendored"}


def test_a_later_layer_replaces_an_earlier_layers_files_as_in_opt(aws, create_function):
    first = publish_layer(aws, {"python/greeting.py": "TEXT = 'first'",
                                f"{SITE_PACKAGES}/vendored.py": "NAME = 'kept'"})
    second = publish_layer(aws, {"python/greeting.py": "TEXT = 'second'"})
    name = create_function({"lambda_function.py": USES_LAYERS})

    aws("lambda").update_function_configuration(FunctionName=name, Layers=[first, second])
    assert invoke(aws, name) == {"greeting": "second", "vendored": "kept"}
    aws("lambda").update_function_configuration(FunctionName=name, Layers=[second, first])
    assert invoke(aws, name) == {"greeting": "first", "vendored": "kept"}


def test_the_deployment_package_comes_before_its_layers(aws, create_function):
    layer = publish_layer(aws, {"python/greeting.py": "TEXT = 'layer'", "python/vendored.py": "NAME = 'layer'"})
    name = create_function({"lambda_function.py": USES_LAYERS, "greeting.py": "TEXT = 'package'"})
    aws("lambda").update_function_configuration(FunctionName=name, Layers=[layer])

    assert invoke(aws, name) == {"greeting": "package", "vendored": "layer"}


def test_a_layer_that_is_not_a_zip_is_refused_at_publish(aws):
    with pytest.raises(ClientError) as error:
        aws("lambda").publish_layer_version(LayerName=f"bad-{uuid.uuid4().hex[:6]}",
                                            Content={"ZipFile": b"not a zip archive"})
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert error.value.response["Error"]["Message"].startswith("Could not unzip uploaded file.")


def logged(aws, log_messages, name: str, prefix: str, wait_until) -> list[str]:
    group = f"/aws/lambda/{name}"
    return wait_until(
        lambda: [m for m in log_messages(name) if m.startswith(prefix)]
        if aws("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"] else [],
        lambda found: found)


def function_arn(aws, name: str) -> str:
    return aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def create_reader(aws, source_policy: str) -> str:
    """A function whose role has basic execution and one of AWS's managed event-source policies (which Lambda's
    poller needs for an event source mapping)."""
    role = create_lambda_role(aws("iam"), f"reader-{uuid.uuid4().hex[:8]}",
                              (BASIC_EXECUTION, f"arn:aws:iam::aws:policy/service-role/{source_policy}"))
    name = f"fn-{uuid.uuid4().hex[:10]}"
    aws("lambda").create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                  Handler="lambda_function.lambda_handler",
                                  Code={"ZipFile": zip_archive({"lambda_function.py": RECORDS})})
    return name


def test_an_sns_message_invokes_a_subscribed_function(aws, create_function, log_messages, wait_until):
    name = create_function({"lambda_function.py": RECORDS})
    topic = aws("sns").create_topic(Name=f"topic-{uuid.uuid4().hex[:8]}")["TopicArn"]
    aws("lambda").add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                                 Principal="sns.amazonaws.com", SourceArn=topic)
    aws("sns").subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn(aws, name))

    message_id = aws("sns").publish(TopicArn=topic, Message="a-new-dog-photo")["MessageId"]

    assert logged(aws, log_messages, name, "sns ", wait_until) == [f"sns a-new-dog-photo {topic} {message_id}"]


def test_sns_does_not_invoke_a_function_whose_policy_does_not_let_it(aws, create_function, log_messages,
                                                                      wait_until):
    name = create_function({"lambda_function.py": RECORDS})
    allowed, refused = (aws("sns").create_topic(Name=f"topic-{uuid.uuid4().hex[:8]}")["TopicArn"] for _ in range(2))
    aws("lambda").add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                                 Principal="sns.amazonaws.com", SourceArn=allowed)
    for topic in (refused, allowed):
        aws("sns").subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn(aws, name))

    aws("sns").publish(TopicArn=refused, Message="dropped")  # the publish succeeds; the delivery fails
    aws("sns").publish(TopicArn=allowed, Message="delivered")

    delivered = logged(aws, log_messages, name, "sns ", wait_until)
    assert [line.split()[1] for line in delivered] == ["delivered"]


def test_a_log_subscription_filter_invokes_its_function_with_gzipped_events(aws, create_function, log_messages,
                                                                           wait_until):
    name = create_function({"lambda_function.py": RECORDS})
    logs = aws("logs")
    group = f"/pawflow/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    aws("lambda").add_permission(FunctionName=name, StatementId="logs", Action="lambda:InvokeFunction",
                                 Principal="logs.amazonaws.com", SourceAccount=ACCOUNT,
                                 SourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*")
    logs.put_subscription_filter(logGroupName=group, filterName="errors", filterPattern="ERROR",
                                 destinationArn=function_arn(aws, name))

    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now, "message": "ERROR disk full"}, {"timestamp": now + 1, "message": "all good"}])

    assert logged(aws, log_messages, name, "logs ", wait_until) == ['logs ["ERROR disk full"]']


def test_a_log_subscription_to_a_function_that_does_not_let_logs_invoke_it_is_refused(aws, create_function):
    name = create_function({"lambda_function.py": RECORDS})
    logs = aws("logs")
    group, other = f"/pawflow/{uuid.uuid4().hex[:8]}", f"/pawflow/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    aws("lambda").add_permission(FunctionName=name, StatementId="other-group", Action="lambda:InvokeFunction",
                                 Principal="logs.amazonaws.com",
                                 SourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{other}:*")

    with pytest.raises(ClientError) as error:
        logs.put_subscription_filter(logGroupName=group, filterName="all", filterPattern="",
                                     destinationArn=function_arn(aws, name))

    assert error.value.response["Error"]["Code"] == "InvalidParameterException"
    assert error.value.response["Error"]["Message"] == (
        "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your "
        "function.")
    assert logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"] == []


def test_a_kinesis_stream_mapping_invokes_the_function_with_its_records(aws, log_messages, wait_until):
    name = create_reader(aws, "AWSLambdaKinesisExecutionRole")
    kinesis = aws("kinesis")
    stream = f"stream-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["StreamARN"]
    aws("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=name, StartingPosition="LATEST")

    kinesis.put_record(StreamName=stream, Data=b"sensor reading 42", PartitionKey="p")

    assert logged(aws, log_messages, name, "kinesis ", wait_until) == ["kinesis sensor reading 42"]


def test_a_dynamodb_stream_mapping_invokes_the_function_on_a_put(aws, log_messages, wait_until):
    name = create_reader(aws, "AWSLambdaDynamoDBExecutionRole")
    dynamodb = aws("dynamodb")
    table = f"table-{uuid.uuid4().hex[:8]}"
    stream = dynamodb.create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    aws("lambda").create_event_source_mapping(EventSourceArn=stream, FunctionName=name, StartingPosition="LATEST")

    dynamodb.put_item(TableName=table, Item={"id": {"S": "beagle"}})

    assert logged(aws, log_messages, name, "dynamodb ", wait_until) == [
        'dynamodb INSERT {"id": {"S": "beagle"}}']


def test_an_sqs_queue_mapping_invokes_the_function_with_its_messages(aws, log_messages, wait_until):
    name = create_reader(aws, "AWSLambdaSQSQueueExecutionRole")
    sqs = aws("sqs")
    queue = sqs.create_queue(QueueName=f"queue-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=name)

    sqs.send_message(QueueUrl=queue, MessageBody="resize photo 7")

    assert logged(aws, log_messages, name, "sqs ", wait_until) == ["sqs resize photo 7"]


def test_a_throttled_function_leaves_the_message_in_its_queue_and_the_send_succeeds(aws):
    name = create_reader(aws, "AWSLambdaSQSQueueExecutionRole")
    aws("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    sqs = aws("sqs")
    queue = sqs.create_queue(QueueName=f"queue-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=name)

    sqs.send_message(QueueUrl=queue, MessageBody="kept for later")

    assert [m["Body"] for m in sqs.receive_message(QueueUrl=queue)["Messages"]] == ["kept for later"]


def test_a_stack_whose_function_lambda_refuses_answers_in_cloudformations_own_protocol(aws):
    role = aws("iam").create_role(RoleName=f"not-for-lambda-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "Code": {"ZipFile": "def handler(event, context): return 1"}, "Handler": "index.handler",
        "Role": role, "Runtime": "python3.11"}}}}

    with pytest.raises(ClientError) as error:  # botocore parsed the answer (query XML), not a JSON body
        aws("cloudformation").create_stack(StackName=f"stack-{uuid.uuid4().hex[:6]}",
                                           TemplateBody=json.dumps(template))
    assert error.value.response["Error"] == {
        "Type": "Sender", "Code": "InvalidParameterValueException",
        "Message": "The role defined for the function cannot be assumed by Lambda."}


def test_a_mapping_whose_role_may_not_read_the_queue_or_stream_is_refused_as_lambda_refuses_it(aws, create_function):
    name = create_function({"lambda_function.py": RECORDS})  # basic execution only
    queue = aws("sqs").create_queue(QueueName=f"queue-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stream = f"stream-{uuid.uuid4().hex[:8]}"
    aws("kinesis").create_stream(StreamName=stream, ShardCount=1)
    stream_arn = aws("kinesis").describe_stream(StreamName=stream)["StreamDescription"]["StreamARN"]

    with pytest.raises(ClientError) as refused_queue:
        aws("lambda").create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)
    with pytest.raises(ClientError) as refused_stream:
        aws("lambda").create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=name,
                                                  StartingPosition="LATEST")

    assert refused_queue.value.response["Error"]["Message"] == (
        "The provided execution role does not have permissions to call ReceiveMessage on SQS")
    assert refused_stream.value.response["Error"]["Message"] == (
        f"Cannot access stream {stream_arn}. Please ensure the role can perform the GetRecords, GetShardIterator, "
        "DescribeStream, ListShards, and ListStreams Actions on your stream in IAM.")
    assert aws("lambda").list_event_source_mappings(FunctionName=name)["EventSourceMappings"] == []
