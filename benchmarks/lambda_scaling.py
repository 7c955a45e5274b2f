"""Benchmark: Lambda cold start vs warm invoke vs provisioned first invoke, and autoscaling reaction time.

Runs ``python -m local_aws`` on a free port (metric period 1 s) and measures, side by side in one run:

* client-observed Invoke latency of a cold start (a new function's first call), a warm call and the first call
  on a provisioned-concurrency alias, with the runtime's own ``Init Duration`` from the REPORT line;
* the time from the start of a loopback load on a 1-instance endpoint to the scale-out activity and to the
  variant having its new instances InService;
* the latency of a call judged by IAM (a role session with AmazonSageMakerFullAccess) next to the same call
  with the default (administrator) credentials;
* the cost of loading AWS managed policies into an IAM backend.

Usage (from the repository root): ``python -m benchmarks.lambda_scaling [--samples N]``. Prints the machine, the figures and their ratios.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import statistics
import tarfile
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config

from benchmarks.machine import describe_machine
from benchmarks.sagemaker_role import create_sagemaker_role
from local_aws.server import ServerProcess

HANDLER = """
import json


def lambda_handler(event, context):
    return {"echo": event}
"""
HANDLER_WITH_CLIENT = """
import boto3

runtime = boto3.client("sagemaker-runtime")


def lambda_handler(event, context):
    return {"echo": event}
"""
INFERENCE = """
import json


def model_fn(model_dir):
    return None


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model):
    return data


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
INIT = re.compile(r"Init Duration: ([0-9.]+) ms")


def archive(kind: str, files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as zipped:
            for name, text in files.items():
                zipped.writestr(name, text)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def timed_invoke(lam, name: str, qualifier: str | None = None) -> tuple[float, float | None]:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    started = time.perf_counter()
    response = lam.invoke(FunctionName=name, Payload=b'{"n": 1}', LogType="Tail", **kwargs)
    response["Payload"].read()
    elapsed = (time.perf_counter() - started) * 1000
    match = INIT.search(base64.b64decode(response["LogResult"]).decode())
    return elapsed, float(match.group(1)) if match else None


def bench_lambda(client, samples: int) -> dict[str, float]:
    iam, lam = client("iam"), client("lambda")
    role = iam.create_role(RoleName=f"bench-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    package = archive("zip", {"lambda_function.py": HANDLER})
    with_client = archive("zip", {"lambda_function.py": HANDLER_WITH_CLIENT})
    cold, init, warm, provisioned, cold_client = [], [], [], [], []
    for i in range(samples):
        name = f"bench-{uuid.uuid4().hex[:8]}"
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="lambda_function.lambda_handler",
                            Code={"ZipFile": package})
        elapsed, init_ms = timed_invoke(lam, name)
        cold.append(elapsed)
        init.append(init_ms or 0.0)
        for _ in range(4):
            warm.append(timed_invoke(lam, name)[0])
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
        while lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)["Status"] != "READY":
            time.sleep(0.05)
        provisioned.append(timed_invoke(lam, name, version)[0])
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
        client_name = f"bench-{uuid.uuid4().hex[:8]}"
        lam.create_function(FunctionName=client_name, Runtime="python3.11", Role=role,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": with_client})
        cold_client.append(timed_invoke(lam, client_name)[0])
    return {"cold_ms": statistics.median(cold), "init_ms": statistics.median(init),
            "cold_boto3_ms": statistics.median(cold_client),
            "warm_ms": statistics.median(warm), "provisioned_first_ms": statistics.median(provisioned)}


def bench_scale_out(client, period: float) -> dict[str, float]:
    s3, sagemaker, scaling = client("s3"), client("sagemaker"), client("application-autoscaling")
    runtime = client("sagemaker-runtime")
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="m.tar.gz", Body=archive("tar", {"code/inference.py": INFERENCE}))
    role = create_sagemaker_role(client("iam"))
    sagemaker.create_model(ModelName="bench", ExecutionRoleArn=role,
                           PrimaryContainer={"Image": "x", "ModelDataUrl": f"s3://{bucket}/m.tar.gz",
                                             "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    sagemaker.create_endpoint_config(EndpointConfigName="bench", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "bench", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
    while sagemaker.describe_endpoint(EndpointName="bench")["EndpointStatus"] != "InService":
        time.sleep(0.2)
    resource = "endpoint/bench/variant/AllTraffic"
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, MinCapacity=1, MaxCapacity=3,
                                     ScalableDimension="sagemaker:variant:DesiredInstanceCount")
    scaling.put_scaling_policy(
        PolicyName="bench", ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 3.0, "ScaleOutCooldown": 5, "ScaleInCooldown": 5,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            runtime.invoke_endpoint(EndpointName="bench", ContentType="application/json", Body=b"[1]")
            stop.wait(1 / 15)

    load_started = time.time()
    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        while True:
            described = sagemaker.describe_endpoint(EndpointName="bench")
            if described["ProductionVariants"][0]["CurrentInstanceCount"] > 1 and described["EndpointStatus"] == "InService":
                break
            if time.time() - load_started > 120:
                raise RuntimeError("no scale-out within 120 s")
            time.sleep(0.1)
        serving = time.time() - load_started
    finally:
        stop.set()
        thread.join()
    activity = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingActivities"][-1]
    decided = activity["StartTime"].timestamp() - load_started
    return {"decision_s": decided, "instances_serving_s": serving, "period_s": period}


def bench_iam_overhead(client, session_client, calls: int = 50) -> dict[str, float]:
    iam = client("iam")
    role = f"bench-judged-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    credentials = client("sts").assume_role(RoleArn=f"arn:aws:iam::123456789012:role/{role}",
                                            RoleSessionName="bench")["Credentials"]
    timings = {}
    for label, sagemaker in (("admin", client("sagemaker")), ("judged", session_client("sagemaker", credentials))):
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            sagemaker.describe_endpoint(EndpointName="bench")
            samples.append((time.perf_counter() - started) * 1000)
        timings[label] = statistics.median(samples)
    return timings


def bench_managed_policies() -> dict[str, float]:
    from local_aws import moto_seam

    timings = {}
    for load in (False, True):
        moto_seam.load_aws_managed_policies(load)
        started = time.perf_counter()
        moto_seam.IAMBackend("us-east-1", account_id="123456789012")
        timings["with" if load else "without"] = (time.perf_counter() - started) * 1000
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="functions created for the Lambda figures")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    period = 1.0
    with tempfile.TemporaryDirectory() as state, ServerProcess(state, "--metric-period-seconds", str(period),
                                                                "--log-level", "WARNING") as server:
        def client(service: str):
            return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing",
                                config=Config(retries={"total_max_attempts": 1}))
        def session_client(service: str, credentials: dict):
            return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                                aws_access_key_id=credentials["AccessKeyId"],
                                aws_secret_access_key=credentials["SecretAccessKey"],
                                aws_session_token=credentials["SessionToken"])
        lam = bench_lambda(client, args.samples)
        scale = bench_scale_out(client, period)
        judged = bench_iam_overhead(client, session_client)
    policies = bench_managed_policies()

    print(f"machine: {describe_machine()}")
    print(f"Lambda invoke (median of {args.samples} functions, client-observed):")
    print(f"  cold start      {lam['cold_ms']:8.1f} ms  (runtime Init Duration {lam['init_ms']:.1f} ms)")
    print(f"  cold, boto3 client created at import {lam['cold_boto3_ms']:.1f} ms")
    print(f"  warm            {lam['warm_ms']:8.1f} ms")
    print(f"  provisioned 1st {lam['provisioned_first_ms']:8.1f} ms")
    print(f"  cold / warm = {lam['cold_ms'] / lam['warm_ms']:.1f}x; "
          f"provisioned first / warm = {lam['provisioned_first_ms'] / lam['warm_ms']:.1f}x")
    print(f"Scale-out (metric period {period:.0f} s, 15 req/s on 1 instance, target 3 per instance):")
    print(f"  scaling activity after {scale['decision_s']:.1f} s "
          f"({scale['decision_s'] / period:.1f} periods; AWS needs 3 one-minute datapoints)")
    print(f"  new instances serving after {scale['instances_serving_s']:.1f} s")
    print(f"DescribeEndpoint (median of 50): {judged['admin']:.1f} ms as administrator, {judged['judged']:.1f} ms "
          f"judged by IAM with AmazonSageMakerFullAccess ({judged['judged'] / judged['admin']:.2f}x)")
    print(f"IAM backend creation (once per account): {policies['without']:.1f} ms without AWS managed policies, "
          f"{policies['with']:.0f} ms with them")
    if args.json:
        args.json.write_text(json.dumps({"lambda_ms": lam, "scale_out_s": scale, "describe_endpoint_ms": judged,
                                         "iam_backend_ms": policies}, indent=2) + "\n")


if __name__ == "__main__":
    main()
