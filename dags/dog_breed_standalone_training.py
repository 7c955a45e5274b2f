"""dog_breed_standalone_training: the EC2 path, ``training_code/train.py`` as a plain script on the worker.

No SageMaker: the same training code the pipeline ships as ``sourcedir.tar.gz`` runs here as a subprocess,
writes ``model.pth`` (with ``classes.json``, ``model_config.json`` and the serving code) to a local folder and,
when asked, uploads that folder to S3.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from pawflow.source_archive import TRAINING_CODE_DIR

AWS_CONN_ID = "aws_default"

with DAG(
    dag_id="dog_breed_standalone_training",
    description="Train the dog-breed classifier with train.py as a plain script on the worker (no SageMaker)",
    schedule=None,
    catchup=False,
    tags=["pawflow", "training"],
    doc_md=__doc__,
    params={
        "data_dir": Param(type="string", minLength=1,
                          description="Local folder with train/ valid/ test/ class folders"),
        "model_dir": Param(type="string", minLength=1,
                           description="Local folder for model.pth, classes.json, model_config.json, code/"),
        "backbone": Param("efficientnet_lite0", enum=["efficientnet_lite0", "resnet50"]),
        "epochs": Param(5, type="integer", minimum=1, maximum=200),
        "learning_rate": Param(0.001, type="number", exclusiveMinimum=0, maximum=1),
        "batch_size": Param(64, type="integer", minimum=1, maximum=4096),
        "extra_args": Param([], type="array", items={"type": "string"},
                            description="More train.py options, e.g. [\"--num-workers\", \"0\"]"),
        "s3_model_uri": Param(None, type=["null", "string"], pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
                              description="Upload the model folder under this s3:// prefix; empty keeps it local"),
        "timeout_minutes": Param(240, type="integer", minimum=1, maximum=10080),
    },
) as dag:

    @task
    def train(params: dict) -> dict:
        """Run train.py as a subprocess, streaming its log; fail with its last lines when it fails or overruns."""
        import json
        import logging
        import os
        import sys
        from pathlib import Path

        from pawflow.bounded_process import run_bounded

        log = logging.getLogger(__name__)
        model_dir = Path(params["model_dir"]).expanduser().resolve()
        output_dir = model_dir / "output"
        command = [
            sys.executable, str(TRAINING_CODE_DIR / "train.py"),
            "--data-dir", str(Path(params["data_dir"]).expanduser().resolve()),
            "--model-dir", str(model_dir), "--output-data-dir", str(output_dir),
            "--backbone", params["backbone"], "--epochs", str(params["epochs"]),
            "--learning-rate", str(params["learning_rate"]), "--batch-size", str(params["batch_size"]),
            *params["extra_args"],
        ]
        env = {**os.environ, "PYTHONPATH": str(TRAINING_CODE_DIR), "PYTHONUNBUFFERED": "1"}
        log.info("Running %s", " ".join(command))
        run_bounded(command, timeout_seconds=params["timeout_minutes"] * 60, name="train.py", env=env,
                    cwd=TRAINING_CODE_DIR)
        metrics_file = output_dir / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        return {"model_dir": str(model_dir), "model_path": str(model_dir / "model.pth"),
                "test": {key: value for key, value in metrics.items() if key.startswith("test")}}

    @task
    def upload_model(result: dict, params: dict) -> str | None:
        """Copy the model folder to ``s3_model_uri`` when one is given."""
        from pathlib import Path

        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        if not params["s3_model_uri"]:
            return None
        bucket, prefix = S3Hook.parse_s3_url(params["s3_model_uri"])
        hook = S3Hook(aws_conn_id=AWS_CONN_ID)
        root = Path(result["model_dir"])
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = "/".join(part for part in (prefix.strip("/"), path.relative_to(root).as_posix()) if part)
            hook.load_file(str(path), key, bucket_name=bucket, replace=True)
        return f"s3://{bucket}/{prefix.strip('/')}/model.pth" if prefix.strip("/") else f"s3://{bucket}/model.pth"

    upload_model(train())
