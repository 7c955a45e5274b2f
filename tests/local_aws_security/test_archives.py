"""Crafted archives are refused by ``local_aws.archives`` and, through a real server, by training, endpoints and Lambda.

Every archive is built here, in memory. The realpath-bypass archive is built as the public proof of concept for
CVE-2025-4517 builds it: a deep chain of long directory names and symlinks, so that ``os.path.realpath`` stops
resolving and ``tarfile``'s ``filter="data"`` no longer sees where the links lead.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import tarfile
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_aws.archives import (
    LAMBDA_UNZIPPED_LIMIT,
    ArchiveLimits,
    ArchiveRefused,
    check_zip,
    pack_tar_gz,
    unpack_tar,
    unpack_zip,
)
from tests.served_endpoints import serve_model, settled_endpoint
from tests.timeouts import scaled

COULD_NOT_UNZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


# --- archive builders --------------------------------------------------------------------------------------------
def file_member(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, data


def special_member(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def directory_member(name: str) -> tuple[tarfile.TarInfo, None]:
    return special_member(name, tarfile.DIRTYPE)


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None], pax: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT if pax else tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def realpath_bypass_tar(destination: Path, overwrite_flag: bool = True) -> bytes:
    """The CVE-2025-4517 proof of concept for ``destination``: it overwrites ``../flag`` (when ``overwrite_flag``,
    through a hard link, so ``../flag`` must exist) and creates ``../newfile``.

    Each step adds a long directory and a one-letter symlink to it; the final link's expansion overflows PATH_MAX,
    so realpath stops there and reports a path inside the destination while the link leads to its parent.
    """
    steps = "abcdefghijklmnop"
    path_max = os.pathconf(destination.parent, "PC_PATH_MAX")
    component = "d" * ((path_max - len(str(destination)) - 1) // (len(steps) + 1))
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    path = ""
    for step in steps:
        members.append(directory_member(os.path.join(path, component)))
        members.append(special_member(os.path.join(path, step), tarfile.SYMTYPE, component))
        path = os.path.join(path, component)
    link = os.path.join(*steps, "l" * 254)
    members.append(special_member(link, tarfile.SYMTYPE, os.path.join(*[".."] * len(steps))))
    members.append(special_member("escape", tarfile.SYMTYPE, os.path.join(link, "..")))
    if overwrite_flag:
        members.append(special_member("flaglink", tarfile.LNKTYPE, "escape/flag"))
        members.append(file_member("flaglink", b"overwrite"))
    members.append(file_member("escape/newfile", b"new"))
    return tar_of(*members)


def zip_of(*entries: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def zip_symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@pytest.fixture(scope="module")
def archives_zip_bomb() -> bytes:
    """A ~250 KB zip whose one file unzips to one byte more than Lambda's 262,144,000-byte limit."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("lambda_function.py", "w", force_zip64=True) as member:
            zeros = bytes(1024 * 1024)
            for _ in range(LAMBDA_UNZIPPED_LIMIT // len(zeros)):
                member.write(zeros)
            member.write(bytes(LAMBDA_UNZIPPED_LIMIT % len(zeros) + 1))
    return buffer.getvalue()


@pytest.fixture
def archives_outside(tmp_path) -> tuple[Path, Path]:
    """``(destination, outside)``: an empty destination and, beside it, a directory holding ``flag``."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "flag").write_text("original")
    return tmp_path / "dest", outside


def umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def refusal(action: Callable[[], Any]) -> ArchiveRefused:
    with pytest.raises(ArchiveRefused) as caught:
        action()
    return caught.value


# --- tar: member types ---------------------------------------------------------------------------------------------
def test_tar_symlink_member_is_refused(archives_outside):
    destination, outside = archives_outside
    archive = tar_of(special_member("evil", tarfile.SYMTYPE, str(outside)), file_member("evil/pwned", b"owned"))

    refused = refusal(lambda: unpack_tar(archive, destination))

    assert str(refused) == "member 'evil' is a symbolic link"
    assert sorted(p.name for p in outside.iterdir()) == ["flag"]


def test_tar_hard_link_member_is_refused(archives_outside):
    destination, outside = archives_outside
    archive = tar_of(special_member("flaglink", tarfile.LNKTYPE, str(outside / "flag")), file_member("flaglink", b"!"))

    refused = refusal(lambda: unpack_tar(archive, destination))

    assert str(refused) == "member 'flaglink' is a hard link"
    assert (outside / "flag").read_text() == "original"


@pytest.mark.parametrize("kind, rule", [(tarfile.CHRTYPE, "is a device file"), (tarfile.BLKTYPE, "is a device file"),
                                        (tarfile.FIFOTYPE, "is a FIFO")])
def test_tar_device_and_fifo_members_are_refused(tmp_path, kind, rule):
    refused = refusal(lambda: unpack_tar(tar_of(special_member("node", kind)), tmp_path / "dest"))

    assert str(refused) == f"member 'node' {rule}"
    assert not (tmp_path / "dest" / "node").exists()


# --- tar: names ----------------------------------------------------------------------------------------------------
def test_tar_absolute_member_is_refused(tmp_path):
    target = tmp_path / "absolute.txt"

    refused = refusal(lambda: unpack_tar(tar_of(file_member(str(target))), tmp_path / "dest"))

    assert str(refused) == f"member {str(target)!r} has an absolute name"
    assert not target.exists()


def test_tar_dotdot_member_is_refused_and_nothing_lands_outside(archives_outside):
    destination, outside = archives_outside

    refused = refusal(lambda: unpack_tar(tar_of(file_member("ok.py"), file_member("../outside/flag", b"!")),
                                         destination))

    assert str(refused) == "member '../outside/flag' has a '..' component, which leaves the destination"
    assert (outside / "flag").read_text() == "original"


@pytest.mark.parametrize("name, rule", [("a\\..\\..\\evil", "has a backslash in its name"),
                                        ("C:/evil", "has an absolute name"),
                                        ("evil\x00.txt", "has a NUL character in its name")])
def test_tar_name_tricks_are_refused(tmp_path, name, rule):
    info, data = file_member(name)
    info.pax_headers = {"path": name}

    refused = refusal(lambda: unpack_tar(tar_of((info, data), pax=True), tmp_path / "dest"))

    assert str(refused) == f"member {name!r} {rule}"


def test_tar_oversized_pax_header_is_refused_before_it_is_parsed(tmp_path):
    info, data = file_member("big-header.txt")
    info.pax_headers = {"comment": "x" * (2 * 1024 * 1024)}

    refused = refusal(lambda: unpack_tar(tar_of((info, data), pax=True), tmp_path / "dest"))

    assert refused.rule == "has an extended header over 1048576 bytes"


def test_tar_pax_negative_size_is_refused(tmp_path):
    """A pax ``size`` below zero sends tarfile's offsets backwards (the CVE-2025-8194 family of endless loops)."""
    info, data = file_member("negative.txt")
    info.pax_headers = {"size": "-5"}

    refused = refusal(lambda: unpack_tar(tar_of((info, data), file_member("after.txt"), pax=True), tmp_path / "dest"))

    assert str(refused) == "member 'negative.txt' has a negative size"


def test_tar_bytes_that_are_no_archive_are_refused(tmp_path):
    refused = refusal(lambda: unpack_tar(b"<html>not a tarball</html>" * 40, tmp_path / "dest"))

    assert refused.member == ""
    assert str(refused).startswith("the archive is not a tar archive")


# --- tar: the realpath bypass --------------------------------------------------------------------------------------
def test_tar_realpath_bypass_archive_is_refused_at_its_first_link(archives_outside):
    destination, outside = archives_outside
    archive = realpath_bypass_tar(outside / "dest")

    refused = refusal(lambda: unpack_tar(archive, outside / "dest"))

    assert str(refused) == "member 'a' is a symbolic link"
    assert (outside / "flag").read_text() == "original"
    assert not (outside / "newfile").exists()


# Python releases carrying the fix for CVE-2025-4517 (gh-135034), per minor version.
_FIXED_RELEASES = {(3, 9): (3, 9, 23), (3, 10): (3, 10, 18), (3, 11): (3, 11, 13), (3, 12): (3, 12, 11),
                   (3, 13): (3, 13, 4)}


def test_for_the_record_data_filter_lets_the_realpath_bypass_out_on_unpatched_interpreters(archives_outside):
    """Why the module does not rely on ``filter="data"``: on this interpreter (3.11.7) the archive escapes."""
    destination, outside = archives_outside
    destination = outside / "dest"
    destination.mkdir()
    fixed = _FIXED_RELEASES.get(sys.version_info[:2], (0,))
    with tarfile.open(fileobj=io.BytesIO(realpath_bypass_tar(destination)), mode="r:gz") as tar:
        try:
            tar.extractall(destination, filter="data")
        except tarfile.FilterError:
            pass

    escaped = (outside / "flag").read_text() == "overwrite" and (outside / "newfile").exists()
    assert escaped == (sys.version_info[:3] < fixed)


# --- tar: what is already on disk ---------------------------------------------------------------------------------
def test_tar_member_through_an_existing_directory_link_is_refused(archives_outside):
    destination, outside = archives_outside
    destination.mkdir()
    (destination / "code").symlink_to(outside)

    refused = refusal(lambda: unpack_tar(tar_of(file_member("code/flag", b"!")), destination))

    assert str(refused) == "member 'code/flag' would write through an existing link"
    assert (outside / "flag").read_text() == "original"


def test_tar_member_onto_an_existing_file_link_is_refused(archives_outside):
    destination, outside = archives_outside
    destination.mkdir()
    (destination / "inference.py").symlink_to(outside / "flag")

    refused = refusal(lambda: unpack_tar(tar_of(file_member("inference.py", b"!")), destination))

    assert str(refused) == "member 'inference.py' would write through an existing link"
    assert (outside / "flag").read_text() == "original"


def test_tar_member_replacing_a_directory_is_refused(tmp_path):
    archive = tar_of(directory_member("model"), file_member("model/weights.pt"), file_member("model"))

    refused = refusal(lambda: unpack_tar(archive, tmp_path / "dest"))

    assert str(refused) == "member 'model' would replace a directory"
    assert (tmp_path / "dest" / "model" / "weights.pt").is_file()


def test_tar_root_directory_with_an_empty_name_is_the_destination_itself(tmp_path):
    """The SageMaker Python SDK v2 repacks a model with ``arcname=os.path.sep``: its first member is ``""``."""
    unpack_tar(tar_of(directory_member(""), file_member("model.json", b"{}")), tmp_path / "dest")

    assert sorted(path.name for path in (tmp_path / "dest").iterdir()) == ["model.json"]


def test_tar_file_with_an_empty_name_is_refused(tmp_path):
    refused = refusal(lambda: unpack_tar(tar_of(file_member("")), tmp_path / "dest"))

    assert str(refused) == "the archive has an empty name"


def test_tar_later_member_of_the_same_name_replaces_the_file(tmp_path):
    unpack_tar(tar_of(file_member("./train.py", b"first"), file_member("train.py", b"second")), tmp_path / "dest")

    assert (tmp_path / "dest" / "train.py").read_bytes() == b"second"


# --- tar: permissions and caps --------------------------------------------------------------------------------------
def test_tar_files_lose_setuid_and_world_write_but_keep_the_executable_bit(tmp_path):
    unpack_tar(tar_of(file_member("run.sh", b"#!/bin/sh\n", 0o6777), file_member("data.txt", b"1", 0o666)),
               tmp_path / "dest")

    assert stat.S_IMODE((tmp_path / "dest" / "run.sh").stat().st_mode) == 0o755 & ~umask()
    assert stat.S_IMODE((tmp_path / "dest" / "data.txt").stat().st_mode) == 0o644 & ~umask()


def test_tar_member_count_over_the_cap_is_refused(tmp_path):
    archive = tar_of(*(file_member(f"f{i}.txt") for i in range(4)))

    refused = refusal(lambda: unpack_tar(archive, tmp_path / "dest", ArchiveLimits(max_members=3)))

    assert str(refused) == "member 'f3.txt' is over the limit of 3 members"


def test_tar_gzip_bomb_over_the_byte_cap_is_refused_before_it_is_written(tmp_path):
    archive = tar_of(file_member("small.txt", bytes(512)), file_member("zeros.bin", bytes(8 * 1024 * 1024)))
    assert len(archive) < 64 * 1024

    refused = refusal(lambda: unpack_tar(archive, tmp_path / "dest", ArchiveLimits(max_bytes=1024 * 1024)))

    assert str(refused) == "member 'zeros.bin' takes the unpacked size over 1048576 bytes"
    assert refused.byte_limit == 1024 * 1024
    assert not (tmp_path / "dest" / "zeros.bin").exists()


# --- packing -------------------------------------------------------------------------------------------------------
def test_packing_skips_links_so_a_file_outside_cannot_ride_along(archives_outside):
    destination, outside = archives_outside
    model = destination / "model"
    model.mkdir(parents=True)
    (model / "model.pth").write_bytes(b"weights")
    (model / "stolen").symlink_to(outside / "flag")

    with tarfile.open(fileobj=io.BytesIO(pack_tar_gz([model])), mode="r:gz") as tar:
        names = {member.name: member for member in tar.getmembers()}

    assert list(names) == ["model.pth"]
    assert names["model.pth"].mode == 0o644


# --- zip -----------------------------------------------------------------------------------------------------------
def test_zip_dotdot_member_is_refused(archives_outside):
    destination, outside = archives_outside
    archive = zip_of(("lambda_function.py", b"def lambda_handler(e, c): return 1\n"), ("../outside/flag", b"!"))

    refused = refusal(lambda: unpack_zip(archive, destination))

    assert str(refused) == "member '../outside/flag' has a '..' component, which leaves the destination"
    assert (outside / "flag").read_text() == "original"
    assert not destination.exists()


def test_zip_symlink_stored_in_external_attr_is_refused(archives_outside):
    destination, outside = archives_outside
    archive = zip_of(zip_symlink("lib", str(outside)), ("lib/flag", b"!"))

    refused = refusal(lambda: unpack_zip(archive, destination))

    assert str(refused) == "member 'lib' is a symbolic link"
    assert (outside / "flag").read_text() == "original"


def test_zip_whose_local_header_names_another_file_is_refused_by_the_check():
    archive = zip_of(("handler.py", b"x"))
    local_name = archive.index(b"handler.py")
    archive = archive[:local_name] + b"../evil.py" + archive[local_name + len(b"../evil.py"):]

    refused = refusal(lambda: check_zip(archive))

    assert refused.member == "handler.py"
    assert refused.rule == "cannot be read: File name in directory 'handler.py' and header b'../evil.py' differ."


def test_zip_bomb_over_lambdas_unzipped_limit_is_refused_without_unzipping(archives_zip_bomb):
    assert len(archives_zip_bomb) < 1024 * 1024

    refused = refusal(lambda: check_zip(archives_zip_bomb))

    assert refused.byte_limit == LAMBDA_UNZIPPED_LIMIT
    assert str(refused) == "member 'lambda_function.py' takes the unpacked size over 262144000 bytes"


def test_zip_keeps_the_executable_bit_and_drops_setuid(tmp_path):
    info = zipfile.ZipInfo("bin/tool")
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | 0o4777) << 16

    unpack_zip(zip_of((info, b"#!/bin/sh\n")), tmp_path / "dest")

    assert stat.S_IMODE((tmp_path / "dest" / "bin" / "tool").stat().st_mode) == 0o755 & ~umask()


# --- through a real server -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def archives_aws(aws, create_sagemaker_role) -> Callable[[str], Any]:
    """Administrator clients of the package's server, whose account has the SageMaker role the requests name."""
    assert create_sagemaker_role(aws("iam")) == ROLE
    return aws


@pytest.fixture(scope="module")
def archives_bucket(archives_aws) -> str:
    name = f"archives-{uuid.uuid4().hex[:12]}"
    archives_aws("s3").create_bucket(Bucket=name)
    archives_aws("s3").put_object(Bucket=name, Key="data/train/part-0.txt", Body=b"1")
    return name


@pytest.fixture(scope="module")
def archives_lambda_role(archives_aws) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    return archives_aws("iam").create_role(RoleName=f"archives-{uuid.uuid4().hex[:8]}",
                                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def training_job_request(name: str, bucket: str, source_key: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312",
                                   "TrainingInputMode": "File"},
        "HyperParameters": {"sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": f'"s3://{bucket}/{source_key}"'},
        "InputDataConfig": [{"ChannelName": "training", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train", "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def test_training_job_with_the_realpath_bypass_sourcedir_fails_and_writes_nothing_outside(
        server, archives_aws, archives_bucket, wait_until):
    name = f"job-{uuid.uuid4().hex[:10]}"
    opt_ml = server.state_dir / "sagemaker" / "training-jobs" / name / "algo-1" / "opt" / "ml"
    archives_aws("s3").put_object(Bucket=archives_bucket, Key=f"code/{name}.tar.gz",
                                  Body=realpath_bypass_tar(opt_ml / "code", overwrite_flag=False))
    sagemaker = archives_aws("sagemaker")

    sagemaker.create_training_job(**training_job_request(name, archives_bucket, f"code/{name}.tar.gz"))
    described = wait_until(lambda: sagemaker.describe_training_job(TrainingJobName=name),
                           lambda d: d["TrainingJobStatus"] not in ("InProgress", "Stopping"), timeout=60)

    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (f"ClientError: sagemaker_submit_directory s3://{archives_bucket}/code/{name}.tar.gz: "
                                          "member 'a' is a symbolic link")
    assert not (opt_ml / "newfile").exists()


def test_endpoint_with_a_link_in_model_tar_gz_fails_with_the_reason(archives_aws, archives_bucket, tmp_path, wait_until):
    archive = tar_of(special_member("code", tarfile.SYMTYPE, str(tmp_path)), file_member("code/inference.py", b"x"))
    archives_aws("s3").put_object(Bucket=archives_bucket, Key="models/evil/model.tar.gz", Body=archive)
    sagemaker = archives_aws("sagemaker")
    model = serve_model(sagemaker, f"evil-{uuid.uuid4().hex[:8]}", role_arn=ROLE, program=None,
                        model_data_url=f"s3://{archives_bucket}/models/evil/model.tar.gz")

    sagemaker.create_endpoint(EndpointName=model, EndpointConfigName=model)
    described = settled_endpoint(sagemaker, model, wait_until, timeout=scaled(20))

    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"Failed to extract model data archive for container \"container_1\" from URL "
        f"\"s3://{archives_bucket}/models/evil/model.tar.gz\". Please ensure that the object located at the URL is a "
        f"valid tar.gz archive. (member 'code' is a symbolic link)")
    assert list(tmp_path.iterdir()) == []


def create_function_with(archives_aws, role: str, package: bytes) -> dict[str, Any]:
    return archives_aws("lambda").create_function(
        FunctionName=f"fn-{uuid.uuid4().hex[:10]}", Runtime="python3.11", Role=role,
        Handler="lambda_function.lambda_handler", Code={"ZipFile": package})


def test_create_function_with_a_dotdot_zip_is_invalid_parameter_value(archives_aws, archives_lambda_role):
    package = zip_of(("lambda_function.py", b"def lambda_handler(e, c): return 1\n"), ("../../escape.py", b"!"))

    with pytest.raises(ClientError) as caught:
        create_function_with(archives_aws, archives_lambda_role, package)

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == (f"{COULD_NOT_UNZIP} (member '../../escape.py' has a '..' component, "
                                         "which leaves the destination)")


def test_create_function_with_a_symlink_zip_is_invalid_parameter_value(archives_aws, archives_lambda_role):
    package = zip_of(("lambda_function.py", b"def lambda_handler(e, c): return 1\n"), zip_symlink("creds", "/root/.aws"))

    with pytest.raises(ClientError) as caught:
        create_function_with(archives_aws, archives_lambda_role, package)

    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert caught.value.response["Error"]["Message"] == f"{COULD_NOT_UNZIP} (member 'creds' is a symbolic link)"


def test_create_function_with_a_zip_bomb_is_refused_with_lambdas_size_message(archives_aws, archives_lambda_role,
                                                                              archives_zip_bomb):
    with pytest.raises(ClientError) as caught:
        create_function_with(archives_aws, archives_lambda_role, archives_zip_bomb)

    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert caught.value.response["Error"]["Message"] == "Unzipped size must be smaller than 262144000 bytes"


def test_update_function_code_with_a_malicious_zip_is_refused_and_the_code_is_kept(archives_aws, archives_lambda_role):
    created = create_function_with(archives_aws, archives_lambda_role,
                                   zip_of(("lambda_function.py", b"def lambda_handler(e, c): return 1\n")))
    client = archives_aws("lambda")

    with pytest.raises(ClientError) as caught:
        client.update_function_code(FunctionName=created["FunctionName"],
                                    ZipFile=zip_of(("/etc/cron.d/evil", b"* * * * * root id\n")))

    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert caught.value.response["Error"]["Message"] == f"{COULD_NOT_UNZIP} (member '/etc/cron.d/evil' has an absolute name)"
    current = client.get_function(FunctionName=created["FunctionName"])["Configuration"]
    assert current["CodeSha256"] == created["CodeSha256"]


def test_create_function_from_s3_with_a_malicious_zip_is_refused(archives_aws, archives_lambda_role, archives_bucket):
    archives_aws("s3").put_object(Bucket=archives_bucket, Key="lambda/evil.zip", Body=zip_of(("..\\evil.py", b"!")))

    with pytest.raises(ClientError) as caught:
        archives_aws("lambda").create_function(
            FunctionName=f"fn-{uuid.uuid4().hex[:10]}", Runtime="python3.11", Role=archives_lambda_role,
            Handler="lambda_function.lambda_handler", Code={"S3Bucket": archives_bucket, "S3Key": "lambda/evil.zip"})

    assert caught.value.response["Error"]["Message"] == f"{COULD_NOT_UNZIP} (member '..\\\\evil.py' has a backslash in its name)"
