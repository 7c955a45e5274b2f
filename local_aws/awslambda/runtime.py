"""The Lambda runtime: execution environments per function version, cold and warm starts, provisioned concurrency.

It knows nothing of moto: the backend hands it a ``FunctionSpec`` per invocation, a way to obtain the execution
role's credentials and a way to write log events. Logs follow the AWS format: START, the function's own lines,
END and REPORT (with ``Init Duration`` only when the invocation paid for a cold start).
"""

import base64
import hashlib
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from local_aws.awslambda.environment import EnvironmentStartError, ExecutionEnvironment, InvocationOutcome
from local_aws.awslambda.package import PackageStore
from local_aws.child_environment import child_environment
from local_aws.iam.role_sessions import Credentials
from local_aws.processes import ProcessSupervisor
from local_aws.state_paths import derived_name, ensure_inside

logger = logging.getLogger(__name__)

LOG_TAIL_BYTES = 4096
MAX_RESPONSE_BYTES = 6291556
MAX_IDLE_ENVIRONMENTS = 32
INIT_TIMEOUT_SECONDS = 10.0
CREDENTIAL_MARGIN_SECONDS = 120.0
PROVISIONED_IN_PROGRESS = "IN_PROGRESS"
PROVISIONED_READY = "READY"
PROVISIONED_FAILED = "FAILED"


@dataclass(frozen=True)
class FunctionSpec:
    """What an execution environment needs to know about one function version."""

    account_id: str
    region: str
    function_name: str
    version: str
    function_arn: str
    handler: str
    runtime: str
    role_arn: str
    code: bytes
    environment: dict[str, str]
    memory_size: int
    timeout: int
    layers: tuple[bytes, ...] = ()  # the code of the function's layer versions, in the function's order

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.code)
        for layer in self.layers:
            digest.update(hashlib.sha256(layer).digest())
        digest.update(json.dumps([self.account_id, self.region, self.function_arn, self.version, self.handler,
                                  self.runtime, self.role_arn, self.environment, self.memory_size, self.timeout],
                                 sort_keys=True).encode())
        return digest.hexdigest()


@dataclass
class InvokeResult:
    """The answer to an Invoke call."""

    request_id: str
    payload: bytes
    function_error: str | None
    log_tail: str
    executed_version: str


@dataclass
class ProvisionedPool:
    """Pre-initialised environments kept for one function version or alias."""

    spec: FunctionSpec
    qualifier: str
    requested: int
    status: str = PROVISIONED_IN_PROGRESS
    status_reason: str | None = None
    last_modified: str = ""
    idle: list[ExecutionEnvironment] = field(default_factory=list)
    busy: int = 0
    cancelled: bool = False

    @property
    def allocated(self) -> int:
        return len(self.idle) + self.busy


CredentialIssuer = Callable[[FunctionSpec], Credentials]
LogWriter = Callable[[FunctionSpec, str, list[tuple[int, str]]], None]


class LambdaRuntime:
    """Runs Lambda functions in worker processes on this machine."""

    def __init__(self, state_dir: Path, endpoint_url: str, issue_credentials: CredentialIssuer,
                 write_logs: LogWriter, supervisor: ProcessSupervisor, idle_seconds: float = 600.0,
                 pass_env: tuple[str, ...] = ()):
        self.state_dir = Path(state_dir) / "lambda"
        self.endpoint_url = endpoint_url
        self.supervisor = supervisor
        self.pass_env = pass_env
        self.idle_seconds = idle_seconds
        self._issue_credentials = issue_credentials
        self._write_logs = write_logs
        self._packages = PackageStore(self.state_dir / "code")
        self._lock = threading.Lock()
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._owners: dict[str, tuple[str, str, str, str]] = {}
        self._provisioned: dict[tuple[str, str, str], ProvisionedPool] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle, name="lambda-idle-reaper", daemon=True)
        self._reaper.start()

    # -- invocation -------------------------------------------------------------------------------------------
    def invoke(self, spec: FunctionSpec, payload: bytes, qualifier: str, invoked_arn: str,
               client_context: str | None = None, request_id: str | None = None) -> InvokeResult:
        """Run one invocation to its end (the caller has already taken a concurrency slot); ``request_id`` is the
        one already answered for an Event invocation."""
        request_id = request_id or str(uuid.uuid4())
        env, pool, init_lines, init_error = self._acquire_environment(spec, qualifier)
        cold = env is not None and env.invocations == 0 and pool is None
        lines: list[tuple[int, str]] = []
        stream_name = env.log_stream_name if env else self._new_stream_name(spec)
        for line in init_lines:
            lines.append((_now_ms(), line))
        lines.append((_now_ms(), f"START RequestId: {request_id} Version: {spec.version}"))
        if init_error is not None:
            outcome = InvocationOutcome(error=init_error)
            lines.append((_now_ms(), f"[ERROR] {init_error.get('errorType')}: {init_error.get('errorMessage')}"))
        else:
            outcome = env.invoke(self._invocation_frame(spec, request_id, payload, invoked_arn, client_context),
                                 timeout=spec.timeout)
        for line in outcome.log_lines:
            lines.append((_now_ms(), line))
        if outcome.timed_out:
            timeout_line = f"{_iso_now()} {request_id} Task timed out after {spec.timeout:.2f} seconds"
            outcome.error = {"errorType": "Sandbox.Timedout",
                             "errorMessage": f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds"}
        lines.append((_now_ms(), f"END RequestId: {request_id}"))
        lines.append((_now_ms(), self._report_line(spec, request_id, outcome, env if cold else None,
                                                   init_error is not None)))
        if outcome.timed_out:
            lines.append((_now_ms(), timeout_line))
        self._release_environment(spec, env, pool)
        try:
            self._write_logs(spec, stream_name, lines)
        except Exception:
            logger.exception("Could not write the logs of %s request %s", spec.function_name, request_id)
        if outcome.error is None and len(outcome.payload.encode()) > MAX_RESPONSE_BYTES:
            outcome.error = {"errorMessage": f"Response payload size exceeded maximum allowed payload size "
                                             f"({MAX_RESPONSE_BYTES} bytes).", "errorType": "Function.ResponseSizeTooLarge"}
        if outcome.error is not None:
            body = json.dumps(outcome.error).encode()
            function_error = "Unhandled"
        else:
            body = outcome.payload.encode()
            function_error = None
        tail_text = "\n".join(text for _, text in lines) + "\n"
        tail = base64.b64encode(tail_text.encode()[-LOG_TAIL_BYTES:]).decode()
        return InvokeResult(request_id, body, function_error, tail, spec.version)

    def _invocation_frame(self, spec, request_id, payload, invoked_arn, client_context) -> dict:
        return {
            "request_id": request_id,
            "payload": payload.decode("utf-8") if payload else "",
            "invoked_function_arn": invoked_arn,
            "deadline_ms": time.time() * 1000 + spec.timeout * 1000,
            "client_context": client_context,
            "trace_id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
        }

    @staticmethod
    def _report_line(spec, request_id, outcome, cold_env, init_failed) -> str:
        billed = max(1, math.ceil(outcome.duration_ms))
        report = (f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
                  f"Billed Duration: {billed} ms\tMemory Size: {spec.memory_size} MB\t"
                  f"Max Memory Used: {outcome.max_memory_mb} MB\t")
        if cold_env is not None and cold_env.init_ms is not None:
            report += f"Init Duration: {cold_env.init_ms:.2f} ms\t"
        if outcome.timed_out:
            report += "Status: timeout"
        elif init_failed:
            report += "Status: error\tError Type: Runtime.InitError"
        return report

    # -- environments -----------------------------------------------------------------------------------------
    def _acquire_environment(self, spec: FunctionSpec, qualifier: str):
        """Return (environment, provisioned pool or None, init log lines, init error or None)."""
        stale: list[ExecutionEnvironment] = []
        try:
            with self._lock:
                pool = self._provisioned.get(self._pool_key(spec, qualifier))
                if pool is not None and pool.spec.fingerprint == spec.fingerprint:
                    while pool.idle:
                        env = pool.idle.pop()
                        if env.alive():
                            pool.busy += 1
                            return env, pool, [], None
                idle = self._idle.get(spec.fingerprint, [])
                while idle:
                    env = idle.pop()
                    if env.alive() and env.credentials_expire_at - time.time() > spec.timeout + CREDENTIAL_MARGIN_SECONDS:
                        self._busy.add(env)
                        return env, None, [], None
                    stale.append(env)
        finally:
            for env in stale:
                env.kill()
        try:
            env, init_lines = self._start_environment(spec, "on-demand")
        except EnvironmentStartError as exc:
            return None, None, exc.log_lines, exc.error
        with self._lock:
            self._busy.add(env)
            self._owners[spec.fingerprint] = (spec.account_id, spec.region, spec.function_name, spec.version)
        return env, None, init_lines, None

    def _release_environment(self, spec: FunctionSpec, env: ExecutionEnvironment | None,
                             pool: ProvisionedPool | None) -> None:
        if env is None:
            return
        evicted: list[ExecutionEnvironment] = []
        with self._lock:
            if pool is not None:
                pool.busy -= 1
                if env.alive() and not pool.cancelled:
                    pool.idle.append(env)
                    return
                if not pool.cancelled:
                    threading.Thread(target=self._fill_pool, args=(pool,), daemon=True).start()
                evicted.append(env)
            else:
                self._busy.discard(env)
                if env.alive() and not self._closed.is_set():
                    self._idle.setdefault(spec.fingerprint, []).append(env)
                    evicted.extend(self._over_capacity())
                else:
                    evicted.append(env)
        for stale in evicted:
            stale.kill()

    def _over_capacity(self) -> list[ExecutionEnvironment]:
        """Take the least recently used idle environments beyond MAX_IDLE_ENVIRONMENTS out of the pool."""
        idle = sorted((env for envs in self._idle.values() for env in envs), key=lambda env: env.last_used)
        surplus = idle[:max(0, len(idle) - MAX_IDLE_ENVIRONMENTS)]
        for envs in self._idle.values():
            envs[:] = [env for env in envs if env not in surplus]
        return surplus

    def retire(self, account_id: str, region: str, function_name: str, version: str | None = None) -> None:
        """Stop the idle on-demand environments of a function (one version, or all) after its code or config changed."""
        with self._lock:
            fingerprints = [fingerprint for fingerprint, owner in self._owners.items()
                            if owner[:3] == (account_id, region, function_name) and version in (None, owner[3])]
            retired = [env for fingerprint in fingerprints for env in self._idle.pop(fingerprint, [])]
        for env in retired:
            env.stop()

    def _start_environment(self, spec: FunctionSpec, initialization_type: str) -> tuple[ExecutionEnvironment, list[str]]:
        task_root = self._packages.task_root(spec.code)
        layers_root = self._packages.layers_root(spec.layers)
        credentials = self._issue_credentials(spec)
        stream_name = self._new_stream_name(spec)
        environment_dir = ensure_inside(
            self.state_dir / "environments" / f"{derived_name(spec.function_arn)}-{uuid.uuid4().hex[:12]}",
            self.state_dir)
        stderr_path = environment_dir / "stderr"
        env = ExecutionEnvironment(
            env=self._process_environment(spec, task_root, environment_dir, stream_name, credentials,
                                          initialization_type),
            task_root=task_root, log_stream_name=stream_name, supervisor=self.supervisor,
            stderr_path=stderr_path, credentials_expire_at=credentials.expires_at, layers_root=layers_root,
        )
        init_lines = env.start(init_timeout=INIT_TIMEOUT_SECONDS)
        logger.info("Started Lambda environment pid %s for %s:%s (%s, init %.1f ms, stderr in %s)",
                    env.pid, spec.function_name, spec.version, initialization_type, env.init_ms, stderr_path)
        return env, init_lines

    def _process_environment(self, spec: FunctionSpec, task_root: Path, environment_dir: Path, stream_name: str,
                             credentials: Credentials, initialization_type: str) -> dict[str, str]:
        """The worker's whole environment: Lambda's variables, the function's role credentials, its variables."""
        return child_environment(
            home=environment_dir / "home", tmpdir=environment_dir / "tmp", region=spec.region,
            endpoint_url=self.endpoint_url, credentials=credentials, pass_env=self.pass_env,
            service={
                "TZ": ":UTC",
                "LAMBDA_TASK_ROOT": str(task_root),
                "LAMBDA_RUNTIME_DIR": str(Path(__file__).parent),
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime or 'python3.11'}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream_name,
                "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            declared=spec.environment,
        )

    @staticmethod
    def _new_stream_name(spec: FunctionSpec) -> str:
        return f"{datetime.now(timezone.utc):%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"

    # -- provisioned concurrency ------------------------------------------------------------------------------
    @staticmethod
    def _pool_key(spec: FunctionSpec, qualifier: str) -> tuple[str, str, str]:
        return spec.account_id + ":" + spec.region, spec.function_name, qualifier

    def put_provisioned(self, spec: FunctionSpec, qualifier: str, count: int) -> ProvisionedPool:
        """Keep ``count`` initialised environments for the qualifier; they start in the background."""
        key = self._pool_key(spec, qualifier)
        with self._lock:
            old = self._provisioned.pop(key, None)
            pool = ProvisionedPool(spec=spec, qualifier=qualifier, requested=count, last_modified=_iso_now())
            if old is not None and old.spec.fingerprint == spec.fingerprint:
                pool.idle = old.idle[:count]
                surplus = old.idle[count:]
                old.idle = []
            else:
                surplus = old.idle if old else []
            if old is not None:
                old.cancelled = True
            self._provisioned[key] = pool
        for env in surplus:
            env.stop()
        threading.Thread(target=self._fill_pool, args=(pool,), name=f"provision-{spec.function_name}",
                         daemon=True).start()
        return pool

    def get_provisioned(self, spec_account_region: str, function_name: str, qualifier: str) -> ProvisionedPool | None:
        with self._lock:
            return self._provisioned.get((spec_account_region, function_name, qualifier))

    def list_provisioned(self, spec_account_region: str, function_name: str) -> list[ProvisionedPool]:
        with self._lock:
            return [pool for (scope, name, _), pool in self._provisioned.items()
                    if scope == spec_account_region and name == function_name]

    def delete_provisioned(self, spec_account_region: str, function_name: str, qualifier: str) -> bool:
        with self._lock:
            pool = self._provisioned.pop((spec_account_region, function_name, qualifier), None)
            if pool is None:
                return False
            pool.cancelled = True
            idle, pool.idle = pool.idle, []
        for env in idle:
            env.stop()
        return True

    def _fill_pool(self, pool: ProvisionedPool) -> None:
        while True:
            with self._lock:
                if pool.cancelled or self._closed.is_set():
                    return
                if pool.allocated >= pool.requested:
                    pool.status = PROVISIONED_READY
                    return
            try:
                env, _ = self._start_environment(pool.spec, "provisioned-concurrency")
            except EnvironmentStartError as exc:
                with self._lock:
                    pool.status = PROVISIONED_FAILED
                    pool.status_reason = f"FUNCTION_ERROR_INIT_FAILURE: {exc.error.get('errorMessage')}"
                return
            with self._lock:
                if pool.cancelled or self._closed.is_set():
                    stale = env
                else:
                    pool.idle.append(env)
                    stale = None
            if stale is not None:
                stale.stop()
                return

    # -- lifecycle ------------------------------------------------------------------------------------------
    def _reap_idle(self) -> None:
        while not self._closed.wait(timeout=min(self.idle_seconds, 30.0)):
            cutoff = time.monotonic() - self.idle_seconds
            with self._lock:
                stale = []
                for envs in self._idle.values():
                    stale.extend(env for env in envs if env.last_used < cutoff)
                    envs[:] = [env for env in envs if env.last_used >= cutoff]
            for env in stale:
                env.stop()

    @property
    def closed(self) -> threading.Event:
        """Set once the runtime has shut down (work waiting to run again stops waiting)."""
        return self._closed

    def shutdown(self) -> None:
        """Stop every environment this runtime started."""
        self._closed.set()
        self.reset()

    def reset(self) -> None:
        """Stop every environment and forget provisioned pools; functions invoked afterwards start afresh."""
        with self._lock:
            envs = [env for group in self._idle.values() for env in group]
            for pool in self._provisioned.values():
                pool.cancelled = True
                envs.extend(pool.idle)
                pool.idle = []
            envs.extend(self._busy)
            self._idle.clear()
            self._provisioned.clear()
            self._busy.clear()
        for env in envs:
            env.kill()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
