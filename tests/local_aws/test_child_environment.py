"""A child's TMPDIR works for Unix sockets however deep the runtime's state dir is: multiprocessing (and so a PyTorch
DataLoader worker handing a batch over) binds sockets under it, and Linux refuses socket paths over 107 bytes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from local_aws.child_environment import MAX_TMPDIR_LENGTH, remove_dangling_aliases, socket_safe_tmpdir

BIND = "from multiprocessing.connection import Listener; Listener(family='AF_UNIX').close(); print('bound')"


def _deep(tmp_path):
    path = tmp_path.joinpath(*["a-rather-long-folder-name"] * 4, "sagemaker", "tmp")
    path.mkdir(parents=True)
    return path


def _bind(tmpdir: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BIND], env={**os.environ, "TMPDIR": tmpdir},
                          capture_output=True, text=True, timeout=60)


def test_a_short_tmpdir_is_used_as_it_is():
    with tempfile.TemporaryDirectory(dir="/tmp") as short:
        assert socket_safe_tmpdir(Path(short)) == short


def test_a_deep_tmpdir_is_reached_through_one_short_alias_that_can_bind_a_socket(tmp_path):
    deep = _deep(tmp_path)
    assert "AF_UNIX path too long" in _bind(str(deep)).stderr
    alias = socket_safe_tmpdir(deep)
    assert len(alias) <= MAX_TMPDIR_LENGTH and os.path.samefile(alias, deep)
    assert socket_safe_tmpdir(deep) == alias  # every child of that dir shares it, e.g. a feature cache's lock
    assert _bind(alias).stdout.strip() == "bound"
    os.unlink(alias)


def test_an_alias_name_held_by_somebody_else_is_not_used(tmp_path):
    deep, elsewhere = _deep(tmp_path), tmp_path / "elsewhere"
    elsewhere.mkdir()
    planted = socket_safe_tmpdir(deep)
    os.unlink(planted)
    os.symlink(elsewhere, planted)  # the expected name, pointing at another folder
    try:
        alias = socket_safe_tmpdir(deep)
        assert alias != planted and len(alias) <= MAX_TMPDIR_LENGTH and os.path.samefile(alias, deep)
        os.unlink(alias)
        os.rmdir(os.path.dirname(alias))  # the private folder made for it
    finally:
        os.unlink(planted)


def test_aliases_whose_folder_is_gone_are_removed_and_live_ones_kept(tmp_path):
    kept, gone = _deep(tmp_path / "kept"), _deep(tmp_path / "gone")
    live, dangling = socket_safe_tmpdir(kept), socket_safe_tmpdir(gone)
    try:
        gone.rmdir()
        assert remove_dangling_aliases() >= 1
        assert not os.path.lexists(dangling)
        assert os.path.samefile(live, kept)
    finally:
        for alias in (live, dangling):
            if os.path.lexists(alias):
                os.unlink(alias)
