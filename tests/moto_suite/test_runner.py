"""The moto-suite tier's mechanism: moto's own sts tests against stock moto and local_aws, and the rule that a
difference outside ``expected_differences.txt`` fails the run.

The full tier (every folder) is ``make moto-suite``; this runs one small folder so ``make test`` covers the runner,
the server-mode plugin and the checked-in list. It needs ``make moto-suite-env`` (moto's sdist and a venv with
freezegun), which ``make test`` builds first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.moto_suite.runner import (
    EXPECTED_DIFFERENCES,
    FolderRun,
    load_expected_differences,
    new_differences,
    stale_differences,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE_DIR = Path(os.environ.get("MOTO_SUITE_DIR", REPO_ROOT / ".tools" / "moto-suite"))
SUITE_PYTHON = SUITE_DIR / "venv" / "bin" / "python"
MOTO_TESTS = SUITE_DIR / "moto-5.2.5"


def run(outcomes: dict[str, str]) -> FolderRun:
    return FolderRun(outcomes=outcomes)


def test_a_test_passing_on_stock_and_failing_on_ours_is_a_new_difference():
    stock = run({"a::x": "passed", "a::y": "passed", "a::z": "failed"})
    ours = run({"a::x": "failed", "a::y": "passed", "a::z": "failed"})

    assert new_differences(stock, ours, expected={}) == ["a::x"]


def test_a_listed_difference_is_not_new():
    stock = run({"a::x": "passed"})
    ours = run({"a::x": "failed"})

    assert new_differences(stock, ours, expected={"a::x": "real IAM"}) == []


def test_a_test_missing_from_our_run_counts_as_a_difference():
    assert new_differences(run({"a::x": "passed"}), run({}), expected={}) == ["a::x"]


def test_a_listed_test_that_now_passes_on_ours_is_reported_stale():
    stock = run({"a::x": "passed", "a::y": "passed"})
    ours = run({"a::x": "passed", "a::y": "failed"})

    assert stale_differences(stock, ours, {"a::x": "was broken", "a::y": "real IAM", "b::q": "other folder"}) == ["a::x"]


def test_a_listed_test_without_a_reason_is_refused(tmp_path):
    listed = tmp_path / "expected.txt"
    listed.write_text("# comment\ntests.test_sts.test_sts::test_a | real IAM\ntests.test_sts.test_sts::test_b\n")

    with pytest.raises(ValueError, match=r"expected.txt:3: expected 'test id \| reason'"):
        load_expected_differences(listed)


def test_every_checked_in_difference_has_a_reason():
    expected = load_expected_differences(EXPECTED_DIFFERENCES)

    assert expected and all(reason for reason in expected.values())


@pytest.mark.slow
@pytest.mark.skipif(not (SUITE_PYTHON.exists() and MOTO_TESTS.is_dir()),
                    reason="moto's sdist and its test venv are missing: run `make moto-suite-env`")
def test_moto_sts_tests_differ_only_as_listed(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    finished = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tests" / "moto_suite" / "runner.py"), "--moto-tests", str(MOTO_TESTS),
         "--python", str(SUITE_PYTHON), "--folders", "sts", "--workers", "1", "--results", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    counts = re.search(r"^sts: stock moto (\d+)/(\d+) passed .*; local_aws (\d+)/(\d+) passed", finished.stdout, re.M)
    assert counts, finished.stdout
    stock_passed, stock_total, ours_passed, ours_total = map(int, counts.groups())
    listed = sum(1 for test_id in load_expected_differences(EXPECTED_DIFFERENCES) if ".test_sts." in test_id)
    assert (stock_total, ours_total) == (stock_passed, stock_total)
    assert ours_passed == stock_passed - listed
