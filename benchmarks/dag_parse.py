"""What parsing each DAG file costs, cold and once Airflow and the provider are imported, measured side by side.

``python -m benchmarks.dag_parse [--repeats N]`` (from the repository root) runs each file of ``dags/`` in fresh
interpreters and prints medians of: the cold parse (the interpreter imports Airflow, the provider and the file,
as a task runner does) and the warm parse (Airflow's and the provider's modules already imported, as the DAG
processor has them after its first file: the file's own cost, its body and pawflow's modules). The warm parse's
target is well under 0.1 s; files over it are named.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from benchmarks.machine import describe_machine

REPO = Path(__file__).resolve().parents[1]
#: Airflow's and the provider's modules, which the DAG processor has imported after its first DAG file
#: (``@task`` loads the standard provider's decorators, assets load the compat layer). The processor's own parsing
#: module comes first: it has loaded the timetables and the asset serialization before any file is read, so an
#: asset-scheduled DAG does not pay for them.
WARM_IMPORTS = (
    "airflow.dag_processing.processor",
    "airflow.sdk",
    "airflow.providers.standard.decorators.python",
    "airflow.providers.common.compat.assets",
    "airflow.providers.amazon.aws.operators.sagemaker",
    "airflow.providers.amazon.aws.operators.lambda_function",
    "airflow.providers.amazon.aws.hooks.s3",
)
#: A warm parse should cost well under this.
WARM_TARGET_SECONDS = 0.1

PARSE = textwrap.dedent("""
    import importlib, importlib.util, json, sys, time
    warm = sys.argv[2] == "warm"
    if warm:
        for name in {warm_imports!r}:
            importlib.import_module(name)
    start = time.perf_counter()
    spec = importlib.util.spec_from_file_location("dag_under_test", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(json.dumps({{"seconds": time.perf_counter() - start}}))
""").format(warm_imports=WARM_IMPORTS)


def parse_seconds(dag_file: Path, mode: str, env: dict[str, str]) -> float:
    """Seconds one fresh interpreter spends parsing ``dag_file`` (``mode`` ``cold`` or ``warm``)."""
    result = subprocess.run([sys.executable, "-c", PARSE, str(dag_file), mode], cwd=REPO, env=env,
                            capture_output=True, text=True, check=True, timeout=600)
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per file and mode")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    print(describe_machine(), flush=True)
    over_target, files = [], {}
    with tempfile.TemporaryDirectory(prefix="dag-parse-") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
               "PYTHONPATH": os.pathsep.join(str(REPO / root) for root in ("", "plugins", "training_code"))}
        print(f"{'DAG file':36} {'cold s':>8} {'warm s':>8} {'warm/cold':>10}")
        for dag_file in sorted((REPO / "dags").glob("*.py")):
            cold = statistics.median(parse_seconds(dag_file, "cold", env) for _ in range(args.repeats))
            warm = statistics.median(parse_seconds(dag_file, "warm", env) for _ in range(args.repeats))
            print(f"{dag_file.name:36} {cold:8.3f} {warm:8.3f} {warm / cold:10.3f}", flush=True)
            files[dag_file.name] = {"cold_s": cold, "warm_s": warm}
            if warm > WARM_TARGET_SECONDS:
                over_target.append(dag_file.name)
    runs = f"{args.repeats} fresh interpreter{'s' if args.repeats > 1 else ''}"
    print(f"medians of {runs} per file and mode; warm target {WARM_TARGET_SECONDS} s: "
          + (f"over it: {', '.join(over_target)}" if over_target else "every file within it"))
    if args.json:
        args.json.write_text(json.dumps({"repeats": args.repeats, "warm_target_s": WARM_TARGET_SECONDS,
                                         "files": files}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
