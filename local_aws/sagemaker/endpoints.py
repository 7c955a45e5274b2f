"""Endpoints that really serve: serving worker processes per variant, routing, metrics.

``EndpointManager.deploy`` fetches each variant's ``ModelDataUrl``, unpacks it and starts
``CurrentInstanceCount`` serving workers (``local_aws.sagemaker.serving_worker``); the endpoint turns
InService only once every worker has loaded the model, Failed (with the loader's error) otherwise. Reading the
model data, pulling the image and writing the logs are judged first as the model's execution role (session
``SageMaker``, ``local_aws.iam.service_access``): a denied download or pull fails the endpoint with SageMaker's
FailureReason; a log stream the role may not write is dropped. Each
deployment unpacks its models under ``<state-dir>/sagemaker/endpoints/<digest of the endpoint ARN>/<token>/
variant-<n>/model``: no folder is named after a request string.
``update`` brings the new config up beside the old one and swaps when it is ready, so no request is
dropped; ``scale`` adds or ends workers; ``invoke`` picks a variant by weight (or TargetVariant), the
least busy worker of it, and publishes the variant's CloudWatch metrics for every call.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import random
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws import moto_seam
from local_aws.archives import ArchiveRefused, unpack_tar
from local_aws.child_environment import child_environment
from local_aws.iam.judgement import Verdict
from local_aws.iam.role_sessions import SAGEMAKER_SESSION_NAME, assume_service_role
from local_aws.iam.service_access import (
    DOWNLOAD_MODEL, SAGEMAKER_SERVICE, WRITE_LOGS, RoleSession, ServiceAccess,
)
from local_aws.logs.streams import DroppedLogStream, LogStreamWriter
from local_aws.moto_seam import utcnow
from local_aws.processes import ProcessSupervisor
from local_aws.s3.objects import S3Objects, parse_s3_uri
from local_aws.sagemaker.serving_worker import LOAD_FAILED, MODEL_LATENCY_HEADER, READY
from local_aws.sagemaker.training_environment import REPO_ROOT
from local_aws.sagemaker.training_layout import decode_hyperparameter
from local_aws.state_paths import derived_name, ensure_inside

log = logging.getLogger(__name__)

WORKER_START_TIMEOUT = 300.0
INVOCATION_TIMEOUT = 60.0
NAMESPACE = "AWS/SageMaker"



class DeploymentFailed(Exception):
    """A variant could not be brought up; the message is the endpoint's FailureReason."""


@dataclass
class Worker:
    process: subprocess.Popen
    instance_id: str
    port: int = 0
    in_flight: int = 0
    ready: threading.Event = field(default_factory=threading.Event)
    failure: str = ""


@dataclass
class InvocationResult:
    status: int
    body: bytes
    content_type: str
    variant: str
    model_latency_us: int


class VariantPool:
    """The serving workers of one production variant."""

    def __init__(self, manager: "EndpointManager", endpoint_name: str, region: str, account_id: str,
                 variant: dict[str, Any], model_dir: Path, environment: dict[str, str], role_arn: str) -> None:
        self.manager = manager
        self.endpoint_name = endpoint_name
        self.region = region
        self.account_id = account_id
        self.name = variant["VariantName"]
        self.weight = float(variant.get("InitialVariantWeight", 1.0))
        self.model_dir = model_dir
        self.environment = environment
        self.role_arn = role_arn
        self.workers: list[Worker] = []
        self._lock = threading.Lock()
        self._turn = itertools.count()

    def start_workers(self, count: int) -> None:
        """Start ``count`` more workers and wait until each has loaded the model."""
        new = [self._spawn() for _ in range(count)]
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        for worker in new:
            worker.ready.wait(timeout=max(0.0, deadline - time.monotonic()))
        failed = [w for w in new if w.port == 0]
        if failed:
            for worker in new:
                self.manager.supervisor.terminate(worker.process, grace_seconds=2.0)
            detail = failed[0].failure or "the model server did not start in time"
            raise DeploymentFailed(
                f"The primary container for production variant {self.name} did not pass the ping health check. "
                f"Please check CloudWatch logs for this endpoint. Model load error: {detail}"
            )
        with self._lock:
            self.workers.extend(new)

    def worker_env(self, instance_id: str) -> dict[str, str]:
        """A serving instance's whole environment: the model's role credentials and the serving variables."""
        instance_dir = self.model_dir.parent / "instances" / instance_id
        return child_environment(
            home=instance_dir / "home", tmpdir=instance_dir / "tmp", region=self.region,
            endpoint_url=self.manager.endpoint_url, pass_env=self.manager.pass_env,
            credentials=assume_service_role(self.account_id, self.region, self.role_arn, SAGEMAKER_SESSION_NAME),
            service={
                "SAGEMAKER_PROGRAM": "inference.py",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(REPO_ROOT),
            },
            declared=self.environment,
        )

    def _spawn(self) -> Worker:
        instance_id = f"i-{secrets.token_hex(8)}"
        process = self.manager.supervisor.spawn(
            [sys.executable, "-m", "local_aws.sagemaker.serving_worker", str(self.model_dir)],
            env=self.worker_env(instance_id), cwd=str(self.model_dir),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )
        worker = Worker(process, instance_id)
        role = RoleSession(self.account_id, self.region, self.role_arn, SAGEMAKER_SESSION_NAME)
        writer = self.manager.log_stream(role, f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
                                         f"{self.name}/{worker.instance_id}")
        threading.Thread(target=self._pump, args=(worker, process.stdout, writer, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(worker, process.stderr, writer, False), daemon=True).start()
        return worker

    @staticmethod
    def _pump(worker: Worker, stream: Any, writer: LogStreamWriter | DroppedLogStream, watch: bool) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if watch and line.startswith(READY):
                worker.port = int(line.split()[1])
                worker.ready.set()
                continue
            if watch and line.startswith(LOAD_FAILED):
                worker.failure = line[len(LOAD_FAILED):].strip()
                worker.ready.set()
            try:
                writer.write(line)
            except Exception:
                log.exception("could not write an endpoint log line")
        worker.ready.set()  # the process ended: whoever waits for it must not wait any longer

    def stop_workers(self, count: int | None = None) -> None:
        with self._lock:
            ending = self.workers if count is None else self.workers[len(self.workers) - count:]
            self.workers = self.workers[: len(self.workers) - len(ending)]
        for worker in ending:
            self._drain(worker)
            self.manager.supervisor.terminate(worker.process, grace_seconds=2.0)

    @staticmethod
    def _drain(worker: Worker, timeout: float = INVOCATION_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while worker.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def instance_count(self) -> int:
        with self._lock:
            return len(self.workers)

    def acquire(self) -> Worker:
        with self._lock:
            live = [w for w in self.workers if w.process.poll() is None]
            if not live:
                raise RuntimeError(f"variant {self.name} has no running instance")
            start = next(self._turn) % len(live)
            rotated = live[start:] + live[:start]
            worker = min(rotated, key=lambda w: w.in_flight)
            worker.in_flight += 1
            return worker

    def release(self, worker: Worker) -> None:
        with self._lock:
            worker.in_flight -= 1

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> InvocationResult:
        worker = self.acquire()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=INVOCATION_TIMEOUT)
            headers = {"Content-Type": content_type or "application/octet-stream"}
            if accept:
                headers["Accept"] = accept
            connection.request("POST", "/invocations", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            connection.close()
            return InvocationResult(response.status, payload, response.getheader("Content-Type", "application/octet-stream"),
                                    self.name, int(response.getheader(MODEL_LATENCY_HEADER, "0")))
        finally:
            self.release(worker)


@dataclass
class Deployment:
    config_name: str
    pools: dict[str, VariantPool]

    def stop(self) -> None:
        for pool in self.pools.values():
            pool.stop_workers()


class EndpointManager:
    """Serving workers of every endpoint, and the invocations routed to them."""

    def __init__(self, state_dir: Path, supervisor: ProcessSupervisor, endpoint_url: str = "",
                 pass_env: tuple[str, ...] = ()) -> None:
        self.endpoints_dir = Path(state_dir) / "sagemaker" / "endpoints"
        self.supervisor = supervisor
        self.endpoint_url = endpoint_url
        self.pass_env = pass_env
        self._lock = threading.Lock()
        self._live: dict[tuple[str, str, str], Deployment] = {}
        # Set once the runtime stops: a deployment cut short by it leaves the record as saved (a restart resumes it).
        self.closing = False
        # Judges what SageMaker does with a model's role (set by the runtime once IAM enforcement is installed).
        self.service_access: ServiceAccess | None = None

    def judged(self, check: Any) -> Verdict | None:
        """What SageMaker does with a model's role, judged as the role's session: the denial, or None."""
        return None if self.service_access is None else check(self.service_access)

    def log_stream(self, role: RoleSession, group: str, stream: str) -> LogStreamWriter | DroppedLogStream:
        """An instance's log stream, written as the role; dropped when the role may not write it."""
        denied = self.judged(lambda access: access.write_logs(role, f"{SAGEMAKER_SERVICE}:{WRITE_LOGS}", group, stream))
        return DroppedLogStream(group, stream) if denied is not None else LogStreamWriter(role.region, group, stream,
                                                                                          role.account_id)

    # --- lifecycle ----------------------------------------------------------------------------------
    def _background(self, name: str, target: Any, *args: Any) -> None:
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    def deploy(self, backend: Any, endpoint: Any, config: Any, instance_counts: dict[str, int] | None = None) -> None:
        """Bring ``config`` up for ``endpoint``; ``instance_counts`` (by variant) instead of the config's initial
        counts when a restart restores what the endpoint had."""
        self._background(f"deploy-{endpoint.endpoint_name}", self._deploy, backend, endpoint, config, None,
                         instance_counts)

    def update(self, backend: Any, endpoint: Any, config: Any) -> None:
        key = (backend.account_id, backend.region_name, endpoint.endpoint_name)
        with self._lock:
            previous = self._live.get(key)
        self._background(f"update-{endpoint.endpoint_name}", self._deploy, backend, endpoint, config, previous)

    def _deploy(self, backend: Any, endpoint: Any, config: Any, previous: Deployment | None,
                instance_counts: dict[str, int] | None = None) -> None:
        key = (backend.account_id, backend.region_name, endpoint.endpoint_name)
        try:
            deployment = self._bring_up(backend, endpoint, config, instance_counts or {})
        except Exception as error:
            if self.closing:
                log.info("endpoint %s: deployment cut short by the runtime stopping", endpoint.endpoint_name)
                return
            reason = str(error) if isinstance(error, DeploymentFailed) else f"{type(error).__name__}: {error}"
            log.warning("endpoint %s failed: %s", endpoint.endpoint_name, reason)
            endpoint.failure_reason = reason
            endpoint.pending_deployment_summary = None
            endpoint.last_modified_time = utcnow()
            endpoint.endpoint_status = "InService" if previous is not None else "Failed"
            return
        with self._lock:
            if self.closing or moto_seam.sagemaker_endpoint(backend, endpoint.endpoint_name) is not endpoint:
                deployment.stop()  # deleted while it was starting, or the runtime is stopping
                return
            self._live[key] = deployment
        endpoint.endpoint_config_name = config.endpoint_config_name
        endpoint.production_variants = [
            {
                "VariantName": pool.name,
                "CurrentWeight": pool.weight,
                "DesiredWeight": pool.weight,
                "CurrentInstanceCount": pool.instance_count,
                "DesiredInstanceCount": pool.instance_count,
            }
            for pool in deployment.pools.values()
        ]
        endpoint.failure_reason = None
        endpoint.pending_deployment_summary = None
        endpoint.last_modified_time = utcnow()
        endpoint.endpoint_status = "InService"
        if previous is not None:
            previous.stop()

    def _bring_up(self, backend: Any, endpoint: Any, config: Any, instance_counts: dict[str, int]) -> Deployment:
        s3 = S3Objects(backend.account_id)
        root = self.endpoints_dir / derived_name(endpoint.arn) / secrets.token_hex(8)
        pools: dict[str, VariantPool] = {}
        try:
            for index, variant in enumerate(config.production_variants, start=1):
                container = moto_seam.model_container(backend, variant["ModelName"])
                if container is None:
                    raise DeploymentFailed(f"Could not find model \"{variant['ModelName']}\".")
                model_dir = ensure_inside(root / f"variant-{index}" / "model", self.endpoints_dir)
                log.info("endpoint %s, config %s, variant %s: model unpacked in %s", endpoint.endpoint_name,
                         config.endpoint_config_name, variant["VariantName"], model_dir)
                role_arn = moto_seam.model_execution_role(backend, variant["ModelName"])
                role = RoleSession(backend.account_id, backend.region_name, role_arn, SAGEMAKER_SESSION_NAME)
                self._fetch_model(s3, container, model_dir, role)
                if self.judged(lambda access: access.pull_image(role, container.get("Image") or "")) is not None:
                    raise DeploymentFailed(
                        f"Please make sure all images included in the model for the production variant "
                        f"{variant['VariantName']} exist, and that the execution role used to create the model has "
                        "permissions to access them.")
                environment = {k: str(v) for k, v in (container.get("Environment") or {}).items()}
                pool = VariantPool(self, endpoint.endpoint_name, backend.region_name, backend.account_id,
                                   variant, model_dir, environment, role_arn)
                pools[pool.name] = pool
                pool.start_workers(int(instance_counts.get(pool.name) or variant.get("InitialInstanceCount", 1)))
        except BaseException:
            for pool in pools.values():
                pool.stop_workers()
            raise
        return Deployment(config.endpoint_config_name, pools)

    def _fetch_model(self, s3: S3Objects, container: dict[str, Any], model_dir: Path, role: RoleSession) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        url = container.get("ModelDataUrl")
        if not url:
            raise DeploymentFailed("local_aws serves models from ModelDataUrl (a model.tar.gz in S3): "
                                   "container images cannot run without Docker")
        source = decode_hyperparameter((container.get("Environment") or {}).get("SAGEMAKER_SUBMIT_DIRECTORY"))
        for uri in [url] + ([source] if isinstance(source, str) and source.startswith("s3://") else []):
            try:
                objects = [parse_s3_uri(uri)]
            except ValueError:
                continue  # read_uri below says what is wrong with it
            if self.judged(lambda access: access.get_objects(role, f"{SAGEMAKER_SERVICE}:{DOWNLOAD_MODEL}",
                                                             objects)) is not None:
                raise DeploymentFailed(
                    f"Failed to download model data for container \"container_1\" from URL: \"{uri}\". Please "
                    "ensure that there is an object located at the URL and that the role passed to CreateModel has "
                    "permissions to download the object.")
        try:
            archive = s3.read_uri(url)
        except (FileNotFoundError, ValueError) as error:
            raise DeploymentFailed(f"Failed to download model data from {url}: {error}") from error
        _extract(archive, model_dir, url)
        if isinstance(source, str) and source.startswith("s3://"):
            _extract(s3.read_uri(source), model_dir / "code", source)

    def scale(self, backend: Any, endpoint: Any, counts: dict[str, int]) -> None:
        self._background(f"scale-{endpoint.endpoint_name}", self._scale, backend, endpoint, counts)

    def _scale(self, backend: Any, endpoint: Any, counts: dict[str, int]) -> None:
        key = (backend.account_id, backend.region_name, endpoint.endpoint_name)
        with self._lock:
            deployment = self._live.get(key)
        try:
            for name, desired in counts.items():
                pool = deployment.pools[name]
                change = int(desired) - pool.instance_count
                if change > 0:
                    pool.start_workers(change)
                elif change < 0:
                    pool.stop_workers(-change)
            endpoint.failure_reason = None
        except Exception as error:
            endpoint.failure_reason = str(error)
        for variant in endpoint.production_variants:
            pool = deployment.pools.get(variant["VariantName"]) if deployment else None
            if pool is not None:
                variant["CurrentInstanceCount"] = pool.instance_count
        endpoint.last_modified_time = utcnow()
        endpoint.endpoint_status = "InService"

    def remove(self, backend: Any, endpoint: Any) -> None:
        key = (backend.account_id, backend.region_name, endpoint.endpoint_name)
        with self._lock:
            deployment = self._live.pop(key, None)
        if deployment is not None:
            self._background(f"delete-{endpoint.endpoint_name}", deployment.stop)

    def shutdown(self) -> None:
        """Stop every endpoint's workers as the runtime stops; deployments under way no longer change records."""
        self.closing = True
        self.reset()

    def reset(self) -> None:
        """Stop every endpoint's workers; new deployments are taken afterwards."""
        with self._lock:
            deployments = list(self._live.values())
            self._live.clear()
        for deployment in deployments:
            deployment.stop()

    # --- invocations --------------------------------------------------------------------------------
    def deployment(self, account_id: str, region: str, endpoint_name: str) -> Deployment | None:
        with self._lock:
            return self._live.get((account_id, region, endpoint_name))

    def invoke(self, deployment: Deployment, endpoint_name: str, region: str, account_id: str, body: bytes,
               content_type: str | None, accept: str | None, target_variant: str | None) -> InvocationResult:
        if target_variant:
            pool = deployment.pools[target_variant]
        else:
            pools = list(deployment.pools.values())
            pool = random.choices(pools, weights=[max(p.weight, 0.0) or 1e-9 for p in pools])[0]
        started = time.perf_counter()
        result = pool.invoke(body, content_type, accept)
        total_us = int((time.perf_counter() - started) * 1e6)
        self.publish_metrics(region, account_id, endpoint_name, pool, result, total_us)
        return result

    @staticmethod
    def publish_metrics(region: str, account_id: str, endpoint_name: str, pool: VariantPool,
                        result: InvocationResult, total_us: int) -> None:
        dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": pool.name}]
        now = utcnow()
        instances = max(1, pool.instance_count)

        def datum(name: str, value: float, unit: str) -> dict[str, Any]:
            return {"MetricName": name, "Value": value, "Unit": unit, "Dimensions": dimensions, "Timestamp": now}

        data = [
            datum("Invocations", 1.0, "None"),
            datum("InvocationsPerInstance", 1.0 / instances, "None"),
            datum("Invocation4XXErrors", 1.0 if 400 <= result.status < 500 else 0.0, "None"),
            datum("Invocation5XXErrors", 1.0 if result.status >= 500 else 0.0, "None"),
            datum("ModelLatency", float(result.model_latency_us), "Microseconds"),
            datum("OverheadLatency", float(max(0, total_us - result.model_latency_us)), "Microseconds"),
        ]
        try:
            moto_seam.put_metric_data(region, NAMESPACE, data, account_id)
        except Exception:
            log.exception("could not publish metrics for endpoint %s", endpoint_name)


def restart_endpoint(manager: EndpointManager, backend: Any, endpoint: Any) -> None:
    """Start a saved endpoint's workers again after a restart, as it was when the runtime stopped.

    An UpdateEndpoint that was in flight resumes: its new config comes up (the old one is not running either), and
    if it cannot, the endpoint ends Failed with the reason. Otherwise the endpoint's config comes up with the
    instance counts it had (those autoscaling set, not the config's initial ones), a scaling change in flight
    with its desired counts.
    """
    pending = getattr(endpoint, "pending_deployment_summary", None)
    resuming_update = endpoint.endpoint_status == "Updating" and bool(pending)
    if resuming_update:
        config_name, instance_counts = pending["EndpointConfigName"], None
    else:
        config_name = endpoint.endpoint_config_name
        instance_counts = {variant["VariantName"]: int(count) for variant in endpoint.production_variants or []
                           if (count := variant.get("DesiredInstanceCount", variant.get("CurrentInstanceCount")))}
    config = moto_seam.endpoint_config(backend, config_name)
    endpoint.last_modified_time = utcnow()
    if config is None:
        endpoint.failure_reason = (f"Could not find endpoint configuration \"{config_name}\" when the local runtime "
                                   "restarted the endpoint.")
        endpoint.pending_deployment_summary = None
        endpoint.endpoint_status = "Failed"
        return
    endpoint.endpoint_status = "Updating" if resuming_update else "Creating"
    manager.deploy(backend, endpoint, config, instance_counts)


def _extract(archive: bytes, target: Path, source: str) -> None:
    try:
        unpack_tar(archive, target)
    except ArchiveRefused as refusal:
        raise DeploymentFailed(f"Failed to extract model data archive for container \"container_1\" from URL "
                               f"\"{source}\". Please ensure that the object located at the URL is a valid tar.gz "
                               f"archive. ({refusal})") from refusal
