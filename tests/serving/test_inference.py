"""The serving handler: each bad request gets its own error and HTTP status; good requests get sorted top-k JSON."""

import base64
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sagemaker_inference.errors import GenericInferenceToolkitError

import classifier
import inference
from tests.serving.sample_images import image_bytes, noise_image_bytes, png_bomb

CLASS_NAMES = ["001.Affenpinscher", "002.Afghan_hound", "003.Airedale_terrier", "004.Akita"]


def raises(error_class, status, body, content_type):
    with pytest.raises(error_class) as caught:
        inference.input_fn(body, content_type)
    error = caught.value
    assert isinstance(error, GenericInferenceToolkitError)
    assert error.status_code == status
    assert error.message.startswith(f"{error_class.__name__}: ")
    assert error.phrase == error.message
    return error


def as_json(document):
    return json.dumps(document)


def b64(data):
    return base64.b64encode(data).decode("ascii")


class MeanColourNet(torch.nn.Module):
    """A tiny real network: mean colour of the image through a fixed linear layer, one logit per class."""

    def __init__(self, num_classes):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.linear = torch.nn.Linear(3, num_classes)
        with torch.no_grad():
            self.linear.weight.copy_(torch.randn(num_classes, 3, generator=generator) * 3)
            self.linear.bias.copy_(torch.randn(num_classes, generator=generator))

    def forward(self, images):
        return self.linear(images.mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def tiny_model():
    return classifier.LoadedModel(
        model=MeanColourNet(len(CLASS_NAMES)).eval(),
        class_names=CLASS_NAMES,
        transform=classifier.eval_transform("efficientnet_lite0"),
        config={"backbone": "efficientnet_lite0", "num_classes": len(CLASS_NAMES)},
    )


# --- content type and body ----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/csv", "application/octet-stream", "text/plain", "", None])
def test_unsupported_content_type_is_415_listing_what_is_accepted(content_type):
    error = raises(inference.UnsupportedContentType, 415, image_bytes(), content_type)
    assert "image/jpeg, image/jpg, image/png" in error.message and "application/json" in error.message


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "application/x-image", "application/json"])
@pytest.mark.parametrize("body", [b"", "", bytearray(), None])
def test_empty_body_is_400(content_type, body):
    raises(inference.EmptyBody, 400, body, content_type)


@pytest.mark.parametrize("body", [b"hello, not a picture", b"<html></html>", b"\xff\xd8\xff\xe0garbage"])
def test_image_content_type_with_a_body_that_is_not_an_image_is_400(body):
    error = raises(inference.InvalidImage, 400, body, "image/jpeg")
    assert "JPEG, PNG" in error.message or "corrupt" in error.message


def test_image_larger_than_the_byte_limit_is_413(monkeypatch):
    monkeypatch.setenv("PAWFLOW_MAX_IMAGE_BYTES", "1000")
    error = raises(inference.PayloadTooLarge, 413, noise_image_bytes(), "image/png")
    assert "the limit is 1000 bytes" in error.message


def test_decompression_bomb_body_is_413():
    raises(inference.ImageTooLarge, 413, png_bomb(), "image/png")


def test_image_over_the_pixel_limit_is_413_with_its_size(monkeypatch):
    monkeypatch.setenv("PAWFLOW_MAX_IMAGE_PIXELS", "10000")
    error = raises(inference.ImageTooLarge, 413, image_bytes(size=(200, 100)), "image/png")
    assert "200x100 = 20000 pixels; the limit is 10000" in error.message


# --- JSON bodies ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["{", "{'url': 'x'}", "nope", b"\xff\xfe{}"])
def test_malformed_json_is_400(body):
    raises(inference.InvalidJson, 400, body, "application/json")


@pytest.mark.parametrize("body", ["[1, 2]", "\"https://example.com/dog.jpg\"", "3", "null"])
def test_json_that_is_not_an_object_is_400(body):
    error = raises(inference.InvalidJson, 400, body, "application/json")
    assert "must be a JSON object" in error.message


def test_json_without_url_or_image_is_400():
    error = raises(inference.InvalidJson, 400, as_json({"top_k": 3}), "application/json")
    assert "has neither \"url\" and \"image\"" in error.message


def test_json_with_both_url_and_image_is_400():
    raises(inference.InvalidJson, 400, as_json({"url": "https://a.example/x.jpg", "image": b64(image_bytes())}), "application/json")


def test_json_with_an_unknown_field_names_it_and_the_accepted_ones():
    error = raises(inference.InvalidJson, 400, as_json({"image": b64(image_bytes()), "topk": 3}), "application/json")
    assert "unknown field(s) topk; accepted fields are url, image, top_k, include_logits" in error.message


@pytest.mark.parametrize("url", [42, "", "   ", None, ["https://a.example/x.jpg"]])
def test_url_that_is_not_a_non_empty_string_is_400(url):
    raises(inference.InvalidJson, 400, as_json({"url": url}), "application/json")


@pytest.mark.parametrize("value", ["not base64 at all!", "QUJD=QUJD", "", 123, "data:image/png,AAAA"])
def test_bad_base64_is_400(value):
    raises(inference.InvalidBase64, 400, as_json({"image": value}), "application/json")


def test_base64_of_something_that_is_not_an_image_is_400():
    raises(inference.InvalidImage, 400, as_json({"image": b64(b"just text, no pixels")}), "application/json")


def test_base64_longer_than_the_byte_limit_is_413_before_decoding(monkeypatch):
    monkeypatch.setenv("PAWFLOW_MAX_IMAGE_BYTES", "100")
    raises(inference.PayloadTooLarge, 413, as_json({"image": "A" * 1000}), "application/json")


@pytest.mark.parametrize("top_k", [0, -1, "5", True, 1.5, None])
def test_top_k_that_is_not_a_positive_integer_is_400(top_k):
    error = raises(inference.InvalidParameter, 400, as_json({"image": b64(image_bytes()), "top_k": top_k}), "application/json")
    assert "top_k must be an integer >= 1" in error.message


@pytest.mark.parametrize("flag", ["yes", 1, None])
def test_include_logits_that_is_not_a_boolean_is_400(flag):
    raises(inference.InvalidParameter, 400, as_json({"image": b64(image_bytes()), "include_logits": flag}), "application/json")


# --- URL bodies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:8080/ping",
        "http://2130706433/",
        "http://[::ffff:10.0.0.1]/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "http://evil@127.0.0.1/",
    ],
)
def test_refused_url_is_400_naming_the_rule(url):
    error = raises(inference.UrlNotAllowed, 400, as_json({"url": url}), "application/json")
    assert any(word in error.message for word in ("only public addresses", "only http and https", "user info", "four decimal"))


def test_refused_url_is_logged_as_a_warning_for_the_operator(caplog):
    with caplog.at_level("INFO", logger="inference"):
        raises(inference.UrlNotAllowed, 400, as_json({"url": "http://10.0.0.1/"}), "application/json")
    (record,) = [record for record in caplog.records if record.name == "inference"]
    assert record.levelname == "WARNING"
    assert record.getMessage().startswith("Refused request (HTTP 400): UrlNotAllowed: host '10.0.0.1'")


def test_url_served_by_an_allowed_network_is_classified_as_any_image(server, monkeypatch):
    monkeypatch.setenv("PAWFLOW_FETCH_ALLOW_NETWORKS", "127.0.0.1/32")
    server.serve("/dog.jpg", image_bytes("JPEG", size=(80, 60)), content_type="image/jpeg")
    request = inference.input_fn(as_json({"url": server.url("/dog.jpg"), "top_k": 2}), "application/json")
    assert request.image.size == (80, 60)
    assert request.top_k == 2


def test_loopback_server_is_refused_without_the_explicit_allow_setting(server):
    server.serve("/dog.jpg", image_bytes("JPEG"))
    raises(inference.UrlNotAllowed, 400, as_json({"url": server.url("/dog.jpg")}), "application/json")
    assert server.requests == []


def test_url_answering_404_is_424(server, monkeypatch):
    monkeypatch.setenv("PAWFLOW_FETCH_ALLOW_NETWORKS", "127.0.0.1/32")
    error = raises(inference.ImageDownloadFailed, 424, as_json({"url": server.url("/missing.jpg")}), "application/json")
    assert "answered HTTP 404" in error.message


def test_url_download_over_the_byte_limit_is_413(server, monkeypatch):
    monkeypatch.setenv("PAWFLOW_FETCH_ALLOW_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("PAWFLOW_MAX_IMAGE_BYTES", "500")
    server.serve("/big.png", noise_image_bytes())
    raises(inference.PayloadTooLarge, 413, as_json({"url": server.url("/big.png")}), "application/json")


def test_url_serving_a_web_page_is_400(server, monkeypatch):
    monkeypatch.setenv("PAWFLOW_FETCH_ALLOW_NETWORKS", "127.0.0.1/32")
    server.serve("/page", b"<html>dogs</html>", content_type="text/html")
    raises(inference.InvalidImage, 400, as_json({"url": server.url("/page")}), "application/json")


def test_url_redirecting_to_the_metadata_service_is_400(server, monkeypatch):
    monkeypatch.setenv("PAWFLOW_FETCH_ALLOW_NETWORKS", "127.0.0.1/32")
    server.redirect("/dog.jpg", "http://169.254.169.254/latest/meta-data/")
    error = raises(inference.UrlNotAllowed, 400, as_json({"url": server.url("/dog.jpg")}), "application/json")
    assert "redirect 1" in error.message and "169.254.169.254" in error.message


# --- good requests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, content_type",
    [
        (image_bytes("JPEG", size=(90, 70)), "image/jpeg"),
        (image_bytes("PNG", size=(90, 70)), "image/png"),
        (image_bytes("PNG", size=(90, 70)), "image/jpeg"),
        (bytearray(image_bytes("WEBP", size=(90, 70))), "application/x-image"),
        (image_bytes("JPEG", size=(90, 70)), "Image/JPEG; foo=bar"),
        (as_json({"image": b64(image_bytes("PNG", size=(90, 70)))}), "application/json"),
        (as_json({"image": "data:image/png;base64," + b64(image_bytes("PNG", size=(90, 70)))}), "application/json"),
        (as_json({"image": b64(image_bytes("JPEG", size=(90, 70)))}).encode(), "application/json; charset=utf-8"),
    ],
)
def test_good_image_bodies_decode_to_rgb_with_the_default_top_k(body, content_type):
    request = inference.input_fn(body, content_type)
    assert request.image.mode == "RGB" and request.image.size == (90, 70)
    assert request.top_k == 5 and request.include_logits is False


def test_default_top_k_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("PAWFLOW_TOP_K", "2")
    assert inference.input_fn(image_bytes(), "image/png").top_k == 2


@pytest.mark.parametrize(
    "name, value", [("PAWFLOW_TOP_K", "0"), ("PAWFLOW_MAX_IMAGE_BYTES", "ten"), ("PAWFLOW_FETCH_ALLOW_NETWORKS", "10.0.0.0/33")]
)
def test_bad_serving_setting_is_a_configuration_error_naming_it(name, value):
    with pytest.raises(ValueError, match=name):
        inference.ServingLimits.from_environ({name: value})


def test_predictions_are_sorted_top_k_probabilities(tiny_model):
    request = inference.input_fn(as_json({"image": b64(image_bytes("JPEG")), "top_k": 3}), "application/json")
    prediction = inference.predict_fn(request, tiny_model)
    probabilities = [entry["probability"] for entry in prediction.predictions]
    assert len(probabilities) == 3
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0 <= p <= 1 for p in probabilities) and sum(probabilities) <= 1 + 1e-6
    assert prediction.logits is None
    for entry in prediction.predictions:
        assert entry["label"] == classifier.breed_label(CLASS_NAMES[entry["index"]])


def test_top_k_beyond_the_number_of_classes_returns_every_class_summing_to_one(tiny_model):
    request = inference.input_fn(as_json({"image": b64(image_bytes()), "top_k": 50}), "application/json")
    prediction = inference.predict_fn(request, tiny_model)
    assert sorted(entry["index"] for entry in prediction.predictions) == list(range(len(CLASS_NAMES)))
    assert math.isclose(sum(entry["probability"] for entry in prediction.predictions), 1.0, rel_tol=1e-5)


def test_logits_only_on_request_and_consistent_with_the_probabilities(tiny_model):
    request = inference.input_fn(as_json({"image": b64(image_bytes()), "include_logits": True}), "application/json")
    prediction = inference.predict_fn(request, tiny_model)
    assert len(prediction.logits) == len(CLASS_NAMES)
    softmax = torch.softmax(torch.tensor(prediction.logits), dim=0)
    for entry in prediction.predictions:
        assert math.isclose(entry["probability"], softmax[entry["index"]].item(), rel_tol=1e-5)


def test_different_images_get_different_probabilities(tiny_model):
    red = inference.predict_fn(inference.input_fn(image_bytes(color=(255, 0, 0)), "image/png"), tiny_model)
    blue = inference.predict_fn(inference.input_fn(image_bytes(color=(0, 0, 255)), "image/png"), tiny_model)
    assert red.predictions != blue.predictions


# --- output -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    ["application/json", "application/json; charset=utf-8", "*/*", "application/*", None, "", "text/html, application/json;q=0.9"],
)
def test_json_answer_for_json_compatible_accepts(accept):
    prediction = inference.Prediction(predictions=[{"label": "Akita", "index": 3, "probability": 0.75}])
    body, content_type = inference.output_fn(prediction, accept)
    assert content_type == "application/json"
    assert json.loads(body) == {"predictions": [{"label": "Akita", "index": 3, "probability": 0.75}]}


def test_logits_appear_in_the_answer_only_when_present():
    prediction = inference.Prediction(predictions=[], logits=[0.5, -1.0])
    assert json.loads(inference.output_fn(prediction, "application/json")[0])["logits"] == [0.5, -1.0]


@pytest.mark.parametrize("accept", ["text/csv", "application/x-npy", "image/png"])
def test_unsupported_accept_is_406(accept):
    with pytest.raises(inference.UnsupportedAccept) as caught:
        inference.output_fn(inference.Prediction(predictions=[]), accept)
    assert caught.value.status_code == 406
    assert "this model answers application/json" in caught.value.message


def test_every_request_error_is_a_toolkit_error_with_its_status():
    statuses = {
        inference.EmptyBody: 400, inference.UnsupportedContentType: 415, inference.UnsupportedAccept: 406,
        inference.InvalidJson: 400, inference.InvalidBase64: 400, inference.InvalidParameter: 400,
        inference.InvalidImage: 400, inference.PayloadTooLarge: 413, inference.ImageTooLarge: 413,
        inference.UrlNotAllowed: 400, inference.ImageDownloadFailed: 424,
    }
    assert set(statuses) == set(inference.InferenceRequestError.__subclasses__())
    for error_class, status in statuses.items():
        error = error_class("detail")
        assert isinstance(error, GenericInferenceToolkitError)
        assert (error.status_code, error.message, str(error)) == (status, f"{error_class.__name__}: detail", error.message)


def run_probe(probe):
    code_dir = Path(inference.__file__).parent
    result = subprocess.run([sys.executable, "-c", probe], cwd=code_dir, env={"PYTHONPATH": str(code_dir)},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_handler_loads_no_model_and_opens_no_connection():
    probe = (
        "import socket, sys\n"
        "socket.socket.connect = lambda *a: sys.exit('connect at import')\n"
        "import classifier\n"
        "classifier.load_model = lambda *a, **k: sys.exit('model loaded at import')\n"
        "import inference\n"
        "print('ok')\n"
    )
    assert run_probe(probe) == "ok"


def test_errors_keep_status_and_message_where_the_toolkit_is_not_installed():
    probe = (
        "import sys\n"
        "sys.modules['sagemaker_inference'] = None\n"
        "import inference\n"
        "error = inference.PayloadTooLarge('the image has 9 bytes')\n"
        "print(type(error).__mro__[2].__module__, error.status_code, error.message, sep='|')\n"
    )
    assert run_probe(probe) == "inference|413|PayloadTooLarge: the image has 9 bytes"


def _saved_model(model_dir, precision):
    model = classifier.build_model("efficientnet_lite0", len(CLASS_NAMES), pretrained=False)
    config = classifier.model_config("efficientnet_lite0", len(CLASS_NAMES), precision=precision)
    return classifier.save_model(model_dir, model, CLASS_NAMES, config)


@pytest.mark.parametrize(("precision", "channels_last"), [("fp32", False), ("bf16+channels_last", True)])
def test_model_fn_runs_the_backbone_in_the_precision_the_model_recorded(tmp_path, precision, channels_last):
    loaded = inference.model_fn(str(_saved_model(tmp_path / "model", precision)))
    stem = loaded.model.backbone.network._conv_stem.weight
    assert stem.is_contiguous(memory_format=torch.channels_last) is channels_last
    answer = inference.predict_fn(inference.input_fn(image_bytes(), "image/png"), loaded)
    assert math.isclose(sum(p["probability"] for p in answer.predictions[:len(CLASS_NAMES)]), 1.0, rel_tol=1e-3)


def test_model_fn_refuses_a_precision_it_does_not_know(tmp_path):
    with pytest.raises(ValueError, match=r"unknown precision 'int4' in model_config.json; known: fp32, "):
        inference.model_fn(str(_saved_model(tmp_path / "model", "int4")))
