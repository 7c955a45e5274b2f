"""``python -m local_aws``: start the local AWS runtime and serve until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from local_aws.request_origin import canonical_origin
from local_aws.runtime import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_SECRET_ACCESS_KEY,
    SecuritySettings,
    default_max_concurrent_jobs,
)
from local_aws.server import LISTENING, LocalAWSServer


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "pawflow-local-aws"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws",
        description="A docker-free local AWS: S3, IAM, STS, SageMaker (+ Runtime), Lambda, Application Auto Scaling, "
                    "CloudWatch and CloudWatch Logs on one port, with SageMaker jobs and endpoints doing real work.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback unless you mean otherwise)")
    parser.add_argument("--port", type=int, default=4566, help="port to listen on (0 picks a free one)")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir(), help="where jobs, logs and saved state live")
    parser.add_argument("--max-concurrent-jobs", type=int, default=default_max_concurrent_jobs(),
                        help="training jobs running at once; the rest queue as InProgress")
    parser.add_argument("--metric-period-seconds", type=float, default=60.0,
                        help="CloudWatch period used when acting on metrics (AWS uses 60)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    security = parser.add_argument_group("security", "see README, \"Security model\"")
    security.add_argument("--access-key-id", default=os.environ.get("LOCAL_AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID),
                          help="the administrator's access key id (env LOCAL_AWS_ACCESS_KEY_ID)")
    security.add_argument("--secret-access-key",
                          default=os.environ.get("LOCAL_AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY),
                          help="the administrator's secret access key (env LOCAL_AWS_SECRET_ACCESS_KEY)")
    security.add_argument("--cors-allow-origin", action="append", default=[], metavar="ORIGIN",
                          help="a browser origin (e.g. http://localhost:3000) allowed to call the runtime; repeatable")
    security.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                          help="another Host name to answer besides loopback and the bind address; repeatable")
    security.add_argument("--enable-moto-api", action="store_true",
                          help="serve moto's /moto-api/ (reset, state dumps) to administrator-signed requests")
    security.add_argument("--allow-local-code", action="store_true",
                          help="let training jobs use file:// source directories from this machine")
    security.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                          help="hand this variable of the runtime's environment to jobs, endpoints and functions; repeatable")
    args = parser.parse_args(argv)
    if args.max_concurrent_jobs < 1:
        parser.error("--max-concurrent-jobs must be at least 1")
    if args.metric_period_seconds <= 0:
        parser.error("--metric-period-seconds must be positive")
    for origin in args.cors_allow_origin:
        try:
            canonical_origin(origin)
        except ValueError as error:
            parser.error(f"--cors-allow-origin: {error}")
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    settings = SecuritySettings(
        access_key_id=args.access_key_id, secret_access_key=args.secret_access_key,
        cors_allow_origins=tuple(args.cors_allow_origin), allow_hosts=tuple(args.allow_host),
        enable_moto_api=args.enable_moto_api, allow_local_code=args.allow_local_code, pass_env=tuple(args.pass_env),
    )
    server = LocalAWSServer(args.host, args.port, args.state_dir, args.max_concurrent_jobs, args.metric_period_seconds,
                            security=settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"{LISTENING} {server.endpoint_url} (state in {server.state_dir})", flush=True)
    print(f"local_aws administrator credentials: AWS_ACCESS_KEY_ID={settings.access_key_id} "
          f"AWS_SECRET_ACCESS_KEY={settings.secret_access_key}", flush=True)
    try:
        # The kernel may deliver SIGTERM to any of the runtime's threads; Python then runs the handler only when
        # the main thread next runs bytecode, which an untimed wait would never do. So wait in short slices.
        while not stop.wait(timeout=0.5):
            pass
    finally:
        server.stop()
        print("local_aws stopped", flush=True)


if __name__ == "__main__":
    main()
