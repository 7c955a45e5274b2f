"""DatasetSyncOperator creates the bucket and uploads only what changed, from a folder, a zip URL or S3."""

import functools
import http.server
import io
import threading
import zipfile

import pytest

from pawflow.operators.dataset_sync import DatasetSyncOperator, source_kind
from pawflow.operators.training_code import TrainingCodeUploadOperator


def make_dataset(root, classes=("001.Affenpinscher", "002.Afghan_hound"), per_split=2):
    for split in ("train", "valid", "test"):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(per_split):
                (folder / f"{name}_{index}.jpg").write_bytes(f"{split}/{name}/{index}".encode() * 10)
    return root


def zip_folder(folder, top="dogImages"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sync(context, **kwargs):
    return DatasetSyncOperator(task_id="sync", **kwargs).execute(context)


def keys(client, bucket, prefix):
    pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_local_folder_creates_the_bucket_and_uploads_everything(client, context, tmp_path, unique):
    make_dataset(tmp_path / "data")
    result = sync(context, source=str(tmp_path / "data"), bucket_name=unique, prefix="dogImages")
    assert result == {"DataUri": f"s3://{unique}/dogImages/", "Bucket": unique, "Prefix": "dogImages",
                      "Uploaded": 12, "Unchanged": 0, "Objects": 12}
    assert "dogImages/train/001.Affenpinscher/001.Affenpinscher_0.jpg" in keys(client, unique, "dogImages/")


def test_second_sync_skips_unchanged_and_uploads_only_the_changed_file(client, context, tmp_path, unique):
    data = make_dataset(tmp_path / "data")
    sync(context, source=str(data), bucket_name=unique)
    assert sync(context, source=str(data), bucket_name=unique)["Uploaded"] == 0
    changed = data / "valid" / "002.Afghan_hound" / "002.Afghan_hound_1.jpg"
    changed.write_bytes(b"new pixels")
    result = sync(context, source=str(data), bucket_name=unique)
    assert (result["Uploaded"], result["Unchanged"]) == (1, 11)
    body = client("s3").get_object(Bucket=unique, Key="dogImages/valid/002.Afghan_hound/002.Afghan_hound_1.jpg")
    assert body["Body"].read() == b"new pixels"


def test_zip_url_with_a_top_folder_is_downloaded_and_synced(client, context, tmp_path, unique, http_root):
    root, base = http_root
    (root / "dogImages.zip").write_bytes(zip_folder(make_dataset(tmp_path / "data")))
    result = sync(context, source=f"{base}/dogImages.zip", bucket_name=unique, prefix="images")
    assert result["Uploaded"] == 12
    assert sync(context, source=f"{base}/dogImages.zip", bucket_name=unique, prefix="images")["Unchanged"] == 12


def test_local_zip_file_is_accepted(aws, context, tmp_path, unique):
    archive = tmp_path / "dogImages.zip"
    archive.write_bytes(zip_folder(make_dataset(tmp_path / "data")))
    assert sync(context, source=str(archive), bucket_name=unique)["Objects"] == 12


def test_s3_prefix_is_copied_server_side_and_converges(client, context, tmp_path, unique):
    sync(context, source=str(make_dataset(tmp_path / "data")), bucket_name=unique, prefix="landing")
    first = sync(context, source=f"s3://{unique}/landing/", bucket_name=f"{unique}-copy", prefix="dogImages")
    second = sync(context, source=f"s3://{unique}/landing", bucket_name=f"{unique}-copy", prefix="dogImages")
    assert (first["Uploaded"], second["Uploaded"], second["Unchanged"]) == (12, 0, 12)
    assert len(keys(client, f"{unique}-copy", "dogImages/")) == 12


def test_zip_url_that_is_not_a_zip_fails_clearly(aws, context, unique, http_root):
    root, base = http_root
    (root / "page.zip").write_text("<html>not found</html>")
    with pytest.raises(ValueError, match=r"did not return a zip archive"):
        sync(context, source=f"{base}/page.zip", bucket_name=unique)


def test_unreachable_url_fails_clearly(aws, context, unique, http_root):
    _, base = http_root
    with pytest.raises(ValueError, match=r"could not download the data set from .*missing.zip: HTTP Error 404"):
        sync(context, source=f"{base}/missing.zip", bucket_name=unique)


def test_zip_with_path_traversal_is_refused(aws, context, tmp_path, unique):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../../escape.txt", "x")
    with pytest.raises(ValueError, match=r"would extract outside the target folder"):
        sync(context, source=str(archive), bucket_name=unique)


def test_folder_without_the_splits_fails_clearly(aws, context, tmp_path, unique):
    (tmp_path / "data" / "train").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"no train/ valid/ test/ folders found"):
        sync(context, source=str(tmp_path / "data"), bucket_name=unique)


def test_s3_prefix_without_the_splits_fails_clearly(client, context, unique):
    client("s3").create_bucket(Bucket=unique)
    client("s3").put_object(Bucket=unique, Key="raw/train/a.jpg", Body=b"x")
    with pytest.raises(ValueError, match=r"has no objects under valid/, test/"):
        sync(context, source=f"s3://{unique}/raw/", bucket_name=f"{unique}-copy")


@pytest.mark.parametrize(("source", "kind"), [("s3://b/p", "s3"), ("https://x/y.zip", "url"), ("/data", "local")])
def test_source_kind(source, kind):
    assert source_kind(source) == kind


def test_empty_source_is_refused():
    with pytest.raises(ValueError, match="source must be a local folder"):
        source_kind(" ")


def test_training_code_upload_is_content_addressed_and_uploads_once(client, context, tmp_path, unique):
    client("s3").create_bucket(Bucket=unique)
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("print(1)\n")
    operator = TrainingCodeUploadOperator(task_id="code", source_dir=str(code), bucket_name=unique)
    first = operator.execute(context)
    assert operator.execute(context) == first
    assert first.startswith(f"s3://{unique}/code/") and first.endswith("/sourcedir.tar.gz")
    (code / "train.py").write_text("print(2)\n")
    second = operator.execute(context)
    assert second != first
    assert len(keys(client, unique, "code/")) == 2
