"""The EC2 path: ``training_code/train.py`` run as a plain script on the worker, and its model folder copied to S3.

Used by the ``dog_breed_standalone_training`` DAG; no SageMaker is involved.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pawflow.bounded_process import run_bounded
from pawflow.source_archive import TRAINING_CODE_DIR

log = logging.getLogger(__name__)


def train_command(params: Mapping[str, Any], model_dir: Path) -> list[str]:
    """The ``train.py`` command line for the DAG's Params, writing the model to ``model_dir``."""
    return [
        sys.executable, str(TRAINING_CODE_DIR / "train.py"),
        "--data-dir", str(Path(params["data_dir"]).expanduser().resolve()),
        "--model-dir", str(model_dir), "--output-data-dir", str(model_dir / "output"),
        "--backbone", params["backbone"], "--epochs", str(params["epochs"]),
        "--learning-rate", str(params["learning_rate"]), "--batch-size", str(params["batch_size"]),
        *params["extra_args"],
    ]


def run_training(params: Mapping[str, Any]) -> dict[str, Any]:
    """
    Run ``train.py`` bounded by ``timeout_minutes``; return ``{"model_dir", "model_path", "test"}``.

    ``test`` holds the ``test*`` metrics of the script's ``metrics.json``. Failures and overruns raise
    (see :func:`pawflow.bounded_process.run_bounded`) with the script's last lines.
    """
    model_dir = Path(params["model_dir"]).expanduser().resolve()
    command = train_command(params, model_dir)
    env = {**os.environ, "PYTHONPATH": str(TRAINING_CODE_DIR), "PYTHONUNBUFFERED": "1"}
    log.info("Running %s", " ".join(command))
    run_bounded(command, timeout_seconds=params["timeout_minutes"] * 60, name="train.py", env=env,
                cwd=TRAINING_CODE_DIR)
    metrics_file = model_dir / "output" / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return {"model_dir": str(model_dir), "model_path": str(model_dir / "model.pth"),
            "test": {key: value for key, value in metrics.items() if key.startswith("test")}}


def upload_model_folder(s3_hook: Any, model_dir: str | Path, s3_uri: str) -> str:
    """
    Copy every file under ``model_dir`` to the ``s3_uri`` prefix (replacing what is there); return model.pth's URI.

    :param s3_hook: An ``S3Hook``.
    :param model_dir: The folder ``train.py`` wrote.
    :param s3_uri: ``s3://bucket`` or ``s3://bucket/prefix``.
    """
    bucket, prefix = s3_hook.parse_s3_url(s3_uri)
    prefix = prefix.strip("/")
    root = Path(model_dir)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = "/".join(part for part in (prefix, path.relative_to(root).as_posix()) if part)
        s3_hook.load_file(str(path), key, bucket_name=bucket, replace=True)
    return f"s3://{bucket}/{prefix}/model.pth" if prefix else f"s3://{bucket}/model.pth"
