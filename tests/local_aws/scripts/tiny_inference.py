"""A tiny SageMaker inference handler: JSON numbers in, scaled numbers out; anything else is a 400."""

import json
import os
import time


class BadRequest(Exception):
    def __init__(self, message, status_code=400):
        super().__init__(message)
        self.status_code = status_code


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as stream:
        model = json.load(stream)
    time.sleep(model.get("load_seconds", 0))  # a model that takes a while to load, for tests of the Creating state
    return model


def input_fn(body, content_type):
    if content_type != "application/json":
        raise BadRequest(f"Unsupported content type {content_type}", status_code=415)
    try:
        data = json.loads(body)
    except ValueError as error:
        raise BadRequest(f"Body is not JSON: {error}") from error
    if not isinstance(data, list):
        raise BadRequest("Body must be a JSON list of numbers")
    return data


def predict_fn(data, model):
    return [x * model["scale"] + model["target"] for x in data]


def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction, "pid": os.getpid()}), "application/json"
