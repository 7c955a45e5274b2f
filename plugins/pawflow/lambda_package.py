"""Reproducible deployment zip for the Lambda function in ``lambda/`` and the CodeSha256 Lambda reports for it.

The same source files always give the same zip bytes, on any machine: entries in sorted order, every timestamp
1980-01-01 00:00:00 (the zip epoch), every file mode ``0o644``, no directory entries, no ``__pycache__``,
``*.pyc``/``*.pyo`` or hidden files. Entries are stored uncompressed by default: deflate output depends on the
zlib build, so stored entries are what keeps the bytes (and so ``CodeSha256``) identical between a laptop and CI.
The function code here is a few kilobytes, far below Lambda's 50 MB direct-upload limit. Because the hash is
stable, a deployment can compare it with the deployed function's ``CodeSha256`` and skip an update (and a needless
new version) when nothing changed.

Nothing heavy is imported here: the module builds and hashes, the operator talks to Lambda.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_SOURCE_DIR = Path(__file__).resolve().parents[2] / "lambda"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
DEFLATE_LEVEL = 9
#: Largest zip that CreateFunction / UpdateFunctionCode accept inline (``ZipFile``); bigger ones go through S3.
MAX_DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024
EXCLUDED_DIR_NAMES = frozenset({"__pycache__"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def code_sha256(zip_bytes: bytes) -> str:
    """Base64 of the SHA-256 digest of the zip, the form Lambda reports as ``CodeSha256``."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")


@dataclass(frozen=True)
class LambdaPackage:
    """A built deployment package: the zip bytes, the archive names in it, and its CodeSha256."""

    zip_bytes: bytes = field(repr=False)
    files: tuple[str, ...]
    code_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "code_sha256", code_sha256(self.zip_bytes))

    @property
    def size(self) -> int:
        return len(self.zip_bytes)

    def needs_update(self, deployed_code_sha256: str | None) -> bool:
        """Whether a function whose code has ``deployed_code_sha256`` (None: no function) needs this code."""
        return deployed_code_sha256 != self.code_sha256


def _excluded(relative: Path) -> bool:
    parts = relative.parts
    return (any(part.startswith(".") or part in EXCLUDED_DIR_NAMES for part in parts)
            or relative.name.endswith(EXCLUDED_SUFFIXES))


def package_files(source_dir: str | Path = DEFAULT_SOURCE_DIR) -> list[tuple[str, Path]]:
    """The (archive name, path) pairs that go into the package, sorted by archive name."""
    root = Path(source_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"Lambda source directory {root} does not exist or is not a directory")
    entries = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and not _excluded(relative):
            entries.append((relative.as_posix(), path))
    entries.sort(key=lambda entry: entry[0])
    if not entries:
        raise ValueError(f"Lambda source directory {root} has no files to package")
    return entries


def build_lambda_package(source_dir: str | Path = DEFAULT_SOURCE_DIR, *,
                         compression: int = zipfile.ZIP_STORED) -> LambdaPackage:
    """Build the deployment zip of ``source_dir`` (default: the repository's ``lambda/``).

    :param source_dir: directory whose files become the zip's top level (``lambda_function.py`` at the root).
    :param compression: ``zipfile.ZIP_STORED`` (default, identical bytes everywhere) or ``zipfile.ZIP_DEFLATED``
        (level 9; identical bytes for the same zlib build).
    """
    if compression not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError("compression must be zipfile.ZIP_STORED or zipfile.ZIP_DEFLATED")
    entries = package_files(source_dir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so that the mode below is honoured when Lambda extracts the zip
            info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
            info.compress_type = compression
            archive.writestr(info, path.read_bytes(),
                             compresslevel=DEFLATE_LEVEL if compression == zipfile.ZIP_DEFLATED else None)
    package = LambdaPackage(buffer.getvalue(), tuple(name for name, _ in entries))
    if package.size > MAX_DIRECT_UPLOAD_BYTES:
        raise ValueError(f"Lambda package from {source_dir} is {package.size} bytes; the inline upload limit is "
                         f"{MAX_DIRECT_UPLOAD_BYTES} bytes (upload it to S3 and pass S3Bucket/S3Key instead)")
    log.info("built Lambda package from %s: %d file(s), %d bytes, CodeSha256 %s",
             source_dir, len(package.files), package.size, package.code_sha256)
    return package

