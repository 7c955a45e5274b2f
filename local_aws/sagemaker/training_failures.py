"""Why a training job fails: ``JobFailure`` and the FailureReasons SageMaker gives when the job's role is denied.

``RoleJudge`` is how the parts of a job ask whether what SageMaker does with the job's role is allowed: it
returns the denial's verdict, or None (always None when IAM is not enforced).
"""

from __future__ import annotations

from collections.abc import Callable

from local_aws.iam.judgement import Verdict
from local_aws.iam.service_access import ServiceAccess, denial_detail, ecr_image

RoleJudge = Callable[[Callable[[ServiceAccess], Verdict | None]], Verdict | None]


class JobFailure(Exception):
    """A training job failed for a reason to report as its FailureReason."""


def data_download_denied(verdict: Verdict) -> JobFailure:
    return JobFailure(f"ClientError: Data download failed:Failed to download data. AccessDenied (403): "
                      f"{denial_detail(verdict)}")


def source_download_denied(source: str, verdict: Verdict) -> JobFailure:
    """The training toolkit fails to fetch the source tarball with the role's credentials (HeadObject first)."""
    return JobFailure(f"AlgorithmError: framework error: Failed to download {source}: An error occurred (403) when "
                      f"calling the HeadObject operation: Forbidden ({denial_detail(verdict)})")


def image_pull_denied(image_uri: str, verdict: Verdict) -> JobFailure:
    image = ecr_image(image_uri)
    return JobFailure("ClientError: Cannot pull algorithm container. Either the image does not exist or its "
                      f"permissions are incorrect. Access denied for repository: {image.repository} in registry ID: "
                      f"{image.registry}. {denial_detail(verdict)}")


def artifact_upload_denied(verdict: Verdict) -> JobFailure:
    return JobFailure(f"ClientError: Artifact upload failed:AccessDenied (403): {denial_detail(verdict)}")
