"""SageMaker PyTorch serving handler for the dog-breed classifier: model_fn, input_fn, predict_fn, output_fn.

Requests (``Content-Type``):
- ``image/jpeg``, ``image/png``, ``image/webp``, ``application/x-image`` (the type SageMaker's built-in image
  algorithms use): the body is the image itself; its format is read from the bytes, not from the header.
- ``application/json``: an object with exactly one of ``"url"`` (http/https, fetched by ``safe_fetch``) or
  ``"image"`` (base64, a ``data:image/...;base64,`` prefix is allowed), plus optional ``"top_k"`` (int >= 1,
  default 5, capped at the number of classes) and ``"include_logits"`` (bool, default false).

Answer (``Accept: application/json``, ``application/*``, ``*/*`` or none):
``{"predictions": [{"label": "Affenpinscher", "index": 0, "probability": 0.93}, ...]}`` sorted by
probability, plus ``"logits"`` (one float per class, index order) when asked for.

Every bad request raises a subclass of ``InferenceRequestError``: a ``GenericInferenceToolkitError`` of the
SageMaker inference toolkit, which answers with its ``status_code`` (400, 406, 413, 415 or 424) instead
of a 500. ``status_code`` and ``message`` (prefixed with the error's name) are attributes.

Limits come from the model's environment: ``PAWFLOW_MAX_IMAGE_BYTES`` (default 10 MiB),
``PAWFLOW_MAX_IMAGE_PIXELS`` (40 million), ``PAWFLOW_FETCH_TIMEOUT`` (seconds for a whole URL download,
30), ``PAWFLOW_FETCH_MAX_REDIRECTS`` (3), ``PAWFLOW_TOP_K`` (5) and ``PAWFLOW_FETCH_ALLOW_NETWORKS``
(comma-separated CIDR blocks the URL fetch may reach although they are not public; empty by default).
"""

import base64
import binascii
import ipaddress
import json
import logging
import os
from dataclasses import dataclass

import torch

import classifier
import compute_precision
import safe_fetch

try:
    from sagemaker_inference.errors import GenericInferenceToolkitError as _ToolkitError
except ImportError:

    class _ToolkitError(Exception):
        """The shape of sagemaker_inference's GenericInferenceToolkitError, for when the toolkit is absent."""

        def __init__(self, status_code, message=None, phrase=None):
            self.status_code = status_code
            self.message = message or "Invalid Request"
            self.phrase = phrase or self.message
            super().__init__(status_code, self.message, self.phrase)


logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
IMAGE_CONTENT_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/webp", "application/x-image")
ACCEPTED_CONTENT_TYPES = (*IMAGE_CONTENT_TYPES, JSON_CONTENT_TYPE)
_JSON_ACCEPTS = {JSON_CONTENT_TYPE, "application/*", "*/*"}
_JSON_KEYS = ("url", "image", "top_k", "include_logits")


class InferenceRequestError(_ToolkitError):
    """A request the handler refuses; the serving toolkit answers with ``status_code`` and ``message``."""

    status = 400

    def __init__(self, detail):
        self.error_code = type(self).__name__
        self.detail = detail
        super().__init__(self.status, f"{self.error_code}: {detail}")

    def __str__(self):
        return self.message


class EmptyBody(InferenceRequestError):
    """The request body is empty."""


class UnsupportedContentType(InferenceRequestError):
    """The Content-Type is not one the handler reads."""

    status = 415


class UnsupportedAccept(InferenceRequestError):
    """The Accept header asks for a type the handler cannot produce."""

    status = 406


class InvalidJson(InferenceRequestError):
    """The JSON body is malformed, not an object, or lacks/duplicates the image source."""


class InvalidBase64(InferenceRequestError):
    """The ``"image"`` field is not valid base64."""


class InvalidParameter(InferenceRequestError):
    """``top_k`` or ``include_logits`` has a wrong type or value."""


class InvalidImage(InferenceRequestError):
    """The bytes are not an image in an accepted format, or are corrupt."""


class PayloadTooLarge(InferenceRequestError):
    """The image (sent or downloaded) has more bytes than allowed."""

    status = 413


class ImageTooLarge(InferenceRequestError):
    """The image has more pixels than allowed (decompression bombs included)."""

    status = 413


class UrlNotAllowed(InferenceRequestError):
    """The URL, or a redirect it leads to, is refused by the fetch policy (scheme, user info, address)."""


class ImageDownloadFailed(InferenceRequestError):
    """The URL could not be fetched: unresolvable host, connection error, error status, too slow."""

    status = 424


_FETCH_ERRORS = (
    (safe_fetch.UrlRefused, UrlNotAllowed),
    (safe_fetch.DownloadFailed, ImageDownloadFailed),
    (safe_fetch.TooLarge, PayloadTooLarge),
    (safe_fetch.TooManyPixels, ImageTooLarge),
    (safe_fetch.NotAnImage, InvalidImage),
)


@dataclass(frozen=True)
class ServingLimits:
    """Request limits, read from the model's environment variables (see the module docstring)."""

    max_image_bytes: int = safe_fetch.DEFAULT_MAX_BYTES
    max_image_pixels: int = safe_fetch.DEFAULT_MAX_PIXELS
    fetch_timeout: float = safe_fetch.DEFAULT_DEADLINE
    fetch_max_redirects: int = safe_fetch.DEFAULT_MAX_REDIRECTS
    default_top_k: int = 5
    fetch_allow_networks: tuple = ()

    @classmethod
    def from_environ(cls, environ=None):
        environ = os.environ if environ is None else environ
        defaults = cls()

        def number(name, default, kind, minimum):
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a {kind.__name__}") from None
            if value < minimum:
                raise ValueError(f"{name}={raw!r} must be at least {minimum}")
            return value

        networks = []
        for block in environ.get("PAWFLOW_FETCH_ALLOW_NETWORKS", "").split(","):
            if block.strip():
                try:
                    networks.append(ipaddress.ip_network(block.strip()))
                except ValueError as error:
                    raise ValueError(f"PAWFLOW_FETCH_ALLOW_NETWORKS: {error}") from None
        return cls(
            max_image_bytes=number("PAWFLOW_MAX_IMAGE_BYTES", defaults.max_image_bytes, int, 1),
            max_image_pixels=number("PAWFLOW_MAX_IMAGE_PIXELS", defaults.max_image_pixels, int, 1),
            fetch_timeout=number("PAWFLOW_FETCH_TIMEOUT", defaults.fetch_timeout, float, 0.1),
            fetch_max_redirects=number("PAWFLOW_FETCH_MAX_REDIRECTS", defaults.fetch_max_redirects, int, 0),
            default_top_k=number("PAWFLOW_TOP_K", defaults.default_top_k, int, 1),
            fetch_allow_networks=tuple(networks),
        )


@dataclass(frozen=True)
class ImageRequest:
    """What ``input_fn`` hands to ``predict_fn``: a decoded RGB image and the answer options."""

    image: object
    top_k: int
    include_logits: bool = False


@dataclass(frozen=True)
class Prediction:
    """What ``predict_fn`` hands to ``output_fn``: top-k entries, and all logits when asked for."""

    predictions: list
    logits: list | None = None

    def as_dict(self):
        answer = {"predictions": self.predictions}
        if self.logits is not None:
            answer["logits"] = self.logits
        return answer


def model_fn(model_dir):
    """Load the model saved in ``model_dir`` once, onto CUDA when present, else the CPU."""
    limits = ServingLimits.from_environ()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    loaded = classifier.load_model(model_dir, device=device)
    # The head learnt on features computed in the training's precision: run the backbone in the same arithmetic.
    precision = compute_precision.serving_precision(loaded.config.get("precision"))
    loaded = loaded._replace(model=precision.prepare_module(loaded.model))
    logger.info(
        "Loaded %s model with %s classes from %s on %s in %s; limits %s",
        loaded.config.get("backbone"), len(loaded.class_names), model_dir, device, precision.name, limits,
    )
    return loaded


def input_fn(request_body, content_type):
    """Turn a request body into an ``ImageRequest``; refuse anything else with an ``InferenceRequestError``."""
    try:
        return _image_request(request_body, content_type, ServingLimits.from_environ())
    except UrlNotAllowed as error:
        logger.warning("Refused request (HTTP %s): %s", error.status_code, error.message)
        raise
    except InferenceRequestError as error:
        logger.info("Refused request (HTTP %s): %s", error.status_code, error.message)
        raise


def predict_fn(data, model):
    """Classify ``data.image`` with the evaluation preprocessing, in the precision recorded in the model's
    ``model_config.json``; softmax probabilities, top k."""
    if not isinstance(data, ImageRequest):
        raise TypeError(f"predict_fn expects the ImageRequest made by input_fn, got {type(data).__name__}")
    device = next(model.model.parameters()).device
    precision = compute_precision.serving_precision(model.config.get("precision"))
    batch = precision.prepare_input(model.transform(data.image).unsqueeze(0).to(device))
    with torch.inference_mode(), precision.autocast(device):  # the arithmetic the head was trained on
        logits = model.model(batch)[0].float().cpu()
    probabilities = torch.softmax(logits, dim=0)
    top = torch.topk(probabilities, min(data.top_k, probabilities.numel()))
    predictions = [
        {"label": classifier.breed_label(model.class_names[index]), "index": index, "probability": probability}
        for probability, index in zip(top.values.tolist(), top.indices.tolist())
    ]
    return Prediction(predictions=predictions, logits=logits.tolist() if data.include_logits else None)


def output_fn(prediction, accept):
    """Serialise ``prediction`` as JSON; return ``(body, content_type)`` as the toolkit's own output_fn does."""
    if accept:
        media_types = [_media_type(part) for part in accept.split(",")]
        if not _JSON_ACCEPTS.intersection(media_types):
            error = UnsupportedAccept(f"Accept '{accept}' cannot be served; this model answers {JSON_CONTENT_TYPE}")
            logger.info("Refused request (HTTP %s): %s", error.status_code, error.message)
            raise error
    return json.dumps(prediction.as_dict()), JSON_CONTENT_TYPE


def _image_request(request_body, content_type, limits):
    media_type = _media_type(content_type)
    if media_type not in ACCEPTED_CONTENT_TYPES:
        shown = f"Content-Type '{content_type}'" if content_type else "a request without Content-Type"
        raise UnsupportedContentType(f"{shown} is not supported; send one of {', '.join(ACCEPTED_CONTENT_TYPES)}")
    if request_body is None or len(request_body) == 0:
        raise EmptyBody(f"the request body is empty; send an image or a JSON object ({media_type})")
    if media_type == JSON_CONTENT_TYPE:
        return _json_request(request_body, limits)
    if isinstance(request_body, str):
        raise InvalidImage(f"a {media_type} body must be the image bytes, not text")
    return ImageRequest(image=_decode(bytes(request_body), limits), top_k=limits.default_top_k)


def _media_type(header):
    return (header or "").split(";", 1)[0].strip().lower()


def _json_request(body, limits):
    if not isinstance(body, str):
        try:
            body = bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidJson(f"the body is not UTF-8 text: {error}") from error
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidJson(f"the body is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise InvalidJson(
            f"the body must be a JSON object such as {{\"url\": \"https://...\"}}, not {type(document).__name__}"
        )
    unknown = sorted(set(document) - set(_JSON_KEYS))
    if unknown:
        raise InvalidJson(f"unknown field(s) {', '.join(unknown)}; accepted fields are {', '.join(_JSON_KEYS)}")
    sources = [key for key in ("url", "image") if key in document]
    if len(sources) != 1:
        problem = "has both" if sources else "has neither"
        raise InvalidJson(f"the object {problem} \"url\" and \"image\"; give exactly one")
    top_k = document.get("top_k", limits.default_top_k)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidParameter(f"top_k must be an integer >= 1, got {json.dumps(top_k)}")
    include_logits = document.get("include_logits", False)
    if not isinstance(include_logits, bool):
        raise InvalidParameter(f"include_logits must be true or false, got {json.dumps(include_logits)}")
    if "url" in document:
        image = _decode(_fetch(document["url"], limits), limits)
    else:
        image = _decode(_base64_image(document["image"], limits), limits)
    return ImageRequest(image=image, top_k=top_k, include_logits=include_logits)


def _base64_image(value, limits):
    if not isinstance(value, str) or not value.strip():
        raise InvalidBase64("\"image\" must be a non-empty base64 string")
    text = value.strip()
    if text.startswith("data:"):
        header, comma, text = text.partition(",")
        if not comma or not header.endswith(";base64"):
            raise InvalidBase64("a data URL in \"image\" must be of the form data:image/...;base64,<data>")
    text = "".join(text.split())
    if len(text) > (limits.max_image_bytes + 2) // 3 * 4:
        raise PayloadTooLarge(f"the base64 image decodes to more than the limit of {limits.max_image_bytes} bytes")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidBase64(f"\"image\" is not valid base64: {error}") from error
    if not data:
        raise InvalidBase64("\"image\" decodes to no bytes")
    return data


def _fetch(url, limits):
    if not isinstance(url, str) or not url.strip():
        raise InvalidJson("\"url\" must be a non-empty string")
    try:
        return safe_fetch.fetch_image_bytes(
            url.strip(),
            max_bytes=limits.max_image_bytes,
            max_pixels=limits.max_image_pixels,
            deadline=limits.fetch_timeout,
            max_redirects=limits.fetch_max_redirects,
            policy=safe_fetch.AddressPolicy(allow=limits.fetch_allow_networks),
        )
    except safe_fetch.FetchError as error:
        raise _request_error(error) from None


def _decode(data, limits):
    if len(data) > limits.max_image_bytes:
        raise PayloadTooLarge(f"the image has {len(data)} bytes; the limit is {limits.max_image_bytes} bytes")
    try:
        return safe_fetch.decode_image(data, max_pixels=limits.max_image_pixels)
    except safe_fetch.FetchError as error:
        raise _request_error(error) from None


def _request_error(error):
    for fetch_error, request_error in _FETCH_ERRORS:
        if isinstance(error, fetch_error):
            return request_error(error.message)
    return ImageDownloadFailed(error.message)
