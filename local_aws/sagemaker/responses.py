"""SageMaker request handling: moto's response class plus the operations moto lacks (thin, as in moto)."""

from __future__ import annotations

import json
from typing import Any

from local_aws import moto_seam
from local_aws.moto_seam import TYPE_RESPONSE, ActionResult, EmptyResult, request_param
from local_aws.request_validation import validation_message, validator
from local_aws.sagemaker.response_shape import filled, shaped
from local_aws.sagemaker.exceptions import ValidationException


class LocalSageMakerResponse(moto_seam.SageMakerResponse):
    """Adds StopTrainingJob, UpdateEndpoint, StopHyperParameterTuningJob and
    ListTrainingJobsForHyperParameterTuningJob, passes CreateTrainingJob's Environment through, refuses
    requests whose names break the service model's constraints before anything acts on them, and shapes
    replies as AWS does."""

    def call_action(self) -> TYPE_RESPONSE:
        message = validation_message("sagemaker", moto_seam.operation_name(self), getattr(self, "params", {}))
        if message is not None:
            return moto_seam.error_response(self, ValidationException(message))
        status, headers, body = super().call_action()
        return status, headers, self.shaped(status, body)

    def shaped(self, status: int, body: Any) -> Any:
        """A successful reply as AWS shapes it (``local_aws.sagemaker.response_shape``)."""
        operation = validator("sagemaker").operation(moto_seam.operation_name(self))
        if status != 200 or operation is None or operation.output_shape is None or not body:
            return body
        try:
            reply = json.loads(body)
        except (TypeError, ValueError):
            return body
        if not isinstance(reply, dict):
            return body
        reply = filled(operation.name, reply, self.objective_metric, self.variant_weights)
        return json.dumps(shaped(operation.output_shape, operation.name, reply))

    def objective_metric(self, tuning_job_name: str) -> str | None:
        tuning_job = moto_seam.tuning_job(self.sagemaker_backend, tuning_job_name)
        if tuning_job is None:
            return None
        objective = (tuning_job.hyper_parameter_tuning_job_config or {}).get("HyperParameterTuningJobObjective")
        if not objective and tuning_job.training_job_definitions:  # several definitions: each names its objective
            objective = tuning_job.training_job_definitions[0].get("TuningObjective")
        return (objective or {}).get("MetricName")

    def variant_weights(self, endpoint_config_name: str) -> dict[str, float]:
        config = moto_seam.endpoint_config(self.sagemaker_backend, endpoint_config_name)
        variants = getattr(config, "production_variants", None) or []
        return {variant["VariantName"]: variant.get("InitialVariantWeight", 1.0) for variant in variants}

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
