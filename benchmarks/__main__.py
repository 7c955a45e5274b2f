"""``make bench``: run every benchmark in this folder, one after the other, each reporting its own ratios.

    python -m benchmarks                 # all of them
    python -m benchmarks training_throughput   # some of them, by file stem
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
IMPORT_ROOTS = os.pathsep.join(str(REPO / root) for root in ("", "plugins", "training_code"))


def main(names: list[str]) -> int:
    scripts = sorted(path for path in HERE.glob("*.py")
                     if not path.name.startswith("_") and 'if __name__ == "__main__"' in path.read_text())
    if names:
        unknown = set(names) - {path.stem for path in scripts}
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: "
                  f"{', '.join(path.stem for path in scripts)}", file=sys.stderr)
            return 2
        scripts = [path for path in scripts if path.stem in names]
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        env = {**os.environ, "PYTHONPATH": IMPORT_ROOTS}
        if subprocess.run([sys.executable, "-m", f"benchmarks.{script.stem}"], cwd=REPO, env=env,
                          check=False).returncode:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
