"""The SageMaker request builders produce requests botocore accepts, with the course's search space."""

import dataclasses
import json
import re

import botocore.session
import pytest
from botocore.validate import validate_parameters

from pawflow import sagemaker_config
from pawflow.resource_names import MAX_LENGTH, run_scoped_name
from pawflow.sagemaker_config import TrainingSettings

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")


def validate(operation: str, params: dict) -> None:
    validate_parameters(params, SAGEMAKER.operation_model(operation).input_shape)


@pytest.fixture
def settings() -> TrainingSettings:
    return TrainingSettings(
        role_arn="arn:aws:iam::123456789012:role/pawflow-sagemaker",
        region="us-east-1",
        image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8-cpu-py312",
        data_uri="s3://pawflow-data/dogImages/",
        source_dir_uri="s3://pawflow-data/code/abc/sourcedir.tar.gz",
        output_uri="s3://pawflow-data/output/",
        static_hyperparameters={"epochs": 2, "backbone": "efficientnet_lite0", "learning_rate": 0.01},
        tags={"pawflow:run_id": "manual__2026-11-25T12:00:00+00:00"},
    )


def test_training_job_config_is_a_valid_create_training_job_request(settings):
    config = sagemaker_config.training_job_config(
        settings, "dogs-train-1", instance_type="ml.m5.2xlarge", instance_count=2,
        hyperparameters={"learning_rate": 0.003, "batch_size": 64},
    )
    validate("CreateTrainingJob", config)
    assert config["ResourceConfig"] == {"InstanceType": "ml.m5.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30}
    channel = config["InputDataConfig"][0]
    assert channel["ChannelName"] == "training"
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"


def test_hyperparameters_are_json_encoded_script_mode_values(settings):
    config = sagemaker_config.training_job_config(
        settings, "dogs-train-1", instance_type="ml.m5.2xlarge", hyperparameters={"batch_size": 64}
    )
    hp = config["HyperParameters"]
    assert all(isinstance(value, str) for value in hp.values())
    assert json.loads(hp["sagemaker_program"]) == "train.py"
    assert json.loads(hp["sagemaker_submit_directory"]) == settings.source_dir_uri
    assert json.loads(hp["sagemaker_region"]) == "us-east-1"
    assert json.loads(hp["sagemaker_container_log_level"]) == 20
    assert json.loads(hp["batch_size"]) == 64
    assert json.loads(hp["backbone"]) == "efficientnet_lite0"
    assert sagemaker_config.decode_hyperparameters(hp)["epochs"] == 2


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("Testing Loss: 0.6931", "Test Loss", 0.6931),
        ("Testing Loss: 1.5e-05", "Test Loss", 1.5e-05),
        ("Testing Accuracy: 7.5E-01", "Test Accuracy", 0.75),
        ("Epoch 3 Validation Loss: 2.25 images/s: 40.1", "Validation Loss", 2.25),
        ("Train Accuracy: 1", "Train Accuracy", 1.0),
    ],
)
def test_metric_regexes_read_plain_and_scientific_floats(line, name, value):
    regex = {m["Name"]: m["Regex"] for m in sagemaker_config.metric_definitions()}[name]
    assert [float(found) for found in re.findall(regex, line)] == [pytest.approx(value)]


def test_test_loss_regex_does_not_read_the_accuracy_line():
    regex = {m["Name"]: m["Regex"] for m in sagemaker_config.metric_definitions()}["Test Loss"]
    assert re.search(regex, "Testing Accuracy: 0.5") is None


def test_tuning_job_config_uses_the_course_search_space(settings):
    config = sagemaker_config.tuning_job_config(settings, "dogs-hpo-20261125120000-abcdef")
    validate("CreateHyperParameterTuningJob", config)
    tuning = config["HyperParameterTuningJobConfig"]
    assert tuning["Strategy"] == "Bayesian"
    assert tuning["HyperParameterTuningJobObjective"] == {"Type": "Minimize", "MetricName": "Test Loss"}
    assert tuning["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 3}
    assert tuning["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
    ]
    assert tuning["ParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "batch_size", "Values": ["32", "64", "128", "256", "512"]}
    ]
    definition = config["TrainingJobDefinition"]
    assert definition["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert "Test Loss" in {m["Name"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]}


def test_tuned_hyperparameters_are_not_also_static(settings):
    config = sagemaker_config.tuning_job_config(settings, "dogs-hpo-1")
    static = config["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "learning_rate" not in static
    assert json.loads(static["epochs"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_jobs": 0}, "max_jobs must be an integer >= 1"),
        ({"max_jobs": 2, "max_parallel_jobs": 3}, r"max_parallel_jobs must be between 1 and max_jobs \(2\)"),
        ({"objective_metric": "Accuracy"}, "objective_metric must be one of"),
        ({"instance_type": "m5.xlarge"}, "instance_type must be a SageMaker instance type"),
    ],
)
def test_tuning_job_config_rejects_bad_limits(settings, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sagemaker_config.tuning_job_config(settings, "dogs-hpo-1", **kwargs)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role_arn", "pawflow-sagemaker", "role_arn must be an IAM role ARN"),
        ("data_uri", "/data/dogImages", "data_uri must be an s3:// URI"),
        ("input_distribution", "Replicated", "input_distribution must be one of"),
        ("volume_size_gb", 0, "volume_size_gb must be an integer >= 1"),
    ],
)
def test_training_settings_reject_bad_values(settings, field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainingSettings(**{**settings.__dict__, field: value})


def test_endpoint_deployment_config_is_valid_for_model_config_and_endpoint():
    config = sagemaker_config.endpoint_deployment_config(
        model_name="dogs-model-1", endpoint_config_name="dogs-config-1", endpoint_name="dog-breeds",
        image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
        model_data_url="s3://pawflow-data/output/job/output/model.tar.gz",
        role_arn="arn:aws:iam::123456789012:role/pawflow-sagemaker", region="us-east-1",
    )
    assert set(config) == {"Model", "EndpointConfig", "Endpoint"}
    validate("CreateModel", config["Model"])
    validate("CreateEndpointConfig", config["EndpointConfig"])
    validate("CreateEndpoint", config["Endpoint"])
    assert config["Model"]["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert config["Model"]["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert config["EndpointConfig"]["ProductionVariants"][0]["ModelName"] == "dogs-model-1"


def test_best_training_job_decodes_the_tuned_hyperparameters():
    tuning = {"Tuning": {"BestTrainingJob": {"TrainingJobName": "hpo-003-abc",
                                             "TunedHyperParameters": {"learning_rate": "0.0042", "batch_size": '"64"'}}}}
    name, hyperparameters = sagemaker_config.best_training_job(tuning)
    assert name == "hpo-003-abc"
    assert hyperparameters == {"learning_rate": 0.0042, "batch_size": "64"}


def test_best_training_job_explains_a_tuning_job_without_a_winner():
    with pytest.raises(ValueError, match=r"reports no best training job \(status Failed\)"):
        sagemaker_config.best_training_job({"HyperParameterTuningJobName": "x", "HyperParameterTuningJobStatus": "Failed"})


def test_final_metric_reads_the_final_metric_data_list():
    description = {"Training": {"FinalMetricDataList": [{"MetricName": "Test Loss", "Value": 0.25}]}}
    assert sagemaker_config.final_metric(description, "Test Loss") == 0.25
    assert sagemaker_config.final_metric(description, "Test Accuracy") is None


@pytest.mark.parametrize("kind", sorted(MAX_LENGTH))
def test_run_scoped_names_fit_each_resource_and_are_stable(kind):
    run_id = "manual__2026-11-25T12:00:00.123456+00:00"
    name = run_scoped_name("dog-breed-pipeline-" + kind, "dog_breed_pipeline", run_id, MAX_LENGTH[kind])
    assert len(name) <= MAX_LENGTH[kind]
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name)
    assert "20261125120000" in name
    assert name == run_scoped_name("dog-breed-pipeline-" + kind, "dog_breed_pipeline", run_id, MAX_LENGTH[kind])
    assert name != run_scoped_name("dog-breed-pipeline-" + kind, "dog_breed_pipeline", run_id + "x", MAX_LENGTH[kind])


FEATURES_URI = "s3://pawflow-data/features/0123456789abcdef0123456789abcdef/"


def test_feature_extraction_job_reads_all_images_on_one_instance(settings):
    sharded = dataclasses.replace(settings, input_distribution="ShardedByS3Key", features_uri=FEATURES_URI)
    config = sagemaker_config.feature_extraction_job_config(sharded, "dogs-extract-1", instance_type="ml.m5.2xlarge")
    validate("CreateTrainingJob", config)
    assert config["ResourceConfig"]["InstanceCount"] == 1
    assert [(c["ChannelName"], c["DataSource"]["S3DataSource"]["S3Uri"],
             c["DataSource"]["S3DataSource"]["S3DataDistributionType"]) for c in config["InputDataConfig"]] == [
        ("training", "s3://pawflow-data/dogImages/", "FullyReplicated")]
    assert config["HyperParameters"]["extract_features_only"] == "true"


def test_tuning_trials_with_features_take_only_the_features_channel(settings):
    config = sagemaker_config.tuning_job_config(dataclasses.replace(settings, features_uri=FEATURES_URI), "dogs-hpo-1")
    validate("CreateHyperParameterTuningJob", config)
    assert config["TrainingJobDefinition"]["InputDataConfig"] == [{
        "ChannelName": "features", "InputMode": "File",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": FEATURES_URI,
                                        "S3DataDistributionType": "FullyReplicated"}},
    }]


def test_training_jobs_with_features_replicate_them_to_every_instance(settings):
    features = dataclasses.replace(settings, features_uri=FEATURES_URI, input_distribution="ShardedByS3Key")
    config = sagemaker_config.training_job_config(features, "dogs-train-2", instance_type="ml.m5.2xlarge",
                                                  instance_count=2)
    assert [(c["ChannelName"], c["DataSource"]["S3DataSource"]["S3DataDistributionType"])
            for c in config["InputDataConfig"]] == [("features", "FullyReplicated")]


def test_training_settings_reject_a_features_uri_outside_s3(settings):
    with pytest.raises(ValueError, match=re.escape("features_uri must be an s3:// URI, got '/tmp/features'")):
        dataclasses.replace(settings, features_uri="/tmp/features")
