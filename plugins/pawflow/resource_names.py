"""SageMaker resource names derived from an Airflow run: unique per run, stable across retries."""

from __future__ import annotations

import hashlib
import re

_DIGITS = re.compile(r"\d")
_NOT_NAME_CHARS = re.compile(r"[^a-zA-Z0-9-]+")

#: Longest name each SageMaker resource accepts (botocore's service model).
MAX_LENGTH = {
    "hyper-parameter-tuning-job": 32,
    "training-job": 63,
    "model": 63,
    "endpoint-config": 63,
    "endpoint": 63,
}


def run_scoped_name(prefix: str, dag_id: str, run_id: str, max_length: int = 63) -> str:
    """
    Return ``<prefix>-<run timestamp>-<hash>``: a valid SageMaker name that a retry of the run reuses.

    The timestamp is the first 14 digits found in the run id (``manual__2026-11-25T12:00:00+00:00`` gives
    ``20261125120000``) so a name reads back to its run; the hash of dag id and run id keeps two runs
    started in the same second apart. The prefix is shortened, never the suffix, to honour ``max_length``.

    :param prefix: What the resource is, e.g. ``dogs-hpo``; letters, digits and hyphens.
    :param dag_id: The DAG the run belongs to.
    :param run_id: The Airflow run id.
    :param max_length: The resource's name limit (see :data:`MAX_LENGTH`).
    """
    digest = hashlib.sha256(f"{dag_id}\n{run_id}".encode()).hexdigest()[:6]
    stamp = "".join(_DIGITS.findall(run_id))[:14]
    suffix = f"-{stamp}-{digest}" if stamp else f"-{digest}"
    clean_prefix = _NOT_NAME_CHARS.sub("-", prefix).strip("-")
    if not clean_prefix:
        raise ValueError(f"prefix must contain letters or digits, got {prefix!r}")
    if max_length < len(suffix) + 1:
        raise ValueError(f"max_length must be at least {len(suffix) + 1}, got {max_length}")
    head = clean_prefix[: max_length - len(suffix)].rstrip("-")
    return f"{head}{suffix}"
