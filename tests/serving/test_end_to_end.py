"""A real saved model dir served end to end: in process, and through the SageMaker inference toolkit's Transformer."""

import base64
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import classifier
import inference
from tests.serving.sample_images import image_bytes

pytestmark = pytest.mark.slow

CLASS_NAMES = ["001.Affenpinscher", "002.Afghan_hound", "003.Airedale_terrier"]
DRIVER = Path(__file__).with_name("toolkit_driver.py")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = classifier.build_model("efficientnet_lite0", len(CLASS_NAMES), pretrained=True)
    config = classifier.model_config("efficientnet_lite0", len(CLASS_NAMES))
    return classifier.save_model(tmp_path_factory.mktemp("serving") / "model", model, CLASS_NAMES, config)


@pytest.fixture(scope="module")
def dog_jpeg():
    return image_bytes("JPEG", size=(320, 240), color=(150, 110, 60))


@pytest.fixture(scope="module")
def in_process_answer(model_dir, dog_jpeg):
    model = inference.model_fn(str(model_dir))
    request = inference.input_fn(dog_jpeg, "image/jpeg")
    body, content_type = inference.output_fn(inference.predict_fn(request, model), "application/json")
    assert content_type == "application/json"
    return json.loads(body)


def test_model_dir_ships_the_serving_code(model_dir):
    code = {path.name for path in (model_dir / "code").iterdir()}
    assert {"inference.py", "safe_fetch.py", "classifier.py", "torchvision_compat.py"} <= code
    assert {"model.pth", "classes.json", "model_config.json"} <= {path.name for path in model_dir.iterdir()}


def test_handler_chain_answers_every_class_sorted_with_breed_labels(in_process_answer):
    predictions = in_process_answer["predictions"]
    assert [entry["index"] for entry in predictions] != []
    assert sorted(entry["index"] for entry in predictions) == [0, 1, 2]
    probabilities = [entry["probability"] for entry in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert math.isclose(sum(probabilities), 1.0, rel_tol=1e-5)
    labels = {entry["index"]: entry["label"] for entry in predictions}
    assert labels == {0: "Affenpinscher", 1: "Afghan hound", 2: "Airedale terrier"}
    assert "logits" not in in_process_answer


@pytest.fixture(scope="module")
def toolkit_results(model_dir, dog_jpeg, tmp_path_factory):
    """Six requests run through the toolkit's Transformer in a fresh interpreter that sees only ``code/``."""
    json_request = json.dumps({"image": base64.b64encode(dog_jpeg).decode(), "top_k": 2, "include_logits": True})
    requests = [
        {"content_type": "image/jpeg", "accept": "application/json", "body": dog_jpeg},
        {"content_type": "application/json", "accept": "*/*", "body": json_request.encode()},
        {"content_type": "application/json", "accept": "application/json",
         "body": b'{"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}'},
        {"content_type": "text/csv", "accept": "application/json", "body": b"1,2,3"},
        {"content_type": "image/png", "accept": "application/json", "body": b""},
        {"content_type": "image/jpeg", "accept": "text/csv", "body": dog_jpeg},
    ]
    work = tmp_path_factory.mktemp("toolkit")
    requests_path, results_path = work / "requests.json", work / "results.json"
    requests_path.write_text(json.dumps([
        {**request, "body": base64.b64encode(request["body"]).decode("ascii")} for request in requests
    ]))
    code_dir = model_dir / "code"
    env = {**os.environ, "PYTHONPATH": str(code_dir), "SAGEMAKER_PROGRAM": "inference.py", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(DRIVER), str(model_dir), str(requests_path), str(results_path)],
        cwd=code_dir, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(results_path.read_text())


def test_sagemaker_toolkit_answers_200_for_good_requests_and_4xx_for_bad_ones(toolkit_results):
    assert [result["status"] for result in toolkit_results] == [200, 200, 400, 415, 400, 406]


def test_sagemaker_toolkit_serves_the_same_predictions_from_the_model_dir_code(toolkit_results, in_process_answer):
    image_answer, json_answer = (json.loads(result["body"]) for result in toolkit_results[:2])
    assert [result["content_type"] for result in toolkit_results[:2]] == ["application/json", "application/json"]
    assert len(image_answer["predictions"]) == len(in_process_answer["predictions"])
    for served, local in zip(image_answer["predictions"], in_process_answer["predictions"]):
        assert served["index"] == local["index"] and served["label"] == local["label"]
        assert math.isclose(served["probability"], local["probability"], rel_tol=1e-4)
    assert len(json_answer["predictions"]) == 2 and len(json_answer["logits"]) == len(CLASS_NAMES)


def test_sagemaker_toolkit_error_phrase_is_our_message(toolkit_results):
    first_lines = [result["body"].split("\n", 1)[0] for result in toolkit_results[2:]]
    assert first_lines[0].startswith("UrlNotAllowed: host '169.254.169.254' of the URL is a link-local address")
    assert first_lines[1].startswith("UnsupportedContentType: Content-Type 'text/csv' is not supported")
    assert first_lines[2].startswith("EmptyBody: the request body is empty")
    assert first_lines[3].startswith("UnsupportedAccept: Accept 'text/csv' cannot be served")
    assert [result["phrase"] for result in toolkit_results[2:]] == first_lines


def test_sagemaker_toolkit_error_body_is_the_message_then_the_traceback(toolkit_results):
    """``Transformer.handle_error`` answers ``message + "\\n" + traceback``: a runtime in front must cut the trace."""
    message, trace = toolkit_results[3]["body"].split("\n", 1)
    assert message.startswith("UnsupportedContentType: ")
    assert trace.startswith("Traceback (most recent call last):")
    assert "inference.UnsupportedContentType" in trace
