"""Concurrent-execution accounting: reserved concurrency per function and the account's unreserved pool."""

import threading

DEFAULT_ACCOUNT_CONCURRENCY = 1000
MINIMUM_UNRESERVED_CONCURRENCY = 100


class Throttled(Exception):
    """An invocation was refused for lack of concurrency; ``reason`` is AWS's throttle reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ConcurrencyLimiter:
    """Counts in-flight invocations per function and refuses the ones AWS would throttle.

    A function with reserved concurrency may run that many at once and no more; functions without a reservation
    share what the account limit leaves after every reservation.
    """

    def __init__(self, account_limit: int = DEFAULT_ACCOUNT_CONCURRENCY):
        self.account_limit = account_limit
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._unreserved_in_flight = 0

    def acquire(self, function_key: str, reserved: int | None, total_reserved: int) -> None:
        with self._lock:
            current = self._in_flight.get(function_key, 0)
            if reserved is not None:
                if current >= reserved:
                    raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
            elif self._unreserved_in_flight >= self.account_limit - total_reserved:
                raise Throttled("ConcurrentInvocationLimitExceeded")
            self._in_flight[function_key] = current + 1
            if reserved is None:
                self._unreserved_in_flight += 1

    def release(self, function_key: str, reserved: int | None) -> None:
        with self._lock:
            self._in_flight[function_key] -= 1
            if reserved is None:
                self._unreserved_in_flight -= 1
