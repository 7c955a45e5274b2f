"""Which processes are still running, for tests that check that nothing outlived a stop."""

from __future__ import annotations

import psutil


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``processes`` that run and are not zombies (waiting to be reaped)."""
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process)
        except psutil.NoSuchProcess:
            pass
    return left
