"""PyTorch container image URIs for SageMaker training and serving, from the SageMaker SDK's image table.

``sagemaker.core`` takes about 1.5 s to import, so it is imported inside :func:`pytorch_image_uri`, which
tasks call at run time; never at DAG parse time. The table is offline: no AWS call is made.
"""

from __future__ import annotations

#: Newest PyTorch the SDK's image table offers per scope (training images go further than inference ones).
TRAINING_FRAMEWORK_VERSION = "2.8"
INFERENCE_FRAMEWORK_VERSION = "2.6"
PY_VERSION = "py312"
SCOPES = ("training", "inference")


def pytorch_image_uri(
    *,
    region: str,
    instance_type: str,
    image_scope: str,
    framework_version: str | None = None,
    py_version: str = PY_VERSION,
    override: str | None = None,
) -> str:
    """
    Return the SageMaker PyTorch image for a region, instance type and scope, or ``override`` when given.

    :param region: e.g. ``us-east-1``.
    :param instance_type: e.g. ``ml.m5.xlarge``; decides the cpu or gpu image.
    :param image_scope: ``training`` or ``inference``.
    :param framework_version: PyTorch version; defaults to the newest the scope offers.
    :param py_version: Python tag of the image, e.g. ``py312``.
    :param override: An explicit image URI (a private ECR copy, say); returned unchanged.
    """
    if override:
        return override
    if image_scope not in SCOPES:
        raise ValueError(f"image_scope must be one of {SCOPES}, got {image_scope!r}")
    if framework_version is None:
        framework_version = TRAINING_FRAMEWORK_VERSION if image_scope == "training" else INFERENCE_FRAMEWORK_VERSION
    from sagemaker.core import image_uris

    return image_uris.retrieve(
        framework="pytorch",
        region=region,
        version=framework_version,
        py_version=py_version,
        instance_type=instance_type,
        image_scope=image_scope,
    )
