"""The dog classifier the serving benchmarks answer with: trained by ``training_code/train.py`` on generated images."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

from pawflow.sample_data import generate_dog_images

REPO = Path(__file__).resolve().parents[1]


def train_classifier(workdir: Path, image_size: int = 64) -> tuple[Path, bytes]:
    """Train one epoch on 3 generated classes in ``workdir``; the model dir and one test JPEG."""
    data = generate_dog_images(workdir / "dogs", num_classes=3, train_per_class=4, valid_per_class=2,
                               test_per_class=2, image_size=image_size)
    model_dir = workdir / "model"
    subprocess.run([sys.executable, str(REPO / "training_code" / "train.py"), "--data-dir", str(data),
                    "--model-dir", str(model_dir), "--output-data-dir", str(workdir / "output"),
                    "--epochs", "1", "--batch-size", "4", "--num-workers", "0",
                    "--feature-cache-dir", str(workdir / "cache")], check=True, capture_output=True)
    return model_dir, next((data / "test").rglob("*.jpg")).read_bytes()


def model_archive(model_dir: Path) -> bytes:
    """``model_dir`` as the model.tar.gz SageMaker serves (bytecode caches left out)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                tar.add(path, arcname=path.relative_to(model_dir).as_posix())
    return buffer.getvalue()
