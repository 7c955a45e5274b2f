"""The demo's report: one self-contained HTML page with the pictures a person would rather look at than read.

Tuning trials over the search space, training curves of the single- and multi-instance jobs, and the
endpoint's latency as the demo measured it. Every input is plain data, so the page can be rebuilt from a
saved ``story.json``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path


def _figure_png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_tuning_trials(trials: list[dict]):
    """Scatter of learning rate (log) against batch size, coloured by the objective; the best trial ringed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6.4, 4.2))
    done = [t for t in trials if t.get("objective") is not None]
    if done:
        points = axes.scatter([t["learning_rate"] for t in done], [t["batch_size"] for t in done],
                              c=[t["objective"] for t in done], cmap="viridis_r", s=90, edgecolors="black")
        figure.colorbar(points, ax=axes, label="Test Loss (objective, lower is better)")
        best = min(done, key=lambda t: t["objective"])
        axes.scatter([best["learning_rate"]], [best["batch_size"]], s=340, facecolors="none",
                     edgecolors="crimson", linewidths=2, label="best trial")
    failed = [t for t in trials if t.get("objective") is None]
    if failed:
        axes.scatter([t["learning_rate"] for t in failed], [t["batch_size"] for t in failed], marker="x",
                     color="grey", s=70, label="failed trial")
    from matplotlib.ticker import NullFormatter

    axes.set_xscale("log")
    axes.set_xlim(1e-3, 1e-1)  # the course's search space
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_yscale("log", base=2)
    axes.set_ylim(24, 680)
    axes.set_yticks([32, 64, 128, 256, 512], labels=["32", "64", "128", "256", "512"])
    if done or failed:
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    axes.set_xlabel("learning_rate (log scale)")
    axes.set_ylabel("batch_size")
    axes.set_title("Hyperparameter tuning trials over the search space")
    return figure


def plot_training_curves(curves: dict[str, dict]):
    """Train and validation loss per epoch, one line pair per training job."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (loss_axes, accuracy_axes) = pyplot.subplots(1, 2, figsize=(10, 3.8))
    for name, metrics in curves.items():
        epochs = [row["epoch"] for row in metrics["history"]]
        loss_axes.plot(epochs, [row["train_loss"] for row in metrics["history"]], "--", label=f"{name} train")
        loss_axes.plot(epochs, [row["valid_loss"] for row in metrics["history"]], "-o", label=f"{name} valid")
        accuracy_axes.plot(epochs, [row["valid_accuracy"] for row in metrics["history"]], "-o", label=name)
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("mean loss per image")
    loss_axes.legend(fontsize="small")
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("validation accuracy")
    accuracy_axes.set_ylim(0, 1.02)
    accuracy_axes.legend(fontsize="small")
    figure.suptitle("Training curves")
    return figure


def plot_latency(latencies_ms: list[float]):
    """Histogram of end-to-end invoke latency."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6.4, 3.4))
    axes.hist(latencies_ms, bins=min(20, max(5, len(latencies_ms) // 3)), color="steelblue", edgecolor="black")
    ordered = sorted(latencies_ms)
    p50, p90 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    for value, label in ((p50, "p50"), (p90, "p90")):
        axes.axvline(value, color="crimson", linestyle="--")
        axes.text(value, axes.get_ylim()[1] * 0.9, f" {label} {value:.0f} ms", color="crimson")
    axes.set_xlabel("invoke latency through the Lambda (ms)")
    axes.set_ylabel("requests")
    axes.set_title(f"Endpoint latency over {len(latencies_ms)} requests")
    return figure


def write_report(story: dict, out_dir: Path) -> Path:
    """Write ``report.html`` (images inline) and ``story.json`` into ``out_dir``; return the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "story.json").write_text(json.dumps(story, indent=2, default=str))
    sections = []
    if story.get("trials"):
        sections.append(("Tuning", plot_tuning_trials(story["trials"])))
    if story.get("curves"):
        sections.append(("Training", plot_training_curves(story["curves"])))
    if story.get("latencies_ms"):
        sections.append(("Serving", plot_latency(story["latencies_ms"])))
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in story.get("summary", {}).items())
    figures = "".join(f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
                      f'src="data:image/png;base64,{_figure_png(figure)}">' for title, figure in sections)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>pawflow demo report</title>"
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}td{padding:2px 12px}"
        "img{max-width:100%}</style></head><body><h1>pawflow: the dog-breed pipeline, run locally</h1>"
        f"<table>{rows}</table>{figures}</body></html>"
    )
    path = out_dir / "report.html"
    path.write_text(page)
    return path
