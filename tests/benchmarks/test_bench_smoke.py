"""The benchmark code runs end to end on tiny data and leaves its summary (no timed assertions)."""

import json

import pytest

from benchmarks import backbone_precision, multi_instance, serving_latency, tuning_comparison
from benchmarks.summary import load_results, markdown_table, write_summary


@pytest.fixture(scope="module")
def precision_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    assert backbone_precision.main(["--backbones", "efficientnet_lite0", "--paths", "fp32+channels_last",
                                    "--classes", "2", "--per-class", "2", "--repeats", "1",
                                    "--json", str(folder / "backbone_precision.json")]) == 0
    return folder


@pytest.mark.slow
def test_precision_study_reports_speed_and_faithfulness_of_every_path(precision_results):
    study = json.loads((precision_results / "backbone_precision.json").read_text())["backbones"]["efficientnet_lite0"]
    assert list(study["paths"]) == ["fp32", "fp32+channels_last"]
    fp32 = study["paths"]["fp32"]
    assert fp32["top1_agreement"] == 1.0 and fp32["faithful"]
    assert study["paths"]["fp32+channels_last"]["top1_agreement"] == 1.0
    assert all(row["images_per_s"]["median"] > 0 for row in study["paths"].values())
    assert study["gflops_per_image"] > 0.1


@pytest.mark.slow
def test_summary_writes_latest_json_charts_and_the_table(precision_results, tmp_path):
    summary = write_summary({"machine": {"cpu": "test CPU", "usable_cpus": 2, "torch": "x"}, "load_before": 1.0,
                             "load_after": 2.0, "results": load_results(precision_results, ["backbone_precision"])},
                            tmp_path)
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert latest["results"]["backbone_precision"]["backbones"]["efficientnet_lite0"]
    assert (tmp_path / "backbone_precision.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["charts"] == ["backbone_precision.png"]
    table = markdown_table(latest)
    assert "| backbone efficientnet_lite0 (ImageNet weights), images/s, batch 16 | fp32 eager" in table
    assert "load average 1.00 before, 2.00 after" in table


@pytest.mark.slow
def test_tuning_comparison_times_both_methods_and_the_growth(tmp_path):
    out = tmp_path / "tuning_comparison.json"
    assert tuning_comparison.main(["--scale", "0.002", "--trials", "1", "--backbones", "efficientnet_lite0",
                                   "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["original"]["tuning_s"] > 0 and report["pawflow"]["efficientnet_lite0"]["tuning_s"] > 0
    assert set(report["growth"]["data_size"]) == {"1/8", "1/4", "1/2", "1"}
    table = markdown_table({"machine": {"cpu": "c", "usable_cpus": 2, "torch": "t"}, "load_before": 0,
                            "load_after": 0, "results": {"tuning_comparison": report}})
    assert "original vs pawflow efficientnet_lite0" in table


@pytest.mark.slow
def test_multi_instance_runs_one_and_two_host_jobs_through_the_runtime(tmp_path):
    out = tmp_path / "multi_instance.json"
    assert multi_instance.main(["--classes", "2", "--train-per-class", "2", "--epochs", "1", "--repeats", "1",
                                "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["1 host, 1 core"]["training_s"] > 0 and report["2 hosts, 1 core each"]["training_s"] > 0


@pytest.mark.slow
def test_serving_latency_times_both_handlers_the_endpoint_and_both_lambda_clients(tmp_path):
    out = tmp_path / "serving_latency.json"
    assert serving_latency.main(["--samples", "2", "--warmup", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    timed = [*report["in_process"].values(), *report["runtime"].values()]
    assert len(timed) == 5 and all(row["samples"] == 2 and 0 < row["p50_ms"] <= row["p95_ms"] for row in timed)
    table = markdown_table({"machine": {"cpu": "c", "usable_cpus": 2, "torch": "t"}, "load_before": 0,
                            "load_after": 0, "results": {"serving_latency": report}})
    assert "starter-style handler (fp32, autograd on) vs pawflow handler" in table
    assert "client built per call vs once per container" in table


@pytest.mark.slow
def test_tuning_comparison_times_pawflow_alone_when_asked(tmp_path):
    out = tmp_path / "pawflow_only.json"
    assert tuning_comparison.main(["--scale", "0.002", "--trials", "2", "--backbones", "efficientnet_lite0",
                                   "--pawflow-only", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    row = report["pawflow"]["efficientnet_lite0"]
    assert "original" not in report and len(row["trial_s"]) == 2 and row["tuning_s"] == sum(row["trial_s"])
