"""In-process access to S3 objects for the runtime's jobs and endpoints (no HTTP round trip)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from local_aws import moto_seam


class S3UriError(ValueError):
    """An S3 URI that cannot be used."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> ``("bucket", "key/prefix")``."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3UriError(f"Invalid S3 URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


class S3Objects:
    """Objects of one account's S3, as moto stores them."""

    def __init__(self, account_id: str = moto_seam.ACCOUNT_ID) -> None:
        self.account_id = account_id

    def list(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        try:
            return moto_seam.bucket_objects(self.account_id, bucket, prefix)
        except Exception as error:  # moto raises its own MissingBucket
            raise FileNotFoundError(f"S3 bucket {bucket!r} does not exist") from error

    def read(self, bucket: str, key: str) -> bytes:
        try:
            return moto_seam.read_object(self.account_id, bucket, key)
        except Exception as error:
            raise FileNotFoundError(f"s3://{bucket}/{key} does not exist") from error

    def write(self, bucket: str, key: str, body: bytes) -> None:
        try:
            moto_seam.write_object(self.account_id, bucket, key, body)
        except Exception as error:
            raise FileNotFoundError(f"cannot write s3://{bucket}/{key}: {error}") from error

    def download(self, bucket: str, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.read(bucket, key))

    def read_uri(self, uri: str) -> bytes:
        return self.read(*parse_s3_uri(uri))


def join_key(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def relative_key(key: str, prefix: str) -> str:
    """Where an object under ``prefix`` lands inside a channel directory, as SageMaker places it."""
    if key == prefix:
        return os.path.basename(key)
    if prefix == "" or prefix.endswith("/"):
        return key[len(prefix):]
    if key.startswith(prefix + "/"):
        return key[len(prefix) + 1:]
    return key[prefix.rfind("/") + 1:]
