"""Multi-host training: host list parsing, rendezvous address, and two real processes training one model."""

import json
import re
import socket
import subprocess
import sys

import pytest

from distributed_training import (
    DistributedSetupError,
    cluster_spec,
    parse_host_addresses,
    parse_hosts,
)
from pawflow.sample_data import generate_dog_images
from tests.timeouts import scaled
from train import channel_is_sharded

#: Six epochs on two hosts over the small generated data set, on a quiet machine (one core each), with margin.
TWO_HOST_TRAINING_SECONDS = 120


def test_hosts_from_sm_hosts_json_or_comma_list():
    assert parse_hosts('["algo-1", "algo-2"]') == ["algo-1", "algo-2"]
    assert parse_hosts("algo-1, algo-2,") == ["algo-1", "algo-2"]
    assert parse_hosts("") == []


def test_duplicate_or_malformed_hosts_are_refused():
    with pytest.raises(DistributedSetupError, match="distinct"):
        parse_hosts("algo-1,algo-1")
    with pytest.raises(DistributedSetupError, match="not a JSON list"):
        parse_hosts('["algo-1", ')


def test_host_addresses_as_pairs_or_json():
    expected = {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}
    assert parse_host_addresses("algo-1=127.0.0.1,algo-2=127.0.0.1") == expected
    assert parse_host_addresses(json.dumps(expected)) == expected
    with pytest.raises(DistributedSetupError, match="name=address pairs"):
        parse_host_addresses("algo-1:127.0.0.1")


def test_rank_is_the_host_index_and_master_the_first_host():
    spec = cluster_spec(["algo-1", "algo-2", "algo-3"], "algo-3", 29500,
                        host_addresses={"algo-1": "10.0.0.5"})
    assert (spec.rank, spec.world_size, spec.master_addr, spec.master_port) == (2, 3, "10.0.0.5", 29500)


def test_master_addr_overrides_the_host_name():
    spec = cluster_spec(["algo-1", "algo-2"], "algo-1", 29500, master_addr="127.0.0.1")
    assert spec.master_addr == "127.0.0.1"


def test_master_name_is_resolved_to_an_address():
    assert cluster_spec(["localhost", "other"], "other", 29500).master_addr in ("127.0.0.1", "::1")


def test_single_host_needs_no_resolvable_name():
    spec = cluster_spec(["algo-1.invalid"], "algo-1.invalid", 29500)
    assert (spec.rank, spec.world_size) == (0, 1)


def test_unresolvable_master_fails_with_the_host_name():
    with pytest.raises(DistributedSetupError, match="master host 'algo-1.invalid'.*does not resolve"):
        cluster_spec(["algo-1.invalid", "algo-2.invalid"], "algo-2.invalid", 29500)


def test_sharded_channel_detected_from_input_data_config():
    sharded = json.dumps({"training": {"S3DistributionType": "ShardedByS3Key", "TrainingInputMode": "File"}})
    replicated = json.dumps({"training": {"S3DistributionType": "FullyReplicated"}})
    assert channel_is_sharded(sharded, "training")
    assert not channel_is_sharded(replicated, "training")
    assert not channel_is_sharded("", "training")
    assert not channel_is_sharded("not json", "training")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _train_on_two_hosts(tmp_path, repo, training_env, data_dirs, extra=()):
    """Start algo-1 and algo-2 as two processes on this machine; return their (returncode, log) pairs."""
    port = _free_port()
    env = training_env(PAWFLOW_HOST_ADDRESSES="algo-1=127.0.0.1,algo-2=127.0.0.1")
    processes = []
    for index, data_dir in enumerate(data_dirs, start=1):
        host = tmp_path / f"algo-{index}"
        processes.append(subprocess.Popen(
            [sys.executable, str(repo / "training_code" / "train.py"), "--data-dir", str(data_dir),
             "--model-dir", str(host / "model"), "--output-data-dir", str(host / "output"),
             "--feature-cache-dir", str(tmp_path / "cache"), "--hosts", "algo-1,algo-2",
             "--current-host", f"algo-{index}", "--master-port", str(port), "--epochs", "6", "--batch-size", "8",
             "--num-workers", "0", "--dist-timeout", f"{scaled(40):.0f}", *extra],
            env=env, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    results = []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=scaled(TWO_HOST_TRAINING_SECONDS))
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        results.append((process.returncode, output))
    return results


def _metric(log, name):
    return float(re.findall(rf"{name}: ([0-9.]+)", log)[-1])


@pytest.mark.slow
def test_two_processes_train_one_model_each_on_its_half(tmp_path, repo, training_env):
    # 13 images per class: 65 train images split 33/32, so the shards differ by a batch (uneven inputs).
    data = generate_dog_images(tmp_path / "data", num_classes=5, train_per_class=13, valid_per_class=3,
                               test_per_class=3)
    (code_1, log_1), (code_2, log_2) = _train_on_two_hosts(tmp_path, repo, training_env, [data, data])
    assert code_1 == 0, log_1
    assert code_2 == 0, log_2
    assert "Joining gloo process group at 127.0.0.1" in log_1
    assert "Data shard of rank 0 of 2: train 33 of 65 images, valid 8 of 15, test 8 of 15" in log_1
    assert "Data shard of rank 1 of 2: train 32 of 65 images, valid 7 of 15, test 7 of 15" in log_2
    # Metrics are sums over both ranks: the same numbers on both hosts, and over all 15 test images.
    assert _metric(log_1, "Testing Loss") == _metric(log_2, "Testing Loss")
    assert _metric(log_1, "Testing Accuracy") == _metric(log_2, "Testing Accuracy") > 0.5
    assert "Epoch 1/6: Train Loss" in log_1 and "Epoch 1/6" not in log_2
    metrics = json.loads((tmp_path / "algo-1" / "output" / "metrics.json").read_text())
    assert (metrics["world_size"], metrics["test"]["images"]) == (2, 15)
    assert {path.name for path in (tmp_path / "algo-1" / "model").iterdir()} >= {
        "model.pth", "classes.json", "model_config.json", "code"}
    assert not (tmp_path / "algo-2" / "model").exists()
    assert not (tmp_path / "algo-2" / "output").exists()


@pytest.mark.slow
def test_sharded_channels_train_on_their_own_files_and_agree_on_classes(tmp_path, repo, training_env):
    first = generate_dog_images(tmp_path / "shard-1", num_classes=5, train_per_class=6, valid_per_class=2,
                                test_per_class=2, seed=1)
    second = generate_dog_images(tmp_path / "shard-2", num_classes=4, train_per_class=6, valid_per_class=2,
                                 test_per_class=2, seed=2)
    (code_1, log_1), (code_2, log_2) = _train_on_two_hosts(tmp_path, repo, training_env, [first, second],
                                                           extra=["--data-sharded"])
    assert code_1 == 0, log_1
    assert code_2 == 0, log_2
    assert "Data: 5 classes; train 30, valid 10, test 10 images on this host (the channel's own shard)" in log_1
    assert "Data: 5 classes; train 24, valid 8, test 8 images on this host (the channel's own shard)" in log_2
    classes = json.loads((tmp_path / "algo-1" / "model" / "classes.json").read_text())
    assert len(classes) == 5 and classes[-1] == "005.Alaskan_malamute"
    metrics = json.loads((tmp_path / "algo-1" / "output" / "metrics.json").read_text())
    assert metrics["test"]["images"] == 18
