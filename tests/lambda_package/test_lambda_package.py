"""The Lambda deployment zip is byte-for-byte reproducible, excludes build litter, and runs once extracted."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pawflow.lambda_package import (
    DEFAULT_SOURCE_DIR,
    LambdaPackage,
    build_lambda_package,
    code_sha256,
    package_files,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def source(tmp_path) -> Path:
    """A copy of the repository's lambda/ plus a nested module, with fresh mtimes."""
    root = tmp_path / "src"
    shutil.copytree(REPO / "lambda", root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "labels").mkdir()
    (root / "labels" / "breeds.json").write_text(json.dumps(["Affenpinscher", "Afghan hound"]))
    return root


def test_default_source_is_the_repository_lambda_directory():
    assert DEFAULT_SOURCE_DIR == REPO / "lambda"
    names = [name for name, _ in package_files()]
    assert "lambda_function.py" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_same_input_gives_identical_bytes_and_sha(source):
    first, second = build_lambda_package(source), build_lambda_package(source)
    assert first.zip_bytes == second.zip_bytes
    assert first.code_sha256 == second.code_sha256
    assert first.files == ("labels/breeds.json", "lambda_function.py")


def test_mtimes_permissions_and_creation_order_do_not_change_the_bytes(source, tmp_path):
    before = build_lambda_package(source)
    for path in source.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    (source / "lambda_function.py").chmod(0o755)
    rebuilt_elsewhere = tmp_path / "elsewhere"
    rebuilt_elsewhere.mkdir()
    for name in reversed(before.files):  # files created in the opposite order
        target = rebuilt_elsewhere / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((source / name).read_bytes())
    assert build_lambda_package(source).zip_bytes == before.zip_bytes
    assert build_lambda_package(rebuilt_elsewhere).zip_bytes == before.zip_bytes


def test_a_content_change_changes_the_sha(source):
    before = build_lambda_package(source)
    with (source / "lambda_function.py").open("a") as handle:
        handle.write("\n")
    after = build_lambda_package(source)
    assert after.code_sha256 != before.code_sha256
    renamed = source / "labels" / "breeds.json"
    renamed.rename(source / "labels" / "breeds2.json")
    assert build_lambda_package(source).code_sha256 != after.code_sha256


def test_entries_are_sorted_with_fixed_time_mode_and_no_directories(source):
    archive = zipfile.ZipFile(io.BytesIO(build_lambda_package(source).zip_bytes))
    infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_STORED
        assert not info.is_dir()
    assert archive.testzip() is None


def test_deflated_packages_are_reproducible_too(source):
    first = build_lambda_package(source, compression=zipfile.ZIP_DEFLATED)
    assert first.zip_bytes == build_lambda_package(source, compression=zipfile.ZIP_DEFLATED).zip_bytes
    assert {i.compress_type for i in zipfile.ZipFile(io.BytesIO(first.zip_bytes)).infolist()} == {
        zipfile.ZIP_DEFLATED}
    with pytest.raises(ValueError, match="ZIP_STORED or zipfile.ZIP_DEFLATED"):
        build_lambda_package(source, compression=zipfile.ZIP_BZIP2)


def test_caches_bytecode_and_hidden_files_are_excluded(source):
    clean = build_lambda_package(source)
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "lambda_function.cpython-311.pyc").write_bytes(b"\x00" * 16)
    (source / "labels" / "old.pyc").write_bytes(b"\x00")
    (source / "labels" / "old.pyo").write_bytes(b"\x00")
    (source / ".env").write_text("SECRET=1")
    (source / ".git").mkdir()
    (source / ".git" / "config").write_text("[core]")
    (source / "labels" / ".DS_Store").write_bytes(b"\x00")
    dirty = build_lambda_package(source)
    assert dirty.files == clean.files
    assert dirty.zip_bytes == clean.zip_bytes


def test_code_sha256_is_base64_of_the_sha256_digest(source):
    package = build_lambda_package(source)
    assert package.code_sha256 == base64.b64encode(hashlib.sha256(package.zip_bytes).digest()).decode()
    assert code_sha256(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_needs_update_compares_with_the_deployed_sha(source):
    package = build_lambda_package(source)
    assert package.needs_update(None)
    assert not package.needs_update(package.code_sha256)
    assert package.needs_update(code_sha256(b"other"))


def test_missing_or_empty_source_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_lambda_package(tmp_path / "nope")
    (tmp_path / "empty" / "__pycache__").mkdir(parents=True)
    (tmp_path / "empty" / "__pycache__" / "x.pyc").write_bytes(b"")
    with pytest.raises(ValueError, match="no files to package"):
        build_lambda_package(tmp_path / "empty")


def test_extracted_package_imports_and_handles_an_event(tmp_path, monkeypatch):
    package = build_lambda_package()
    target = tmp_path / "task"
    zipfile.ZipFile(io.BytesIO(package.zip_bytes)).extractall(target)
    spec = importlib.util.spec_from_file_location("packaged_lambda_function", target / "lambda_function.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    monkeypatch.setenv("ENDPOINT_NAME", "dog-breed")
    response = module.lambda_handler({"url": "ftp://example.com/dog.jpg"}, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "InvalidUrl"


def test_extracted_package_runs_in_a_fresh_interpreter_by_its_handler_string(tmp_path):
    target = tmp_path / "task"
    zipfile.ZipFile(io.BytesIO(build_lambda_package().zip_bytes)).extractall(target)
    script = ("import importlib, json; handler = getattr(importlib.import_module('lambda_function'), "
              "'lambda_handler'); print(json.dumps(handler(None, None)))")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(target), "AWS_DEFAULT_REGION": "us-east-1",
           "ENDPOINT_NAME": "dog-breed"}
    result = subprocess.run([sys.executable, "-c", script], cwd=target, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "InvalidEvent"


def deployed_code_sha256(lambda_client, function_name: str) -> str | None:
    """The CodeSha256 Lambda reports for a function, or None when it does not exist."""
    try:
        return lambda_client.get_function_configuration(FunctionName=function_name)["CodeSha256"]
    except lambda_client.exceptions.ResourceNotFoundException:
        return None


def test_deployed_code_sha256_matches_what_lambda_reports(source, monkeypatch):
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    package = build_lambda_package(source)
    with mock_aws():
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="dog-breed-invoke-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        client = boto3.client("lambda")
        assert deployed_code_sha256(client, "dog-breed-invoke") is None
        created = client.create_function(FunctionName="dog-breed-invoke", Runtime="python3.11", Role=role,
                                         Handler="lambda_function.lambda_handler",
                                         Code={"ZipFile": package.zip_bytes})
        assert created["CodeSha256"] == package.code_sha256
        assert not package.needs_update(deployed_code_sha256(client, "dog-breed-invoke"))
        (source / "labels" / "breeds.json").write_text("[]")
        assert build_lambda_package(source).needs_update(deployed_code_sha256(client, "dog-breed-invoke"))


def test_package_is_a_plain_value(source):
    package = build_lambda_package(source)
    assert isinstance(package, LambdaPackage)
    assert package.size == len(package.zip_bytes)
    assert "zip_bytes" not in repr(package) and package.code_sha256 in repr(package)


def test_importing_the_module_loads_no_aws_sdk():
    script = ("import sys; sys.path.insert(0, 'plugins'); import pawflow.lambda_package; "
              "print(sorted(m for m in ('boto3', 'botocore', 'airflow', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
