"""Fixtures every test area shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """Poll ``probe()`` until ``done(value)`` holds; return the value, or fail with the last one."""

    def wait(probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 60.0,
             interval: float = 0.2) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if done(value):
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"condition not met within {timeout} s; last value: {value!r}")
            time.sleep(interval)

    return wait
