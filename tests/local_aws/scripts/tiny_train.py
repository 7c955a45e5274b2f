"""A tiny training script following SageMaker script-mode conventions (used by the runtime's tests)."""

import argparse
import json
import os
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAINING"))
    args = parser.parse_args()

    files = sorted(p.relative_to(args.train).as_posix() for p in Path(args.train).rglob("*") if p.is_file())
    numbers = [float(Path(args.train, f).read_text()) for f in files]
    target = sum(numbers) / len(numbers)
    for epoch in range(args.epochs):
        print(f"Epoch {epoch}: Train Loss: {abs(target - args.learning_rate) / (epoch + 1):.6f}")
    loss = abs(target - args.learning_rate) + 1.0 / args.batch_size
    print(f"Testing Loss: {loss:.6f}")
    print(f"Host {os.environ['SM_CURRENT_HOST']} of {os.environ['SM_HOSTS']} saw files: {json.dumps(files)}")

    model_dir = Path(args.model_dir)
    (model_dir / "code").mkdir(parents=True, exist_ok=True)
    (model_dir / "model.json").write_text(json.dumps({"scale": args.learning_rate, "target": target}))
    (model_dir / "code" / "inference.py").write_text(Path(__file__).with_name("tiny_inference.py").read_text())
    output_dir = Path(os.environ["SM_OUTPUT_DATA_DIR"])
    (output_dir / "metrics.json").write_text(json.dumps({"test_loss": loss}))
    print("done", file=sys.stderr)


if __name__ == "__main__":
    main()
