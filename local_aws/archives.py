"""The one place the runtime packs and unpacks archives: model/source tarballs and Lambda deployment zips.

Unpacking trusts nothing in the archive and nothing about the Python patch level (``tarfile``'s
``filter="data"`` is not used: its realpath checks have been bypassed, CVE-2025-4517). Members are written one
by one, each path walked component by component from an open descriptor of the destination with
``O_NOFOLLOW``, each file created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, so no link, old or new, is ever
followed. Refused, with ``ArchiveRefused`` naming the member and the rule:

* symbolic links, hard links, device files, FIFOs and any other non-regular member (zip symlinks hide in the
  Unix mode of ``external_attr``), sparse and encrypted members;
* absolute names, ``..`` components, NUL characters, backslashes, drive letters, over-long name components;
* a member that would replace a directory, write through an existing link, or put a file under a non-directory;
* more than ``ArchiveLimits.max_members`` members or more than ``ArchiveLimits.max_bytes`` unpacked bytes
  (declared sizes are checked before anything is written, actual bytes while writing, the decompressed tar
  stream as a whole while reading), tar extended headers over ``MAX_EXTENDED_HEADER_BYTES`` and negative sizes.

Files get safe permissions: owner read/write, group/other read, the executable bits only when the owner's is
set; never setuid, setgid, sticky or group/world write. A regular file already at a member's path (an earlier
member of the same name, or a file of a previous archive unpacked into the same directory) is replaced, not
written through.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import logging
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

#: AWS Lambda's limit on the unzipped size of a deployment package (function and layers).
LAMBDA_UNZIPPED_LIMIT = 262_144_000
#: Largest pax or GNU long-name header accepted (real ones hold a few names and numbers).
MAX_EXTENDED_HEADER_BYTES = 1024 * 1024
_CHUNK = 1024 * 1024
_NAME_MAX = 255
_DRIVE = re.compile(r"^[A-Za-z]:")
_EXTENDED_HEADER_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                          tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class ArchiveLimits:
    """How much one archive may unpack to: members (files and directories) and bytes of file content."""

    max_members: int = 100_000
    max_bytes: int = 20 * 1024 ** 3


#: Model and source tarballs: generous, a model can be gigabytes.
TARBALL_LIMITS = ArchiveLimits()
#: Lambda deployment packages: AWS's unzipped limit.
LAMBDA_PACKAGE_LIMITS = ArchiveLimits(max_bytes=LAMBDA_UNZIPPED_LIMIT)


class ArchiveRefused(Exception):
    """An archive that is not unpacked: unsafe, over a limit, or not an archive at all.

    ``member`` names the offending member ("" for the archive as a whole), ``rule`` says what it breaks and
    ``byte_limit`` is set when the unpacked-size cap was the reason.
    """

    def __init__(self, member: str, rule: str, byte_limit: int | None = None) -> None:
        self.member = member
        self.rule = rule
        self.byte_limit = byte_limit
        super().__init__(f"member {member!r} {rule}" if member else f"the archive {rule}")


def _too_large(member: str, limits: ArchiveLimits) -> ArchiveRefused:
    return ArchiveRefused(member, f"takes the unpacked size over {limits.max_bytes} bytes",
                          byte_limit=limits.max_bytes)


def _too_many(member: str, limits: ArchiveLimits) -> ArchiveRefused:
    return ArchiveRefused(member, f"is over the limit of {limits.max_members} members")


# --- names ---------------------------------------------------------------------------------------------------
def member_parts(name: str, directory: bool = False) -> list[str]:
    """The path components of a member name, or ``ArchiveRefused`` if the name could point anywhere unexpected.

    ``.`` and empty components are dropped (``./a//b`` is ``a/b``); an empty list is the destination itself. A
    directory may have an empty name (the archive's root: the SageMaker Python SDK v2 repacks a model with
    ``arcname=os.path.sep``, which tar stores as ``""``); a file may not.
    """
    if not name and directory:
        return []
    if not name:
        raise ArchiveRefused(name, "has an empty name")
    if "\x00" in name:
        raise ArchiveRefused(name, "has a NUL character in its name")
    if "\\" in name:
        raise ArchiveRefused(name, "has a backslash in its name")
    if name.startswith("/") or _DRIVE.match(name):
        raise ArchiveRefused(name, "has an absolute name")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(name, "has a '..' component, which leaves the destination")
    if any(len(os.fsencode(part)) > _NAME_MAX for part in parts):
        raise ArchiveRefused(name, f"has a name component longer than {_NAME_MAX} bytes")
    return parts


def safe_mode(mode: int) -> int:
    """The permission bits a member's file gets: 0644, or 0755 when the owner could execute it."""
    return 0o755 if mode & stat.S_IXUSR else 0o644


# --- writing -------------------------------------------------------------------------------------------------
class _Destination:
    """A directory members are written into, every path resolved from its descriptor without following links."""

    def __init__(self, path: Path, limits: ArchiveLimits) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self.fd = os.open(path, _DIRECTORY_FLAGS)
        except OSError as error:
            raise ArchiveRefused("", f"cannot be unpacked into {path}: {error.strerror}") from error
        self.limits = limits
        self.members = 0
        self.bytes_written = 0

    def close(self) -> None:
        os.close(self.fd)

    def count(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _too_many(name, self.limits)

    def directory(self, name: str, parts: list[str]) -> None:
        self.close_fd(self._walk(name, parts))

    def file(self, name: str, parts: list[str], mode: int, chunks: Iterable[bytes]) -> None:
        if not parts:
            raise ArchiveRefused(name, "would replace the destination directory")
        parent = self._walk(name, parts[:-1])
        try:
            fd = self._create(name, parent, parts[-1], safe_mode(mode))
            with os.fdopen(fd, "wb", closefd=True) as target:
                for chunk in chunks:
                    self.bytes_written += len(chunk)
                    if self.bytes_written > self.limits.max_bytes:
                        raise _too_large(name, self.limits)
                    target.write(chunk)
        finally:
            self.close_fd(parent)

    def close_fd(self, fd: int) -> None:
        if fd != self.fd:
            os.close(fd)

    def _walk(self, name: str, parts: list[str]) -> int:
        """An open descriptor of the directory ``parts`` below the destination, made where missing."""
        fd = self.fd
        try:
            for part in parts:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                try:
                    child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
                except OSError as error:
                    if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                        raise ArchiveRefused(name, "would write through an existing link") from None
                    raise ArchiveRefused(name, "would put a file under a path that is not a directory") from None
                self.close_fd(fd)
                fd = child
        except BaseException:
            self.close_fd(fd)
            raise
        return fd

    def _create(self, name: str, parent: int, leaf: str, mode: int) -> int:
        try:
            return os.open(leaf, _FILE_FLAGS, mode, dir_fd=parent)
        except FileExistsError:
            existing = os.stat(leaf, dir_fd=parent, follow_symlinks=False).st_mode
            if stat.S_ISLNK(existing):
                raise ArchiveRefused(name, "would write through an existing link") from None
            if stat.S_ISDIR(existing):
                raise ArchiveRefused(name, "would replace a directory") from None
            if not stat.S_ISREG(existing):
                raise ArchiveRefused(name, "would replace a special file") from None
        os.unlink(leaf, dir_fd=parent)
        try:
            return os.open(leaf, _FILE_FLAGS, mode, dir_fd=parent)
        except FileExistsError:
            raise ArchiveRefused(name, "was created by someone else while unpacking") from None


# --- tar -----------------------------------------------------------------------------------------------------
class _CheckedTarInfo(tarfile.TarInfo):
    """Headers refused before ``tarfile`` acts on them: negative sizes, oversized pax and long-name headers."""

    @classmethod
    def frombuf(cls, buf: bytes, encoding: str, errors: str) -> "_CheckedTarInfo":
        info = super().frombuf(buf, encoding, errors)
        if info.size < 0:
            raise ArchiveRefused(info.name, "has a negative size")
        if info.type in _EXTENDED_HEADER_TYPES and info.size > MAX_EXTENDED_HEADER_BYTES:
            raise ArchiveRefused(info.name, f"has an extended header over {MAX_EXTENDED_HEADER_BYTES} bytes")
        return info


class _CappedStream(io.RawIOBase):
    """A read-only stream that refuses to give more than ``cap`` bytes (the whole decompressed tar)."""

    def __init__(self, source: BinaryIO, cap: int) -> None:
        self.source = source
        self.cap = cap
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size is not None and size >= 0 else _CHUNK)
        self.consumed += len(data)
        if self.consumed > self.cap:
            raise ArchiveRefused("", f"decompresses to more than {self.cap} bytes")
        return data


def _decompressed(data: bytes) -> BinaryIO:
    raw = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if data[:3] == b"BZh":
        return bz2.BZ2File(raw, mode="rb")
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw, mode="rb")
    return raw


def _tar_type_rule(member: tarfile.TarInfo) -> str | None:
    if member.issym():
        return "is a symbolic link"
    if member.islnk():
        return "is a hard link"
    if member.ischr() or member.isblk():
        return "is a device file"
    if member.isfifo():
        return "is a FIFO"
    if member.issparse():
        return "is a sparse file"
    if not (member.isreg() or member.isdir()):
        return f"has an unsupported type {member.type!r}"
    return None


def _read_chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(_CHUNK):
        yield chunk


def unpack_tar(data: bytes, destination: Path, limits: ArchiveLimits = TARBALL_LIMITS) -> None:
    """Unpack a tar (plain, gzip, bzip2 or xz) into ``destination`` (made if missing), or raise ``ArchiveRefused``.

    Members before a refused one may already be written: unpack into a directory you discard on refusal.
    """
    # Headers, padding and pax records on top of the content; anything beyond is not a tar of these limits.
    stream_cap = limits.max_bytes + (limits.max_members + 2) * 4 * tarfile.BLOCKSIZE + MAX_EXTENDED_HEADER_BYTES
    target = _Destination(Path(destination), limits)
    declared = 0
    try:
        with _decompressed(data) as plain, tarfile.open(fileobj=_CappedStream(plain, stream_cap), mode="r|",
                                                        tarinfo=_CheckedTarInfo) as tar:
            for member in tar:
                target.count(member.name)
                rule = _tar_type_rule(member)
                if rule:
                    raise ArchiveRefused(member.name, rule)
                parts = member_parts(member.name, directory=member.isdir())
                if member.isdir():
                    target.directory(member.name, parts)
                    continue
                if member.size < 0:
                    raise ArchiveRefused(member.name, "has a negative size")
                declared += member.size
                if declared > limits.max_bytes:
                    raise _too_large(member.name, limits)
                source = tar.extractfile(member)
                target.file(member.name, parts, member.mode, _read_chunks(source))
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, RecursionError) as error:
        if isinstance(error, OSError) and not isinstance(error, gzip.BadGzipFile) and error.errno is not None:
            raise
        raise ArchiveRefused("", f"is not a tar archive: {error}") from error
    finally:
        target.close()


# --- zip -----------------------------------------------------------------------------------------------------
def _zip_is_directory(info: zipfile.ZipInfo) -> bool:
    return info.is_dir() or stat.S_ISDIR(info.external_attr >> 16)


def _zip_rule(info: zipfile.ZipInfo) -> str | None:
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "is a symbolic link"
    if kind in (stat.S_IFCHR, stat.S_IFBLK):
        return "is a device file"
    if kind == stat.S_IFIFO:
        return "is a FIFO"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"has an unsupported file type {oct(kind)}"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        return f"uses an unsupported compression method {info.compress_type}"
    return None


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise ArchiveRefused("", f"is not a zip file: {error}") from error


def _checked_zip_members(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    """Every member with its path components, after every rule that needs no content has been applied."""
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise _too_many(members[limits.max_members].filename, limits)
    checked = []
    declared = 0
    for info in members:
        rule = _zip_rule(info)
        if rule:
            raise ArchiveRefused(info.filename, rule)
        parts = member_parts(info.filename)
        if not _zip_is_directory(info):
            declared += info.file_size
            if declared > limits.max_bytes:
                raise _too_large(info.filename, limits)
        checked.append((info, parts))
    return checked


def check_zip(data: bytes, limits: ArchiveLimits = LAMBDA_PACKAGE_LIMITS) -> None:
    """Apply every rule that needs no unpacking (names, types, counts, declared sizes); raise ``ArchiveRefused``.

    ``zipfile`` never gives more bytes than a member declares, so the declared sizes bound what unpacking writes.
    Each file's local header is read too (it must name the same file as the central directory).
    """
    with _open_zip(data) as archive:
        for info, _ in _checked_zip_members(archive, limits):
            if not _zip_is_directory(info):
                try:
                    archive.open(info).close()
                except (zipfile.BadZipFile, EOFError, NotImplementedError) as error:
                    raise ArchiveRefused(info.filename, f"cannot be read: {error}") from error


def unpack_zip(data: bytes, destination: Path, limits: ArchiveLimits = LAMBDA_PACKAGE_LIMITS) -> None:
    """Unpack a zip into ``destination`` (made if missing), or raise ``ArchiveRefused``."""
    with _open_zip(data) as archive:
        members = _checked_zip_members(archive, limits)
        target = _Destination(Path(destination), limits)
        try:
            for info, parts in members:
                target.count(info.filename)
                if _zip_is_directory(info):
                    target.directory(info.filename, parts)
                    continue
                with archive.open(info) as source:
                    target.file(info.filename, parts, info.external_attr >> 16, _read_chunks(source))
        except (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, NotImplementedError) as error:
            raise ArchiveRefused(info.filename, f"cannot be read: {error}") from error
        finally:
            target.close()


# --- packing -------------------------------------------------------------------------------------------------
def _regular_files(directory: Path) -> Iterator[tuple[str, Path]]:
    """``(name in the archive, path)`` of the regular files below ``directory``; links are neither followed nor kept."""
    for root, dirs, files in os.walk(directory, followlinks=False):
        for file_name in files:
            path = Path(root) / file_name
            if stat.S_ISREG(path.lstat().st_mode):
                yield path.relative_to(directory).as_posix(), path
            else:
                log.info("not packing %s: not a regular file", path)


def pack_tar_gz(directories: list[Path]) -> bytes:
    """A tar.gz of the directories' regular files merged (later directories overwrite earlier ones).

    Links are skipped, never followed: a link to a file outside cannot smuggle that file into the artifact.
    Members get safe modes and no owner names, as ``unpack_tar`` would write them back.
    """
    files: dict[str, Path] = {}
    for directory in directories:
        if directory.is_dir() and not directory.is_symlink():
            files.update(_regular_files(directory))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in sorted(files):
            try:
                fd = os.open(files[name], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError as error:
                log.info("not packing %s: %s", files[name], error.strerror)
                continue
            with os.fdopen(fd, "rb") as source:
                status = os.fstat(source.fileno())
                if not stat.S_ISREG(status.st_mode):
                    continue
                info = tarfile.TarInfo(name)
                info.size = status.st_size
                info.mode = safe_mode(status.st_mode)
                info.mtime = int(status.st_mtime)
                tar.addfile(info, source)
    return buffer.getvalue()
