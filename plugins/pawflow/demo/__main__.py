"""``make demo``: the whole dog-breed pipeline on this machine, as a new user meets it.

Prepares a demo data set, starts the local AWS runtime and Airflow's own services as processes, triggers
``dog_breed_pipeline`` through Airflow's REST API as the UI's Trigger button does, follows it task by task,
tells the story, writes a report, and stops every process it started (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import time
from pathlib import Path

from pawflow.demo.airflow_services import AirflowEnvironment
from pawflow.demo.local_runtime import start_local_runtime
from pawflow.demo.processes import DemoServices, wait_until
from pawflow.demo.story import PipelineStory

REPO = Path(__file__).resolve().parents[3]
DAG_ID = "dog_breed_pipeline"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=REPO / "demo-output",
                        help="where the runtime state, Airflow home, logs and the report go (wiped first)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the Airflow UI and the local runtime running after the run")
    parser.add_argument("--api-port", type=int, default=8080, help="Airflow api-server port on 127.0.0.1")
    parser.add_argument("--runtime-port", type=int, default=0, help="local AWS runtime port (0: a free one)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up on the run after this many seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = args.output_dir.resolve()
    story = PipelineStory(out)
    started = time.monotonic()
    with DemoServices(out) as services:
        story.reset_output_dir()  # after the services an earlier demo on this folder left running are ended
        try:
            data_dir = story.prepare_data()
            story.phase("local AWS runtime")
            endpoint_url = start_local_runtime(
                services, port=args.runtime_port or _free_port(), state_dir=out / "local-aws",
                log_dir=out / "logs", env=story.runtime_environ())
            airflow_role_arn = story.runtime_ready(endpoint_url)
            airflow = AirflowEnvironment(home=out / "airflow", api_port=args.api_port, aws_endpoint_url=endpoint_url,
                                         aws_role_arn=airflow_role_arn)
            story.phase("Airflow")
            airflow.prepare()
            client = airflow.start(services, out / "logs")
            wait_until(lambda: DAG_ID in client.dag_ids(), timeout=120, what=f"{DAG_ID} to be parsed",
                       services=services)
            story.airflow_ready(airflow, client)
            client.unpause(DAG_ID)
            run = client.trigger(DAG_ID, story.run_conf(data_dir))
            ok = story.follow(client, DAG_ID, run["dag_run_id"], services=services, timeout=args.timeout)
            story.finish(airflow, ok=ok, total_seconds=time.monotonic() - started)
            if args.keep and ok:
                story.keep_running(airflow)
                while True:
                    services.check_alive()
                    time.sleep(2)
            return 0 if ok else 1
        except KeyboardInterrupt:
            print("\nInterrupted: stopping every process the demo started.", file=sys.stderr)
            return 130
        except (RuntimeError, TimeoutError) as error:
            print(f"\nDemo failed: {error}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
