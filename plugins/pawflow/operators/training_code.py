"""Upload the training code as ``sourcedir.tar.gz`` for SageMaker script mode, once per distinct content."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from pawflow.source_archive import archive_key, build_source_archive

if TYPE_CHECKING:
    from airflow.sdk import Context


class TrainingCodeUploadOperator(AwsBaseOperator[S3Hook]):
    """
    Pack a source folder reproducibly and upload it to a content-addressed key, unless it is already there.

    The key is ``<prefix>/<sha256>/sourcedir.tar.gz``: the same code always gets the same URI, changed code a
    new one, so a training job's ``sagemaker_submit_directory`` names exactly the code it ran and a re-run
    uploads nothing.

    :param source_dir: The folder to pack, e.g. ``training_code/``. (templated)
    :param bucket_name: Destination bucket (must exist). (templated)
    :param prefix: Key prefix for the archives. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: the ``s3://`` URI of the archive.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("source_dir", "bucket_name", "prefix")
    ui_color = "#569a31"

    def __init__(self, *, source_dir: str, bucket_name: str, prefix: str = "code", **kwargs):
        super().__init__(**kwargs)
        self.source_dir = source_dir
        self.bucket_name = bucket_name
        self.prefix = prefix

    def execute(self, context: Context) -> str:
        archive = build_source_archive(self.source_dir)
        key = archive_key(self.prefix, archive)
        uri = f"s3://{self.bucket_name}/{key}"
        if self.hook.check_for_key(key, bucket_name=self.bucket_name):
            self.log.info("%s already holds this code; not uploading.", uri)
            return uri
        self.log.info("Uploading %s (%s bytes).", uri, len(archive))
        self.hook.conn.put_object(
            Bucket=self.bucket_name, Key=key, Body=archive, ContentType="application/gzip",
            ContentMD5=base64.b64encode(hashlib.md5(archive, usedforsecurity=False).digest()).decode(),
        )
        return uri
