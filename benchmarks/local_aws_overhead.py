"""What the local AWS runtime costs over running the same code directly, measured side by side.

``python -m benchmarks.local_aws_overhead [--repeat N]`` (from the repository root) prints, for one run on
this machine: training-job start-up overhead (an empty script as a SageMaker job vs the same script run
directly), endpoint start time (CreateEndpoint to InService vs loading the model in process) and invoke
overhead (InvokeEndpoint vs calling the handler functions in process), as medians and ratios. The endpoint
and invoke rows are measured twice: with a tiny JSON handler (pure runtime overhead) and with the project's
dog-breed classifier trained on generated images (``training_code/``, a JPEG per request).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import boto3

from benchmarks.machine import describe_machine
from benchmarks.sagemaker_role import create_sagemaker_role
from benchmarks.trained_classifier import model_archive, train_classifier
from local_aws.server import LocalAWSServer


EMPTY_SCRIPT = b"print('nothing to train')\n"
HANDLER = b'''import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return [x * model["scale"] for x in data]

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wait(probe, done, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(value)
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="local_aws-bench-"))
    with LocalAWSServer(state_dir=workdir / "state", max_concurrent_jobs=1) as server:
        def client(service: str):
            return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        s3, sagemaker, runtime = client("s3"), client("sagemaker"), client("sagemaker-runtime")
        role = create_sagemaker_role(client("iam"))
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="code.tar.gz", Body=tar_gz({"empty.py": EMPTY_SCRIPT}))
        s3.put_object(Bucket="bench", Key="data/x", Body=b"1")
        s3.put_object(Bucket="bench", Key="model.tar.gz",
                      Body=tar_gz({"model.json": b'{"scale": 2.0}', "code/inference.py": HANDLER}))

        script = workdir / "empty.py"
        script.write_bytes(EMPTY_SCRIPT)
        direct, job = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
            direct.append(time.perf_counter() - started)
            name = f"bench-{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            sagemaker.create_training_job(
                TrainingJobName=name, RoleArn=role,
                AlgorithmSpecification={"TrainingImage": "x", "TrainingInputMode": "File"},
                HyperParameters={"sagemaker_program": "empty.py", "sagemaker_submit_directory": "s3://bench/code.tar.gz"},
                InputDataConfig=[{"ChannelName": "training", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": "s3://bench/data"}}}],
                OutputDataConfig={"S3OutputPath": "s3://bench/out"},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                StoppingCondition={"MaxRuntimeInSeconds": 60})
            status = wait(lambda: sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"],
                          lambda s: s not in ("InProgress", "Stopping"))
            job.append(time.perf_counter() - started)
            assert status == "Completed", status

        sagemaker.create_model(ModelName="bench", ExecutionRoleArn=role,
                               PrimaryContainer={"Image": "x", "ModelDataUrl": "s3://bench/model.tar.gz"})
        sagemaker.create_endpoint_config(EndpointConfigName="bench", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "bench", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        model_dir = workdir / "model"
        (model_dir / "code").mkdir(parents=True)
        (model_dir / "model.json").write_bytes(b'{"scale": 2.0}')
        (model_dir / "code" / "inference.py").write_bytes(HANDLER)
        load_direct, load_endpoint = [], []
        for i in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import importlib.util, sys; "
                            f"spec = importlib.util.spec_from_file_location('inference', {str(model_dir / 'code' / 'inference.py')!r}); "
                            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
                            f"m.model_fn({str(model_dir)!r})"], check=True)
            load_direct.append(time.perf_counter() - started)
            name = f"bench-{i}"
            started = time.perf_counter()
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="bench")
            wait(lambda: sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"], lambda s: s == "InService")
            load_endpoint.append(time.perf_counter() - started)
            if i < args.repeat - 1:
                sagemaker.delete_endpoint(EndpointName=name)

        spec = importlib.util.spec_from_file_location("bench_inference", model_dir / "code" / "inference.py")
        handler = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(handler)
        model = handler.model_fn(str(model_dir))
        calls = 50 * args.repeat
        started = time.perf_counter()
        for _ in range(calls):
            handler.output_fn(handler.predict_fn(handler.input_fn(b"[1, 2, 3]", "application/json"), model), "application/json")
        in_process = (time.perf_counter() - started) / calls
        endpoint_name = f"bench-{args.repeat - 1}"
        runtime.invoke_endpoint(EndpointName=endpoint_name, Body=b"[1]", ContentType="application/json")
        started = time.perf_counter()
        for _ in range(calls):
            body = runtime.invoke_endpoint(EndpointName=endpoint_name, Body=b"[1, 2, 3]", ContentType="application/json")["Body"].read()
        invoked = (time.perf_counter() - started) / calls
        assert json.loads(body) == [2, 4, 6]

        # The project's classifier: trained directly by train.py, served by the runtime and in process.
        real_dir, jpeg = train_classifier(workdir / "real")
        s3.put_object(Bucket="bench", Key="real.tar.gz", Body=model_archive(real_dir))
        sagemaker.create_model(ModelName="real", ExecutionRoleArn=role,
                               PrimaryContainer={"Image": "x", "ModelDataUrl": "s3://bench/real.tar.gz"})
        sagemaker.create_endpoint_config(EndpointConfigName="real", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "real", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        real_load_direct, real_load_endpoint = [], []
        load_snippet = ("import sys; sys.path.insert(0, {code!r}); import inference; inference.model_fn({model!r})"
                        .format(code=str(real_dir / "code"), model=str(real_dir)))
        for i in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", load_snippet], check=True)
            real_load_direct.append(time.perf_counter() - started)
            name = f"real-{i}"
            started = time.perf_counter()
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="real")
            wait(lambda: sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"], lambda s: s == "InService")
            real_load_endpoint.append(time.perf_counter() - started)
            if i < args.repeat - 1:
                sagemaker.delete_endpoint(EndpointName=name)
        sys.path.insert(0, str(real_dir / "code"))
        inference = importlib.import_module("inference")
        real_model = inference.model_fn(str(real_dir))
        real_calls = 10 * args.repeat
        started = time.perf_counter()
        for _ in range(real_calls):
            inference.output_fn(inference.predict_fn(inference.input_fn(jpeg, "image/jpeg"), real_model), "application/json")
        real_in_process = (time.perf_counter() - started) / real_calls
        real_endpoint = f"real-{args.repeat - 1}"
        runtime.invoke_endpoint(EndpointName=real_endpoint, Body=jpeg, ContentType="image/jpeg")
        started = time.perf_counter()
        for _ in range(real_calls):
            runtime.invoke_endpoint(EndpointName=real_endpoint, Body=jpeg, ContentType="image/jpeg")["Body"].read()
        real_invoked = (time.perf_counter() - started) / real_calls

    def row(label: str, ours: float, baseline: float, unit: str = "s") -> str:
        scale = 1000.0 if unit == "ms" else 1.0
        return (f"{label:<42} {ours * scale:9.3f} {unit}  vs {baseline * scale:9.3f} {unit} direct  "
                f"ratio {ours / baseline:7.1f}x  overhead {(ours - baseline) * scale:8.3f} {unit}")

    print(f"machine: {describe_machine()}; repeat {args.repeat}, medians")
    print(row("training job (empty script), create->Completed", statistics.median(job), statistics.median(direct)))
    print(row("endpoint start, create->InService", statistics.median(load_endpoint), statistics.median(load_direct)))
    print(row("invoke (tiny JSON handler), per call", invoked, in_process, unit="ms"))
    print(row("endpoint start, dog classifier", statistics.median(real_load_endpoint), statistics.median(real_load_direct)))
    print(row("invoke (dog classifier, JPEG), per call", real_invoked, real_in_process, unit="ms"))
    if args.json:
        seconds = {
            "training_job_empty_script": (statistics.median(job), statistics.median(direct)),
            "endpoint_start_tiny_handler": (statistics.median(load_endpoint), statistics.median(load_direct)),
            "invoke_tiny_handler": (invoked, in_process),
            "endpoint_start_dog_classifier": (statistics.median(real_load_endpoint), statistics.median(real_load_direct)),
            "invoke_dog_classifier_jpeg": (real_invoked, real_in_process),
        }
        args.json.write_text(json.dumps({name: {"runtime_s": ours, "direct_s": base}
                                         for name, (ours, base) in seconds.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
