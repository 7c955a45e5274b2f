"""sourcedir.tar.gz is reproducible to the byte and leaves caches out."""

import io
import os
import tarfile

import pytest

from pawflow.source_archive import archive_key, build_source_archive


def write_tree(root):
    (root / "pkg").mkdir(parents=True)
    (root / "train.py").write_text("print('train')\n")
    (root / "pkg" / "model.py").write_text("X = 1\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")
    (root / ".hidden").write_text("secret")


def test_same_tree_gives_same_bytes_whatever_the_mtimes(tmp_path):
    write_tree(tmp_path / "a")
    first = build_source_archive(tmp_path / "a")
    os.utime(tmp_path / "a" / "train.py", (1, 1))
    assert build_source_archive(tmp_path / "a") == first


def test_archive_holds_sources_at_the_root_without_caches(tmp_path):
    write_tree(tmp_path / "a")
    with tarfile.open(fileobj=io.BytesIO(build_source_archive(tmp_path / "a"))) as tar:
        assert tar.getnames() == ["pkg/model.py", "train.py"]
        assert {member.mtime for member in tar.getmembers()} == {0}


def test_changed_content_changes_the_key(tmp_path):
    write_tree(tmp_path / "a")
    before = archive_key("code", build_source_archive(tmp_path / "a"))
    (tmp_path / "a" / "train.py").write_text("print('changed')\n")
    after = archive_key("code", build_source_archive(tmp_path / "a"))
    assert before != after
    assert before.startswith("code/") and before.endswith("/sourcedir.tar.gz")


def test_missing_or_empty_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        build_source_archive(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no files"):
        build_source_archive(tmp_path / "empty")
