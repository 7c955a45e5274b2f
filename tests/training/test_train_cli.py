"""train.py's command line: options and spellings, and user errors that exit 2 with one clear message."""

import shutil

import pytest

import train


def _exit_code_and_stderr(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    return exit_info.value.code, capsys.readouterr().err


def test_help_lists_both_backbones_both_spellings_and_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "efficientnet_lite0" in out and "resnet50" in out
    for flag in ("--learning-rate", "--learning_rate", "--batch-size", "--batch_size", "--data-dir", "--model-dir",
                 "--output-data-dir", "--epochs", "--patience", "--seed", "--num-workers", "--feature-cache-dir",
                 "--augment", "--unfreeze-last-block", "--hosts", "--current-host", "--master-port"):
        assert flag in out, flag
    assert "(default: 0.001)" in out
    assert "(default: efficientnet_lite0)" in out


def test_defaults_come_from_sagemaker_environment():
    parser = train.build_parser({
        "SM_CHANNEL_TRAINING": "/opt/ml/input/data/training", "SM_MODEL_DIR": "/opt/ml/model",
        "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data", "SM_HOSTS": '["algo-1", "algo-2"]', "SM_CURRENT_HOST": "algo-2",
        "SM_INPUT_DATA_CONFIG": '{"training": {"S3DistributionType": "ShardedByS3Key"}}',
        "PAWFLOW_FEATURE_CACHE": "/cache",
    })
    args = parser.parse_args([])
    assert (args.data_dir, args.model_dir, args.output_data_dir) == (
        "/opt/ml/input/data/training", "/opt/ml/model", "/opt/ml/output/data")
    assert (args.hosts, args.current_host, args.data_sharded) == ('["algo-1", "algo-2"]', "algo-2", True)
    assert args.feature_cache_dir == "/cache"


def test_standalone_defaults_need_no_environment():
    args = train.build_parser({}).parse_args([])
    assert (args.data_dir, args.model_dir) == ("dogImages", "TrainedModels")
    assert (args.hosts, args.data_sharded, args.augment) == ("", False, False)
    assert args.master_port == 29500


def test_sagemaker_hyperparameter_spellings_and_boolean_values():
    args = train.build_parser({}).parse_args(
        ["--learning_rate", "0.01", "--batch_size", "32", "--num_workers", "0", "--augment", "True",
         "--unfreeze_last_block", "false"])
    assert (args.learning_rate, args.batch_size, args.num_workers) == (0.01, 32, 0)
    assert (args.augment, args.unfreeze_last_block) == (True, False)


@pytest.mark.parametrize("argv, message", [
    (["--learning-rate", "-1"], "expected a positive number, got '-1'"),
    (["--batch_size", "0"], "expected a positive integer, got '0'"),
    (["--epochs", "ten"], "expected a positive integer, got 'ten'"),
    (["--dropout", "1.5"], "expected a probability in [0, 1)"),
    (["--backbone", "vgg16"], "invalid choice: 'vgg16'"),
])
def test_bad_hyperparameters_exit_2(capsys, argv, message):
    code, err = _exit_code_and_stderr(capsys, argv)
    assert code == 2
    assert message in err


def test_missing_data_dir_exits_2_naming_it(capsys, tmp_path):
    code, err = _exit_code_and_stderr(capsys, ["--data-dir", str(tmp_path / "nowhere")])
    assert code == 2
    assert f"train.py: error: data directory {tmp_path / 'nowhere'} does not exist" in err
    assert "Traceback" not in err


def test_missing_split_exits_2(capsys, tmp_path, dog_images):
    data = shutil.copytree(dog_images, tmp_path / "data")
    shutil.rmtree(data / "valid")
    code, err = _exit_code_and_stderr(capsys, ["--data-dir", str(data)])
    assert code == 2
    assert f"split folder {data / 'valid'} is missing" in err


def test_data_without_class_folders_exits_2(capsys, tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / split).mkdir()
    code, err = _exit_code_and_stderr(capsys, ["--data-dir", str(tmp_path)])
    assert code == 2
    assert "has no class folders" in err


def test_class_folders_without_images_exit_2(capsys, tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / split / "001.Affenpinscher").mkdir(parents=True)
    code, err = _exit_code_and_stderr(capsys, ["--data-dir", str(tmp_path)])
    assert code == 2
    assert "holds no images" in err


def test_class_missing_from_train_exits_2(capsys, tmp_path, dog_images):
    data = shutil.copytree(dog_images, tmp_path / "data")
    shutil.rmtree(data / "train" / "005.Alaskan_malamute")
    code, err = _exit_code_and_stderr(capsys, ["--data-dir", str(data)])
    assert code == 2
    assert "class folders that train/ lacks: 005.Alaskan_malamute" in err


def test_current_host_outside_the_host_list_exits_2(capsys, dog_images):
    code, err = _exit_code_and_stderr(
        capsys, ["--data-dir", str(dog_images), "--hosts", "algo-1,algo-2", "--current-host", "algo-3"])
    assert code == 2
    assert "current host 'algo-3' is not among the hosts ['algo-1', 'algo-2']" in err


def test_several_hosts_without_current_host_exit_2(capsys, dog_images):
    code, err = _exit_code_and_stderr(capsys, ["--data-dir", str(dog_images), "--hosts", '["algo-1", "algo-2"]'])
    assert code == 2
    assert "--current-host (SM_CURRENT_HOST) is required" in err


def test_unresolvable_master_host_fails_at_once_with_a_hint(capsys, dog_images):
    code, err = _exit_code_and_stderr(
        capsys, ["--data-dir", str(dog_images), "--hosts", "algo-1.invalid,algo-2.invalid",
                 "--current-host", "algo-2.invalid"])
    assert code == 2
    assert "master host 'algo-1.invalid'" in err and "does not resolve" in err
    assert "PAWFLOW_HOST_ADDRESSES" in err


def test_decoding_workers_follow_the_hosts_share_of_the_cores():
    assert train.build_parser({"SM_NUM_CPUS": "1"}).parse_args([]).num_workers == 0
    assert train.build_parser({"SM_NUM_CPUS": "3"}).parse_args([]).num_workers == 2
    assert train.build_parser({"SM_NUM_CPUS": "16"}).parse_args([]).num_workers == 4
