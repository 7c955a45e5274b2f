"""SageMaker state and rules: moto's backend, with jobs and endpoints that do real work.

``LocalSageMakerBackend`` keeps moto's records (what DescribeX returns) and hands the work to the
runtime's training scheduler, tuner and endpoint manager, which update those records as the work
progresses. Operations moto lacks (StopTrainingJob, UpdateEndpoint, StopHyperParameterTuningJob,
ListTrainingJobsForHyperParameterTuningJob) are implemented here.
"""

from __future__ import annotations

import copy
from typing import Any

from local_aws import moto_seam
from local_aws.iam.trust_policy import SAGEMAKER, service_can_assume
from local_aws.moto_seam import utcnow
from local_aws.runtime import LocalRuntime, attached_runtime
from local_aws.sagemaker.exceptions import ResourceInUse, ResourceNotFound, ValidationException, job_not_found


class LocalSageMakerBackend(moto_seam.SageMakerModelBackend):
    """moto's SageMaker backend whose training jobs, tuning jobs and endpoints really run."""

    @property
    def live(self) -> LocalRuntime:
        """The runtime attached to this process (moto backends are process-wide too)."""
        runtime = attached_runtime()
        if runtime is None:
            raise RuntimeError("local_aws: the SageMaker backend is used without a running runtime")
        return runtime

    # --- execution roles ------------------------------------------------------------------------------
    def require_assumable(self, role_arn: Any) -> None:
        """SageMaker refuses a role it cannot assume: missing, or not trusting ``sagemaker.amazonaws.com``."""
        if not service_can_assume(self.account_id, self.region_name, role_arn, SAGEMAKER):
            raise ValidationException(f"Could not assume role {role_arn}. Please ensure that the role exists and "
                                      f"allows principal '{SAGEMAKER}' to assume the role.")

    # --- models -------------------------------------------------------------------------------------------
    def create_model(self, model_name: str, execution_role_arn: str, **kwargs: Any) -> Any:
        self.require_assumable(execution_role_arn)
        return super().create_model(model_name=model_name, execution_role_arn=execution_role_arn, **kwargs)

    # --- training jobs --------------------------------------------------------------------------------
    def create_training_job(self, request: dict[str, Any], tuning_job_name: str | None = None,
                            start: bool = True) -> Any:
        """A training job from CreateTrainingJob's request members (botocore names), started unless ``start`` is
        False; ``tuning_job_name`` names the tuning job that launches it as a trial."""
        name = request.get("TrainingJobName")
        if moto_seam.training_job(self, name) is not None:
            arn = moto_seam.FakeTrainingJob.arn_formatter(name, self.account_id, self.region_name)
            raise ResourceInUse("Training job names must be unique within an AWS account and region, and a "
                                f"training job with this name already exists ({arn})")
        if tuning_job_name is None:  # a tuning job's trials were checked with the tuning job
            self.require_assumable(request.get("RoleArn"))
        live = self.live if start else None  # no record of a job that nothing could run
        algorithm_specification = copy.deepcopy(request.get("AlgorithmSpecification") or {})
        metric_definitions = algorithm_specification.get("MetricDefinitions")
        job = moto_seam.create_training_job_record(self, {**request, "AlgorithmSpecification": algorithm_specification})
        if metric_definitions:
            job.algorithm_specification["MetricDefinitions"] = metric_definitions
        else:
            job.algorithm_specification.pop("MetricDefinitions", None)
        now = utcnow()
        job.creation_time = job.last_modified_time = now
        job.training_job_status = "InProgress"
        job.secondary_status = "Starting"
        job.secondary_status_transitions = [
            {"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}
        ]
        job.model_artifacts = None
        job.final_metric_data_list = None
        job.training_start_time = None
        job.training_end_time = None
        job.environment = request.get("Environment") or None
        job.tuning_job_name = tuning_job_name
        job.tuning_job_arn = None
        if live is not None:
            live.training.submit(job, self.region_name, self.account_id)
        return job

    def get_training_job(self, name: str) -> Any:
        job = moto_seam.training_job(self, name)
        if job is None:
            raise job_not_found(
                "training job", moto_seam.FakeTrainingJob.arn_formatter(name, self.account_id, self.region_name))
        return job

    def stop_training_job(self, training_job_name: str) -> None:
        job = self.get_training_job(training_job_name)
        if job.training_job_status != "InProgress":
            raise ValidationException(
                f"The request was rejected because the training job is in status {job.training_job_status}."
            )
        job.training_job_status = "Stopping"
        job.secondary_status = "Stopping"
        job.last_modified_time = utcnow()
        self.live.training.stop(self.region_name, job.arn)

    # --- hyperparameter tuning jobs ------------------------------------------------------------------
    def create_hyper_parameter_tuning_job(self, **kwargs: Any) -> str:
        from local_aws.sagemaker.tuning import validate_tuning_request

        definition, definitions = kwargs.get("training_job_definition"), kwargs.get("training_job_definitions")
        validate_tuning_request(kwargs["hyper_parameter_tuning_job_config"], definition, definitions)
        for each in [definition] if definition is not None else definitions:
            self.require_assumable(each.get("RoleArn"))
        arn = super().create_hyper_parameter_tuning_job(**kwargs)
        tuning_job = moto_seam.tuning_job(self, kwargs["hyper_parameter_tuning_job_name"])
        self.live.tuning.start(self, tuning_job)
        return arn

    def get_tuning_job(self, name: str) -> Any:
        tuning_job = moto_seam.tuning_job(self, name)
        if tuning_job is None:
            raise ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}")
        return tuning_job

    def describe_hyper_parameter_tuning_job(self, hyper_parameter_tuning_job_name: str) -> dict[str, Any]:
        tuning_job = self.get_tuning_job(hyper_parameter_tuning_job_name)
        return {key: value for key, value in tuning_job.describe().items() if value not in (None, "", {})}

    def stop_hyper_parameter_tuning_job(self, name: str) -> None:
        tuning_job = self.get_tuning_job(name)
        if tuning_job.hyper_parameter_tuning_job_status != "InProgress":
            raise ValidationException(
                f"The request was rejected because the tuning job is in status {tuning_job.hyper_parameter_tuning_job_status}."
            )
        tuning_job.hyper_parameter_tuning_job_status = "Stopping"
        self.live.tuning.stop(self, tuning_job)

    def list_training_jobs_for_tuning_job(self, name: str, status_equals: str | None, sort_by: str | None,
                                          sort_order: str | None) -> list[dict[str, Any]]:
        tuning_job = self.get_tuning_job(name)
        summaries = self.live.tuning.summaries(self, tuning_job)
        if status_equals:
            summaries = [s for s in summaries if s["TrainingJobStatus"] == status_equals]
        sort_by = sort_by or "CreationTime"
        if sort_by == "FinalObjectiveMetricValue":
            with_value = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
            without = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" not in s]
            with_value.sort(key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                            reverse=sort_order != "Ascending")
            return with_value + without
        field = {"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"}.get(sort_by, "CreationTime")
        return sorted(summaries, key=lambda s: s[field], reverse=sort_order != "Ascending")

    # --- endpoints ------------------------------------------------------------------------------------
    def create_endpoint(self, endpoint_name: str, endpoint_config_name: str, tags: list[dict[str, str]]) -> Any:
        if moto_seam.sagemaker_endpoint(self, endpoint_name) is not None:
            arn = moto_seam.FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationException(f'Cannot create already existing endpoint "{arn}".')
        config = self.get_endpoint_config(endpoint_config_name)
        endpoint = super().create_endpoint(endpoint_name, endpoint_config_name, tags)
        endpoint.endpoint_status = "Creating"
        endpoint.creation_time = endpoint.last_modified_time = utcnow()
        for variant in endpoint.production_variants:
            variant.pop("CurrentInstanceCount", None)
            variant.pop("CurrentWeight", None)
        self.live.endpoints.deploy(self, endpoint, config)
        return endpoint

    def get_endpoint_config(self, name: str) -> Any:
        config = moto_seam.endpoint_config(self, name)
        if config is None:
            arn = moto_seam.arn_formatter("endpoint-config", name, self.account_id, self.region_name)
            raise ValidationException(f"Could not find endpoint configuration '{arn}'.")
        return config

    def get_endpoint(self, name: str) -> Any:
        endpoint = moto_seam.sagemaker_endpoint(self, name)
        if endpoint is None:
            arn = moto_seam.FakeEndpoint.arn_formatter(name, self.account_id, self.region_name)
            raise ValidationException(f"Could not find endpoint '{arn}'.")
        return endpoint

    def update_endpoint(self, endpoint_name: str, endpoint_config_name: str) -> str:
        endpoint = self.get_endpoint(endpoint_name)
        config = self.get_endpoint_config(endpoint_config_name)
        _require_updatable(endpoint)
        endpoint.endpoint_status = "Updating"
        endpoint.last_modified_time = utcnow()
        # As DescribeEndpoint shows it while the update runs; also what a restart resumes.
        endpoint.pending_deployment_summary = {"EndpointConfigName": config.endpoint_config_name,
                                               "StartTime": endpoint.last_modified_time}
        self.live.endpoints.update(self, endpoint, config)
        return endpoint.arn

    def update_endpoint_weights_and_capacities(self, endpoint_name: str,
                                               desired_weights_and_capacities: list[dict[str, Any]]) -> str:
        endpoint = self.get_endpoint(endpoint_name)
        _require_updatable(endpoint)
        counts = {d["VariantName"]: d.get("DesiredInstanceCount") for d in desired_weights_and_capacities}
        previous = {v["VariantName"]: v.get("CurrentInstanceCount") for v in endpoint.production_variants}
        arn = super().update_endpoint_weights_and_capacities(endpoint_name, desired_weights_and_capacities)
        for variant in endpoint.production_variants:
            name = variant["VariantName"]
            if name in counts:
                if counts[name] is None:
                    variant["DesiredInstanceCount"] = variant["CurrentInstanceCount"] = previous[name]
                else:
                    variant["CurrentInstanceCount"] = previous[name]
            if variant.get("DesiredWeight") is None:
                variant.pop("DesiredWeight", None)
                variant.pop("CurrentWeight", None)
        endpoint.endpoint_status = "Updating"
        endpoint.last_modified_time = utcnow()
        self.live.endpoints.scale(self, endpoint, {k: v for k, v in counts.items() if v is not None})
        return arn

    def delete_endpoint(self, endpoint_name: str) -> None:
        endpoint = self.get_endpoint(endpoint_name)
        super().delete_endpoint(endpoint_name)
        self.live.endpoints.remove(self, endpoint)


def _require_updatable(endpoint: Any) -> None:
    """SageMaker's refusal to update an endpoint that is not InService: a failed one can only be deleted."""
    if endpoint.endpoint_status == "InService":
        return
    if endpoint.endpoint_status == "Failed":
        raise ValidationException(f'Cannot update failed endpoint "{endpoint.arn}".')
    raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
