"""SageMaker endpoints the tests stand up on the runtime: a model.tar.gz in a bucket, a model and its endpoint
config (one variant) of the same name, and a wait until an endpoint has left Creating."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.archives import tar_gz

#: The serving image the tests name (the runtime serves the model's own code with it).
INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312"
#: Endpoint states that are still on their way to InService or Failed.
SETTLING = ("Creating", "Updating")


def upload_model(s3: Any, bucket: str, inference: str, key: str = "model.tar.gz") -> str:
    """Create ``bucket`` and put a model.tar.gz serving ``inference`` (as ``code/inference.py``); return its URI."""
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=tar_gz({"code/inference.py": inference}))
    return f"s3://{bucket}/{key}"


def serve_model(sagemaker: Any, name: str, *, role_arn: str, model_data_url: str, variant: str = "AllTraffic",
                instance_count: int = 1, image: str = INFERENCE_IMAGE, program: str | None = "inference.py") -> str:
    """Create a model and an endpoint config (one ``ml.m5.large`` variant), both named ``name``; return ``name``."""
    container = {"Image": image, "ModelDataUrl": model_data_url}
    if program:
        container["Environment"] = {"SAGEMAKER_PROGRAM": program}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=role_arn, PrimaryContainer=container)
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": variant, "ModelName": name, "InitialInstanceCount": instance_count,
        "InstanceType": "ml.m5.large"}])
    return name


def settled_endpoint(sagemaker: Any, name: str, wait_until: Callable[..., Any], timeout: float) -> dict[str, Any]:
    """Wait until the endpoint is neither Creating nor Updating; return its description."""
    return wait_until(lambda: sagemaker.describe_endpoint(EndpointName=name),
                      lambda described: described["EndpointStatus"] not in SETTLING, timeout=timeout)


def in_service_endpoint(sagemaker: Any, name: str, wait_until: Callable[..., Any], timeout: float) -> dict[str, Any]:
    """Wait until the endpoint has settled and assert it is InService (quoting its FailureReason if not)."""
    described = settled_endpoint(sagemaker, name, wait_until, timeout)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return described
