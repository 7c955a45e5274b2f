"""A pipeline run's plan: Params checked together, the role resolved, names stable across retries of the run."""

import pytest

from pawflow.run_plan import check_params, plan_run, resource_names, training_settings

PARAMS = {
    "autoscaling_min_capacity": 1, "autoscaling_max_capacity": 3, "autoscaling_target_invocations": 10,
    "scale_in_cooldown": 30, "scale_out_cooldown": 30, "reserved_concurrency": 5, "provisioned_concurrency": 2,
    "tuning_max_jobs": 6, "tuning_max_parallel_jobs": 3, "training_instance_type": "ml.m5.xlarge",
    "endpoint_instance_type": "ml.m5.large", "training_image_uri": "example.com/train:1",
    "inference_image_uri": "example.com/serve:1", "bucket": "dogs", "extra_hyperparameters": {"patience": 3},
    "backbone": "efficientnet_lite0", "epochs": 2, "input_distribution": "ShardedByS3Key",
}
RUN_ID = "manual__2026-11-25T12:00:00+00:00"


def test_more_parallel_trials_than_trials_is_refused():
    with pytest.raises(ValueError, match=r"tuning_max_parallel_jobs must be between 1 and tuning_max_jobs \(2\), got 3"):
        check_params({**PARAMS, "tuning_max_jobs": 2})


def test_provisioned_above_reserved_concurrency_is_refused():
    with pytest.raises(ValueError, match=r"provisioned_concurrency must be between 0 and reserved_concurrency \(1\)"):
        check_params({**PARAMS, "reserved_concurrency": 1})


def test_resource_names_are_the_same_for_a_retry_and_differ_between_runs():
    first = resource_names("dog_breed_pipeline", RUN_ID)
    assert first == resource_names("dog_breed_pipeline", RUN_ID)
    other = resource_names("dog_breed_pipeline", "manual__2026-11-25T12:00:01+00:00")
    assert all(first[key] != other[key] for key in first)


def test_the_tuning_job_name_fits_sagemakers_32_characters():
    names = resource_names("dog_breed_pipeline", RUN_ID)
    assert len(names["tuning"]) <= 32
    assert names["tuning"].startswith("dogs-hpo-20261125120000-")


def test_plan_resolves_the_role_name_to_its_arn_and_tags_the_run(aws, client, create_sagemaker_role, unique):
    arn = create_sagemaker_role(client("iam"), f"{unique}-sagemaker")
    plan = plan_run({**PARAMS, "sagemaker_role": f"{unique}-sagemaker"}, dag_id="dog_breed_pipeline",
                    run_id=RUN_ID, aws_conn_id="aws_default")
    assert plan["role_arn"] == arn
    assert plan["region"] == "us-east-1"
    assert (plan["training_image"], plan["inference_image"]) == ("example.com/train:1", "example.com/serve:1")
    assert plan["tags"] == {"pawflow:dag_id": "dog_breed_pipeline", "pawflow:run_id": RUN_ID}
    assert plan["names"] == resource_names("dog_breed_pipeline", RUN_ID)


def test_plan_with_a_missing_role_says_how_to_create_it(aws, unique):
    with pytest.raises(ValueError, match=rf"SageMaker execution role '{unique}-absent' does not exist; create it"):
        plan_run({**PARAMS, "sagemaker_role": f"{unique}-absent"}, dag_id="dog_breed_pipeline", run_id=RUN_ID,
                 aws_conn_id="aws_default")


def test_training_settings_carry_the_plan_and_the_static_hyperparameters():
    plan = {"role_arn": "arn:aws:iam::123456789012:role/r", "region": "us-east-1",
            "training_image": "example.com/train:1", "tags": {"pawflow:run_id": RUN_ID}}
    settings = training_settings(plan, "s3://dogs/dogImages/", "s3://dogs/code/sourcedir.tar.gz", PARAMS)
    assert settings.role_arn == plan["role_arn"]
    assert settings.output_uri == "s3://dogs/training-output/"
    assert settings.static_hyperparameters == {"patience": 3, "backbone": "efficientnet_lite0", "epochs": 2}
    assert settings.input_distribution == "ShardedByS3Key"
