"""What a training job leaves behind: ``model.tar.gz`` and ``output.tar.gz`` in S3, and its final metrics.

``model/`` is packed to ``<S3OutputPath>/<job>/output/model.tar.gz`` and ``output/data`` to ``output.tar.gz``
(each upload judged as the job's role first); MetricDefinitions regexes over the log give FinalMetricDataList.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local_aws.archives import pack_tar_gz
from local_aws.iam.service_access import SAGEMAKER_SERVICE, UPLOAD_ARTIFACTS, RoleSession
from local_aws.s3.objects import S3Objects, join_key, parse_s3_uri
from local_aws.sagemaker.metric_definitions import final_metric_data
from local_aws.sagemaker.training_failures import RoleJudge, artifact_upload_denied


class TrainingArtifacts:
    """Uploads one job's artifacts and records its metrics on the job."""

    def __init__(self, job: Any, s3: S3Objects, role: RoleSession, judged: RoleJudge) -> None:
        self.job = job
        self.s3 = s3
        self.role = role
        self.judged = judged

    def output_uri(self) -> str:
        return self.job.output_data_config["S3OutputPath"].rstrip("/")

    def model_artifact_uri(self) -> str:
        return f"{self.output_uri()}/{self.job.training_job_name}/output/model.tar.gz"

    def upload(self, host_dirs: dict[str, Path]) -> None:
        bucket, prefix = parse_s3_uri(self.output_uri())
        key_base = join_key(prefix, self.job.training_job_name, "output")
        # Hosts write into one artifact; the first host's files win, as rank 0 is the one that saves.
        ordered = list(reversed(list(host_dirs.values())))
        for name, folders in (("model.tar.gz", [base / "model" for base in ordered]),
                              ("output.tar.gz", [base / "output" / "data" for base in ordered])):
            key = f"{key_base}/{name}"
            denied = self.judged(lambda access: access.put_object(self.role, f"{SAGEMAKER_SERVICE}:{UPLOAD_ARTIFACTS}",
                                                                  bucket, key))
            if denied is not None:
                raise artifact_upload_denied(denied)
            self.s3.write(bucket, key, pack_tar_gz(folders))

    def report_metrics(self, lines: list[str]) -> None:
        definitions = self.job.algorithm_specification.get("MetricDefinitions") or []
        metrics = final_metric_data(definitions, lines)
        if metrics:
            self.job.final_metric_data_list = metrics
