"""The generated data set: dogImages layout, deterministic per seed, safe to regenerate, with a working CLI."""

import subprocess
import sys

import pytest
from PIL import Image

from pawflow import sample_data
from pawflow.sample_data import class_folder_name, generate_dog_images


def _files(root):
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*.jpg"))


def test_layout_uses_dog_images_folder_names_and_counts(tmp_path):
    root = generate_dog_images(tmp_path, num_classes=12, train_per_class=3, valid_per_class=2, test_per_class=1,
                               image_size=48)
    train_classes = sorted(path.name for path in (root / "train").iterdir())
    assert train_classes[:3] == ["001.Affenpinscher", "002.Afghan_hound", "003.Airedale_terrier"]
    assert train_classes[9] == "010.Anatolian_shepherd_dog"
    assert train_classes[10:] == ["011.Breed_011", "012.Breed_012"]
    for split, per_class in (("train", 3), ("valid", 2), ("test", 1)):
        assert sorted(path.name for path in (root / split).iterdir()) == train_classes
        assert len(list((root / split).rglob("*.jpg"))) == 12 * per_class
    assert (root / "train" / "001.Affenpinscher" / "Affenpinscher_00001.jpg").is_file()


def test_images_are_rgb_jpegs_of_the_requested_size(tmp_path):
    root = generate_dog_images(tmp_path, num_classes=2, train_per_class=1, valid_per_class=1, test_per_class=1,
                               image_size=64)
    with Image.open(root / "valid" / "002.Afghan_hound" / "Afghan_hound_00001.jpg") as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (64, 64))


def test_same_seed_gives_identical_files_and_another_seed_different_ones(tmp_path):
    settings = dict(num_classes=3, train_per_class=2, valid_per_class=1, test_per_class=1, image_size=48)
    first = generate_dog_images(tmp_path / "a", seed=7, **settings)
    second = generate_dog_images(tmp_path / "b", seed=7, **settings)
    other = generate_dog_images(tmp_path / "c", seed=8, **settings)
    assert _files(first) == _files(second) == _files(other)
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in _files(first))
    assert any((first / name).read_bytes() != (other / name).read_bytes() for name in _files(first))


def test_more_images_per_class_keeps_the_existing_ones(tmp_path):
    small = generate_dog_images(tmp_path / "small", num_classes=2, train_per_class=2, image_size=48)
    large = generate_dog_images(tmp_path / "large", num_classes=2, train_per_class=5, image_size=48)
    for name in _files(small):
        assert (small / name).read_bytes() == (large / name).read_bytes()


def test_classes_differ_in_shape_palette_and_background():
    triples = {(i % len(sample_data.SHAPES), i % len(sample_data.PALETTES), i % len(sample_data.BACKGROUNDS))
               for i in range(sample_data.MAX_CLASSES)}
    assert len(triples) == sample_data.MAX_CLASSES >= 133


def test_regenerating_the_same_data_set_is_a_no_op(tmp_path):
    root = generate_dog_images(tmp_path, num_classes=2, train_per_class=2, image_size=48)
    marker = root / "train" / "001.Affenpinscher" / "extra.txt"
    marker.write_text("kept")
    generate_dog_images(tmp_path, num_classes=2, train_per_class=2, image_size=48)
    assert marker.read_text() == "kept"


def test_other_settings_over_existing_data_need_overwrite(tmp_path):
    generate_dog_images(tmp_path, num_classes=3, train_per_class=2, image_size=48)
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_dog_images(tmp_path, num_classes=2, train_per_class=2, image_size=48)
    generate_dog_images(tmp_path, num_classes=2, train_per_class=2, image_size=48, overwrite=True)
    assert len(list((tmp_path / "train").iterdir())) == 2


@pytest.mark.parametrize("arguments, message", [
    ({"num_classes": 0}, "num_classes"),
    ({"num_classes": 141}, "num_classes"),
    ({"valid_per_class": 0}, "valid_per_class"),
    ({"image_size": 8}, "image_size"),
])
def test_bad_sizes_are_refused(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        generate_dog_images(tmp_path, **arguments)


def test_folder_names_beyond_the_named_breeds():
    assert class_folder_name(0) == "001.Affenpinscher"
    assert class_folder_name(132) == "133.Breed_133"


def test_cli_writes_the_data_set(tmp_path, repo):
    result = subprocess.run(
        [sys.executable, "-m", "pawflow.sample_data", str(tmp_path / "out"), "--classes", "3",
         "--train-per-class", "2", "--valid-per-class", "1", "--test-per-class", "1", "--image-size", "40"],
        env={"PYTHONPATH": str(repo / "plugins"), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote 12 images in 3 classes" in result.stdout
    assert len(list((tmp_path / "out").rglob("*.jpg"))) == 12


def test_cli_reports_bad_arguments_like_argparse(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sample_data.main([str(tmp_path), "--classes", "0"])
    assert exit_info.value.code == 2
    assert "num_classes must be between 1 and 140" in capsys.readouterr().err
