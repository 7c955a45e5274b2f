"""Which numeric precision and memory layout the backbone runs in: bf16 + channels_last where the CPU has it.

On CPUs with AVX512-BF16 or AMX, bf16 autocast with channels_last tensors runs a frozen convolutional backbone
about three times faster than fp32 (oneDNN kernels); elsewhere bf16 is emulated and slower, so fp32 is used.
On CUDA, bf16 autocast where the GPU supports it.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "fp32")
_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Precision:
    """How to run the backbone: autocast dtype (None for fp32) and whether to use channels_last."""

    name: str
    autocast_dtype: torch.dtype | None
    channels_last: bool

    def autocast(self, device: torch.device):
        """Context manager running the enclosed forward pass in this precision on ``device``."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)

    def prepare_module(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


FP32 = Precision("fp32", None, False)
BF16_CHANNELS_LAST = Precision("bf16+channels_last", torch.bfloat16, True)


def precision_named(name: str) -> Precision:
    """The precision a model recorded (``model_config.json``'s ``precision``), e.g. to serve it the same way."""
    for precision in (FP32, BF16_CHANNELS_LAST):
        if precision.name == name:
            return precision
    raise ValueError(f"unknown precision {name!r}; known: {FP32.name}, {BF16_CHANNELS_LAST.name}")


def cpu_has_native_bf16() -> bool:
    """True when the CPU executes bf16 natively (AVX512-BF16 or AMX), from torch or /proc/cpuinfo."""
    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    if any(check is not None for check in checks):
        return any(check() for check in checks if check is not None)
    try:
        flags = _CPUINFO.read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def choose_precision(requested: str, device: torch.device) -> Precision:
    """Resolve ``auto``/``bf16``/``fp32`` for ``device``; ``auto`` picks bf16 only where it is native."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested == "fp32":
        return FP32
    if requested == "bf16":
        return BF16_CHANNELS_LAST
    if device.type == "cuda":
        return BF16_CHANNELS_LAST if torch.cuda.is_bf16_supported() else FP32
    return BF16_CHANNELS_LAST if cpu_has_native_bf16() else FP32
