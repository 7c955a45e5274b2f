"""SageMaker request handling: moto's response class plus the operations moto lacks (thin, as in moto)."""

from __future__ import annotations

from local_aws import moto_seam
from local_aws.moto_seam import TYPE_RESPONSE, ActionResult, EmptyResult
from local_aws.request_validation import validation_message
from local_aws.sagemaker.exceptions import ValidationException


class LocalSageMakerResponse(moto_seam.SageMakerResponse):
    """Adds StopTrainingJob, UpdateEndpoint, StopHyperParameterTuningJob and
    ListTrainingJobsForHyperParameterTuningJob, passes CreateTrainingJob's Environment through, and refuses
    requests whose names break the service model's constraints before anything acts on them."""

    def call_action(self) -> TYPE_RESPONSE:
        message = validation_message("sagemaker", self._get_action(), getattr(self, "params", {}))
        if message is not None:
            status, headers, body = self.serialized(ActionResult(ValidationException(message)))
            headers, body = self._enrich_response(headers, body)
            return status, headers, body
        return super().call_action()

    def create_training_job(self) -> ActionResult:
        job = self.sagemaker_backend.create_training_job(
            training_job_name=self._get_param("TrainingJobName"),
            hyper_parameters=self._get_param("HyperParameters"),
            algorithm_specification=self._get_param("AlgorithmSpecification"),
            role_arn=self._get_param("RoleArn"),
            input_data_config=self._get_param("InputDataConfig"),
            output_data_config=self._get_param("OutputDataConfig"),
            resource_config=self._get_param("ResourceConfig"),
            vpc_config=self._get_param("VpcConfig"),
            stopping_condition=self._get_param("StoppingCondition"),
            tags=self._get_param("Tags"),
            enable_network_isolation=self._get_param("EnableNetworkIsolation", False),
            enable_inter_container_traffic_encryption=self._get_param("EnableInterContainerTrafficEncryption", False),
            enable_managed_spot_training=self._get_param("EnableManagedSpotTraining", False),
            checkpoint_config=self._get_param("CheckpointConfig"),
            debug_hook_config=self._get_param("DebugHookConfig"),
            debug_rule_configurations=self._get_param("DebugRuleConfigurations"),
            tensor_board_output_config=self._get_param("TensorBoardOutputConfig"),
            experiment_config=self._get_param("ExperimentConfig"),
            environment=self._get_param("Environment"),
        )
        return ActionResult({"TrainingJobArn": job.arn})

    def stop_training_job(self) -> ActionResult:
        self.sagemaker_backend.stop_training_job(self._get_param("TrainingJobName"))
        return EmptyResult()

    def update_endpoint(self) -> ActionResult:
        arn = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
        )
        return ActionResult({"EndpointArn": arn})

    def stop_hyper_parameter_tuning_job(self) -> ActionResult:
        self.sagemaker_backend.stop_hyper_parameter_tuning_job(self._get_param("HyperParameterTuningJobName"))
        return EmptyResult()

    def list_training_jobs_for_hyper_parameter_tuning_job(self) -> ActionResult:
        summaries = self.sagemaker_backend.list_training_jobs_for_tuning_job(
            self._get_param("HyperParameterTuningJobName"),
            status_equals=self._get_param("StatusEquals"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
        )
        max_results = int(self._get_param("MaxResults") or 100)
        start = int(self._get_param("NextToken") or 0)
        page = summaries[start:start + max_results]
        result = {"TrainingJobSummaries": page}
        if start + max_results < len(summaries):
            result["NextToken"] = str(start + max_results)
        return ActionResult(result)
