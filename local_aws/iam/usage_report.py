"""How much of each shipped policy a run used: ``python -m local_aws.iam.usage_report``.

The runtime records every call it judges for runtime-issued credentials (``judgements.jsonl`` under the state
dir, see ``local_aws.iam.judgement_log``): who called, the action and resource, the decision, and for each policy
that took part (identity policy, permissions boundary, session policy) the digest of its document and the
statement that allowed or denied the call. Given that record and policy documents (e.g. ``iam/*.json``), this
module counts, per statement and per action written in it, how many allowed calls that action covered; an
action no call used is listed as unused, so a run shows which permissions a policy could drop::

    python -m local_aws.iam.usage_report demo-output/local-aws iam/airflow-execution-role-policy.json \\
        iam/sagemaker-execution-role-policy.json iam/lambda-permissions-boundary.json

Documents are matched to the record by content (the SHA-256 of their canonical JSON), not by name, so a policy
attached under any name, inline or managed, is found.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws.iam.judgement_log import JUDGEMENTS_FILE, document_digest


@dataclass(frozen=True)
class ActionUsage:
    """One action (or NotAction) entry of one statement, and how many allowed calls it covered."""

    statement: str
    action: str
    calls: int


@dataclass
class PolicyUsage:
    """The usage of every action entry of one policy document."""

    name: str
    digest: str
    rows: list[ActionUsage] = field(default_factory=list)

    @property
    def unused(self) -> list[ActionUsage]:
        return [row for row in self.rows if row.calls == 0]


def read_judgements(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a judgements file, or of the one under a state dir."""
    path = Path(path)
    if path.is_dir():
        path = path / JUDGEMENTS_FILE
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as error:
                raise ValueError(f"{path}:{number}: not a judgement record: {error}") from error


def _statement_label(statement: dict[str, Any], index: int) -> str:
    return statement.get("Sid") or f"#{index}"


def _entries(statement: dict[str, Any]) -> list[str]:
    if "Action" in statement:
        actions = statement["Action"]
        return [actions] if isinstance(actions, str) else list(actions)
    not_actions = statement.get("NotAction", [])
    return ["NotAction " + ", ".join([not_actions] if isinstance(not_actions, str) else not_actions)]


def _covers(entry: str, action: str) -> bool:
    if entry.startswith("NotAction "):
        return True
    return fnmatch.fnmatchcase(action.lower(), entry.lower())


def policy_usage(name: str, document: dict[str, Any], judgements: Iterable[dict[str, Any]]) -> PolicyUsage:
    """Count the allowed calls each action entry of ``document`` covered, among ``judgements``."""
    digest = document_digest(document)
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    counts: Counter[tuple[int, str]] = Counter()
    for record in judgements:
        if record.get("outcome") != "allowed":
            continue
        for part in record.get("policies", []):
            if part.get("digest") != digest or part.get("effect") != "Allow":
                continue
            index = part.get("statement")
            if not isinstance(index, int) or not 0 <= index < len(statements):
                continue
            for entry in _entries(statements[index]):
                if _covers(entry, record["action"]):
                    counts[(index, entry)] += 1
    usage = PolicyUsage(name, digest)
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow":
            continue
        for entry in _entries(statement):
            usage.rows.append(ActionUsage(_statement_label(statement, index), entry, counts[(index, entry)]))
    return usage


def render(usages: list[PolicyUsage], judged: int, identities: set[str]) -> str:
    """The report as text: one table per policy, then the unused count."""
    lines = [f"{judged} judged calls by {len(identities)} identities"]
    for usage in usages:
        lines += ["", f"{usage.name}", f"  {'statement':<36} {'action':<52} calls"]
        for row in usage.rows:
            flag = "  UNUSED" if row.calls == 0 else ""
            lines.append(f"  {row.statement:<36} {row.action:<52} {row.calls:>5}{flag}")
    unused = sum(len(usage.unused) for usage in usages)
    total = sum(len(usage.rows) for usage in usages)
    lines += ["", f"{total - unused} of {total} actions used; {unused} unused"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws.iam.usage_report", description=__doc__.splitlines()[0])
    parser.add_argument("judgements", type=Path, help=f"the runtime's --state-dir, or a {JUDGEMENTS_FILE} file")
    parser.add_argument("policies", type=Path, nargs="+", help="policy documents (JSON) to report on")
    parser.add_argument("--fail-on-unused", action="store_true", help="exit with status 1 when an action went unused")
    args = parser.parse_args(argv)
    try:
        judgements = list(read_judgements(args.judgements))
    except (OSError, ValueError) as error:
        parser.error(str(error))
    usages = []
    for path in args.policies:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            parser.error(f"{path}: {error}")
        usages.append(policy_usage(str(path), document, judgements))
    print(render(usages, len(judgements), {record.get("identity", "") for record in judgements}))
    return 1 if args.fail_on_unused and any(usage.unused for usage in usages) else 0


if __name__ == "__main__":
    sys.exit(main())
