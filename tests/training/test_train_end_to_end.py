"""train.py end to end on generated data: standalone, SageMaker-style, cached features reused, full path."""

import json
import re
import shutil

import pytest
import torch

import classifier
from image_data import ImageDataset, load_splits
from pawflow.sagemaker_config import TRAINING_METRICS, metric_definitions

# The pipeline's own MetricDefinitions, keyed by the log line's name: they must read the log as SageMaker does.
METRIC_REGEXES = {TRAINING_METRICS[d["Name"]]: d["Regex"] for d in metric_definitions()}
CHANCE = 1 / 5


@pytest.fixture(scope="module")
def standalone_run(tmp_path_factory, dog_images, run_train):
    """One standalone ("EC2") training run, shared by the assertions about its outputs."""
    root = tmp_path_factory.mktemp("standalone")
    result = run_train(["--data-dir", dog_images, "--model-dir", root / "TrainedModels", "--output-data-dir",
                         root / "output", "--feature-cache-dir", root / "cache", "--epochs", "12",
                         "--num-workers", "0"])
    assert result.returncode == 0, result.stdout + result.stderr
    return root, result.stdout


@pytest.mark.slow
def test_standalone_run_learns_well_above_chance(standalone_run):
    _, log = standalone_run
    accuracy = float(re.search(METRIC_REGEXES["Testing Accuracy"], log).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert accuracy >= 0.8 > 3 * CHANCE
    assert float(re.search(METRIC_REGEXES["Testing Loss"], log).group(1)) < 1.0


@pytest.mark.slow
def test_log_lines_match_the_tuner_metric_regexes(standalone_run):
    _, log = standalone_run
    for name, regex in METRIC_REGEXES.items():
        values = [float(value) for value in re.findall(regex, log)]
        assert values, name
        if "Accuracy" in name:
            assert all(0.0 <= value <= 1.0 for value in values), name
    epoch_lines = [line for line in log.splitlines() if re.search(r"Epoch \d+/12: ", line)]
    assert epoch_lines and all("images/s" in line for line in epoch_lines)
    assert "\r" not in log


@pytest.mark.slow
def test_model_dir_is_complete_and_predicts_the_test_split(standalone_run, dog_images):
    root, log = standalone_run
    model_dir = root / "TrainedModels"
    assert {"model.pth", "classes.json", "model_config.json"} <= {p.name for p in model_dir.iterdir()}
    assert (model_dir / "code" / "classifier.py").is_file()
    assert (model_dir / "code" / "compute_precision.py").is_file()
    loaded = classifier.load_model(model_dir)
    class_names, splits = load_splits(dog_images)
    assert loaded.class_names == class_names
    images, labels = zip(*ImageDataset(splits["test"], loaded.transform))
    with torch.inference_mode():
        predictions = loaded.model(torch.stack(images)).argmax(1)
    accuracy = (predictions == torch.tensor(labels)).float().mean().item()
    assert accuracy == pytest.approx(float(re.search(METRIC_REGEXES["Testing Accuracy"], log).group(1)), abs=0.06)


@pytest.mark.slow
def test_output_dir_has_metrics_and_curve(standalone_run, dog_images):
    root, log = standalone_run
    metrics = json.loads((root / "output" / "metrics.json").read_text())
    assert metrics["backbone"] == "efficientnet_lite0"
    model_config = json.loads((root / "TrainedModels" / "model_config.json").read_text())
    assert model_config["precision"] == metrics["precision"]
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] == len(metrics["history"]) <= 12
    first = metrics["history"][0]
    assert {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "train_images_per_second"} <= set(first)
    assert metrics["test"]["images"] == 20
    assert f"Testing Accuracy: {metrics['test']['accuracy']:.6f}" in log
    assert (root / "output" / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_second_run_on_a_copy_of_the_data_reuses_the_cached_features(standalone_run, dog_images, tmp_path,
                                                                     run_train):
    root, first_log = standalone_run
    assert first_log.count("Feature cache miss") == 3
    copy = shutil.copytree(dog_images, tmp_path / "copied-data")  # other folder, new mtimes, same content
    result = run_train(["--data-dir", copy, "--model-dir", tmp_path / "model", "--output-data-dir",
                        tmp_path / "output", "--feature-cache-dir", root / "cache", "--epochs", "12",
                        "--num-workers", "0"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("Feature cache hit") == 3
    assert "Feature cache miss" not in result.stdout
    same = re.search(METRIC_REGEXES["Testing Loss"], first_log).group(1)
    assert re.search(METRIC_REGEXES["Testing Loss"], result.stdout).group(1) == same


@pytest.mark.slow
def test_sagemaker_style_invocation(tmp_path, dog_images, run_train, training_env):
    env = training_env(
        SM_CHANNEL_TRAINING=str(dog_images), SM_MODEL_DIR=str(tmp_path / "opt-ml-model"),
        SM_OUTPUT_DATA_DIR=str(tmp_path / "opt-ml-output-data"), SM_HOSTS='["algo-1"]', SM_CURRENT_HOST="algo-1",
        PAWFLOW_FEATURE_CACHE=str(tmp_path / "cache"),
    )
    result = run_train(["--learning_rate", "0.005", "--batch_size", "16", "--epochs", "4", "--num_workers", "0",
                        "--_tuning_objective_metric", "Testing Loss"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ignoring unrecognised arguments: --_tuning_objective_metric Testing Loss" in result.stdout
    assert (tmp_path / "opt-ml-model" / "model.pth").is_file()
    metrics = json.loads((tmp_path / "opt-ml-output-data" / "metrics.json").read_text())
    assert metrics["hyperparameters"]["learning_rate"] == 0.005
    assert metrics["hyperparameters"]["batch_size"] == 16
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 3
    assert re.search(METRIC_REGEXES["Testing Loss"], result.stdout)


@pytest.mark.slow
def test_resnet50_without_weights_exits_non_zero_with_one_line(tmp_path, dog_images, run_train, training_env):
    env = training_env(TORCH_HOME=str(tmp_path / "torch-home"))
    result = run_train(["--data-dir", dog_images, "--model-dir", tmp_path / "model", "--backbone", "resnet50"],
                       env=env)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if " ERROR " in line]
    assert len(errors) == 1
    assert "resnet50 ImageNet weights could not be fetched" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "model").exists()


@pytest.mark.slow
def test_full_path_trains_head_and_last_block_only(tmp_path, run_train):
    from pawflow.sample_data import generate_dog_images

    data = generate_dog_images(tmp_path / "data", num_classes=3, train_per_class=4, valid_per_class=2,
                               test_per_class=2, image_size=64)
    result = run_train(["--data-dir", data, "--model-dir", tmp_path / "model", "--output-data-dir",
                        tmp_path / "output", "--augment", "--unfreeze-last-block", "--epochs", "2",
                        "--batch-size", "6", "--num-workers", "0"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Full path:" in result.stdout and "head + last backbone block" in result.stdout
    assert "Feature cache" not in result.stdout
    accuracy = float(re.search(METRIC_REGEXES["Testing Accuracy"], result.stdout).group(1))
    assert 0.0 <= accuracy <= 1.0
    trained = torch.load(tmp_path / "model" / "model.pth", weights_only=True)
    pretrained, _ = classifier.build_backbone("efficientnet_lite0")
    reference = {f"backbone.{key}": value for key, value in pretrained.state_dict().items()}
    assert torch.equal(trained["backbone.network._conv_stem.weight"], reference["backbone.network._conv_stem.weight"])
    assert not torch.equal(trained["backbone.network._conv_head.weight"],
                           reference["backbone.network._conv_head.weight"])
