"""Draw a DAG's task graph as a PNG with matplotlib (no graphviz needed): ``python -m pawflow.dag_graph``.

Tasks are placed in columns by their longest path from a root and coloured by who wrote the operator: the
Amazon provider, pawflow, or a TaskFlow ``@task`` of the DAG file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

COLOURS = {"provider": "#ff9900", "pawflow": "#66c2a5", "task": "#d9d9d9"}
LABELS = {"provider": "Amazon provider operator", "pawflow": "pawflow operator", "task": "TaskFlow task"}


def _kind(task: Any) -> str:
    module = type(task).__module__
    if module.startswith("airflow.providers.amazon"):
        return "provider"
    if module.startswith("pawflow"):
        return "pawflow"
    return "task"


def layout(dag: Any) -> dict[str, tuple[int, int]]:
    """Return task id -> (column, row): column = longest path from a root, rows in topological order."""
    column: dict[str, int] = {}
    for task in dag.topological_sort():
        column[task.task_id] = max((column[up] + 1 for up in task.upstream_task_ids), default=0)
    rows: dict[int, int] = {}
    positions = {}
    for task in dag.topological_sort():
        col = column[task.task_id]
        positions[task.task_id] = (col, rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1
    return positions


def render(dag: Any, path: str | Path) -> Path:
    """Write the DAG's graph to ``path`` (PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.patches import FancyBboxPatch, Patch

    positions = layout(dag)
    columns = max(c for c, _ in positions.values()) + 1
    rows = max(r for _, r in positions.values()) + 1
    x_step, y_step, width, height = 2.3, 1.0, 2.0, 0.6
    figure, axes = pyplot.subplots(figsize=(columns * 1.75 + 1, rows * 0.9 + 1.4), dpi=110)
    centre = {tid: (c * x_step, -(r - (rows - 1) / 2) * y_step) for tid, (c, r) in positions.items()}
    tasks = {task.task_id: task for task in dag.tasks}
    for tid, task in tasks.items():
        x, y = centre[tid]
        for down in task.downstream_task_ids:
            dx, dy = centre[down]
            span = positions[down][0] - positions[tid][0]
            # Edges that skip columns arc above the row instead of running through the boxes between.
            bend = -0.12 if span > 1 and abs(dy - y) < 1e-9 else 0.0
            axes.annotate("", xy=(dx - width / 2, dy), xytext=(x + width / 2, y), zorder=1,
                          arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 0.9, "zorder": 1,
                                      "connectionstyle": f"arc3,rad={bend}", "shrinkA": 0, "shrinkB": 1})
    for tid, task in tasks.items():
        x, y = centre[tid]
        axes.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                      boxstyle="round,pad=0.02,rounding_size=0.12",
                                      facecolor=COLOURS[_kind(task)], edgecolor="#333333", lw=0.8, zorder=2))
        axes.text(x, y, "\n".join(_wrap(tid.replace("_", " "), 18)), ha="center", va="center", fontsize=7.5, zorder=3)
    axes.legend(handles=[Patch(facecolor=COLOURS[k], edgecolor="#333333", label=LABELS[k]) for k in COLOURS],
                loc="upper left", fontsize=8, frameon=False, ncol=3, bbox_to_anchor=(0, 1.08))
    axes.set_title(dag.dag_id, fontsize=11, loc="right")
    axes.set_xlim(-width, (columns - 1) * x_step + width)
    axes.set_ylim(-(rows / 2) * y_step - 0.3, (rows / 2) * y_step + 1.2)
    axes.axis("off")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, bbox_inches="tight")
    pyplot.close(figure)
    return target


def _wrap(text: str, limit: int) -> list[str]:
    lines = [""]
    for word in text.split():
        if lines[-1] and len(lines[-1]) + 1 + len(word) > limit:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pawflow.dag_graph", description=__doc__.splitlines()[0])
    parser.add_argument("dag_id", help="e.g. dog_breed_pipeline")
    parser.add_argument("output", help="PNG file to write")
    parser.add_argument("--dags-folder", default=str(Path(__file__).resolve().parents[2] / "dags"))
    args = parser.parse_args(argv)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(args.dags_folder)
    dag = bag.dags.get(args.dag_id)
    if dag is None:
        print(f"no DAG {args.dag_id!r} in {args.dags_folder}; found {sorted(bag.dags)}", file=sys.stderr)
        return 2
    print(render(dag, args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
