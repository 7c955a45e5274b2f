"""The feature cache: keyed by data content, backbone, preprocessing and precision; safe when unwritable."""

import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

import classifier
from compute_precision import BF16_CHANNELS_LAST, FP32, FP32_CHANNELS_LAST, choose_precision, cpu_has_native_bf16
from feature_cache import FeatureCache, cached_features, data_digest, default_cache_dir, entry_key
from image_data import load_splits

CPU = torch.device("cpu")


class MeanColour(nn.Module):
    """A real (tiny) backbone: the mean of each channel, so features are cheap and meaningful."""

    feature_dim = 3

    def forward(self, images):
        return images.mean(dim=(2, 3))


@pytest.fixture
def splits(dog_images):
    return load_splits(dog_images)[1]


def _features(cache, split, precision=FP32, transform=None):
    return cached_features(cache, "mean_colour", "none", MeanColour(), split,
                           transform or classifier.eval_transform(), CPU, precision)


def test_second_extraction_is_a_cache_hit_with_the_same_features(tmp_path, splits, caplog):
    cache = FeatureCache(tmp_path)
    with caplog.at_level(logging.INFO, logger="feature_cache"):
        first = _features(cache, splits["valid"])
        second = _features(cache, splits["valid"])
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert torch.equal(first.features, second.features)
    assert first.features.shape == (len(splits["valid"]), 3)
    assert sum("Feature cache hit" in message for message in caplog.messages) == 1
    assert sum("Feature cache miss" in message for message in caplog.messages) == 1


def test_a_copy_of_the_data_elsewhere_has_the_same_digest(tmp_path, dog_images, splits):
    copy = load_splits(shutil.copytree(dog_images, tmp_path / "copy"))[1]
    assert data_digest(copy["test"]) == data_digest(splits["test"])
    assert data_digest(copy["test"]) != data_digest(splits["valid"])


def test_changed_image_bytes_change_the_digest(tmp_path, dog_images):
    copy_root = shutil.copytree(dog_images, tmp_path / "copy")
    before = data_digest(load_splits(copy_root)[1]["test"])
    image = next((copy_root / "test" / "001.Affenpinscher").iterdir())
    image.write_bytes(image.read_bytes() + b"\0")
    assert data_digest(load_splits(copy_root)[1]["test"]) != before


def test_precision_and_preprocessing_are_part_of_the_key(tmp_path, splits):
    cache = FeatureCache(tmp_path)
    _features(cache, splits["test"], FP32)
    assert not _features(cache, splits["test"], BF16_CHANNELS_LAST).cache_hit
    assert not _features(cache, splits["test"], FP32, classifier.eval_transform("resnet50")).cache_hit
    assert _features(cache, splits["test"], FP32).cache_hit
    assert len(list(tmp_path.glob("*.pt"))) == 3


def test_unwritable_cache_location_only_costs_the_reuse(tmp_path, splits, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    cache = FeatureCache(blocker / "cache")
    with caplog.at_level(logging.WARNING, logger="feature_cache"):
        result = _features(cache, splits["test"])
    assert result.features.shape[0] == len(splits["test"])
    assert result.path is None
    assert any("not writable" in message for message in caplog.messages)


def test_empty_cache_dir_disables_caching(tmp_path, splits):
    cache = FeatureCache("")
    assert not _features(cache, splits["test"]).cache_hit
    assert not _features(cache, splits["test"]).cache_hit


def test_corrupt_cache_file_is_recomputed(tmp_path, splits, caplog):
    cache = FeatureCache(tmp_path)
    first = _features(cache, splits["test"])
    first.path.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="feature_cache"):
        again = _features(cache, splits["test"])
    assert not again.cache_hit
    assert torch.equal(again.features, first.features)
    assert any("unreadable feature cache file" in message for message in caplog.messages)


def test_empty_shard_gives_no_rows(tmp_path, splits):
    empty = splits["test"].shard(len(splits["test"]), len(splits["test"]) + 1)
    assert len(empty) == 0
    assert _features(FeatureCache(tmp_path), empty).features.shape == (0, 3)


def test_default_cache_dir_from_environment_or_temp():
    assert default_cache_dir({"PAWFLOW_FEATURE_CACHE": "/shared/cache"}) == "/shared/cache"
    assert default_cache_dir({}).endswith("pawflow-feature-cache")


def test_cpu_flags_are_read_and_auto_stays_fp32_on_a_cpu():
    flags = open("/proc/cpuinfo").read()
    assert cpu_has_native_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)
    assert choose_precision("auto", CPU) == FP32_CHANNELS_LAST
    assert choose_precision("fp32", CPU) == FP32_CHANNELS_LAST
    with pytest.raises(ValueError, match="precision must be one of auto, bf16, compiled, fp32, got 'fp16'"):
        choose_precision("fp16", CPU)


def test_bf16_features_stay_close_to_fp32(splits):
    backbone, _ = classifier.build_backbone("efficientnet_lite0")
    transform = classifier.eval_transform()
    split = splits["test"].shard(0, 10)
    cache = FeatureCache("")
    fp32 = cached_features(cache, "efficientnet_lite0", "w", backbone, split, transform, CPU, FP32).features
    bf16_backbone = BF16_CHANNELS_LAST.prepare_module(backbone)
    bf16 = cached_features(cache, "efficientnet_lite0", "w", bf16_backbone, split, transform, CPU,
                           BF16_CHANNELS_LAST).features
    assert bf16.dtype == torch.float32
    cosine = nn.functional.cosine_similarity(fp32, bf16, dim=1)
    assert cosine.min() > 0.98


# A trial process: extracts the valid split into the shared cache with a backbone that appends its pid to a
# file on every forward pass, so the test counts how often, and in which processes, the backbone ran.
_TRIAL = """
import logging, os, sys
import torch
import classifier
from compute_precision import FP32
from feature_cache import FeatureCache, cached_features
from image_data import load_splits

class CountingMeanColour(torch.nn.Module):
    feature_dim = 3
    def forward(self, images):
        with open(sys.argv[3], "a") as runs:
            runs.write(f"{os.getpid()}\\n")
        return images.mean(dim=(2, 3))

logging.basicConfig(level=logging.INFO, stream=sys.stdout)
split = load_splits(sys.argv[1])[1]["valid"]
result = cached_features(FeatureCache(sys.argv[2]), "mean_colour", "none", CountingMeanColour(), split,
                         classifier.eval_transform(), torch.device("cpu"), FP32)
print("RESULT", result.cache_hit, float(result.features.sum()))
"""


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_trials_starting_together_on_a_cold_cache_run_the_backbone_once(tmp_path, dog_images, splits, training_env,
                                                                         repo):
    cache_dir, runs = tmp_path / "cache", tmp_path / "backbone-runs.txt"
    cache = FeatureCache(cache_dir)
    entry = cache.path_for(entry_key("mean_colour", "none", splits["valid"], classifier.eval_transform(), FP32))
    cache_dir.mkdir()
    logs = [tmp_path / f"trial-{n}.log" for n in (1, 2)]
    # Hold the entry's lock so that both trials are seen waiting before either may extract: they really overlap.
    with open(entry.with_suffix(".lock"), "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        trials = [subprocess.Popen([sys.executable, "-c", _TRIAL, str(dog_images), str(cache_dir), str(runs)],
                                   env=training_env(), cwd=repo, stdout=log.open("w"), stderr=subprocess.STDOUT)
                  for log in logs]
        _wait_for(lambda: all("Waiting for another process" in log.read_text() for log in logs), 120,
                  "both trials to wait for the lock")
        fcntl.flock(held, fcntl.LOCK_UN)
    assert [trial.wait(timeout=120) for trial in trials] == [0, 0], [log.read_text() for log in logs]
    results = sorted(next(line for line in log.read_text().splitlines() if line.startswith("RESULT")).split()[1:]
                     for log in logs)
    assert [hit for hit, _ in results] == ["False", "True"]
    assert results[0][1] == results[1][1]
    backbone_pids = runs.read_text().split()
    assert len(backbone_pids) == 1  # the valid split is one batch: one forward pass in one process
    assert int(backbone_pids[0]) in {trial.pid for trial in trials}
