"""``sourcedir.tar.gz``: the training code packed byte-for-byte reproducibly for SageMaker script mode.

Entries are sorted, owners and timestamps fixed and the gzip header carries no time or name, so the same
``training_code/`` always gives the same bytes, the same MD5 and the same S3 key: an unchanged package is
never uploaded twice and a training job's ``sagemaker_submit_directory`` names exactly the code it ran.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

ARCHIVE_NAME = "sourcedir.tar.gz"
#: The repository's training code, the default source dir.
TRAINING_CODE_DIR = Path(__file__).resolve().parents[2] / "training_code"
EXCLUDED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".mypy_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def _members(source_dir: Path) -> list[Path]:
    files = []
    for path in source_dir.rglob("*"):
        relative = path.relative_to(source_dir)
        if any(part in EXCLUDED_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and not path.name.endswith(EXCLUDED_SUFFIXES):
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(source_dir).as_posix())


def build_source_archive(source_dir: str | Path) -> bytes:
    """
    Return ``source_dir`` as a deterministic gzipped tar, files at the archive root.

    Hidden files, ``__pycache__`` and compiled bytecode are left out; modes are normalised to 0644/0755.

    :param source_dir: The folder to pack, e.g. ``training_code/``.
    """
    root = Path(source_dir)
    if not root.is_dir():
        raise ValueError(f"source_dir {str(root)!r} is not a directory")
    files = _members(root)
    if not files:
        raise ValueError(f"source_dir {str(root)!r} holds no files to pack")
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            data = path.read_bytes()
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes.getvalue())
    return compressed.getvalue()


def archive_key(prefix: str, archive: bytes) -> str:
    """Return the content-addressed S3 key ``<prefix>/<sha256[:16]>/sourcedir.tar.gz`` for an archive."""
    digest = hashlib.sha256(archive).hexdigest()[:16]
    return f"{prefix.strip('/')}/{digest}/{ARCHIVE_NAME}".lstrip("/")
