"""Shared pieces of the training tests: a generated data set and a way to run train.py as SageMaker or a user would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pawflow.sample_data import generate_dog_images

REPO = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = REPO / "training_code" / "train.py"
NUM_CLASSES = 5


@pytest.fixture(scope="session")
def dog_images(tmp_path_factory):
    """5 classes x (12 train, 4 valid, 4 test) generated JPEGs in the dogImages layout."""
    return generate_dog_images(tmp_path_factory.mktemp("data") / "dogImages", num_classes=NUM_CLASSES,
                               train_per_class=12, valid_per_class=4, test_per_class=4, seed=0)


def _training_env(**extra):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SM_", "PAWFLOW_", "MASTER_"))}
    env.update({"PYTHONPATH": str(REPO / "training_code"), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def _run_train(args, env=None, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), *map(str, args)], env=env or _training_env(), cwd=cwd or REPO,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.fixture(scope="session")
def training_env():
    """``training_env(**extra)``: a subprocess environment without outside SM_*/MASTER_* values, one thread."""
    return _training_env


@pytest.fixture(scope="session")
def run_train():
    """``run_train(args, env=None)``: run ``python training_code/train.py ARGS``; returns the CompletedProcess."""
    return _run_train


@pytest.fixture(scope="session")
def repo():
    return REPO
