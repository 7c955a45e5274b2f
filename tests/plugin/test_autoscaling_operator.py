"""SageMakerEndpointAutoscalingOperator registers the variant and a target-tracking policy, idempotently."""

import json

import pytest

from pawflow.operators.autoscaling import SageMakerEndpointAutoscalingOperator, variant_resource_id

def run(context, **kwargs):
    return SageMakerEndpointAutoscalingOperator(task_id="autoscale", **kwargs).execute(context)


def test_registers_the_write_up_defaults(client, context, endpoint):
    result = run(context, endpoint_name=endpoint)
    target = result["ScalableTarget"]
    assert target["ResourceId"] == f"endpoint/{endpoint}/variant/AllTraffic"
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    config = result["ScalingPolicy"]["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 10.0
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert (config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (30, 30)
    stored = client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[variant_resource_id(endpoint, "AllTraffic")]
    )["ScalableTargets"]
    assert len(stored) == 1


def test_a_rerun_with_new_numbers_converges_on_them(client, context, endpoint):
    run(context, endpoint_name=endpoint)
    result = run(context, endpoint_name=endpoint, min_capacity="2", max_capacity="4", target_value="25")
    assert (result["ScalableTarget"]["MinCapacity"], result["ScalableTarget"]["MaxCapacity"]) == (2, 4)
    policies = client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=variant_resource_id(endpoint, "AllTraffic")
    )["ScalingPolicies"]
    assert len(policies) == 1
    assert policies[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 25.0


def test_result_is_json_serialisable(context, endpoint):
    json.dumps(run(context, endpoint_name=endpoint))


def test_persists_the_endpoint_console_link(context, endpoint):
    run(context, endpoint_name=endpoint)
    link = context["ti"].pushed["pawflow_sagemaker_endpoint"]
    assert link["endpoint_name"] == endpoint
    assert link["region_name"] == "us-east-1"


def test_a_missing_link_target_never_fails_the_task(aws, endpoint):
    assert run({}, endpoint_name=endpoint)["ScalableTarget"]["MaxCapacity"] == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_capacity": 0}, r"min_capacity must be >= 1"),
        ({"min_capacity": 3, "max_capacity": 2}, r"max_capacity must be >= min_capacity \(3\), got 2"),
        ({"target_value": 0}, r"target_value must be a number > 0"),
        ({"target_value": "lots"}, r"target_value must be a number > 0, got 'lots'"),
        ({"scale_in_cooldown": -1}, r"scale_in_cooldown must be between 0 and"),
        ({"max_capacity": 2.5}, r"max_capacity must be an integer, got 2.5"),
    ],
)
def test_rejects_bad_numbers_when_run_before_any_call(kwargs, message):
    operator = SageMakerEndpointAutoscalingOperator(task_id="autoscale", endpoint_name="e", **kwargs)
    with pytest.raises(ValueError, match=message):
        operator.execute({})


def test_a_template_rendering_a_bad_number_fails_when_run_naming_the_range():
    operator = SageMakerEndpointAutoscalingOperator(
        task_id="autoscale", endpoint_name="e", min_capacity="{% if params.idle %}0{% else %}1{% endif %}"
    )
    operator.render_template_fields({"params": {"idle": True}})
    with pytest.raises(ValueError, match=r"min_capacity must be >= 1 \(an endpoint variant cannot scale to zero\), got 0"):
        operator.execute({})


def test_rejects_bad_rendered_numbers_before_any_call(aws, context):
    operator = SageMakerEndpointAutoscalingOperator(
        task_id="autoscale", endpoint_name="missing", min_capacity="{{ params.min }}"
    )
    operator.min_capacity = "0"
    with pytest.raises(ValueError, match="min_capacity must be >= 1"):
        operator.execute(context)


def test_missing_endpoint_fails_clearly(aws, context):
    with pytest.raises(ValueError, match=r"SageMaker endpoint 'no-such-endpoint' does not exist"):
        run(context, endpoint_name="no-such-endpoint")


def test_missing_variant_fails_clearly(aws, context, endpoint):
    with pytest.raises(ValueError, match=r"has no variant 'Blue'; its variants are \['AllTraffic'\]"):
        run(context, endpoint_name=endpoint, variant_name="Blue")


def test_the_endpoint_fixture_is_in_service_and_serves_its_model(client, endpoint):
    assert client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    response = client("sagemaker-runtime").invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                                          Body=b'{"breed": "beagle"}')
    assert json.loads(response["Body"].read()) == {"breed": "beagle"}
