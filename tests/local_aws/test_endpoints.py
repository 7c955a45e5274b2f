"""Endpoints load the model in serving workers, answer InvokeEndpoint for real and publish metrics."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from tests.served_endpoints import INFERENCE_IMAGE, settled_endpoint
from tests.timeouts import scaled


@pytest.fixture
def tiny_model(aws, bucket, tar_gz_bytes, scripts_dir, sagemaker_role):
    """Create a model whose artifact holds model.json (these settings) and code/inference.py (the tiny JSON
    handler); returns its name."""
    def create(**settings) -> str:
        name = f"model-{uuid.uuid4().hex[:8]}"
        archive = tar_gz_bytes({
            "model.json": json.dumps({"scale": 2.0, "target": 1.0, **settings}).encode(),
            "code/inference.py": (scripts_dir / "tiny_inference.py").read_bytes(),
        })
        aws("s3").put_object(Bucket=bucket, Key=f"models/{name}/model.tar.gz", Body=archive)
        aws("sagemaker").create_model(
            ModelName=name, ExecutionRoleArn=sagemaker_role,
            PrimaryContainer={"Image": INFERENCE_IMAGE,
                              "ModelDataUrl": f"s3://{bucket}/models/{name}/model.tar.gz",
                              "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
        return name
    return create


@pytest.fixture
def model_name(tiny_model) -> str:
    """A model of the tiny JSON handler that loads at once."""
    return tiny_model()


@pytest.fixture
def endpoint_config(aws):
    def create(model: str, instances: int = 1) -> str:
        name = f"config-{uuid.uuid4().hex[:8]}"
        aws("sagemaker").create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": instances,
            "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])
        return name
    return create


@pytest.fixture
def endpoint(aws, model_name, endpoint_config, wait_until):
    """A deployed endpoint (InService), deleted afterwards."""
    sagemaker = aws("sagemaker")
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=endpoint_config(model_name))
    yield name
    try:
        sagemaker.delete_endpoint(EndpointName=name)
    except ClientError:
        pass


@pytest.fixture
def in_service(aws, wait_until):
    """Wait until the endpoint of this name has settled (left Creating or Updating); return its description."""
    return lambda name: settled_endpoint(aws("sagemaker"), name, wait_until, timeout=scaled(40))


def invoke(aws, name: str, body: bytes, content_type: str = "application/json") -> dict:
    return aws("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=body, ContentType=content_type)


@pytest.fixture
def slow_endpoint(aws, tiny_model, endpoint_config):
    """An endpoint whose model takes 3 s to load (so it is seen Creating), deleted afterwards."""
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_endpoint(EndpointName=name, EndpointConfigName=endpoint_config(tiny_model(load_seconds=3)))
    yield name
    aws("sagemaker").delete_endpoint(EndpointName=name)


def test_endpoint_is_creating_until_the_model_has_loaded_then_answers(aws, slow_endpoint, in_service):
    endpoint = slow_endpoint
    assert aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating"

    described = in_service(endpoint)
    response = invoke(aws, endpoint, b"[1, 2.5]")

    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert json.loads(response["Body"].read())["predictions"] == [3.0, 6.0]


def test_a_handler_error_is_a_model_error_with_its_status_and_message(aws, endpoint, in_service):
    in_service(endpoint)

    with pytest.raises(ClientError) as error:
        invoke(aws, endpoint, b"not json at all")

    response = error.value.response
    assert response["Error"]["Code"] == "ModelError", response["Error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 400
    assert response["OriginalMessage"].startswith("Body is not JSON:")
    assert response["Error"]["Message"].startswith('Received client error (400) from primary with message "Body is not JSON:')
    assert response["LogStreamArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/{endpoint}"


def test_an_unsupported_content_type_keeps_the_handlers_415(aws, endpoint, in_service):
    in_service(endpoint)

    with pytest.raises(ClientError) as error:
        invoke(aws, endpoint, b"1,2", content_type="text/csv")

    assert error.value.response["OriginalStatusCode"] == 415
    assert error.value.response["OriginalMessage"] == "Unsupported content type text/csv"


def test_invoking_a_missing_endpoint_is_a_validation_error(aws):
    with pytest.raises(ClientError) as error:
        invoke(aws, "no-such-endpoint", b"[1]")

    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["Error"]["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."


def test_creating_an_existing_endpoint_is_the_validation_exception_the_provider_catches(aws, endpoint, model_name, endpoint_config):
    with pytest.raises(ClientError) as error:
        aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint_config(model_name))

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        f'Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}".')


def test_a_model_that_cannot_load_fails_the_endpoint_with_the_reason(aws, bucket, tar_gz_bytes, endpoint_config, in_service,
                                                                   sagemaker_role):
    sagemaker = aws("sagemaker")
    aws("s3").put_object(Bucket=bucket, Key="models/broken/model.tar.gz", Body=tar_gz_bytes({
        "code/inference.py": b"def model_fn(model_dir):\n    raise FileNotFoundError('model.pth is missing')\n"}))
    sagemaker.create_model(ModelName=f"broken-{bucket}", ExecutionRoleArn=sagemaker_role,
                           PrimaryContainer={"Image": "x", "ModelDataUrl": f"s3://{bucket}/models/broken/model.tar.gz"})
    name = f"broken-{uuid.uuid4().hex[:8]}"
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=endpoint_config(f"broken-{bucket}"))

    described = in_service(name)

    assert described["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in described["FailureReason"]
    assert "FileNotFoundError: model.pth is missing" in described["FailureReason"]


def test_updating_a_failed_endpoint_is_refused_as_sagemaker_refuses_it(aws, bucket, tar_gz_bytes, endpoint_config,
                                                                      in_service, sagemaker_role, model_name):
    sagemaker = aws("sagemaker")
    aws("s3").put_object(Bucket=bucket, Key="models/unloadable/model.tar.gz", Body=tar_gz_bytes({
        "code/inference.py": b"def model_fn(model_dir):\n    raise RuntimeError('no weights')\n"}))
    sagemaker.create_model(ModelName=f"unloadable-{bucket}", ExecutionRoleArn=sagemaker_role,
                           PrimaryContainer={"Image": "x", "ModelDataUrl": f"s3://{bucket}/models/unloadable/model.tar.gz"})
    name = f"failed-{uuid.uuid4().hex[:8]}"
    arn = sagemaker.create_endpoint(EndpointName=name,
                                    EndpointConfigName=endpoint_config(f"unloadable-{bucket}"))["EndpointArn"]
    assert in_service(name)["EndpointStatus"] == "Failed"

    with pytest.raises(ClientError) as refused:
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=endpoint_config(model_name))

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == f'Cannot update failed endpoint "{arn}".'


def test_more_instances_mean_more_serving_workers(aws, endpoint, in_service, wait_until):
    in_service(endpoint)
    aws("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=endpoint, DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}])

    described = in_service(endpoint)
    pids = {json.loads(invoke(aws, endpoint, b"[1]")["Body"].read())["pid"] for _ in range(6)}

    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert len(pids) == 2


def test_update_endpoint_swaps_to_the_new_config(aws, endpoint, in_service, model_name, endpoint_config):
    sagemaker = aws("sagemaker")
    in_service(endpoint)
    new_config = endpoint_config(model_name, instances=1)

    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config)
    during = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
    answered_while_updating = json.loads(invoke(aws, endpoint, b"[0]")["Body"].read())["predictions"]
    described = in_service(endpoint)

    assert during == "Updating"
    assert answered_while_updating == [1.0]
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == new_config


def test_deleted_endpoint_stops_answering(aws, endpoint, in_service, server, wait_until):
    in_service(endpoint)
    workers_before = len(server.runtime.supervisor.live_pids())

    aws("sagemaker").delete_endpoint(EndpointName=endpoint)

    with pytest.raises(ClientError) as error:
        invoke(aws, endpoint, b"[1]")
    assert error.value.response["Error"]["Code"] == "ValidationError"
    wait_until(lambda: len(server.runtime.supervisor.live_pids()), lambda n: n == workers_before - 1)


def test_invocations_publish_variant_metrics(aws, endpoint, in_service):
    in_service(endpoint)
    for _ in range(3):
        invoke(aws, endpoint, b"[1]")
    with pytest.raises(ClientError):
        invoke(aws, endpoint, b"garbage")

    cloudwatch = aws("cloudwatch")
    now = datetime.now(timezone.utc)

    def total(metric: str, statistic: str = "Sum") -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName=metric, StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5), Period=600, Statistics=[statistic],
            Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
        )["Datapoints"]
        return sum(p[statistic] for p in points)

    assert total("Invocations") == 4
    assert total("InvocationsPerInstance") == 4
    assert total("Invocation4XXErrors") == 1
    assert total("Invocation5XXErrors") == 0
    assert total("ModelLatency", "Maximum") > 0
    assert total("OverheadLatency", "SampleCount") == 4


def test_an_update_whose_model_cannot_load_keeps_the_old_config_serving(aws, endpoint, in_service, bucket, sagemaker_role,
                                                                       tar_gz_bytes, endpoint_config):
    sagemaker = aws("sagemaker")
    first = in_service(endpoint)
    aws("s3").put_object(Bucket=bucket, Key="models/bad/model.tar.gz", Body=tar_gz_bytes({
        "code/inference.py": b"def model_fn(model_dir):\n    raise RuntimeError('weights are corrupt')\n"}))
    sagemaker.create_model(ModelName=f"bad-{bucket}", ExecutionRoleArn=sagemaker_role,
                           PrimaryContainer={"Image": "x", "ModelDataUrl": f"s3://{bucket}/models/bad/model.tar.gz"})

    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint_config(f"bad-{bucket}"))
    described = in_service(endpoint)

    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == first["EndpointConfigName"]
    assert "RuntimeError: weights are corrupt" in described["FailureReason"]
    assert json.loads(invoke(aws, endpoint, b"[0]")["Body"].read())["predictions"] == [1.0]
