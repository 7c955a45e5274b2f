"""Features in S3 under features/<digest>/: the digest follows data, code, backbone and precision; publishing."""

import io
import shutil
import tarfile

import pytest

from pawflow.feature_store import (
    code_digest,
    dataset_digest,
    features_digest,
    plan_features,
    publish_features,
    uses_features,
)
from pawflow.source_archive import TRAINING_CODE_DIR

BUCKET = "pawflow-features-test"
HYPERPARAMETERS = {"backbone": "efficientnet_lite0", "epochs": 2}


def test_dataset_digest_ignores_listing_order_and_etag_quotes():
    objects = [("train/a/1.jpg", '"aa"'), ("valid/a/2.jpg", '"bb"')]
    assert dataset_digest(objects) == dataset_digest([("valid/a/2.jpg", "bb"), ("train/a/1.jpg", "aa")])


@pytest.mark.parametrize("changed", [[("train/a/1.jpg", "ab"), ("valid/a/2.jpg", "bb")],
                                     [("train/b/1.jpg", "aa"), ("valid/a/2.jpg", "bb")],
                                     [("train/a/1.jpg", "aa")]],
                         ids=["content", "renamed", "removed"])
def test_dataset_digest_changes_with_any_image(changed):
    assert dataset_digest(changed) != dataset_digest([("train/a/1.jpg", "aa"), ("valid/a/2.jpg", "bb")])


def test_code_digest_follows_the_feature_code_only(tmp_path):
    code = shutil.copytree(TRAINING_CODE_DIR, tmp_path / "code", ignore=shutil.ignore_patterns("__pycache__"))
    before = code_digest(code)
    (code / "train.py").write_text((code / "train.py").read_text() + "\n# head training changed\n")
    assert code_digest(code) == before
    (code / "classifier.py").write_text((code / "classifier.py").read_text() + "\nRESIZE_SIZE = 288\n")
    assert code_digest(code) != before


def test_code_digest_refuses_a_folder_that_is_not_the_training_code(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path / 'classifier.py'} is missing"):
        code_digest(tmp_path)


def test_backbone_and_precision_are_part_of_the_digest():
    base = {"dataset": "d", "backbone": "efficientnet_lite0", "precision": "auto", "code": "c"}
    digests = {features_digest(**base), features_digest(**{**base, "backbone": "resnet50"}),
               features_digest(**{**base, "precision": "fp32"})}
    assert len(digests) == 3


@pytest.mark.parametrize("flag", ["augment", "unfreeze_last_block"])
def test_full_path_jobs_use_no_features(flag):
    assert uses_features(HYPERPARAMETERS)
    assert not uses_features({**HYPERPARAMETERS, flag: True})
    assert uses_features({**HYPERPARAMETERS, flag: "false"})


@pytest.fixture
def s3(client):
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key, body in {"dogImages/train/a/1.jpg": b"one", "dogImages/valid/a/2.jpg": b"two",
                      "dogImages/test/a/3.jpg": b"three"}.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    yield s3
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def _plan(s3, **hyperparameters):
    return plan_features(s3, bucket=BUCKET, data_prefix="dogImages", hyperparameters={**HYPERPARAMETERS,
                                                                                     **hyperparameters},
                         code_dir=TRAINING_CODE_DIR)


def _extraction_archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_plan_finds_no_features_for_a_new_data_set(s3):
    plan = _plan(s3)
    assert (plan["Needed"], plan["Exists"], plan["Objects"]) == (True, False, 3)
    assert plan["FeaturesUri"] == f"s3://{BUCKET}/features/{plan['Digest']}/"


def test_published_features_are_found_by_the_next_plan_until_an_image_changes(s3):
    plan = _plan(s3)
    s3.put_object(Bucket=BUCKET, Key="output/extract/model.tar.gz",
                  Body=_extraction_archive({"train.pt": b"t", "backbone.pth": b"b", "features.json": b"{}"}))
    published = publish_features(s3, f"s3://{BUCKET}/output/extract/model.tar.gz", plan["FeaturesUri"])
    assert published["Files"][-1] == "features.json"
    assert _plan(s3) == {**plan, "Exists": True}
    s3.put_object(Bucket=BUCKET, Key="dogImages/train/a/1.jpg", Body=b"one, edited")
    changed = _plan(s3)
    assert (changed["Exists"], changed["Digest"] != plan["Digest"]) == (False, True)


def test_publishing_copies_only_top_level_extraction_files(s3):
    archive = _extraction_archive({"./valid.pt": b"v", "../escape.pt": b"x", "code/inference.py": b"c",
                                   "notes.txt": b"n", "features.json": b"{}"})
    s3.put_object(Bucket=BUCKET, Key="output/model.tar.gz", Body=archive)
    publish_features(s3, f"s3://{BUCKET}/output/model.tar.gz", f"s3://{BUCKET}/features/abc/")
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="features/")["Contents"]}
    assert keys == {"features/abc/valid.pt", "features/abc/features.json"}


def test_publishing_refuses_an_archive_without_a_manifest(s3):
    s3.put_object(Bucket=BUCKET, Key="output/model.tar.gz", Body=_extraction_archive({"model.pth": b"m"}))
    with pytest.raises(ValueError, match=f"s3://{BUCKET}/output/model.tar.gz holds no features.json: it is not "
                                         "the output of train.py --extract-features-only"):
        publish_features(s3, f"s3://{BUCKET}/output/model.tar.gz", f"s3://{BUCKET}/features/abc/")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="features/").get("Contents", [])]
    assert "features/abc/features.json" not in keys  # without it the folder never counts as published


def test_full_path_plans_no_features_and_lists_nothing(s3):
    assert _plan(s3, augment=True) == {"Needed": False, "Digest": None, "FeaturesUri": None, "Exists": None,
                                       "DatasetDigest": None, "Objects": None}
