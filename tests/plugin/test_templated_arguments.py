"""pawflow's operators take an XComArg or a Jinja statement for any validated argument when the DAG is parsed,
and store it unchanged: values are converted and checked when the task runs (as the provider's operators do)."""

import pytest
from airflow.sdk import DAG, XComArg, task

from pawflow.operators.autoscaling import SageMakerEndpointAutoscalingOperator
from pawflow.operators.iam_audit import IamAuditOperator
from pawflow.operators.lambda_concurrency import LambdaConcurrencyOperator

#: (operator, its other required arguments, a templated argument it validates when run)
TEMPLATED_ARGUMENTS = [
    *((SageMakerEndpointAutoscalingOperator, {"endpoint_name": "e"}, field)
      for field in ("min_capacity", "max_capacity", "target_value", "scale_in_cooldown", "scale_out_cooldown")),
    *((LambdaConcurrencyOperator, {"function_name": "f"}, field)
      for field in ("reserved_concurrency", "provisioned_concurrency")),
    *((IamAuditOperator, {}, field) for field in ("unused_days", "fail_on_severity")),
]
IDS = [f"{operator.__name__}.{field}" for operator, _, field in TEMPLATED_ARGUMENTS]


@task
def value_from_upstream() -> int:
    return 2


@pytest.mark.parametrize(("operator_class", "required", "field"), TEMPLATED_ARGUMENTS, ids=IDS)
def test_an_xcomarg_is_accepted_when_the_dag_is_parsed(operator_class, required, field):
    with DAG("templated_xcom", schedule=None):
        operator = operator_class(task_id="templated", **required, **{field: value_from_upstream()})
    assert isinstance(getattr(operator, field), XComArg)


@pytest.mark.parametrize(("operator_class", "required", "field"), TEMPLATED_ARGUMENTS, ids=IDS)
def test_a_jinja_statement_is_stored_unchanged_when_the_dag_is_parsed(operator_class, required, field):
    template = "{% if params.big %}9{% else %}1{% endif %}"
    operator = operator_class(task_id="templated", **required, **{field: template})
    assert getattr(operator, field) == template
