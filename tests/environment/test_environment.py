"""The installed environment is the one requirements.lock describes: CPU torch, importable torchvision."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_torch_is_the_cpu_build_without_cuda_packages():
    import torch

    assert torch.__version__.startswith("2.13.0")
    assert torch.version.cuda is None
    installed = {dist.metadata["Name"].lower() for dist in importlib.metadata.distributions()}
    assert not {name for name in installed if name.startswith("nvidia-")}


def test_torchvision_imports_through_the_guard_in_a_fresh_interpreter():
    result = subprocess.run(
        [sys.executable, str(REPO / "training_code" / "torchvision_compat.py")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("torchvision 0.28.0")


def test_lock_pins_every_requirement_exactly():
    lines = [line.strip() for line in (REPO / "requirements.lock").read_text().splitlines()]
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert len(requirements) > 100
    assert all("==" in line for line in requirements), [r for r in requirements if "==" not in r]
