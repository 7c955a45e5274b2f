"""Which numeric precision and execution path the frozen backbone runs in, and how ``auto`` chooses one.

- ``bf16``: bf16 autocast with channels_last tensors. On CPUs with AVX512-BF16 or AMX it runs a frozen
  convolutional backbone about three times faster than fp32 (oneDNN kernels); elsewhere bf16 is emulated and slower.
- ``compiled``: fp32 and channels_last, the frozen backbone compiled by TorchInductor with its weights folded in as
  constants (``torch.compile`` with ``freezing``). The arithmetic stays fp32 (features agree with eager fp32 to
  about 1e-6 relative); measured 2.7x faster than fp32 eager for EfficientNet-Lite0 feature extraction on 2 cores,
  after a one-off compilation of about a minute. Only inference (feature extraction) is compiled; a backbone being
  trained (``--unfreeze-last-block``) runs in eager fp32 + channels_last.
- ``fp32``: eager fp32 with channels_last tensors (same numbers as contiguous tensors, faster oneDNN kernels).
- ``auto``: on a CPU ``compiled`` when there are enough images to repay the compilation
  (``COMPILE_BREAK_EVEN_IMAGES``), else ``fp32``; never bf16, even where the CPU runs it natively: measured with
  ``make bench`` on a CPU with AMX, bf16 EfficientNet-Lite0 agreed with fp32 on only 92.5% of ImageNet top-1
  answers (generated images), under the 99% a faithful path must reach. On a GPU, bf16 where supported.

int8 (FX graph mode with the x86 backend) was measured and not adopted: for EfficientNet-Lite0 it ran slower than
fp32 eager (its depthwise convolutions) and its features drifted (cosine 0.95 to fp32); for ResNet50 it ran faster,
but with no ResNet50 ImageNet weights on this machine its faithfulness cannot be checked
(``benchmarks/backbone_precision.py`` measures both).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "compiled", "fp32")
# Compiling costs about a minute on 2 cores; at ~16 vs ~43 images/s it is repaid after about 1,500 images.
COMPILE_BREAK_EVEN_IMAGES = 1500
_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Precision:
    """How to run the backbone: autocast dtype (None for fp32), channels_last, compiled for inference or not."""

    name: str
    autocast_dtype: torch.dtype | None
    channels_last: bool
    compiled: bool = False

    def autocast(self, device: torch.device):
        """Context manager running the enclosed forward pass in this precision on ``device``."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)

    def prepare_module(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def inference_module(self, module: torch.nn.Module):
        """``module`` ready for frozen inference (call it under ``torch.inference_mode()`` and ``autocast``).

        For ``compiled`` this is a compiled callable for one fixed batch size (call it with full batches: see
        ``fixed_batch_size``); the module itself is left as it was, so its state dict saves unchanged.
        """
        module = self.prepare_module(module)
        if not self.compiled:
            return module
        return torch.compile(module, dynamic=False, options={"freezing": True})

    @property
    def fixed_batch_size(self) -> bool:
        """Whether inference should always be called with the same batch size (padding the last batch)."""
        return self.compiled


FP32 = Precision("fp32", None, False)
FP32_CHANNELS_LAST = Precision("fp32+channels_last", None, True)
BF16_CHANNELS_LAST = Precision("bf16+channels_last", torch.bfloat16, True)
COMPILED = Precision("fp32+channels_last+compiled", None, True, compiled=True)
_BY_NAME = {precision.name: precision for precision in (FP32, FP32_CHANNELS_LAST, BF16_CHANNELS_LAST, COMPILED)}


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


def choose_precision(requested: str, device: torch.device, images: int | None = None) -> Precision:
    """Resolve a ``--precision`` choice for ``device``; ``images`` (how many the backbone will see) lets ``auto``
    weigh compilation's one-off cost. ``auto`` never picks a path that is not faithful to fp32."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested == "fp32":
        return FP32_CHANNELS_LAST
    if requested == "bf16":
        return BF16_CHANNELS_LAST
    if requested == "compiled":
        return COMPILED
    if device.type == "cuda":
        return BF16_CHANNELS_LAST if torch.cuda.is_bf16_supported() else FP32_CHANNELS_LAST
    return auto_cpu_precision(images)


def auto_cpu_precision(images: int | None) -> Precision:
    """``auto`` on a CPU: the compiled fp32 path when ``images`` repay compiling it, else eager fp32 (bf16, native
    or not, is not faithful enough to fp32; see the module's docstring)."""
    return COMPILED if images is not None and images >= COMPILE_BREAK_EVEN_IMAGES else FP32_CHANNELS_LAST


def serving_precision(name: str | None) -> Precision:
    """The precision a model's features were computed in (``model_config.json``), for serving the same arithmetic.

    Serving answers one image at a time, where compilation would not repay itself: a ``compiled`` model is served
    with the same fp32 arithmetic in eager mode. Models saved before precision was recorded were served in fp32.
    """
    precision = _BY_NAME.get(name or FP32.name)
    if precision is None:
        raise ValueError(f"unknown precision {name!r} in model_config.json; known: {', '.join(_BY_NAME)}")
    return FP32_CHANNELS_LAST if precision.compiled else precision
