"""What a training run leaves in the output data dir: ``metrics.json`` and a ``training_curve.png``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def write_metrics(output_dir, metrics: dict) -> Path:
    """Write ``metrics`` as ``metrics.json`` in ``output_dir`` and return its path."""
    path = Path(output_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path


def plot_training_curve(output_dir, history: list[dict], best_epoch: int | None = None) -> Path:
    """Loss and accuracy per epoch (train and validation) as ``training_curve.png``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    epochs = [row["epoch"] for row in history]
    figure, (loss_axes, accuracy_axes) = pyplot.subplots(1, 2, figsize=(10, 4))
    for axes, metric, title in ((loss_axes, "loss", "Loss (per-sample mean)"), (accuracy_axes, "accuracy", "Accuracy")):
        axes.plot(epochs, [row[f"train_{metric}"] for row in history], marker="o", label="train")
        axes.plot(epochs, [row[f"valid_{metric}"] for row in history], marker="o", label="validation")
        if best_epoch is not None:
            axes.axvline(best_epoch, color="grey", linestyle="--", label=f"best epoch ({best_epoch})")
        axes.set_xlabel("epoch")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend()
    accuracy_axes.set_ylim(0, 1.02)
    figure.tight_layout()
    path = Path(output_dir) / "training_curve.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
