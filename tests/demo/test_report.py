"""The demo's report page: every picture there is data for, inline, and the data beside it."""

import base64
import json
import re

from pawflow.demo.report import write_report

STORY = {
    "summary": {"endpoint": "dog-breed-classifier InService"},
    "trials": [{"name": "t1", "learning_rate": 0.01, "batch_size": 32, "objective": 0.4},
               {"name": "t2", "learning_rate": 0.05, "batch_size": 128, "objective": 0.1},
               {"name": "t3", "learning_rate": 0.002, "batch_size": 64, "objective": None}],
    "curves": {"single-instance": {"history": [
        {"epoch": 1, "train_loss": 1.2, "valid_loss": 1.0, "valid_accuracy": 0.55},
        {"epoch": 2, "train_loss": 0.6, "valid_loss": 0.5, "valid_accuracy": 0.85}]}},
    "latencies_ms": [31.0, 35.5, 40.2, 37.9, 36.1, 80.4, 33.3],
}


def test_report_has_one_png_per_section_and_keeps_the_story(tmp_path):
    page = write_report(STORY, tmp_path).read_text()
    images = re.findall(r'<h2>(\w+)</h2><img alt="\w+" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [title for title, _ in images] == ["Tuning", "Training", "Serving"]
    for _, data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert "dog-breed-classifier InService" in page
    assert json.loads((tmp_path / "story.json").read_text())["trials"] == STORY["trials"]


def test_sections_without_data_are_left_out(tmp_path):
    page = write_report({"summary": {}, "trials": [], "curves": {}, "latencies_ms": [12.0]}, tmp_path).read_text()
    assert re.findall(r"<h2>(\w+)</h2>", page) == ["Serving"]
