"""The machine a benchmark ran on, described the same way in every benchmark's report."""

from __future__ import annotations

import os
import platform
from pathlib import Path

ISA_FLAG_PREFIXES = ("avx", "amx", "fma", "sse4")


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it, else what Python knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_machine() -> str:
    """One line: CPU, cores, Python, kernel and the load when the benchmark started."""
    return (f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, load {os.getloadavg()[0]:.2f}")


def cpu_flags() -> list[str]:
    """The CPU's instruction-set flags (/proc/cpuinfo), empty where the kernel does not say."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def machine_facts() -> dict:
    """The machine as ``benchmarks/results/latest.json`` records it (torch's version without importing torch)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = None
    return {"cpu": cpu_model(), "isa_flags": [flag for flag in cpu_flags() if flag.startswith(ISA_FLAG_PREFIXES)],
            "logical_cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "torch": torch_version, "python": platform.python_version(),
            "kernel": f"{platform.system()} {platform.release()}"}
