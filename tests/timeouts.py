"""Timeouts scaled to the machine: one factor, ``PAWFLOW_TEST_TIMEOUT_SCALE``, multiplies every long wait.

A wait is written as the time the work takes on a quiet machine (``scaled(120)``); the factor's default (3)
tolerates a loaded 2-core machine. Raise it on slower machines, lower it for quicker failures on fast ones.
"""

from __future__ import annotations

import os

#: The factor every :func:`scaled` timeout is multiplied by.
TIMEOUT_SCALE = float(os.environ.get("PAWFLOW_TEST_TIMEOUT_SCALE", "3"))


def scaled(seconds: float) -> float:
    """The timeout for work that takes about ``seconds`` on a quiet machine."""
    return seconds * TIMEOUT_SCALE

#: One ``dag.test()`` run of ``dog_breed_pipeline`` on the tests' small generated data set, on a quiet machine
#: (about 3 minutes, with margin); the other DAGs' runs are shorter.
QUIET_DAG_RUN_SECONDS = 400
