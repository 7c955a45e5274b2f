"""Deployment packages: checked at CreateFunction/UpdateFunctionCode, unpacked once per SHA-256 on first use."""

import base64
import binascii
import hashlib
import shutil
import threading
from pathlib import Path
from typing import Any

from local_aws.archives import LAMBDA_PACKAGE_LIMITS, ArchiveRefused, check_zip, unpack_zip
from local_aws.moto_seam import LambdaInvalidParameterValue as InvalidParameterValueException
from local_aws.s3.objects import S3Objects

COULD_NOT_UNZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."


def check_deployment_package(code: dict[str, Any], account_id: str) -> None:
    """Refuse, as Lambda does at CreateFunction and UpdateFunctionCode, a package that cannot be unzipped safely.

    ``code`` is the request's ``Code`` (or UpdateFunctionCode's body): ``ZipFile`` or ``S3Bucket``/``S3Key``.
    Raises ``InvalidParameterValueException`` with Lambda's wording, the member and the rule appended.
    A package that cannot be fetched is left to moto, which answers with Lambda's S3 errors.
    """
    package = _package_bytes(code, account_id)
    if package is None:
        return
    try:
        check_zip(package, LAMBDA_PACKAGE_LIMITS)
    except ArchiveRefused as refusal:
        if refusal.byte_limit is not None:
            raise InvalidParameterValueException(
                f"Unzipped size must be smaller than {refusal.byte_limit} bytes") from refusal
        raise InvalidParameterValueException(f"{COULD_NOT_UNZIP} ({refusal})") from refusal


def _package_bytes(code: dict[str, Any], account_id: str) -> bytes | None:
    if code.get("ZipFile"):
        try:
            return base64.b64decode(code["ZipFile"])
        except (binascii.Error, TypeError, ValueError):
            raise InvalidParameterValueException(COULD_NOT_UNZIP) from None
    if code.get("S3Bucket") and code.get("S3Key"):
        try:
            return S3Objects(account_id).read(code["S3Bucket"], code["S3Key"])
        except FileNotFoundError:
            return None
    return None


class PackageStore:
    """Unpacks deployment packages under ``root/<sha256>`` and hands out the directory (the task root); a function's
    layers are unpacked, in order, into one directory per combination (the function's ``/opt``)."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()

    def task_root(self, code: bytes) -> Path:
        """The unpacked package; ``ArchiveRefused`` if it cannot be unpacked safely."""
        return self._unpacked(hashlib.sha256(code).hexdigest(), (code,))

    def layers_root(self, layers: tuple[bytes, ...]) -> Path | None:
        """The layers unpacked in order into one directory, a later layer's files replacing an earlier one's, as
        Lambda extracts them into ``/opt``; None without layers. ``ArchiveRefused`` if one cannot be unpacked."""
        if not layers:
            return None
        digest = hashlib.sha256(b"".join(hashlib.sha256(layer).digest() for layer in layers)).hexdigest()
        return self._unpacked(f"layers-{digest}", layers)

    def _unpacked(self, name: str, archives: tuple[bytes, ...]) -> Path:
        target = self.root / name
        with self._lock:
            if (target / ".unpacked").exists():
                return target
            staging = self.root / f".{name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            try:
                for archive in archives:
                    unpack_zip(archive, staging, LAMBDA_PACKAGE_LIMITS)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            (staging / ".unpacked").touch()
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
            return target
