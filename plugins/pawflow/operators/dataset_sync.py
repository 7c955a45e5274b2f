"""Copy an image data set into S3 from a local folder, a zip URL or another S3 prefix, skipping what is there."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from airflow.sdk import Context

#: The folders the training script reads (the dogImages layout).
SPLITS = ("train", "valid", "test")
DOWNLOAD_CHUNK = 1 << 20


def source_kind(source: str) -> str:
    """Return ``s3``, ``url`` or ``local`` for a data source string."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError("source must be a local folder, a .zip file or URL, or an s3:// prefix; got an empty value")
    if source.startswith("s3://"):
        return "s3"
    if source.startswith(("http://", "https://")):
        return "url"
    return "local"


def find_split_root(folder: Path) -> Path:
    """Return the folder holding ``train/ valid/ test/``: ``folder`` itself or its single such subfolder."""
    candidates = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    for candidate in candidates:
        if all((candidate / split).is_dir() for split in SPLITS):
            return candidate
    raise ValueError(
        f"no {'/ '.join(SPLITS)}/ folders found in {str(folder)!r} or its subfolders: "
        "the data set must use the dogImages layout (train/ valid/ test/, one folder per class)"
    )


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a zip refusing entries that would land outside ``destination``."""
    root = destination.resolve()
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            name = PurePosixPath(member.filename)
            if name.parts and name.parts[0] == "__MACOSX":
                continue
            target = (destination / member.filename).resolve()
            if not target.is_relative_to(root):
                raise ValueError(f"zip entry {member.filename!r} would extract outside the target folder")
            bundle.extract(member, destination)


def _local_files(root: Path) -> Iterator[tuple[str, Path]]:
    for split in SPLITS:
        for path in sorted((root / split).rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(root).as_posix(), path


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(DOWNLOAD_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DatasetSyncOperator(AwsBaseOperator[S3Hook]):
    """
    Create a bucket if needed and copy a ``train/ valid/ test/`` image data set under a prefix in it.

    The source is a local folder (or ``.zip`` file), an ``http(s)`` URL of a zip such as the course's
    ``dogImages.zip``, or an ``s3://`` prefix. An object whose size and MD5 (its ETag, for single-part
    uploads) already match is skipped, so a re-run uploads nothing unless images changed. Objects under the
    prefix that the source no longer has are left in place.

    :param source: Where the images are. (templated)
    :param bucket_name: Destination bucket; created when missing. (templated)
    :param prefix: Destination prefix, e.g. ``dogImages``. (templated)
    :param max_workers: Parallel uploads.
    :param download_timeout: Seconds without data before a zip download is abandoned.
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``{"DataUri", "Bucket", "Prefix", "Uploaded", "Unchanged", "Objects"}``.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("source", "bucket_name", "prefix")
    ui_color = "#569a31"

    def __init__(
        self,
        *,
        source: str,
        bucket_name: str,
        prefix: str = "dogImages",
        max_workers: int = 8,
        download_timeout: int = 60,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source = source
        self.bucket_name = bucket_name
        self.prefix = prefix
        self.max_workers = max_workers
        self.download_timeout = download_timeout

    @property
    def _prefix(self) -> str:
        return self.prefix.strip("/")

    def _key(self, relative: str) -> str:
        return f"{self._prefix}/{relative}" if self._prefix else relative

    def _ensure_bucket(self) -> None:
        if self.hook.check_for_bucket(self.bucket_name):
            self.log.info("Bucket %s exists.", self.bucket_name)
            return
        self.log.info("Creating bucket %s.", self.bucket_name)
        try:
            self.hook.create_bucket(bucket_name=self.bucket_name, region_name=self.hook.conn_region_name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise

    def _existing(self, bucket: str, prefix: str) -> dict[str, tuple[int, str]]:
        paginator = self.hook.conn.get_paginator("list_objects_v2")
        listing = {}
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
            for item in page.get("Contents", []):
                listing[item["Key"]] = (item["Size"], item["ETag"].strip('"'))
        return listing

    def _upload_local(self, root: Path) -> tuple[int, int]:
        existing = self._existing(self.bucket_name, self._prefix)
        pending = []
        unchanged = 0
        for relative, path in _local_files(root):
            key = self._key(relative)
            size = path.stat().st_size
            known = existing.get(key)
            if known and known[0] == size and known[1] == _md5(path):
                unchanged += 1
            else:
                pending.append((key, path))
        conn = self.hook.conn

        def upload(item: tuple[str, Path]) -> None:
            key, path = item
            body = path.read_bytes()
            conn.put_object(
                Bucket=self.bucket_name, Key=key, Body=body,
                ContentMD5=base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode(),
                ContentType=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            )

        with ThreadPoolExecutor(max_workers=max(1, self.max_workers)) as pool:
            list(pool.map(upload, pending))
        return len(pending), unchanged

    def _copy_s3(self) -> tuple[int, int]:
        source_bucket, source_prefix = S3Hook.parse_s3_url(self.source)
        source_prefix = source_prefix.strip("/")
        if (source_bucket, source_prefix) == (self.bucket_name, self._prefix):
            count = len(self._existing(source_bucket, source_prefix))
            self.log.info("Source and destination are the same prefix; %s objects already in place.", count)
            return 0, count
        source = self._existing(source_bucket, source_prefix)
        strip = len(source_prefix) + 1 if source_prefix else 0
        relative = {key[strip:]: value for key, value in source.items()}
        missing = [s for s in SPLITS if not any(r.startswith(f"{s}/") for r in relative)]
        if missing:
            raise ValueError(f"{self.source} has no objects under {', '.join(f'{m}/' for m in missing)}; "
                             "the data set must use the dogImages layout (train/ valid/ test/)")
        existing = self._existing(self.bucket_name, self._prefix)
        pending = [r for r, value in relative.items() if existing.get(self._key(r)) != value]
        conn = self.hook.conn

        def copy(rel: str) -> None:
            conn.copy_object(Bucket=self.bucket_name, Key=self._key(rel),
                             CopySource={"Bucket": source_bucket, "Key": f"{source_prefix}/{rel}" if source_prefix else rel})

        with ThreadPoolExecutor(max_workers=max(1, self.max_workers)) as pool:
            list(pool.map(copy, pending))
        return len(pending), len(relative) - len(pending)

    def _download(self, url: str, destination: Path) -> None:
        self.log.info("Downloading %s.", url)
        try:
            with urllib.request.urlopen(url, timeout=self.download_timeout) as response, destination.open("wb") as out:
                shutil.copyfileobj(response, out, DOWNLOAD_CHUNK)
        except OSError as error:
            raise ValueError(f"could not download the data set from {url}: {error}") from error
        if not zipfile.is_zipfile(destination):
            raise ValueError(f"{url} did not return a zip archive")

    def execute(self, context: Context) -> dict[str, Any]:
        kind = source_kind(self.source)
        self._ensure_bucket()
        if kind == "s3":
            uploaded, unchanged = self._copy_s3()
        else:
            with tempfile.TemporaryDirectory(prefix="pawflow-data-") as scratch:
                local = Path(self.source).expanduser()
                if kind == "url":
                    archive = Path(scratch) / "data.zip"
                    self._download(self.source, archive)
                elif local.is_file() and zipfile.is_zipfile(local):
                    archive = local
                elif local.is_dir():
                    archive = None
                else:
                    raise ValueError(f"source {self.source!r} is neither a folder, a zip file, a URL nor an s3:// prefix")
                if archive is not None:
                    local = Path(scratch) / "extracted"
                    safe_extract(archive, local)
                uploaded, unchanged = self._upload_local(find_split_root(local))
        self.log.info("Synced s3://%s/%s/: %s uploaded, %s unchanged.", self.bucket_name, self._prefix, uploaded, unchanged)
        return {
            "DataUri": f"s3://{self.bucket_name}/{self._prefix}/" if self._prefix else f"s3://{self.bucket_name}/",
            "Bucket": self.bucket_name,
            "Prefix": self._prefix,
            "Uploaded": uploaded,
            "Unchanged": unchanged,
            "Objects": uploaded + unchanged,
        }
