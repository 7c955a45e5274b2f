"""Small in-memory archives the tests upload as model artifacts and deployment packages."""

from __future__ import annotations

import io
import tarfile
import zipfile


#: The serving code of an echo model (SageMaker's handler functions): it answers with the JSON body it gets.
ECHO_INFERENCE = """
import json


def model_fn(model_dir):
    return None


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model):
    return data


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


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


def read_tar_gz(data: bytes) -> dict[str, bytes]:
    """The files of a ``.tar.gz``, by path inside the archive."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers() if member.isfile()}


def zip_archive(files: dict[str, str | bytes]) -> bytes:
    """A ``.zip`` holding ``files`` (path inside the archive -> text or bytes), e.g. a Lambda deployment package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
