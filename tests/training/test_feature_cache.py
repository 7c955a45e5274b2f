"""The feature cache: keyed by data content, backbone, preprocessing and precision; safe when unwritable."""

import logging
import shutil

import pytest
import torch
from torch import nn

import classifier
from compute_precision import BF16_CHANNELS_LAST, FP32, FP32_CHANNELS_LAST, choose_precision, cpu_has_native_bf16
from feature_cache import FeatureCache, cached_features, data_digest, default_cache_dir
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


def test_auto_precision_follows_the_cpu_flags():
    flags = open("/proc/cpuinfo").read()
    assert cpu_has_native_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)
    expected = BF16_CHANNELS_LAST if cpu_has_native_bf16() else FP32_CHANNELS_LAST
    assert choose_precision("auto", CPU) == expected
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
