"""Reports a validation loss per epoch that is smallest for learning_rate 1.0 (for early-stopping tests)."""

import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float, required=True)
parser.add_argument("--epochs", type=int, default=6)
args = parser.parse_args()
for epoch in range(args.epochs):
    time.sleep(0.4)
    print(f"Epoch {epoch}: Validation Loss: {abs(args.learning_rate - 1.0) + 0.1 / (epoch + 1):.4f}", flush=True)
