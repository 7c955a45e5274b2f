"""One serving instance of an endpoint variant: ``python -m local_aws.sagemaker.serving_worker MODEL_DIR``.

Loads the model the way SageMaker's PyTorch serving container does (``code/inference.py`` on the path,
``model_fn`` / ``input_fn`` / ``predict_fn`` / ``output_fn`` through ``sagemaker_inference``'s
``Transformer``, the container's defaults where a function is missing), then answers the container
contract on a loopback port: ``GET /ping`` and ``POST /invocations``. Prints ``LOCAL_AWS_READY <port>``
once loaded; a model that cannot load ends the process with ``LOCAL_AWS_LOAD_FAILED <reason>``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer

READY = "LOCAL_AWS_READY"
LOAD_FAILED = "LOCAL_AWS_LOAD_FAILED"
MODEL_LATENCY_HEADER = "X-Local-AWS-Model-Latency-Us"


def pytorch_default_handler():
    """The PyTorch serving container's defaults: TorchScript ``model.pt``, NPY/JSON/CSV tensors."""
    from sagemaker_inference import decoder, encoder
    from sagemaker_inference.default_inference_handler import DefaultInferenceHandler

    class PyTorchDefaultHandler(DefaultInferenceHandler):
        def default_model_fn(self, model_dir, context=None):
            import torch

            path = os.path.join(model_dir, "model.pt")
            if not os.path.exists(path):
                raise ValueError("Failed to load model with default model_fn: missing file model.pt. "
                                 "Provide model_fn in code/inference.py or save a TorchScript model.pt.")
            return torch.jit.load(path, map_location="cpu").eval()

        def default_input_fn(self, input_data, content_type, context=None):
            import torch

            return torch.as_tensor(decoder.decode(input_data, content_type), dtype=torch.float32)

        def default_predict_fn(self, data, model, context=None):
            import torch

            with torch.no_grad():
                return model(data)

        def default_output_fn(self, prediction, accept, context=None):
            if hasattr(prediction, "detach"):
                prediction = prediction.detach().cpu().numpy()
            return encoder.encode(prediction, accept)

    return PyTorchDefaultHandler()


class ModelHandler:
    """The inference toolkit's handler chain, answering one request at a time."""

    def __init__(self, model_dir: str) -> None:
        from sagemaker_inference.transformer import Transformer

        self.model_dir = model_dir
        self.transformer = Transformer(default_inference_handler=pytorch_default_handler())
        self.transformer.validate_and_initialize(model_dir=model_dir)

    def handle(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[int, bytes, str]:
        from sagemaker_inference import content_types

        transformer = self.transformer
        if not accept or accept == content_types.ANY:
            accept = transformer._environment.default_accept
        try:
            data = body.decode("utf-8") if content_type in content_types.UTF8_TYPES else body
            result = transformer._run_handler_function(transformer._transform_fn, transformer._model, data, content_type, accept)
        except Exception as error:
            traceback.print_exc()
            status = getattr(error, "status_code", None)
            status = status if isinstance(status, int) and 400 <= status <= 599 else 500
            message = getattr(error, "message", None) or str(error) or type(error).__name__
            return status, str(message).encode("utf-8"), "text/plain"
        response_type = accept
        if isinstance(result, tuple):
            result, response_type = result[0], result[1]
        if isinstance(result, str):
            result = result.encode("utf-8")
        return 200, bytes(result), response_type


def make_request_handler(model: ModelHandler) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # access log off: the runtime logs requests
            return

        def _answer(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._answer(200, b"\n", "text/plain")
            else:
                self._answer(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path != "/invocations":
                self._answer(404, b"not found", "text/plain")
                return
            started = time.perf_counter()
            status, payload, content_type = model.handle(body, self.headers.get("Content-Type"), self.headers.get("Accept"))
            latency_us = int((time.perf_counter() - started) * 1e6)
            self._answer(status, payload, content_type, {MODEL_LATENCY_HEADER: str(latency_us)})
            sys.stdout.flush()
            sys.stderr.flush()

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    code_dir = os.path.join(args.model_dir, "code")
    sys.path.insert(0, code_dir)
    os.environ.setdefault("SAGEMAKER_PROGRAM", "inference.py")
    try:
        model = ModelHandler(args.model_dir)
    except Exception as error:
        traceback.print_exc()
        reason = f"{type(error).__name__}: {error}".replace("\n", " ")
        print(f"{LOAD_FAILED} {reason}", flush=True)
        sys.exit(3)
    server = HTTPServer(("127.0.0.1", 0), make_request_handler(model))
    print(f"{READY} {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
