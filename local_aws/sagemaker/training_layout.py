"""The SageMaker container layout of a training job's hosts, and the input that is put into it.

``ContainerLayout.prepare`` lays out ``<jobs-dir>/<digest of the job ARN>/algo-<n>/opt/ml`` for every host
(hyperparameters.json, resourceconfig.json, inputdataconfig.json, input/data/<channel>/, model/, output/data/,
code/), copies each S3 channel (S3Prefix or ManifestFile; ShardedByS3Key splits the objects between hosts) and
unpacks ``sagemaker_submit_directory``. An object whose path relative to the channel is absolute, has ``..`` or
empty components fails the job (ClientError) before anything is written; a local (``file://``) source directory
is used only when the runtime runs with ``--allow-local-code``. Listing and reading the channels and the source
tarball are judged as the job's role first.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from local_aws.archives import ArchiveRefused, unpack_tar
from local_aws.iam.service_access import DOWNLOAD_CODE, DOWNLOAD_DATA, SAGEMAKER_SERVICE, RoleSession
from local_aws.s3.objects import S3Objects, parse_s3_uri, relative_key
from local_aws.sagemaker.training_failures import (
    JobFailure, RoleJudge, data_download_denied, source_download_denied,
)
from local_aws.state_paths import PathOutside, checked_join, ensure_inside, relative_path_problem, remove_tree


def decode_hyperparameter(value: Any) -> Any:
    """SageMaker SDKs JSON-encode hyperparameter values (``'"train.py"'``); plain strings are taken as given."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


class ContainerLayout:
    """The ``/opt/ml`` folder of each host of one job: its config files, input channels and source code."""

    def __init__(self, job: Any, job_dir: Path, jobs_dir: Path, s3: S3Objects, role: RoleSession,
                 judged: RoleJudge, allow_local_code: bool) -> None:
        self.job = job
        self.job_dir = job_dir
        self.jobs_dir = jobs_dir
        self.s3 = s3
        self.role = role
        self.judged = judged
        self.allow_local_code = allow_local_code

    def host_names(self) -> list[str]:
        return [f"algo-{i + 1}" for i in range(int(self.job.resource_config.get("InstanceCount", 1)))]

    def prepare(self) -> dict[str, Path]:
        remove_tree(self.job_dir, self.jobs_dir)
        hosts = self.host_names()
        host_dirs = {host: self.job_dir / host / "opt" / "ml" for host in hosts}
        channels = self.job.input_data_config or []
        input_config = {}
        for channel in channels:
            source = channel.get("DataSource", {}).get("S3DataSource")
            input_config[channel["ChannelName"]] = {
                "TrainingInputMode": channel.get("InputMode") or self.job.algorithm_specification.get("TrainingInputMode", "File"),
                "S3DistributionType": (source or {}).get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                **({"ContentType": channel["ContentType"]} if channel.get("ContentType") else {}),
            }
        instance_type = self.job.resource_config.get("InstanceType", "local")
        for host, base in host_dirs.items():
            ensure_inside(base, self.jobs_dir)
            for sub in ("input/config", "model", "output/data", "output/intermediate", "code", "checkpoints"):
                (base / sub).mkdir(parents=True, exist_ok=True)
            config = base / "input" / "config"
            (config / "hyperparameters.json").write_text(json.dumps(self.job.hyper_parameters or {}))
            (config / "inputdataconfig.json").write_text(json.dumps(input_config))
            (config / "resourceconfig.json").write_text(json.dumps({
                "current_host": host,
                "current_instance_type": instance_type,
                "current_group_name": "homogeneousCluster",
                "hosts": hosts,
                "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": hosts}],
                "network_interface_name": "lo",
            }))
        for channel in channels:
            self.download_channel(channel, host_dirs)
        self.unpack_source(host_dirs)
        return host_dirs

    def download_channel(self, channel: dict[str, Any], host_dirs: dict[str, Path]) -> None:
        name = channel["ChannelName"]
        source = channel.get("DataSource", {}).get("S3DataSource")
        if source is None:
            raise JobFailure(f"ClientError: channel {name}: only S3DataSource channels can be used locally")
        bucket, prefix = parse_s3_uri(source["S3Uri"])
        data_type = source.get("S3DataType", "S3Prefix")
        operation = f"{SAGEMAKER_SERVICE}:{DOWNLOAD_DATA}"
        listed = [(bucket, prefix)] if data_type == "ManifestFile" else []
        denied = self.judged(lambda access: access.get_objects(self.role, operation, listed) if listed
                             else access.list_bucket(self.role, operation, bucket, prefix))
        if denied is not None:
            raise data_download_denied(denied)
        if data_type == "S3Prefix":
            objects = [(bucket, key, relative_key(key, prefix)) for key, _ in self.s3.list(bucket, prefix)
                       if not key.endswith("/")]
        elif data_type == "ManifestFile":
            objects = self.manifest_objects(bucket, prefix)
        else:
            raise JobFailure(f"ClientError: channel {name}: S3DataType {data_type} is not supported locally")
        if not objects:
            raise JobFailure(f"ClientError: No S3 objects found under S3 URL \"{source['S3Uri']}\" given in input data source. "
                             "Please ensure that the bucket exists in the selected region (us-east-1), that objects exist "
                             "under that S3 prefix, and that the role has s3:ListBucket permissions on the bucket.")
        objects.sort(key=lambda item: item[1])
        denied = self.judged(lambda access: access.get_objects(self.role, operation,
                                                               [(obj_bucket, key) for obj_bucket, key, _ in objects]))
        if denied is not None:
            raise data_download_denied(denied)
        hosts = list(host_dirs)
        sharded = source.get("S3DataDistributionType", "FullyReplicated") == "ShardedByS3Key"
        placed = [(obj_bucket, key, self.channel_path(name, obj_bucket, key, rel)) for obj_bucket, key, rel in objects]
        for index, host in enumerate(hosts):
            share = placed[index::len(hosts)] if sharded else placed
            target = self.channel_dir(host_dirs[host], name)
            target.mkdir(parents=True, exist_ok=True)
            for obj_bucket, key, rel in share:
                try:
                    path = checked_join(target, rel)
                except PathOutside as error:
                    raise JobFailure(f"ClientError: channel {name}: S3 object s3://{obj_bucket}/{key} cannot be placed "
                                     f"in /opt/ml/input/data/{name}: {error}") from None
                self.s3.download(obj_bucket, key, path)

    @staticmethod
    def channel_dir(base: Path, name: str) -> Path:
        try:
            return checked_join(base / "input" / "data", name)
        except PathOutside as error:
            raise JobFailure(f"ClientError: channel name {name!r} cannot be a folder under /opt/ml/input/data: "
                             f"{error}") from None

    @staticmethod
    def channel_path(name: str, bucket: str, key: str, rel: Any) -> str:
        """``rel`` when it is a relative path that stays inside the channel's folder; the job fails otherwise."""
        if not isinstance(rel, str):
            raise JobFailure(f"ClientError: channel {name}: manifest entry {rel!r} is not an S3 key suffix")
        problem = relative_path_problem(rel)
        if problem is not None:
            raise JobFailure(f"ClientError: channel {name}: S3 object s3://{bucket}/{key} cannot be placed in "
                             f"/opt/ml/input/data/{name}: its path relative to the channel, {rel!r}, {problem}")
        return rel

    def manifest_objects(self, bucket: str, key: str) -> list[tuple[str, str, str]]:
        try:
            manifest = json.loads(self.s3.read(bucket, key))
            base_bucket, base_prefix = parse_s3_uri(manifest[0]["prefix"])
            return [(base_bucket, base_prefix + rel if isinstance(rel, str) else "", rel) for rel in manifest[1:]]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise JobFailure(f"ClientError: manifest s3://{bucket}/{key} is not a SageMaker manifest: {error}") from error

    def unpack_source(self, host_dirs: dict[str, Path]) -> None:
        params = self.job.hyper_parameters or {}
        program = decode_hyperparameter(params.get("sagemaker_program"))
        if not program:
            raise JobFailure("ClientError: local_aws runs script-mode jobs: the hyperparameter sagemaker_program must name "
                             "the entry point (container images cannot run without Docker)")
        source = decode_hyperparameter(params.get("sagemaker_submit_directory"))
        if not source:
            raise JobFailure("ClientError: the hyperparameter sagemaker_submit_directory must point at the source "
                             "(an s3:// tar.gz or a local directory)")
        if source.startswith("s3://"):
            denied = self.judged(lambda access: access.get_objects(self.role, f"{SAGEMAKER_SERVICE}:{DOWNLOAD_CODE}",
                                                                   [parse_s3_uri(source)]))
            if denied is not None:
                raise source_download_denied(source, denied)
            archive = self.s3.read_uri(source)
            for base in host_dirs.values():
                unpack_source_archive(archive, base / "code", source)
        else:
            if not self.allow_local_code:
                raise JobFailure(f"ClientError: sagemaker_submit_directory {source} is not an S3 URI: this runtime "
                                 "runs source directories from this machine only when started with --allow-local-code")
            local = Path(source.removeprefix("file://"))
            if not local.is_dir():
                raise JobFailure(f"ClientError: sagemaker_submit_directory {source} is neither an S3 URI nor a directory")
            for base in host_dirs.values():
                shutil.copytree(local, base / "code", dirs_exist_ok=True)


def unpack_source_archive(archive: bytes, target: Path, source: str) -> None:
    """Unpack the source tarball into ``code/``; a refused archive fails the job as the user's error."""
    try:
        unpack_tar(archive, target)
    except ArchiveRefused as refusal:
        raise JobFailure(f"ClientError: sagemaker_submit_directory {source}: {refusal}") from refusal
