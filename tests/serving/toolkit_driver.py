"""Run requests through the SageMaker inference toolkit's Transformer, as the model server would.

Usage: ``python toolkit_driver.py MODEL_DIR REQUESTS_JSON RESULTS_JSON`` with ``MODEL_DIR/code`` on
PYTHONPATH and ``SAGEMAKER_PROGRAM=inference.py``. Each request is ``{"content_type", "accept", "body"}``
(body base64); each result is ``{"status", "phrase", "content_type", "body"}`` as the client would see it.
The model server (TorchServe or MMS, which need Java) is the only stand-in: ``RequestContext`` carries the
few context methods the Transformer calls.
"""

import base64
import json
import sys

from sagemaker_inference.transformer import Transformer


class RequestContext:
    """The parts of the model server's per-request context that ``Transformer.transform`` uses."""

    def __init__(self, model_dir, content_type, accept):
        self.system_properties = {"model_dir": model_dir}
        self.request_processor = [self]
        self.headers = {key: value for key, value in (("Content-Type", content_type), ("Accept", accept)) if value}
        self.status = 200
        self.phrase = None
        self.content_type = None

    def get_request_properties(self):
        return self.headers

    def set_response_status(self, code, phrase):
        self.status, self.phrase = code, phrase

    def set_response_content_type(self, index, content_type):
        self.content_type = content_type


def main():
    model_dir, requests_path, results_path = sys.argv[1:4]
    with open(requests_path) as handle:
        requests = json.load(handle)
    transformer = Transformer()
    results = []
    for request in requests:
        context = RequestContext(model_dir, request.get("content_type"), request.get("accept"))
        body = bytearray(base64.b64decode(request["body"]))
        response = transformer.transform([{"body": body}], context)[0]
        if isinstance(response, (bytes, bytearray)):
            response = response.decode("utf-8")
        results.append({"status": context.status, "phrase": context.phrase,
                        "content_type": context.content_type, "body": response})
    with open(results_path, "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
