"""AWS console links shown on our operators' task instances, in the Amazon provider's link convention."""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class SageMakerEndpointLink(BaseAwsLink):
    """Link to a SageMaker endpoint's console page."""

    name = "Amazon SageMaker Endpoint"
    key = "pawflow_sagemaker_endpoint"
    format_str = BASE_AWS_CONSOLE_LINK + "/sagemaker/home?region={region_name}#/endpoints/{endpoint_name}"


class LambdaFunctionLink(BaseAwsLink):
    """Link to a Lambda function's console page."""

    name = "AWS Lambda Function"
    key = "pawflow_lambda_function"
    format_str = BASE_AWS_CONSOLE_LINK + "/lambda/home?region={region_name}#/functions/{function_name}"


class IamRoleLink(BaseAwsLink):
    """Link to an IAM role's console page (IAM is global; the region only picks the console host)."""

    name = "AWS IAM Role"
    key = "pawflow_iam_role"
    format_str = BASE_AWS_CONSOLE_LINK + "/iam/home?region={region_name}#/roles/details/{role_name}"
