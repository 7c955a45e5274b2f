"""Multi-instance training through the local runtime: 1 host on one core against 2 hosts with one core each.

The full path (``--augment``: decode, augment and run the frozen backbone every epoch) is where more instances
pay, so both jobs run ``training_code/train.py`` with it, on the same generated data, alternately (A B A B ...).
The 2-host job gets one core per host from the runtime (``local_aws/sagemaker/host_resources.py``); the 1-host
job is held to one thread (``OMP_NUM_THREADS=1`` in its Environment) so that both compare per-core work, as the
write-up's 0.97x (5 instances against 1) did per instance. Reported: wall time CreateTrainingJob -> Completed and
the training epochs' own seconds (from the job's log), medians, speed-up and parallel efficiency.

    python -m benchmarks.multi_instance --json out.json
    python -m benchmarks.multi_instance --classes 2 --train-per-class 4 --epochs 1 --repeats 1   # smoke
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import boto3

from benchmarks.machine import describe_machine
from benchmarks.sagemaker_role import create_sagemaker_role
from local_aws.server import LocalAWSServer
from pawflow.sample_data import generate_dog_images

REPO = Path(__file__).resolve().parents[1]
EPOCH_SECONDS = re.compile(r"train \d+ images in ([0-9.]+) s")
WRITE_UP_SPEEDUP = 0.97


def source_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted((REPO / "training_code").glob("*.py")):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


def run_job(sagemaker, logs, role: str, instances: int, args, environment: dict) -> dict:
    name = f"bench-{instances}x-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn=role,
        AlgorithmSpecification={"TrainingImage": "pytorch-training", "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": "train.py", "sagemaker_submit_directory": "s3://bench/code.tar.gz",
                         "augment": "true", "epochs": str(args.epochs), "patience": str(args.epochs),
                         "batch_size": "16", "precision": "fp32", "num_workers": "0"},
        InputDataConfig=[{"ChannelName": "training", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bench/data", "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": "s3://bench/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": instances, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 3600}, Environment=environment)
    deadline = time.monotonic() + 3600
    while True:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} still {job['TrainingJobStatus']}")
        time.sleep(0.5)
    wall = time.perf_counter() - started
    if job["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{name}: {job['TrainingJobStatus']}: {job.get('FailureReason')}")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/algo-1")["logStreams"]
    epoch_seconds = [float(match.group(1)) for stream in streams
                     for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
                     for match in [EPOCH_SECONDS.search(event["message"])] if match]
    return {"wall_s": wall, "training_s": sum(epoch_seconds)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--train-per-class", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pawflow-multi-") as work:
        work = Path(work)
        data = generate_dog_images(work / "data", num_classes=args.classes, train_per_class=args.train_per_class,
                                   valid_per_class=2, test_per_class=2, seed=2)
        with LocalAWSServer(state_dir=work / "state", max_concurrent_jobs=1) as server:
            def client(service: str):
                return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1",
                                    aws_access_key_id="testing", aws_secret_access_key="testing")
            s3, sagemaker, logs = client("s3"), client("sagemaker"), client("logs")
            role = create_sagemaker_role(client("iam"))
            s3.create_bucket(Bucket="bench")
            s3.put_object(Bucket="bench", Key="code.tar.gz", Body=source_tarball())
            for path in sorted(data.rglob("*.jpg")):
                s3.upload_file(str(path), "bench", f"data/{path.relative_to(data).as_posix()}")
            runs = {"1 host, 1 core": [], "2 hosts, 1 core each": []}
            for _ in range(args.repeats):
                runs["1 host, 1 core"].append(run_job(sagemaker, logs, role, 1, args, {"OMP_NUM_THREADS": "1"}))
                runs["2 hosts, 1 core each"].append(run_job(sagemaker, logs, role, 2, args, {}))
    report = {name: {key: statistics.median(run[key] for run in values) for key in ("wall_s", "training_s")}
              for name, values in runs.items()}
    one, two = report["1 host, 1 core"], report["2 hosts, 1 core each"]
    report["speedup_training"] = one["training_s"] / two["training_s"] if two["training_s"] else None
    report["speedup_wall"] = one["wall_s"] / two["wall_s"]
    report["efficiency_training"] = report["speedup_training"] / 2 if report["speedup_training"] else None
    report["write_up_speedup"] = WRITE_UP_SPEEDUP
    print(f"machine: {describe_machine()}; {args.classes * args.train_per_class} training images, {args.epochs} "
          f"epoch(s) of the full path, medians of {args.repeats}")
    for name in runs:
        print(f"  {name:22s} wall {report[name]['wall_s']:7.1f} s, training epochs {report[name]['training_s']:7.1f} s")
    print(f"  speed-up: training {report['speedup_training']:.2f}x (efficiency {report['efficiency_training']:.0%}), "
          f"wall {report['speedup_wall']:.2f}x; the write-up's 5 instances: {WRITE_UP_SPEEDUP}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
