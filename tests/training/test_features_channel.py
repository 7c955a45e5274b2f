"""Extract once, train heads many times: ``--extract-features-only`` and the ``features`` channel of train.py."""

import json

import pytest
import torch

import classifier
from image_data import load_splits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, dog_images, run_train, training_env):
    """The model dir of one extraction job, run as SageMaker runs it (SM_* variables)."""
    root = tmp_path_factory.mktemp("extraction")
    env = training_env(SM_CHANNEL_TRAINING=str(dog_images), SM_MODEL_DIR=str(root / "model"),
                       SM_OUTPUT_DATA_DIR=str(root / "output"), PAWFLOW_FEATURE_CACHE="")
    result = run_train(["--extract_features_only", "true", "--num_workers", "0", "--precision", "fp32"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "model"


@pytest.fixture(scope="module")
def no_backbone_env(tmp_path_factory, training_env, repo):
    """An environment where building the EfficientNet backbone fails: its package raises on import."""
    blocked = tmp_path_factory.mktemp("blocked")
    (blocked / "efficientnet_lite_pytorch").mkdir()
    (blocked / "efficientnet_lite_pytorch" / "__init__.py").write_text(
        'raise ImportError("the backbone was built although the features channel was given")\n')
    return lambda **extra: training_env(PYTHONPATH=f"{blocked}:{repo / 'training_code'}", **extra)


def test_extraction_writes_features_labels_and_backbone_weights(extracted, dog_images):
    manifest = json.loads((extracted / "features.json").read_text())
    class_names, splits = load_splits(dog_images)
    assert manifest["class_names"] == class_names
    assert (manifest["backbone"], manifest["precision"], manifest["feature_dim"]) == ("efficientnet_lite0", "fp32+channels_last", 1280)
    for name, split in splits.items():
        payload = torch.load(extracted / f"{name}.pt", weights_only=True)
        assert payload["features"].shape == (len(split), 1280)
        assert payload["labels"].tolist() == [sample.label for sample in split.samples]
    backbone, _ = classifier.build_backbone("efficientnet_lite0")
    saved = torch.load(extracted / "backbone.pth", weights_only=True)
    assert saved.keys() == backbone.state_dict().keys()
    assert not (extracted / "model.pth").exists()


def test_head_job_on_the_features_channel_never_builds_the_backbone(tmp_path, extracted, dog_images, run_train,
                                                                     no_backbone_env):
    env = no_backbone_env(SM_CHANNEL_FEATURES=str(extracted), SM_MODEL_DIR=str(tmp_path / "model"),
                          SM_OUTPUT_DATA_DIR=str(tmp_path / "output"))
    result = run_train(["--learning_rate", "0.005", "--batch_size", "16", "--epochs", "8"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "features channel (backbone computed them in fp32+channels_last; it is not built here)" in result.stdout
    assert "Feature cache" not in result.stdout
    metrics = json.loads((tmp_path / "output" / "metrics.json").read_text())
    assert metrics["path"] == "features-channel"
    assert metrics["test"]["accuracy"] > 1 / 5 + 0.2


def test_head_job_on_the_features_channel_writes_a_model_that_serves_in_the_features_precision(
        tmp_path, extracted, dog_images, run_train, no_backbone_env):
    env = no_backbone_env(SM_CHANNEL_FEATURES=str(extracted))
    result = run_train(["--model-dir", tmp_path / "model", "--output-data-dir", tmp_path / "output", "--epochs", "8",
                        "--learning-rate", "0.005", "--batch-size", "16"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = classifier.load_model(tmp_path / "model")
    assert loaded.config["precision"] == "fp32+channels_last"
    _, splits = load_splits(dog_images)
    features = torch.load(extracted / "test.pt", weights_only=True)["features"]
    from image_data import ImageDataset

    images = torch.stack([image for image, _ in ImageDataset(splits["test"], loaded.transform)])
    with torch.inference_mode():
        assert torch.allclose(loaded.model.backbone(images), features, atol=1e-4)


def test_full_path_trains_from_images_even_with_a_features_channel(tmp_path, extracted, dog_images, run_train,
                                                                    training_env):
    env = training_env(SM_CHANNEL_FEATURES=str(extracted))
    result = run_train(["--data-dir", dog_images, "--model-dir", tmp_path / "model", "--output-data-dir",
                        tmp_path / "output", "--augment", "--epochs", "1", "--batch-size", "20",
                        "--num-workers", "0"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Full path trains from images; the features channel {extracted} is not used" in result.stdout
    assert json.loads((tmp_path / "output" / "metrics.json").read_text())["path"] == "full"


def test_features_of_another_backbone_are_refused(tmp_path, extracted, run_train, no_backbone_env):
    env = no_backbone_env(SM_CHANNEL_FEATURES=str(extracted))
    result = run_train(["--model-dir", tmp_path / "model", "--backbone", "resnet50"], env=env)
    assert result.returncode == 2
    assert (f"error: the features in {extracted} were computed with efficientnet_lite0, not --backbone resnet50"
            in result.stderr)


def test_a_features_channel_without_a_manifest_is_a_user_error(tmp_path, run_train, no_backbone_env):
    (tmp_path / "empty").mkdir()
    result = run_train(["--model-dir", tmp_path / "model"], env=no_backbone_env(SM_CHANNEL_FEATURES=str(tmp_path / "empty")))
    assert result.returncode == 2
    assert (f"error: features channel {tmp_path / 'empty'} has no features.json (expected the output of "
            "train.py --extract-features-only)") in result.stderr
