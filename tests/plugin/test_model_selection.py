"""The served model is the completed job with the best test metric."""

import pytest

from pawflow.model_selection import choose_training_job


def job(name, loss=None, accuracy=None, status="Completed"):
    metrics = [{"MetricName": n, "Value": v} for n, v in (("Test Loss", loss), ("Test Accuracy", accuracy)) if v is not None]
    return {"Training": {"TrainingJobName": name, "TrainingJobStatus": status, "FinalMetricDataList": metrics,
                         "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/{name}/output/model.tar.gz"}}}


def test_lowest_test_loss_wins():
    chosen = choose_training_job([job("single", 0.9, 0.6), job("multi", 0.7, 0.5)])
    assert chosen["TrainingJobName"] == "multi"
    assert chosen["ModelDataUrl"] == "s3://b/multi/output/model.tar.gz"
    assert chosen["Candidates"] == {"single": 0.9, "multi": 0.7}


def test_equal_loss_goes_to_higher_accuracy():
    assert choose_training_job([job("single", 0.5, 0.6), job("multi", 0.5, 0.8)])["TrainingJobName"] == "multi"


def test_maximising_an_accuracy():
    chosen = choose_training_job([job("a", 0.1, 0.6), job("b", 0.2, 0.8)], metric="Test Accuracy", minimize=False)
    assert chosen["TrainingJobName"] == "b"


def test_failed_or_metricless_jobs_are_not_candidates():
    chosen = choose_training_job([job("failed", 0.1, status="Failed"), job("silent"), job("ok", 0.4)])
    assert chosen["TrainingJobName"] == "ok"


def test_no_candidate_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no completed training job among \['silent'\] reported the final metric 'Test Loss'"):
        choose_training_job([job("silent")])
