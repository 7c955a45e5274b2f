"""SageMakerReattachingTuningOperator: the provider's tuning operator, re-attaching to its job on a retry."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTuningOperator, serialize
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.providers.common.compat.sdk import AirflowException
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from airflow.sdk import Context

#: DescribeHyperParameterTuningJob's error code for a name no tuning job has.
NOT_FOUND = "ResourceNotFound"
#: Tuning job states a retry cannot converge from: the run's job ended without a result.
UNSUCCESSFUL_STATES = frozenset({"Failed", "Stopped"})


class SageMakerReattachingTuningOperator(SageMakerTuningOperator):
    """
    Start a hyperparameter tuning job, or wait on the job of that name an earlier try of the task started.

    The provider's :class:`~airflow.providers.amazon.aws.operators.sagemaker.SageMakerTuningOperator` always
    creates the job, so a retry after a worker was lost mid-wait fails with ``ResourceInUse``. Job names derived
    from the run stay the same on a retry; this operator first describes the job of ``HyperParameterTuningJobName``
    and, when it exists, re-attaches instead of creating it: an ``InProgress`` (or ``Stopping``) job is waited on
    as the provider waits (in the triggerer when deferrable), a ``Completed`` job's description is returned at once,
    and a ``Failed`` or ``Stopped`` job fails the task with its ``FailureReason``. When no job of that name exists,
    it is created exactly as the provider does. The result is the provider's: ``{"Tuning": <description>}``.

    :param config: The CreateHyperParameterTuningJob request, naming the job in ``HyperParameterTuningJobName``
        (templated). For details see :py:meth:`SageMaker.Client.create_hyper_parameter_tuning_job`.
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param wait_for_completion: Set to True to wait until the tuning job finishes.
    :param check_interval: If waiting, the seconds between two checks of the job's status.
    :param max_ingestion_time: If waiting, fail when the job has not finished within this many seconds
        (None: no limit).
    :param deferrable: Wait in the triggerer instead of the worker.
    """

    def execute(self, context: Context) -> dict:
        job_name = self.config["HyperParameterTuningJobName"]
        existing = self._describe_existing(job_name)
        if existing is None:
            return super().execute(context)
        status = existing["HyperParameterTuningJobStatus"]
        self.log.info("SageMaker tuning job %s already exists (%s): re-attaching instead of creating it",
                      job_name, status)
        if status in UNSUCCESSFUL_STATES:
            raise AirflowException(self._failure_message(existing))
        if status not in self.hook.non_terminal_states:
            return {"Tuning": serialize(existing)}
        return self._wait_for(job_name)

    def _describe_existing(self, job_name: str) -> dict | None:
        """The description of the tuning job of this name, or None when there is none."""
        try:
            return self.hook.describe_tuning_job(job_name)
        except ClientError as error:
            if error.response["Error"]["Code"] == NOT_FOUND:
                return None
            raise

    def _wait_for(self, job_name: str) -> dict:
        """Wait on a running tuning job as the provider's operator waits on the one it created."""
        if self.deferrable:
            self.defer(
                trigger=SageMakerTrigger(
                    job_name=job_name,
                    job_type="tuning",
                    waiter_delay=self.check_interval,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=(
                    datetime.timedelta(seconds=self.max_ingestion_time)
                    if self.max_ingestion_time is not None
                    else None
                ),
            )
        if not self.wait_for_completion:
            return {"Tuning": serialize(self.hook.describe_tuning_job(job_name))}
        description = self.hook.check_status(
            job_name,
            "HyperParameterTuningJobStatus",
            self.hook.describe_tuning_job,
            self.check_interval,
            self.max_ingestion_time,
        )
        if description["HyperParameterTuningJobStatus"] in UNSUCCESSFUL_STATES:
            raise AirflowException(self._failure_message(description))
        return {"Tuning": serialize(description)}

    @staticmethod
    def _failure_message(description: dict[str, Any]) -> str:
        return (
            f"SageMaker tuning job {description['HyperParameterTuningJobName']} is "
            f"{description['HyperParameterTuningJobStatus']}: "
            f"{description.get('FailureReason', '(No reason provided)')}"
        )
