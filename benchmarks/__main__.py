"""``make bench``: run every benchmark in this folder, one after the other, then summarise them.

Each benchmark prints its own side-by-side ratios and writes ``benchmarks/results/<name>.json``; the run then
writes ``benchmarks/results/latest.json`` (the machine: CPU model and flags, cores, torch version, load average
before and after; every benchmark's results), PNG charts and ``latest.md``, and prints the table README carries.

    python -m benchmarks                             # all of them
    python -m benchmarks backbone_precision          # some of them, by file stem
    python -m benchmarks --results-dir /tmp/bench    # elsewhere
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.machine import machine_facts
from benchmarks.summary import load_results, markdown_table, write_summary

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
IMPORT_ROOTS = os.pathsep.join(str(REPO / root) for root in ("", "plugins", "training_code"))


def benchmark_scripts() -> list[Path]:
    return sorted(path for path in HERE.glob("*.py")
                  if not path.name.startswith("_") and 'if __name__ == "__main__"' in path.read_text())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (file stems); default: all")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    scripts = benchmark_scripts()
    if args.names:
        unknown = set(args.names) - {path.stem for path in scripts}
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: "
                  f"{', '.join(path.stem for path in scripts)}", file=sys.stderr)
            return 2
        scripts = [path for path in scripts if path.stem in args.names]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    load_before, started = os.getloadavg()[0], time.time()
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        env = {**os.environ, "PYTHONPATH": IMPORT_ROOTS}
        command = [sys.executable, "-m", f"benchmarks.{script.stem}", "--json",
                   str(args.results_dir / f"{script.stem}.json")]
        if subprocess.run(command, cwd=REPO, env=env, check=False).returncode:
            failed.append(script.stem)
    summary = write_summary({
        "machine": machine_facts(), "load_before": load_before, "load_after": os.getloadavg()[0],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": time.time() - started, "failed": failed,
        "results": load_results(args.results_dir, [script.stem for script in scripts]),
    }, args.results_dir)
    print(f"\n=== summary ({args.results_dir / 'latest.json'}; charts: {', '.join(summary['charts']) or 'none'}) ===")
    print(markdown_table(summary))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
