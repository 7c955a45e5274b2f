"""The course notebook's SageMaker Python SDK v2 workflow against the local runtime: train, tune, attach, deploy the
best trial, predict, delete; then a tuner over two estimators (``TrainingJobDefinitions``) and its attach. Runs inside ``.venv-sdk-v2`` (``make sdk-v2``) and prints its summary as one JSON line
after ``SUMMARY_MARK`` (the SDK's waiters print progress dots on the same stream).

The runtime is chosen by the environment alone (``AWS_ENDPOINT_URL``, keys, region, and
``SAGEMAKER_USER_CONFIG_OVERRIDE`` naming a config that opts out of telemetry), as README's "Using other clients"
says; the bucket and role are passed explicitly, so the SDK never asks STS (it sends STS calls to AWS's regional
endpoint, not ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import argparse
import json

LOSS_METRIC = {"Name": "test:loss", "Regex": r"Testing Loss: ([0-9\.]+)"}
INSTANCE_TYPE = "ml.m5.large"
SUMMARY_MARK = "sdk-v2-workflow-summary: "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--source-dir", required=True, help="folder holding tiny_train.py and tiny_inference.py")
    parser.add_argument("--name", required=True, help="prefix of every job and endpoint name")
    args = parser.parse_args()

    import sagemaker
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.pytorch import PyTorch
    from sagemaker.serializers import JSONSerializer
    from sagemaker.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner

    session = sagemaker.Session(default_bucket=args.bucket)
    inputs = {"training": f"s3://{args.bucket}/data/train"}
    estimator = PyTorch(entry_point="tiny_train.py", source_dir=args.source_dir, role=args.role,
                        framework_version="2.3", py_version="py311", instance_count=1, instance_type=INSTANCE_TYPE,
                        hyperparameters={"epochs": 1}, metric_definitions=[LOSS_METRIC], sagemaker_session=session)
    estimator.fit(inputs, job_name=f"{args.name}-train", logs="All")
    trained = estimator.latest_training_job.describe()

    tuner = HyperparameterTuner(estimator, objective_metric_name="test:loss", objective_type="Minimize",
                                metric_definitions=[LOSS_METRIC], max_jobs=2, max_parallel_jobs=1,
                                hyperparameter_ranges={"learning_rate": ContinuousParameter(0.01, 0.5),
                                                       "batch_size": CategoricalParameter([2, 8])})
    tuner.fit(inputs, job_name=f"{args.name}-hpo", wait=True)

    attached = HyperparameterTuner.attach(f"{args.name}-hpo", sagemaker_session=session)
    best_job = attached.best_training_job()
    best = attached.best_estimator()
    predictor = best.deploy(initial_instance_count=1, instance_type=INSTANCE_TYPE, entry_point="tiny_inference.py",
                            endpoint_name=f"{args.name}-ep", serializer=JSONSerializer(),
                            deserializer=JSONDeserializer())
    answer = predictor.predict([1, 2.5])
    predictor.delete_model()  # first: it finds the model through the endpoint config delete_endpoint removes
    predictor.delete_endpoint()

    tuning = attached.describe()

    estimators = {f"batch-{batch}": PyTorch(
        entry_point="tiny_train.py", source_dir=args.source_dir, role=args.role, framework_version="2.3",
        py_version="py311", instance_count=1, instance_type=INSTANCE_TYPE, sagemaker_session=session,
        hyperparameters={"epochs": 1, "batch_size": batch}) for batch in (2, 8)}
    multi = HyperparameterTuner.create(
        estimator_dict=estimators, objective_type="Minimize", max_jobs=2, max_parallel_jobs=1,
        objective_metric_name_dict={key: "test:loss" for key in estimators},
        metric_definitions_dict={key: [LOSS_METRIC] for key in estimators},
        hyperparameter_ranges_dict={key: {"learning_rate": ContinuousParameter(0.01, 0.5)} for key in estimators})
    multi.fit({key: inputs for key in estimators}, job_name=f"{args.name}-multi", wait=True,
              include_cls_metadata={key: False for key in estimators})  # the SDK wants one entry per estimator
    multi_attached = HyperparameterTuner.attach(
        f"{args.name}-multi", sagemaker_session=session,
        estimator_cls={key: "sagemaker.pytorch.estimator.PyTorch" for key in estimators})
    trials = session.sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=f"{args.name}-multi")["TrainingJobSummaries"]
    print("\n" + SUMMARY_MARK + json.dumps({
        "training_status": trained["TrainingJobStatus"],
        "training_metrics": [metric["MetricName"] for metric in trained.get("FinalMetricDataList", [])],
        "tuning_status": tuning["HyperParameterTuningJobStatus"],
        "trials_completed": tuning["TrainingJobStatusCounters"]["Completed"],
        "best_job": best_job,
        "best_estimator_job": best.latest_training_job.name,
        "best_hyperparameters": {k: json.loads(best.hyperparameters()[k]) for k in ("learning_rate", "batch_size")},
        "endpoint": predictor.endpoint_name,
        "predictions": answer["predictions"],
        "multi_estimators": sorted(multi_attached.estimator_dict),
        "multi_trial_definitions": sorted(trial["TrainingJobDefinitionName"] for trial in trials),
        "multi_best_job": multi_attached.best_training_job(),
        "multi_best_estimator_job": multi_attached.best_estimator().latest_training_job.name,
    }))


if __name__ == "__main__":
    main()
