"""Small in-memory archives the tests upload as model artifacts and deployment packages."""

from __future__ import annotations

import io
import tarfile


def tar_gz(files: dict[str, str | bytes]) -> bytes:
    """A ``.tar.gz`` holding ``files`` (path inside the archive -> text or bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
