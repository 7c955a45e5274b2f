"""Folders the runtime keeps its work in: names it derives itself, and joins checked to stay inside their base.

No file name under ``--state-dir`` is taken from a request: a training job, an endpoint or a Lambda function
gets the folder ``derived_name(<its ARN>)`` (a digest), so whatever a name holds, it cannot choose where the
runtime writes. Human-readable names stay in records and logs. Every path built from data (an S3 key, a
manifest entry, a channel name) goes through ``checked_join``, and every folder the runtime writes or deletes
through ``ensure_inside``/``remove_tree``: a path that would leave its base raises ``PathOutside`` before
anything is written or deleted.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path, PurePosixPath


class PathOutside(ValueError):
    """A path that would leave the folder it must stay in; nothing was written or deleted."""


def derived_name(identity: str) -> str:
    """A folder name for a resource, from its identity (its ARN): stable, filesystem-safe, unguessable from outside."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def relative_path_problem(relative: str) -> str | None:
    """Why ``relative`` (``a/b/c``) cannot be placed under a folder, None when it can."""
    if not relative:
        return "is empty"
    if "\x00" in relative:
        return "contains a NUL character"
    if relative.startswith("/") or PurePosixPath(relative).is_absolute():
        return "is absolute"
    parts = relative.split("/")
    if any(part == ".." for part in parts):
        return "contains '..'"
    if any(part in ("", ".") for part in parts):
        return "has an empty or '.' component"
    return None


def ensure_inside(path: Path, base: Path) -> Path:
    """``path`` resolved (symbolic links followed); raises ``PathOutside`` unless it is ``base`` or under it."""
    resolved_base = Path(base).resolve()
    resolved = Path(path).resolve()
    if resolved != resolved_base and not resolved.is_relative_to(resolved_base):
        raise PathOutside(f"{path} is outside {base}")
    return resolved


def checked_join(base: Path, relative: str) -> Path:
    """``base / relative`` for a slash-separated relative path read from data; raises ``PathOutside`` when it is
    absolute, has ``..``, ``.`` or empty components, or resolves outside ``base``."""
    problem = relative_path_problem(relative)
    if problem is not None:
        raise PathOutside(f"{relative!r} {problem}")
    target = Path(base).joinpath(*relative.split("/"))
    try:
        ensure_inside(target, base)
    except PathOutside:
        raise PathOutside(f"{relative!r} resolves outside its folder") from None
    return target


def remove_tree(path: Path, base: Path) -> None:
    """Delete the folder ``path`` (if it exists) only once it is known to be inside ``base`` and not ``base`` itself."""
    if Path(path).resolve() == Path(base).resolve():
        raise PathOutside(f"{path} is {base} itself")
    ensure_inside(path, base)
    if Path(path).is_symlink():
        raise PathOutside(f"{path} is a symbolic link")
    if Path(path).exists():
        shutil.rmtree(path)
