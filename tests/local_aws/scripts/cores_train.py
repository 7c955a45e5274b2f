"""Reports the cores its host was given (used by the runtime's tests of per-host core sharing)."""

import json
import os


def main() -> None:
    share = {
        "affinity": sorted(os.sched_getaffinity(0)),
        "SM_NUM_CPUS": os.environ.get("SM_NUM_CPUS"),
        "num_cpus": json.loads(os.environ["SM_TRAINING_ENV"])["num_cpus"],
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }
    print(f"Host {os.environ['SM_CURRENT_HOST']} cores: {json.dumps(share, sort_keys=True)}")
    print("Testing Loss: 0.5")


if __name__ == "__main__":
    main()
