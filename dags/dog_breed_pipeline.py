"""dog_breed_pipeline: dog images to a tuned, deployed, autoscaled, Lambda-fronted SageMaker endpoint.

Every step of "Operationalizing an AWS ML Project", from the Amazon provider's operators and pawflow's own.
Wiring only: configs, names and image URIs are computed in tasks at run time, from the run's Params and id.
Triggered from the UI (Params validated there) or by an event on the ``dog_breed_images`` asset.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointOperator,
    SageMakerTrainingOperator,
)
from airflow.sdk import DAG, Param, chain, task

from pawflow.assets import DOG_IMAGES
from pawflow.operators.autoscaling import SageMakerEndpointAutoscalingOperator
from pawflow.operators.dataset_sync import DatasetSyncOperator
from pawflow.operators.lambda_concurrency import LambdaConcurrencyOperator
from pawflow.operators.lambda_deploy import LambdaDeployFunctionOperator
from pawflow.operators.lambda_policy import LambdaEndpointInvokePolicyOperator
from pawflow.operators.teardown import EndpointTeardownOperator
from pawflow.operators.training_code import TrainingCodeUploadOperator
from pawflow.operators.tuning import SageMakerReattachingTuningOperator
from pawflow.run_settings import wait_settings_from_params
from pawflow.source_archive import TRAINING_CODE_DIR

AWS_CONN_ID = "aws_default"
COURSE_DATA_URL = "https://s3-us-west-1.amazonaws.com/udacity-aind/dog-project/dogImages.zip"
INSTANCE_TYPE = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


with DAG(
    dag_id="dog_breed_pipeline",
    description="Dog images to a tuned, deployed, autoscaled, least-privilege, Lambda-fronted SageMaker endpoint",
    schedule=DOG_IMAGES,
    catchup=False,
    max_active_runs=1,
    tags=["pawflow", "sagemaker", "lambda"],
    doc_md=__doc__,
    params={
        "data_source": Param(COURSE_DATA_URL, type="string", minLength=1,
                             description="Local folder or .zip, http(s) URL of a zip, or s3:// prefix holding "
                                         "train/ valid/ test/ class folders"),
        "bucket": Param("pawflow-dog-breeds", type="string", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                        description="Bucket for data, code and model artifacts; created when missing"),
        "data_prefix": Param("dogImages", type="string", pattern=r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$",
                             description="Prefix of the data set in the bucket"),
        "sagemaker_role": Param("pawflow-sagemaker-execution", type="string", minLength=1,
                                description="Name or ARN of the SageMaker execution role the jobs and model run as"),
        "backbone": Param("efficientnet_lite0", enum=["efficientnet_lite0", "resnet50"],
                          description="Pretrained ImageNet backbone (resnet50 downloads its weights)"),
        "epochs": Param(5, type="integer", minimum=1, maximum=200, description="Epochs per training job"),
        "extra_hyperparameters": Param({}, type="object",
                                       description="More train.py hyperparameters for every job, e.g. "
                                                   "{\"patience\": 3, \"num_workers\": 0}"),
        "tuning_instance_type": Param("ml.m5.xlarge", type="string", pattern=INSTANCE_TYPE,
                                      description="Instance type of each tuning trial"),
        "training_instance_type": Param("ml.m5.2xlarge", type="string", pattern=INSTANCE_TYPE,
                                        description="Instance type of the feature extraction and the single- "
                                                    "and multi-instance jobs"),
        "endpoint_instance_type": Param("ml.m5.large", type="string", pattern=INSTANCE_TYPE,
                                        description="Instance type behind the endpoint"),
        "tuning_max_jobs": Param(6, type="integer", minimum=1, maximum=100, description="Tuning trials in total"),
        "tuning_max_parallel_jobs": Param(3, type="integer", minimum=1, maximum=10,
                                          description="Tuning trials at once (at most tuning_max_jobs)"),
        "multi_instance_count": Param(2, type="integer", minimum=2, maximum=20,
                                      description="Instances of the data-parallel training job"),
        "input_distribution": Param("FullyReplicated", enum=["FullyReplicated", "ShardedByS3Key"],
                                    description="How the training channel reaches each instance"),
        "endpoint_name": Param("dog-breed-classifier", type="string", pattern=SAGEMAKER_NAME,
                               description="Endpoint to create, or update when it exists"),
        "autoscaling_min_capacity": Param(1, type="integer", minimum=1, maximum=100,
                                          description="Fewest endpoint instances"),
        "autoscaling_max_capacity": Param(3, type="integer", minimum=1, maximum=100,
                                          description="Most endpoint instances (at least the minimum)"),
        "autoscaling_target_invocations": Param(10, type="number", exclusiveMinimum=0,
                                                description="Invocations per instance per minute to hold"),
        "scale_in_cooldown": Param(30, type="integer", minimum=0, maximum=3600,
                                   description="Seconds between scale-ins"),
        "scale_out_cooldown": Param(30, type="integer", minimum=0, maximum=3600,
                                    description="Seconds between scale-outs"),
        "lambda_function_name": Param("dog-breed-classifier", type="string", pattern=r"^[a-zA-Z0-9_-]{1,64}$",
                                      description="Lambda function in front of the endpoint; its role is <name>-role"),
        "lambda_permissions_boundary": Param("pawflow-lambda-boundary", type=["null", "string"],
                                             description="Managed policy (name or ARN) bounding the Lambda's role; "
                                                         "create it from iam/lambda-permissions-boundary.json"),
        "reserved_concurrency": Param(5, type="integer", minimum=0, maximum=1000,
                                      description="Concurrent executions reserved for the function"),
        "provisioned_concurrency": Param(2, type="integer", minimum=0, maximum=1000,
                                         description="At most reserved_concurrency"),
        "smoke_image_url": Param(None, type=["null", "string"],
                                 description="Image URL for the smoke test's {\"url\": ...} event; empty sends a "
                                             "test image from the data set as {\"image\": <base64>}"),
        "keep_resources": Param(True, type="boolean",
                                description="Keep the endpoint running; false tears it down at the end"),
        "deferrable": Param(True, type="boolean",
                            description="Wait for SageMaker in the triggerer instead of holding a worker slot"),
        "poll_seconds": Param(30, type="integer", minimum=1, maximum=600,
                              description="Seconds between SageMaker status checks"),
        "training_image_uri": Param(None, type=["null", "string"],
                                    description="Training image; empty picks the SageMaker PyTorch CPU/GPU image"),
        "inference_image_uri": Param(None, type=["null", "string"],
                                     description="Inference image; empty picks the SageMaker PyTorch image"),
    },
) as dag:

    @task
    def plan(params: dict, dag_run=None) -> dict:
        """Check the Params together, resolve region, role and images, and name this run's resources."""
        from pawflow.run_plan import plan_run

        return plan_run(params, dag_id=dag_run.dag_id, run_id=dag_run.run_id, aws_conn_id=AWS_CONN_ID)

    @task
    def feature_plan(plan: dict, data: dict, code_uri: str, params: dict, dag_run=None) -> dict:
        """Where this data set's backbone features live in S3, and the extraction job when they are not there yet."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from pawflow.run_plan import feature_plan as plan_features

        return plan_features(S3Hook(aws_conn_id=AWS_CONN_ID).conn, plan, data, code_uri, params,
                             dag_id=dag_run.dag_id, run_id=dag_run.run_id)

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def extraction_needed(features: dict) -> bool:
        """Extract only when the features of this data set, backbone, code and precision are not in S3 yet."""
        return features["ExtractionJob"] is not None

    @task
    def publish_features(features: dict, extraction: dict) -> dict:
        """Copy the extraction job's features from its model.tar.gz to features/<digest>/, the manifest last."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from pawflow.feature_store import publish_features as publish

        artifact = extraction["Training"]["ModelArtifacts"]["S3ModelArtifacts"]
        return publish(S3Hook(aws_conn_id=AWS_CONN_ID).conn, artifact, features["FeaturesUri"])

    @task(trigger_rule="none_failed")
    def tuning_config(plan: dict, data: dict, code_uri: str, features: dict, params: dict) -> dict:
        """The CreateHyperParameterTuningJob request: the course's search space over this run's features or images."""
        from pawflow.run_plan import training_settings
        from pawflow.sagemaker_config import tuning_job_config

        settings = training_settings(plan, data["DataUri"], code_uri, params, features["FeaturesUri"])
        return tuning_job_config(
            settings, plan["names"]["tuning"],
            instance_type=params["tuning_instance_type"], max_jobs=params["tuning_max_jobs"],
            max_parallel_jobs=params["tuning_max_parallel_jobs"],
        )

    @task
    def training_configs(plan: dict, data: dict, code_uri: str, features: dict, tuning: dict, params: dict) -> dict:
        """Single- and multi-instance CreateTrainingJob requests with the best trial's hyperparameters."""
        import logging

        from pawflow.run_plan import training_settings
        from pawflow.sagemaker_config import best_training_job, training_job_config

        best, hyperparameters = best_training_job(tuning)
        logging.getLogger(__name__).info("Best trial %s with %s", best, hyperparameters)
        settings = training_settings(plan, data["DataUri"], code_uri, params, features["FeaturesUri"])
        return {
            "best_trial": best,
            "single": training_job_config(settings, plan["names"]["single"], instance_type=params["training_instance_type"],
                                          instance_count=1, hyperparameters=hyperparameters),
            "multi": training_job_config(settings, plan["names"]["multi"], instance_type=params["training_instance_type"],
                                         instance_count=params["multi_instance_count"], hyperparameters=hyperparameters),
        }

    @task
    def deployment_config(plan: dict, single: dict, multi: dict, params: dict) -> dict:
        """Pick the model with the lower test loss; the Model/EndpointConfig/Endpoint request that serves it."""
        import logging

        from pawflow.model_selection import choose_training_job
        from pawflow.sagemaker_config import endpoint_deployment_config

        chosen = choose_training_job([single, multi])
        logging.getLogger(__name__).info("Serving %s (%s = %s; candidates %s)", chosen["TrainingJobName"],
                                         chosen["Metric"], chosen["Value"], chosen["Candidates"])
        return {
            "chosen": chosen,
            "config": endpoint_deployment_config(
                model_name=plan["names"]["model"], endpoint_config_name=plan["names"]["endpoint_config"],
                endpoint_name=params["endpoint_name"], image_uri=plan["inference_image"],
                model_data_url=chosen["ModelDataUrl"], role_arn=plan["role_arn"], region=plan["region"],
                instance_type=params["endpoint_instance_type"], tags=plan["tags"],
            ),
        }

    @task
    def smoke_event(data: dict, params: dict) -> str:
        """The write-up's ``{"url": ...}`` event, or a real test image from the data set as base64."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from pawflow.smoke_test import smoke_event as build_event

        return build_event(data, params["smoke_image_url"], S3Hook(aws_conn_id=AWS_CONN_ID))

    @task
    def check_smoke_answer(answer: str) -> dict:
        """Fail unless the Lambda answered 200 with predictions; return the top one."""
        from pawflow.smoke_test import top_prediction

        return top_prediction(answer)

    @task
    def invoke_before_grant(event: str, params: dict) -> dict:
        """Call the Lambda while its role has only basic execution rights: least privilege means it is refused.

        Recorded, not enforced: a re-run finds the grant of the earlier run already in place.
        """
        from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook

        from pawflow.smoke_test import invocation_outcome

        return invocation_outcome(LambdaHook(aws_conn_id=AWS_CONN_ID).invoke_lambda(
            function_name=params["lambda_function_name"], payload=event, log_type="Tail"))

    @task.short_circuit
    def tear_down_requested(params: dict) -> bool:
        """Continue to the teardown only when the run was asked not to keep the endpoint."""
        return not params["keep_resources"]

    run_plan = plan()
    sync_data = DatasetSyncOperator(
        task_id="sync_data", aws_conn_id=AWS_CONN_ID, source="{{ params.data_source }}",
        bucket_name="{{ params.bucket }}", prefix="{{ params.data_prefix }}",
    )
    upload_code = TrainingCodeUploadOperator(
        task_id="upload_training_code", aws_conn_id=AWS_CONN_ID, source_dir=str(TRAINING_CODE_DIR),
        bucket_name="{{ params.bucket }}",
    )
    features = feature_plan(run_plan, sync_data.output, upload_code.output)
    extract = SageMakerTrainingOperator(
        task_id="extract_features", aws_conn_id=AWS_CONN_ID, config=features["ExtractionJob"],
        pre_execute=wait_settings_from_params,
    )
    published = publish_features(features, extract.output)
    chain(extraction_needed(features), extract)
    tuning_request = tuning_config(run_plan, sync_data.output, upload_code.output, features)
    chain(published, tuning_request)
    tune = SageMakerReattachingTuningOperator(
        task_id="tune_hyperparameters", aws_conn_id=AWS_CONN_ID, config=tuning_request,
        pre_execute=wait_settings_from_params,
    )
    configs = training_configs(run_plan, sync_data.output, upload_code.output, features, tune.output)
    train_single = SageMakerTrainingOperator(
        task_id="train_single_instance", aws_conn_id=AWS_CONN_ID, config=configs["single"],
        pre_execute=wait_settings_from_params,
    )
    train_multi = SageMakerTrainingOperator(
        task_id="train_multi_instance", aws_conn_id=AWS_CONN_ID, config=configs["multi"],
        pre_execute=wait_settings_from_params,
    )
    deployment = deployment_config(run_plan, train_single.output, train_multi.output)
    deploy = SageMakerEndpointOperator(
        task_id="deploy_endpoint", aws_conn_id=AWS_CONN_ID, config=deployment["config"],
        pre_execute=wait_settings_from_params,
    )
    autoscale = SageMakerEndpointAutoscalingOperator(
        task_id="autoscale_endpoint", aws_conn_id=AWS_CONN_ID, endpoint_name="{{ params.endpoint_name }}",
        min_capacity="{{ params.autoscaling_min_capacity }}", max_capacity="{{ params.autoscaling_max_capacity }}",
        target_value="{{ params.autoscaling_target_invocations }}",
        scale_in_cooldown="{{ params.scale_in_cooldown }}", scale_out_cooldown="{{ params.scale_out_cooldown }}",
    )
    deploy_lambda = LambdaDeployFunctionOperator(
        task_id="deploy_lambda", aws_conn_id=AWS_CONN_ID, function_name="{{ params.lambda_function_name }}",
        permissions_boundary="{{ params.lambda_permissions_boundary or '' }}",
        environment={"ENDPOINT_NAME": "{{ params.endpoint_name }}"},
    )
    grant_invoke = LambdaEndpointInvokePolicyOperator(
        task_id="grant_least_privilege_invoke", aws_conn_id=AWS_CONN_ID,
        function_name="{{ params.lambda_function_name }}", endpoint_name="{{ params.endpoint_name }}",
    )
    event = smoke_event(sync_data.output)
    smoke = LambdaInvokeFunctionOperator(
        task_id="smoke_invoke_lambda", aws_conn_id=AWS_CONN_ID, function_name="{{ params.lambda_function_name }}",
        payload=event, log_type="Tail",
    )
    concurrency = LambdaConcurrencyOperator(
        task_id="lambda_concurrency", aws_conn_id=AWS_CONN_ID, function_name="{{ params.lambda_function_name }}",
        reserved_concurrency="{{ params.reserved_concurrency }}",
        provisioned_concurrency="{{ params.provisioned_concurrency }}",
    )
    teardown = EndpointTeardownOperator(
        task_id="tear_down", aws_conn_id=AWS_CONN_ID, endpoint_name="{{ params.endpoint_name }}",
        function_name="{{ params.lambda_function_name }}",
    )

    chain(run_plan, sync_data, upload_code)
    chain(deploy, autoscale)
    chain(run_plan, deploy_lambda)
    chain([deploy, deploy_lambda], invoke_before_grant(event), grant_invoke)
    chain([grant_invoke, autoscale], smoke)
    chain(check_smoke_answer(smoke.output), concurrency, tear_down_requested(), teardown)
