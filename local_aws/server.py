"""The local AWS server: one loopback port serving every service, with real compute behind SageMaker.

``LocalAWSServer`` runs in a thread (tests, embedding); ``ServerProcess`` runs ``python -m local_aws`` as a
child process (for checks that need a separate process, e.g. that no child outlives it).

Services that do more than moto plug in as extensions (``default_extensions``, ``local_aws.extension``): each
one's ``install`` runs before saved state is loaded (swap backend classes, add gateway routes or request
filters), ``resume`` once the server is bound and its URL known (restart interrupted work), ``uninstall`` when
it stops. The server is what extensions see as their ``ServerContext``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from werkzeug.serving import make_server

from local_aws import moto_seam
from local_aws.applicationautoscaling.extension import AutoScalingExtension
from local_aws.awslambda.extension import LambdaExtension
from local_aws.child_environment import remove_dangling_aliases
from local_aws.extension import ServiceExtension
from local_aws.gateway import Gateway
from local_aws.iam.extension import AuthenticationExtension, IAMEnforcementExtension
from local_aws.moto_api import MotoApiAccess
from local_aws.request_origin import RequestOriginPolicy, is_loopback
from local_aws.runtime import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_SECRET_ACCESS_KEY,
    LocalRuntime,
    RuntimeConfig,
    SecuritySettings,
    default_max_concurrent_jobs,
)
from local_aws.sagemaker.extension import SageMakerExtension
from local_aws.state import StateStore
from local_aws.validation_filter import RequestValidation

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
LISTENING = "local_aws listening on"


def default_extensions() -> list[ServiceExtension]:
    """The services that do real work, in installation order (authentication first: its filter runs first)."""
    return [AuthenticationExtension(), IAMEnforcementExtension(), SageMakerExtension(), LambdaExtension(), AutoScalingExtension()]


class QuietRequestHandler(moto_seam.request_handler_class()):
    """moto's request handler with the per-request access log at DEBUG instead of on stderr."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        log.debug('"%s" %s %s', self.requestline, code, size)


def exposure_warning(host: str, security: SecuritySettings) -> str:
    """What binding a non-loopback address exposes, for the log."""
    default_key = (security.access_key_id, security.secret_access_key) == (DEFAULT_ACCESS_KEY_ID,
                                                                           DEFAULT_SECRET_ACCESS_KEY)
    key = ("the public default testing/testing; set --access-key-id/--secret-access-key" if default_key
           else "set by --access-key-id/--secret-access-key")
    return (f"local_aws is bound to {host}, which is not a loopback address: other machines on the network can "
            f"reach it, and anyone who knows the administrator key ({key}) is administrator of it, "
            "able to run code on this machine")


class LocalAWSServer:
    """S3, IAM, STS, SageMaker (+ Runtime), Lambda, Application Auto Scaling, CloudWatch and Logs on one port.

    One server per process: moto keeps its state in process-wide backends.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state_dir: str | os.PathLike | None = None,
                 max_concurrent_jobs: int | None = None, metric_period_seconds: float = 60.0,
                 stop_grace_seconds: float = 10.0, extensions: Sequence[ServiceExtension] | None = None,
                 autosave_seconds: float = 300.0, security: SecuritySettings | None = None) -> None:
        self.host = host
        self.extensions = list(extensions) if extensions is not None else default_extensions()
        self.autosave_seconds = autosave_seconds
        self.port = port
        self._temporary_state = None if state_dir is not None else tempfile.TemporaryDirectory(prefix="local_aws-")
        self.state_dir = Path(state_dir if state_dir is not None else self._temporary_state.name)
        self.config = RuntimeConfig(
            state_dir=self.state_dir,
            max_concurrent_jobs=max_concurrent_jobs or default_max_concurrent_jobs(),
            metric_period_seconds=metric_period_seconds,
            stop_grace_seconds=stop_grace_seconds,
            security=security or SecuritySettings(),
        )
        self.runtime: LocalRuntime | None = None
        self.gateway: Gateway | None = None
        # Judges calls at moto's authorization point and routes the gateway answers (set by the IAM extension).
        self.authorizer: Any = None
        self.state = StateStore(self.state_dir)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._server.port}"

    def start(self) -> "LocalAWSServer":
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.runtime = LocalRuntime(self.config)
        self.runtime.attach()  # moto's backends are process-wide: they reach the runtime through the process
        self.runtime.supervisor.end_leftovers()  # what an earlier runtime on this state dir left running
        remove_dangling_aliases()  # TMPDIR links of children whose folders are gone
        self.gateway = Gateway(moto_seam.dispatcher_app())
        moto_seam.select_operations_as_aws()
        RequestOriginPolicy(self.config.security, self.host).install(self.gateway)
        for extension in self.extensions:
            extension.install(self)
        # After authentication (a request AWS cannot authenticate is refused as such, valid or not).
        self.gateway.add_filter(RequestValidation())
        # After every extension's filters, so that it sees the principal the authentication filter verified.
        self.gateway.add_filter(MotoApiAccess(self.config.security, self.runtime))
        self.state.load()
        self._server = make_server(self.host, self.port, self.gateway, threaded=True,
                                   request_handler=QuietRequestHandler)
        if not is_loopback(self.host):
            log.warning("%s", exposure_warning(self.host, self.config.security))
        self.runtime.set_endpoint_url(self.endpoint_url)
        for extension in self.extensions:
            extension.resume(self)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, name="local_aws-http", daemon=True)
        self._thread.start()
        if self.autosave_seconds > 0:
            threading.Thread(target=self._autosave, name="local_aws-autosave", daemon=True).start()
        log.info("%s %s (state in %s)", LISTENING, self.endpoint_url, self.state_dir)
        return self

    def _autosave(self) -> None:
        """Save state now and then too, so that a crash (SIGKILL, power loss) loses minutes, not everything."""
        while not self._stopped.wait(self.autosave_seconds):
            try:
                self.state.save()
            except Exception as error:  # e.g. a record changing while it is pickled: the next round saves it
                log.warning("periodic state save skipped: %s", error)

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        # Saved before the children are ended too: a stop that is cut short (a supervisor's SIGKILL on a loaded
        # machine while jobs wind down) still keeps every record made until the last request.
        self._save_state()
        self.runtime.shutdown()
        self._save_state()
        for extension in reversed(self.extensions):
            extension.uninstall(self)
        self.runtime.detach()
        self._server = None
        if self._temporary_state is not None:
            self._temporary_state.cleanup()

    def _save_state(self) -> None:
        try:
            self.state.save()
        except Exception:
            log.exception("could not save the runtime's state")

    def __enter__(self) -> "LocalAWSServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


class ServerProcess:
    """``python -m local_aws`` as a child process; ``endpoint_url`` once it listens."""

    def __init__(self, state_dir: str | os.PathLike, *args: str, env: dict[str, str] | None = None,
                 start_timeout: float = 60.0) -> None:
        self.state_dir = Path(state_dir)
        self.args = list(args)
        self.env = env
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.endpoint_url = ""
        self.output: list[str] = []

    def start(self) -> "ServerProcess":
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_aws", "--port", "0", "--state-dir", str(self.state_dir), *self.args],
            env=env, cwd=str(REPO_ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        found = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                if LISTENING in line and not found.is_set():
                    self.endpoint_url = line.split(LISTENING, 1)[1].split()[0]
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(self.start_timeout) or not self.endpoint_url:
            self.stop()
            raise RuntimeError("local_aws did not start:\n" + "\n".join(self.output[-30:]))
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
