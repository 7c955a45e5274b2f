"""The judgement log: every judged call appended as one JSON line (``<state-dir>/iam/judgements.jsonl``).

Each line names the identity, the operation (``service:Operation``), the action and resource judged, the decision
and the policy and statement (Sid and index) that allowed or denied it, so a later report can say which statements
a pipeline used and which it never needed. Appends are serialised by a lock; the file is opened per line, so it
can be rotated or read while the runtime runs.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


JUDGEMENTS_FILE = "iam/judgements.jsonl"


def document_digest(document: Any) -> str:
    """SHA-256 of a policy document's canonical JSON (key order and spacing do not matter): how records name it."""
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class JudgementLog:
    """Appends judgements to a JSON-lines file, safely from many request threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, identity: str, operation: str, action: str, resource: str, outcome: str, decision: str,
               **details: Any) -> None:
        entry = {"time": datetime.now(timezone.utc).isoformat(), "identity": identity, "operation": operation,
                 "action": action, "resource": resource, "outcome": outcome, "decision": decision,
                 **{k: v for k, v in details.items() if v is not None}}
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as stream:
                stream.write(line)

    def entries(self) -> list[dict[str, Any]]:
        """Every judgement recorded so far, oldest first."""
        if not self.path.exists():
            return []
        with self._lock:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
