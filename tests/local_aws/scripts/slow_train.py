"""A training script that runs until it is stopped, saving a checkpoint model when SIGTERM arrives."""

import os
import signal
import sys
import time
from pathlib import Path


def save_and_exit(signum, frame):
    Path(os.environ["SM_MODEL_DIR"], "interrupted.txt").write_text(f"signal {signum}")
    print("saved a model after SIGTERM", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, save_and_exit)
print(f"slow training started pid {os.getpid()}", flush=True)
while True:
    time.sleep(0.1)
