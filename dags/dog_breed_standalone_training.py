"""dog_breed_standalone_training: the EC2 path, ``training_code/train.py`` as a plain script on the worker.

No SageMaker: the same training code the pipeline ships as ``sourcedir.tar.gz`` runs here as a subprocess,
writes ``model.pth`` (with ``classes.json``, ``model_config.json`` and the serving code) to a local folder and,
when asked, uploads that folder to S3.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

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
        from pawflow.standalone_training import run_training

        return run_training(params)

    @task
    def upload_model(result: dict, params: dict) -> str | None:
        """Copy the model folder to ``s3_model_uri`` when one is given."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from pawflow.standalone_training import upload_model_folder

        if not params["s3_model_uri"]:
            return None
        return upload_model_folder(S3Hook(aws_conn_id=AWS_CONN_ID), result["model_dir"], params["s3_model_uri"])

    upload_model(train())
