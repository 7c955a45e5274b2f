"""What a service does with an execution role, judged as that role's session and recorded like a call.

On AWS, SageMaker downloads a job's data and code, pulls its image, writes its logs and uploads its artifacts with
the job's execution role (session ``SageMaker``), and Lambda writes a function's logs with the function's role
(session = the function's name). The runtime does these in process; :class:`ServiceAccess` judges each of them
with the same :func:`~local_aws.iam.judgement.judge` a signed call gets, as
``arn:aws:sts::<account>:assumed-role/<role>/<session>``, and records every judgement in the judgement log under
an operation such as ``sagemaker-service:DownloadData``, so a run's usage report counts what the service needed.

The ARNs judged are the ones the equivalent API calls are judged on: ``s3:ListBucket`` on the bucket (with
``s3:prefix``), ``s3:GetObject``/``s3:PutObject`` on the object, the ECR pull actions on the repository the image
URI names (``ecr:GetAuthorizationToken`` on ``*``) and CloudWatch Logs actions on the log group and stream.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from local_aws import moto_seam
from local_aws.iam.action_catalog import PARTITION, Authorization
from local_aws.iam.identities import Identity, role_session_identity
from local_aws.iam.judgement import Verdict, judge

log = logging.getLogger(__name__)

# Operation names the judgement log records service access under.
SAGEMAKER_SERVICE = "sagemaker-service"
LAMBDA_SERVICE = "lambda-service"
DOWNLOAD_DATA = "DownloadData"
DOWNLOAD_CODE = "DownloadCode"
DOWNLOAD_MODEL = "DownloadModel"
PULL_IMAGE = "PullImage"
UPLOAD_ARTIFACTS = "UploadArtifacts"
WRITE_LOGS = "WriteLogs"
READ_EVENT_SOURCE = "ReadEventSource"

# What Lambda's poller does with the execution role for an event source mapping, by the source's service: the
# actions CreateEventSourceMapping checks the role for, on the queue's or stream's ARN.
EVENT_SOURCE_ACTIONS = {
    "sqs": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
    "kinesis": ("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"),
    "dynamodb": ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                 "dynamodb:ListStreams"),
}

ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
_ECR_IMAGE = re.compile(r"^(?P<registry>\d{12})\.dkr\.ecr(-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
                        r"(?P<repository>[a-z0-9._/-]+?)(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$")


class VerdictRecorder(Protocol):
    """Where judgements are recorded (the server's ``Authorizer``)."""

    def record(self, identity: Identity, operation: str, verdict: Verdict) -> None: ...


@dataclass(frozen=True)
class RoleSession:
    """Who the service acts as: ``role_arn`` assumed with ``session_name``, in ``account_id`` and ``region``."""

    account_id: str
    region: str
    role_arn: str
    session_name: str

    @property
    def arn(self) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:{PARTITION}:sts::{self.account_id}:assumed-role/{role_name}/{self.session_name}"


@dataclass(frozen=True)
class EcrImage:
    """An ECR image URI's registry (account), region and repository."""

    registry: str
    region: str
    repository: str

    @property
    def repository_arn(self) -> str:
        return f"arn:{PARTITION}:ecr:{self.region}:{self.registry}:repository/{self.repository}"


def ecr_image(uri: str) -> EcrImage | None:
    """The ECR repository an image URI names; None for an image that is not in ECR."""
    match = _ECR_IMAGE.match(uri or "")
    return EcrImage(match["registry"], match["region"], match["repository"]) if match else None


def bucket_arn(bucket: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}/{key}"


def log_group_arn(region: str, account_id: str, group: str) -> str:
    return f"arn:{PARTITION}:logs:{region}:{account_id}:log-group:{group}"


class ServiceAccess:
    """Judges the service acting as a role; records each judgement through ``recorder`` (None: judged only)."""

    def __init__(self, recorder: VerdictRecorder | None = None) -> None:
        self.recorder = recorder

    def check(self, role: RoleSession, operation: str, needed: list[Authorization]) -> Verdict | None:
        """None when ``role`` may do every authorization in ``needed``; else the first denying verdict."""
        identity = role_session_identity(role.account_id, role.role_arn, role.session_name)
        context = {"aws:RequestedRegion": role.region}
        verdicts = judge(identity, needed, context, _shown)
        for verdict in verdicts:
            if self.recorder is not None:
                self.recorder.record(identity, operation, verdict)
        denied = next((verdict for verdict in verdicts if not verdict.allowed), None)
        if denied is not None:
            log.info("%s denied to %s: %s", operation, role.arn, denied.message)
        return denied

    # --- what the services do ---------------------------------------------------------------------------
    def list_bucket(self, role: RoleSession, operation: str, bucket: str, prefix: str) -> Verdict | None:
        return self.check(role, operation, [Authorization("s3:ListBucket", bucket_arn(bucket), {"s3:prefix": prefix},
                                                          kind="service")])

    def get_objects(self, role: RoleSession, operation: str, objects: list[tuple[str, str]]) -> Verdict | None:
        """``s3:GetObject`` on every (bucket, key), judged in order, stopping at the first denial."""
        return self.check(role, operation, [Authorization("s3:GetObject", object_arn(bucket, key), kind="service")
                                            for bucket, key in objects])

    def put_object(self, role: RoleSession, operation: str, bucket: str, key: str) -> Verdict | None:
        return self.check(role, operation, [Authorization("s3:PutObject", object_arn(bucket, key), kind="service")])

    def pull_image(self, role: RoleSession, image_uri: str) -> Verdict | None:
        """The ECR login and pull of ``image_uri``; an image outside ECR is not judged (no ECR call is made)."""
        image = ecr_image(image_uri)
        if image is None:
            return None
        needed = [Authorization("ecr:GetAuthorizationToken", "*", kind="service")]
        needed += [Authorization(action, image.repository_arn, kind="service") for action in ECR_PULL_ACTIONS]
        return self.check(role, f"{SAGEMAKER_SERVICE}:{PULL_IMAGE}", needed)

    def write_logs(self, role: RoleSession, operation: str, group: str, stream: str) -> Verdict | None:
        """Creating the group (when missing) and the stream, and putting events in it."""
        group_arn = log_group_arn(role.region, role.account_id, group)
        stream_arn = f"{group_arn}:log-stream:{stream}"
        needed = [Authorization("logs:CreateLogStream", stream_arn, kind="service"),
                  Authorization("logs:PutLogEvents", stream_arn, kind="service")]
        if not moto_seam.log_group_exists(role.region, group, role.account_id):
            needed.insert(0, Authorization("logs:CreateLogGroup", group_arn, kind="service"))
        return self.check(role, operation, needed)

    def read_event_source(self, role: RoleSession, source_arn: str) -> Verdict | None:
        """Lambda's poller reading an SQS queue, a Kinesis stream or a DynamoDB stream for a mapping; sources of
        other services are not judged."""
        actions = EVENT_SOURCE_ACTIONS.get(source_arn.split(":")[2] if source_arn.count(":") >= 5 else "", ())
        needed = [Authorization(action, source_arn, kind="service") for action in actions]
        return self.check(role, f"{LAMBDA_SERVICE}:{READ_EVENT_SOURCE}", needed) if needed else None


def _shown(resource: str) -> str:
    """How AccessDenied messages show a resource: S3's quoted, as S3 words them."""
    return f'"{resource}"' if resource.startswith(f"arn:{PARTITION}:s3:::") else resource


def denial_detail(verdict: Verdict) -> str:
    """The AWS-worded reason of a denial (``User: ... is not authorized to perform: ...``)."""
    return verdict.message or f"not authorized to perform: {verdict.authorization.action}"
