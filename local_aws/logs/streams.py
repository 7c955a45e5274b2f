"""Writing lines to CloudWatch Logs streams (moto's logs backend, in process, serialised), or dropping them."""

from __future__ import annotations

import threading
import time

from local_aws import moto_seam

_BATCH = 200


class LogStreamWriter:
    """Appends lines to one log stream; safe to call from several threads."""

    _lock = threading.Lock()  # moto's log store is not thread-safe: one writer at a time, process-wide

    def __init__(self, region: str, group: str, stream: str, account_id: str = moto_seam.ACCOUNT_ID) -> None:
        self.region = region
        self.group = group
        self.stream = stream
        self.account_id = account_id
        with self._lock:
            moto_seam.put_log_events(region, group, stream, [], account_id)

    def write(self, *lines: str) -> None:
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines]
        with self._lock:
            for start in range(0, len(events), _BATCH):
                moto_seam.put_log_events(self.region, self.group, self.stream, events[start:start + _BATCH], self.account_id)


class DroppedLogStream:
    """A stream the execution role may not write: its lines are dropped, as AWS drops a container's logs then."""

    def __init__(self, group: str, stream: str) -> None:
        self.group = group
        self.stream = stream

    def write(self, *lines: str) -> None:
        """Nothing is written."""
