"""Run-time settings of the provider's SageMaker operators taken from the DAG run's Params.

``deferrable`` and ``check_interval`` are plain constructor arguments of the provider's operators, not
templated fields, so a Param cannot reach them through Jinja. :func:`wait_settings_from_params` is passed
as the operators' ``pre_execute`` callable and sets them on the task just before it runs.
"""

from __future__ import annotations

from typing import Any

#: Longest a SageMaker wait may last before the task gives up.
MAX_WAIT_SECONDS = 24 * 3600


def wait_settings_from_params(context: Any) -> None:
    """Set the running task's ``deferrable`` and polling interval from ``params.deferrable`` / ``params.poll_seconds``."""
    task, params = context["task"], context["params"]
    task.deferrable = bool(params["deferrable"])
    task.check_interval = int(params["poll_seconds"])
    if hasattr(task, "max_attempts"):
        task.max_attempts = max(1, MAX_WAIT_SECONDS // task.check_interval)
