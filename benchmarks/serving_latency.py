"""Batch-1 serving latency, p50/p95, and the Lambda function's per-invocation overhead, side by side in one run.

One dog classifier is trained by ``training_code/train.py`` on generated images, then served four ways, the calls
of each pair alternating so that both see the same machine:

* in process: our handler (``input_fn`` -> ``predict_fn`` -> ``output_fn``: inference mode, the precision recorded
  in ``model_config.json``) against a starter-style handler on the same network (fp32 eager, autograd on, the
  starter's ``Resize((224, 224))`` + ``ToTensor`` preprocessing, the raw outputs as JSON);
* through the runtime: ``InvokeEndpoint`` on an endpoint serving that model (``python -m local_aws`` child);
* the Lambda function (``lambda/lambda_function.py``) in process in front of that endpoint: with its client built
  once per container (ours) against a client built on every call (the starter's Lambda).

    python -m benchmarks.serving_latency --json out.json
    python -m benchmarks.serving_latency --samples 5 --warmup 1      # smoke
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "training_code"), str(REPO / "plugins")]

import boto3  # noqa: E402

from benchmarks.machine import describe_machine  # noqa: E402
from benchmarks.sagemaker_role import create_sagemaker_role  # noqa: E402
from benchmarks.trained_classifier import model_archive, train_classifier  # noqa: E402
from local_aws.server import ServerProcess  # noqa: E402

LAMBDA_PATH = REPO / "lambda" / "lambda_function.py"


def percentiles(samples: list[float]) -> dict:
    """Milliseconds: p50, p95 (nearest rank), mean and the number of samples."""
    ordered = sorted(samples)
    rank95 = max(0, min(len(ordered) - 1, round(0.95 * len(ordered)) - 1))
    return {"p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * ordered[rank95],
            "mean_ms": 1000 * statistics.fmean(ordered), "samples": len(ordered)}


def alternate(calls: dict[str, Callable[[], object]], samples: int, warmup: int) -> dict[str, dict]:
    """Time each call ``samples`` times after ``warmup`` untimed calls, interleaving the calls round by round."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(samples):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: percentiles(values) for name, values in times.items()}


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the module runs
    spec.loader.exec_module(module)
    return module


def starter_style_handler(network) -> Callable[[bytes], str]:
    """The course starter's way to answer: fp32 eager with autograd on, Resize((224, 224)) + ToTensor."""
    from PIL import Image
    from torchvision import transforms

    network = network.float().eval()
    preprocess = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor()])

    def answer(jpeg: bytes) -> str:
        image = Image.open(io.BytesIO(jpeg)).convert("RGB")
        outputs = network(preprocess(image).unsqueeze(0))  # no inference mode, as the starter
        return json.dumps(outputs.tolist())

    return answer


def in_process(model_dir: Path, jpeg: bytes, samples: int, warmup: int) -> dict[str, dict]:
    sys.path.insert(0, str(model_dir / "code"))
    handler = load_module("served_inference", model_dir / "code" / "inference.py")
    loaded = handler.model_fn(str(model_dir))
    import classifier

    starter = starter_style_handler(classifier.load_model(str(model_dir), device="cpu").model)

    def ours() -> None:
        handler.output_fn(handler.predict_fn(handler.input_fn(jpeg, "image/jpeg"), loaded), "application/json")

    return alternate({"starter_style_handler": lambda: starter(jpeg), "pawflow_handler": ours}, samples, warmup)


def through_runtime(model_dir: Path, jpeg: bytes, workdir: Path, samples: int, warmup: int) -> dict[str, dict]:
    with ServerProcess(workdir / "state") as server:
        def client(service: str):
            return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")

        s3, sagemaker, runtime = client("s3"), client("sagemaker"), client("sagemaker-runtime")
        role = create_sagemaker_role(client("iam"))
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="model.tar.gz", Body=model_archive(model_dir))
        sagemaker.create_model(ModelName="dogs", ExecutionRoleArn=role,
                               PrimaryContainer={"Image": "x", "ModelDataUrl": "s3://bench/model.tar.gz"})
        sagemaker.create_endpoint_config(EndpointConfigName="dogs", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "dogs", "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName="dogs", EndpointConfigName="dogs")
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="dogs", WaiterConfig={"Delay": 1,
                                                                                           "MaxAttempts": 600})

        def invoke() -> None:
            runtime.invoke_endpoint(EndpointName="dogs", Body=jpeg, ContentType="image/jpeg")["Body"].read()

        endpoint = alternate({"invoke_endpoint": invoke}, samples, warmup)

        function_env = {"ENDPOINT_NAME": "dogs", "AWS_ENDPOINT_URL": server.endpoint_url,
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}
        function = load_module("lambda_function", LAMBDA_PATH)
        event = {"image": base64.b64encode(jpeg).decode()}

        def cached_client() -> None:
            assert function.lambda_handler(event, None)["statusCode"] == 200

        def client_per_call() -> None:
            function._client = None  # what the starter's Lambda does: boto3.client(...) inside the handler
            assert function.lambda_handler(event, None)["statusCode"] == 200

        with mock.patch.dict(os.environ, function_env):  # the function's configuration, as Lambda sets it
            lambda_calls = alternate({"client_per_call": client_per_call, "client_per_container": cached_client},
                                     samples, warmup)
    return {**endpoint, **lambda_calls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60, help="timed calls of each kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls of each kind first")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    machine = describe_machine()
    workdir = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    model_dir, jpeg = train_classifier(workdir, image_size=256)
    results = {"machine": machine, "jpeg_bytes": len(jpeg),
               "in_process": in_process(model_dir, jpeg, args.samples, args.warmup),
               "runtime": through_runtime(model_dir, jpeg, workdir, args.samples, args.warmup)}
    local, remote = results["in_process"], results["runtime"]
    results["handler_speedup_p50"] = local["starter_style_handler"]["p50_ms"] / local["pawflow_handler"]["p50_ms"]
    results["lambda_client_saving_p50_ms"] = (remote["client_per_call"]["p50_ms"]
                                              - remote["client_per_container"]["p50_ms"])
    print(f"machine: {machine}; {args.samples} samples after {args.warmup} warm-ups, batch 1, {len(jpeg)} B JPEG")
    for group in ("in_process", "runtime"):
        for name, row in results[group].items():
            print(f"{group:>10} {name:<24} p50 {row['p50_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms")
    print(f"handler: pawflow {results['handler_speedup_p50']:.2f}x faster than starter-style at p50; Lambda: a "
          f"client per call costs {results['lambda_client_saving_p50_ms']:.1f} ms more per invocation at p50")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
