"""The record of every call IAM judged: one JSON line per call under the state dir, for audits and usage reports.

A record names the caller, the action, the resource, the decision and, for each policy that took part
(identity policy, permissions boundary, session policy), the digest of its document and the statement that
decided (see ``usage_report``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

JUDGEMENTS_FILE = "iam-judgements.jsonl"


def document_digest(document: Any) -> str:
    """SHA-256 of a policy document's canonical JSON (key order and spacing do not matter)."""
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class JudgementLog:
    """Appends judgement records to ``<state-dir>/iam-judgements.jsonl``; safe to call from any thread."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / JUDGEMENTS_FILE
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as stream:
                stream.write(line)
