"""Pure parts of the runtime: metric regexes, channel paths, search spaces, request validation, CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from local_aws.s3.objects import S3UriError, parse_s3_uri, relative_key
from local_aws.sagemaker.exceptions import ValidationException
from local_aws.sagemaker.metric_definitions import final_metric_data, metric_values
from local_aws.sagemaker.training_layout import decode_hyperparameter
from local_aws.sagemaker.tuning import SearchSpace, validate_tuning_request

REPO = Path(__file__).resolve().parents[2]


def test_metric_values_take_every_match_and_skip_non_numbers():
    lines = ["epoch 1 Validation Loss: 0.9", "Validation Loss: nan", "x Validation Loss: 0.4 y", "Validation Loss: ."]
    assert metric_values(r"Validation Loss: ([0-9\.]+)", lines) == [0.9, 0.4]


def test_final_metric_data_reports_the_last_value_per_definition_and_omits_absent_ones():
    data = final_metric_data([{"Name": "loss", "Regex": r"Loss: ([0-9.]+)"}, {"Name": "acc", "Regex": r"Acc: ([0-9.]+)"}],
                             ["Loss: 2.0", "Loss: 1.5"])
    assert [(d["MetricName"], d["Value"]) for d in data] == [("loss", 1.5)]


@pytest.mark.parametrize("key, prefix, expected", [
    ("data/train/a/x.jpg", "data/train", "a/x.jpg"),
    ("data/train/a/x.jpg", "data/train/", "a/x.jpg"),
    ("data/train.csv", "data/train.csv", "train.csv"),
    ("data/train-2/x", "data/train", "train-2/x"),
])
def test_channel_paths_follow_the_s3_prefix(key, prefix, expected):
    assert relative_key(key, prefix) == expected


def test_s3_uris_are_parsed_or_rejected():
    assert parse_s3_uri("s3://bucket/a/b") == ("bucket", "a/b")
    with pytest.raises(S3UriError):
        parse_s3_uri("https://bucket/a")


def test_hyperparameters_are_json_decoded_like_the_toolkit_does():
    assert decode_hyperparameter('"train.py"') == "train.py"
    assert decode_hyperparameter("train.py") == "train.py"
    assert decode_hyperparameter("0.5") == 0.5


def test_reverse_logarithmic_values_stay_in_range_and_crowd_towards_the_top():
    space = SearchSpace({"ContinuousParameterRanges": [
        {"Name": "momentum", "MinValue": "0.0", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}]})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = [float(space.suggest(study.ask())["momentum"]) for _ in range(200)]
    assert all(0.0 <= v <= 0.999 for v in values)
    assert sum(v > 0.9 for v in values) > 100


def test_grid_covers_categorical_and_integer_ranges():
    space = SearchSpace({"IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": "3"}],
                         "CategoricalParameterRanges": [{"Name": "batch_size", "Values": ["32", "64"]}]})
    assert space.grid() == {"batch_size": ["32", "64"], "epochs": [1, 2, 3]}


@pytest.mark.parametrize("change, message", [
    ({"Strategy": "Hyperband"}, "Strategy Hyperband is not supported locally"),
    ({"ParameterRanges": {"ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]}}, "needs MinValue > 0"),
    ({"ParameterRanges": {"IntegerParameterRanges": [{"Name": "n", "MinValue": "5", "MaxValue": "1"}]}},
     "must not exceed its MaxValue"),
    ({"Strategy": "Grid", "ParameterRanges": {"ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.1", "MaxValue": "1"}]}}, "Grid search supports only"),
])
def test_bad_tuning_requests_are_validation_exceptions(change, message):
    config = {"Strategy": "Bayesian", "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
              "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1}, "ParameterRanges": {}}
    config.update(change)
    definition = {"AlgorithmSpecification": {"MetricDefinitions": [{"Name": "loss", "Regex": "loss=(.*)"}]}}
    with pytest.raises(ValidationException, match=message):
        validate_tuning_request(config, definition)


def test_cli_rejects_a_zero_job_limit_with_a_clear_message():
    result = subprocess.run([sys.executable, "-m", "local_aws", "--max-concurrent-jobs", "0"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--max-concurrent-jobs must be at least 1" in result.stderr
