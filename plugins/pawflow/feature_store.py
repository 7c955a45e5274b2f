"""Backbone features in S3 under ``features/<digest>/``: the digest, whether they are there, and publishing them.

The digest names everything the features depend on, as the training code's feature cache does, but is computed
without the backbone and without reading an image, so the pipeline can decide in a second whether an extraction
job must run:

- the data: the S3 listing under the data prefix, each object's key relative to the prefix and its ETag. S3
  derives the ETag from the content (the MD5 for a single-part upload, which is how the dataset sync writes;
  a multipart ETag also changes with the content), so any added, removed, renamed or changed image changes the
  digest, while a re-upload of the same bytes does not. A manifest kept by the sync would miss changes made
  outside it; the listing sees them and costs one request per 1,000 images;
- backbone, pretrained weights, preprocessing and the feature format: the training code that defines them
  (:data:`FEATURE_CODE_FILES`, hashed), so the Airflow side imports no torch and repeats no constant that could
  drift from the code the job runs. A change to those files costs one extraction, never stale features;
- the requested precision (the features themselves record the arithmetic they were computed in).

An extraction job (``train.py --extract-features-only``) writes ``features.json``, the split files and the
backbone's weights to its model dir; :func:`publish_features` copies them out of its ``model.tar.gz`` to the
digest's folder, ``features.json`` last, so a folder with ``features.json`` is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

FEATURES_FOLDER = "features"
MANIFEST = "features.json"
#: The training-code files whose content decides the features (backbone, weights, preprocessing, precision, format).
FEATURE_CODE_FILES = ("classifier.py", "compute_precision.py", "feature_cache.py", "feature_set.py", "image_data.py",
                      "torchvision_compat.py")
#: Hyperparameters that put train.py on its full path (images every epoch): those jobs take no features channel.
FULL_PATH_HYPERPARAMETERS = ("augment", "unfreeze_last_block")
_PUBLISHED_SUFFIXES = (".pt", ".pth", ".json")


def uses_features(hyperparameters: Mapping[str, Any]) -> bool:
    """Whether jobs with these hyperparameters train heads on features (not the full path from images)."""
    return not any(str(hyperparameters.get(name, False)).strip().lower() in ("1", "true", "yes", "on")
                   for name in FULL_PATH_HYPERPARAMETERS)


def dataset_digest(objects: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over ``(key relative to the data prefix, ETag)`` pairs, in key order (listing order is irrelevant)."""
    digest = hashlib.sha256()
    for relative, etag in sorted(objects):
        digest.update(f"{relative}\0{etag.strip(chr(34))}\n".encode())
    return digest.hexdigest()


def code_digest(code_dir) -> str:
    """SHA-256 over the names and contents of :data:`FEATURE_CODE_FILES` in ``code_dir``."""
    digest = hashlib.sha256()
    for name in FEATURE_CODE_FILES:
        path = Path(code_dir) / name
        if not path.is_file():
            raise ValueError(f"{path} is missing: {code_dir} is not pawflow's training code")
        digest.update(f"{name}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def features_digest(*, dataset: str, backbone: str, precision: str, code: str) -> str:
    """The digest the features of ``dataset`` by ``backbone`` in ``precision`` with this ``code`` are stored under."""
    material = {"data": dataset, "backbone": backbone, "precision": precision, "code": code}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


def list_dataset(s3, bucket: str, prefix: str) -> list[tuple[str, str]]:
    """``(key relative to prefix, ETag)`` of every object under ``prefix/``."""
    prefix = prefix.strip("/")
    start = f"{prefix}/" if prefix else ""
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=start):
        objects.extend((item["Key"][len(start):], item["ETag"]) for item in page.get("Contents", []))
    return objects


def features_exist(s3, bucket: str, key_prefix: str) -> bool:
    """Whether ``features.json`` (written last by :func:`publish_features`) is under ``key_prefix``."""
    try:
        s3.head_object(Bucket=bucket, Key=f"{key_prefix}/{MANIFEST}")
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def plan_features(s3, *, bucket: str, data_prefix: str, hyperparameters: Mapping[str, Any], code_dir) -> dict:
    """
    Where the run's features live and whether they must be extracted first.

    :param s3: A boto3 S3 client.
    :param bucket: The bucket holding the data set; features go to ``features/<digest>/`` in it.
    :param data_prefix: The data set's prefix (``train/ valid/ test/`` below it).
    :param hyperparameters: The jobs' static hyperparameters (``backbone``, ``precision``, full-path flags).
    :param code_dir: The training code the jobs run.
    :return: ``{"Needed", "Digest", "FeaturesUri", "Exists", "DatasetDigest", "Objects"}``; ``Needed`` is false
        for the full path, which trains from images (the other values are then None).
    """
    if not uses_features(hyperparameters):
        log.info("Full path (%s): the jobs train from images; no features are extracted",
                 ", ".join(FULL_PATH_HYPERPARAMETERS))
        return {"Needed": False, "Digest": None, "FeaturesUri": None, "Exists": None, "DatasetDigest": None,
                "Objects": None}
    objects = list_dataset(s3, bucket, data_prefix)
    if not objects:
        raise ValueError(f"no objects under s3://{bucket}/{data_prefix.strip('/')}/: nothing to extract features from")
    dataset = dataset_digest(objects)
    digest = features_digest(dataset=dataset, backbone=str(hyperparameters.get("backbone", "efficientnet_lite0")),
                             precision=str(hyperparameters.get("precision", "auto")), code=code_digest(code_dir))
    key_prefix = f"{FEATURES_FOLDER}/{digest}"
    exists = features_exist(s3, bucket, key_prefix)
    log.info("Features of %d objects under s3://%s/%s/: s3://%s/%s/ %s", len(objects), bucket, data_prefix.strip("/"),
             bucket, key_prefix, "exists: no extraction" if exists else "is missing: an extraction job makes it")
    return {"Needed": True, "Digest": digest, "FeaturesUri": f"s3://{bucket}/{key_prefix}/", "Exists": exists,
            "DatasetDigest": dataset, "Objects": len(objects)}


def _split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[len("s3://"):]:
        raise ValueError(f"expected an s3://bucket/key URI, got {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def publish_features(s3, model_artifact_uri: str, features_uri: str) -> dict:
    """
    Copy an extraction job's files out of its ``model.tar.gz`` to ``features_uri``, ``features.json`` last.

    Only plain files at the archive's top level with the extraction's suffixes are copied (no paths, links or
    other members), so an archive cannot write outside the features folder.

    :return: ``{"FeaturesUri", "Files"}``.
    """
    source_bucket, source_key = _split_uri(model_artifact_uri)
    bucket, key_prefix = _split_uri(features_uri)
    key_prefix = key_prefix.strip("/")
    body = s3.get_object(Bucket=source_bucket, Key=source_key)["Body"]
    manifest, files = None, []
    with tarfile.open(fileobj=body, mode="r|gz") as archive:
        for member in archive:
            name = member.name.removeprefix("./")
            if not member.isfile() or "/" in name or not name.endswith(_PUBLISHED_SUFFIXES):
                continue
            content = archive.extractfile(member).read()
            if name == MANIFEST:
                manifest = content
                continue
            s3.put_object(Bucket=bucket, Key=f"{key_prefix}/{name}", Body=content)
            files.append(name)
    if manifest is None:
        raise ValueError(f"{model_artifact_uri} holds no {MANIFEST}: it is not the output of "
                         "train.py --extract-features-only")
    s3.put_object(Bucket=bucket, Key=f"{key_prefix}/{MANIFEST}", Body=manifest, ContentType="application/json")
    files.append(MANIFEST)
    log.info("Published %s from %s to %s", ", ".join(files), model_artifact_uri, features_uri)
    return {"FeaturesUri": features_uri, "Files": files}
