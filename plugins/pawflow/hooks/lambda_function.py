"""The provider's Lambda hook with pawflow's custom waiters (``pawflow/waiters/lambda.json``) beside botocore's."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook

#: Custom waiter models, one JSON file per service, in the provider's ``aws/waiters/*.json`` format.
WAITERS_DIR = Path(__file__).resolve().parents[1] / "waiters"


class LambdaWaitersHook(LambdaHook):
    """
    Interact with AWS Lambda, with ``get_waiter`` also knowing pawflow's custom Lambda waiters.

    botocore has no waiter for provisioned concurrency, so ``ProvisionedConcurrencyReady`` lives in
    ``pawflow/waiters/lambda.json`` and is loaded the way the provider loads its own: ``get_waiter`` looks a
    name up in :attr:`waiter_path` first and falls back to botocore's waiters (``function_active_v2``, ...).

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.lambda_function.LambdaHook`
    """

    @cached_property
    def waiter_path(self) -> os.PathLike[str] | None:
        return WAITERS_DIR / "lambda.json"
