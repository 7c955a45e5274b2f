"""EndpointTeardownOperator deletes the billed stack and succeeds on whatever is already gone."""

import pytest

from pawflow.operators.autoscaling import SageMakerEndpointAutoscalingOperator
from pawflow.operators.teardown import EndpointTeardownOperator


def teardown(context, **kwargs):
    return EndpointTeardownOperator(task_id="teardown", waiter_delay=1, waiter_max_attempts=30, **kwargs).execute(context)


def test_deletes_scaling_endpoint_config_and_model(client, context, endpoint, unique):
    SageMakerEndpointAutoscalingOperator(task_id="a", endpoint_name=endpoint).execute(context)
    report = teardown(context, endpoint_name=endpoint)
    assert report["Deleted"] == [
        f"scaling-policy/{endpoint}-AllTraffic-invocations",
        f"scalable-target/endpoint/{endpoint}/variant/AllTraffic",
        f"endpoint/{endpoint}",
        f"endpoint-config/{unique}-serving",
        f"model/{unique}-serving",
    ]
    sagemaker = client("sagemaker")
    assert not [e for e in sagemaker.list_endpoints()["Endpoints"] if e["EndpointName"] == endpoint]
    assert not [m for m in sagemaker.list_models()["Models"] if m["ModelName"] == f"{unique}-serving"]
    targets = client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert not [t for t in targets["ScalableTargets"] if endpoint in t["ResourceId"]]


def test_a_second_teardown_finds_everything_gone(context, endpoint):
    teardown(context, endpoint_name=endpoint)
    report = teardown(context, endpoint_name=endpoint)
    assert report["Deleted"] == []
    assert f"endpoint/{endpoint}" in report["AlreadyGone"]


def test_a_never_deployed_endpoint_is_not_an_error(context):
    report = teardown(context, endpoint_name="never-deployed")
    assert report == {"Deleted": [], "AlreadyGone": ["scalable-target/endpoint/never-deployed/variant/AllTraffic",
                                                     "endpoint/never-deployed"]}


def test_removes_the_lambda_alias_provisioned_concurrency(client, context, endpoint, lambda_function):
    from pawflow.operators.lambda_concurrency import LambdaConcurrencyOperator

    LambdaConcurrencyOperator(task_id="c", function_name=lambda_function, waiter_delay=0.2).execute(context)
    report = teardown(context, endpoint_name=endpoint, function_name=lambda_function)
    assert f"provisioned-concurrency/{lambda_function}:live" in report["Deleted"]
    configs = client("lambda").list_provisioned_concurrency_configs(FunctionName=lambda_function)
    assert configs["ProvisionedConcurrencyConfigs"] == []
    again = teardown(context, endpoint_name=endpoint, function_name=lambda_function)
    assert f"provisioned-concurrency/{lambda_function}:live" in again["AlreadyGone"]
