"""SageMaker request handling: moto's response class plus the operations moto lacks (thin, as in moto)."""

from __future__ import annotations

from local_aws import moto_seam
from local_aws.moto_seam import TYPE_RESPONSE, ActionResult, EmptyResult, request_param
from local_aws.request_validation import validation_message
from local_aws.sagemaker.exceptions import ValidationException


class LocalSageMakerResponse(moto_seam.SageMakerResponse):
    """Adds StopTrainingJob, UpdateEndpoint, StopHyperParameterTuningJob and
    ListTrainingJobsForHyperParameterTuningJob, passes CreateTrainingJob's Environment through, and refuses
    requests whose names break the service model's constraints before anything acts on them."""

    def call_action(self) -> TYPE_RESPONSE:
        message = validation_message("sagemaker", moto_seam.operation_name(self), getattr(self, "params", {}))
        if message is not None:
            return moto_seam.error_response(self, ValidationException(message))
        return super().call_action()

    def create_training_job(self) -> ActionResult:
        job = self.sagemaker_backend.create_training_job(dict(self.params))
        return ActionResult({"TrainingJobArn": job.arn})

    def stop_training_job(self) -> ActionResult:
        self.sagemaker_backend.stop_training_job(request_param(self, "TrainingJobName"))
        return EmptyResult()

    def update_endpoint(self) -> ActionResult:
        arn = self.sagemaker_backend.update_endpoint(
            endpoint_name=request_param(self, "EndpointName"),
            endpoint_config_name=request_param(self, "EndpointConfigName"),
        )
        return ActionResult({"EndpointArn": arn})

    def stop_hyper_parameter_tuning_job(self) -> ActionResult:
        self.sagemaker_backend.stop_hyper_parameter_tuning_job(request_param(self, "HyperParameterTuningJobName"))
        return EmptyResult()

    def list_training_jobs_for_hyper_parameter_tuning_job(self) -> ActionResult:
        summaries = self.sagemaker_backend.list_training_jobs_for_tuning_job(
            request_param(self, "HyperParameterTuningJobName"),
            status_equals=request_param(self, "StatusEquals"),
            sort_by=request_param(self, "SortBy"),
            sort_order=request_param(self, "SortOrder"),
        )
        max_results = int(request_param(self, "MaxResults") or 100)
        start = int(request_param(self, "NextToken") or 0)
        page = summaries[start:start + max_results]
        result = {"TrainingJobSummaries": page}
        if start + max_results < len(summaries):
            result["NextToken"] = str(start + max_results)
        return ActionResult(result)
