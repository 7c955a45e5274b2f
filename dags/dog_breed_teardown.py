"""dog_breed_teardown: delete what the pipeline left running and billing, tolerant of what is already gone."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from pawflow.operators.teardown import EndpointTeardownOperator

with DAG(
    dag_id="dog_breed_teardown",
    description="Delete the endpoint, its config, model, autoscaling and the Lambda's provisioned concurrency",
    schedule=None,
    catchup=False,
    tags=["pawflow", "sagemaker", "lambda"],
    doc_md=__doc__,
    params={
        "endpoint_name": Param("dog-breed-classifier", type="string", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"),
        "lambda_function_name": Param("dog-breed-classifier", type=["null", "string"],
                                      description="Function whose provisioned concurrency is removed; empty skips"),
        "lambda_alias": Param("live", type="string", minLength=1),
    },
) as dag:
    EndpointTeardownOperator(
        task_id="tear_down",
        endpoint_name="{{ params.endpoint_name }}",
        function_name="{{ params.lambda_function_name or '' }}",
        alias_name="{{ params.lambda_alias }}",
    )
