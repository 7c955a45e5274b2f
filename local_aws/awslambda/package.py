"""Deployment packages on disk: each distinct zip is unpacked once, into a directory named for its SHA-256."""

import hashlib
import io
import threading
import zipfile
from pathlib import Path


class DeploymentPackageError(Exception):
    """The deployment package cannot be unpacked."""


class PackageStore:
    """Unpacks deployment packages under ``root/<sha256>`` and hands out the directory (the task root)."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()

    def task_root(self, code: bytes) -> Path:
        digest = hashlib.sha256(code).hexdigest()
        target = self.root / digest
        with self._lock:
            if (target / ".unpacked").exists():
                return target
            staging = self.root / f".{digest}.partial"
            staging.mkdir(parents=True, exist_ok=True)
            try:
                with zipfile.ZipFile(io.BytesIO(code)) as archive:
                    for member in archive.infolist():
                        destination = (staging / member.filename).resolve()
                        if not destination.is_relative_to(staging.resolve()):
                            raise DeploymentPackageError(f"Zip entry escapes the package: {member.filename}")
                    archive.extractall(staging)
            except zipfile.BadZipFile as exc:
                raise DeploymentPackageError(f"Could not unzip uploaded file: {exc}") from exc
            (staging / ".unpacked").touch()
            if target.exists():
                return target
            staging.rename(target)
            return target
