"""Precision paths: the compiled path computes the fp32 features, auto weighs compilation, serving reads the record."""

import pytest
import torch
from torch import nn

import classifier
from compute_precision import (
    BF16_CHANNELS_LAST,
    COMPILE_BREAK_EVEN_IMAGES,
    COMPILED,
    FP32,
    FP32_CHANNELS_LAST,
    auto_cpu_precision,
    choose_precision,
    serving_precision,
)
from feature_cache import EXTRACTION_BATCH_SIZE, extract_features
from image_data import load_splits


CPU = torch.device("cpu")


class TinyConvBackbone(nn.Module):
    """A real convolutional backbone (conv, batch norm, ReLU, pooling) small enough to compile in seconds."""

    feature_dim = 8

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4), nn.BatchNorm2d(8), nn.ReLU(),
                                    nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, images):
        return self.layers(images)


def test_compiled_features_match_eager_fp32_for_every_image(dog_images):
    split = load_splits(dog_images)[1]["train"]
    assert len(split) % EXTRACTION_BATCH_SIZE, "the last batch must be a partial one (padded when compiled)"
    backbone = TinyConvBackbone().eval()
    transform = classifier.eval_transform()
    eager = extract_features(backbone, split, transform, CPU, FP32)
    compiled = extract_features(backbone, split, transform, CPU, COMPILED)
    assert compiled.shape == eager.shape == (len(split), 8)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)


def test_compiled_path_leaves_the_module_state_dict_unchanged():
    backbone = TinyConvBackbone().eval()
    keys = list(backbone.state_dict())
    COMPILED.inference_module(backbone)
    assert list(backbone.state_dict()) == keys


def test_auto_on_a_cpu_compiles_only_when_it_pays():
    assert auto_cpu_precision(COMPILE_BREAK_EVEN_IMAGES) == COMPILED
    assert auto_cpu_precision(COMPILE_BREAK_EVEN_IMAGES - 1) == FP32_CHANNELS_LAST
    assert auto_cpu_precision(None) == FP32_CHANNELS_LAST


def test_auto_never_picks_bf16_on_a_cpu_even_where_it_is_native():
    for images in (None, 10, 10 * COMPILE_BREAK_EVEN_IMAGES):
        assert choose_precision("auto", torch.device("cpu"), images) != BF16_CHANNELS_LAST


def test_compiled_is_selectable():
    assert choose_precision("compiled", CPU) == COMPILED


def test_serving_uses_the_recorded_arithmetic():
    assert serving_precision("bf16+channels_last") == BF16_CHANNELS_LAST
    assert serving_precision("fp32+channels_last+compiled") == FP32_CHANNELS_LAST
    assert serving_precision(None) == FP32


def test_serving_refuses_an_unknown_recorded_precision():
    with pytest.raises(ValueError, match="unknown precision 'fp8' in model_config.json"):
        serving_precision("fp8")
