"""The EC2 path: train.py's command line from the DAG's Params, its failure quoted, its model folder copied to S3."""

import sys

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from pawflow.source_archive import TRAINING_CODE_DIR
from pawflow.standalone_training import run_training, train_command, upload_model_folder

PARAMS = {"backbone": "efficientnet_lite0", "epochs": 1, "learning_rate": 0.01, "batch_size": 4,
          "extra_args": ["--num-workers", "0"], "timeout_minutes": 5}


def test_the_command_runs_train_py_with_the_params_and_extra_args(tmp_path):
    command = train_command({**PARAMS, "data_dir": str(tmp_path / "data")}, tmp_path / "model")
    assert command[:2] == [sys.executable, str(TRAINING_CODE_DIR / "train.py")]
    options = dict(zip(command[2::2], command[3::2]))
    assert options == {"--data-dir": str(tmp_path / "data"), "--model-dir": str(tmp_path / "model"),
                       "--output-data-dir": str(tmp_path / "model" / "output"), "--backbone": "efficientnet_lite0",
                       "--epochs": "1", "--learning-rate": "0.01", "--batch-size": "4", "--num-workers": "0"}


def test_a_failing_train_py_raises_with_its_exit_status(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeError, match=r"^train.py exited with [1-9]"):
        run_training({**PARAMS, "data_dir": str(tmp_path / "empty"), "model_dir": str(tmp_path / "model")})


def test_the_model_folder_is_copied_under_the_prefix(client, aws, unique, tmp_path):
    (tmp_path / "code").mkdir()
    for name in ("model.pth", "classes.json", "code/inference.py"):
        (tmp_path / name).write_text(name)
    client("s3").create_bucket(Bucket=unique)
    uri = upload_model_folder(S3Hook(aws_conn_id="aws_default"), tmp_path, f"s3://{unique}/models/run1/")
    assert uri == f"s3://{unique}/models/run1/model.pth"
    keys = {o["Key"] for o in client("s3").list_objects_v2(Bucket=unique)["Contents"]}
    assert keys == {"models/run1/model.pth", "models/run1/classes.json", "models/run1/code/inference.py"}


def test_a_bucket_without_prefix_takes_the_folder_at_its_root(client, aws, unique, tmp_path):
    (tmp_path / "model.pth").write_text("weights")
    client("s3").create_bucket(Bucket=unique)
    assert upload_model_folder(S3Hook(aws_conn_id="aws_default"), tmp_path, f"s3://{unique}") == f"s3://{unique}/model.pth"
    assert [o["Key"] for o in client("s3").list_objects_v2(Bucket=unique)["Contents"]] == ["model.pth"]
