"""What ``make bench`` leaves behind: ``benchmarks/results/latest.json``, PNG charts beside it, and a Markdown table.

Each benchmark writes its own JSON; the summary reads them (absent ones are left out) and turns them into the
rows README carries, with the machine and its load before and after the run.
"""

from __future__ import annotations

import json
from pathlib import Path


def _ratio(ours: float, baseline: float) -> str:
    return f"{baseline / ours:.2f}x faster" if ours < baseline else f"{ours / baseline:.2f}x slower"


def table_rows(results: dict) -> list[tuple[str, str, str, str]]:
    """``(measure, baseline, pawflow, ratio)`` rows from the benchmarks' results that are present."""
    rows = []
    precision = results.get("backbone_precision")
    if precision:
        peak = precision["machine"]["peak"]["gflops"]
        for backbone, study in precision["backbones"].items():
            paths = study["paths"]
            faithful = {name: row for name, row in paths.items() if row["faithful"] and name != "fp32"}
            best_name = max(faithful, key=lambda name: faithful[name]["images_per_s"]["median"]) if faithful else "fp32"
            best, fp32 = paths[best_name], paths["fp32"]
            rows.append((f"backbone {backbone} ({'ImageNet' if 'random' not in study['weights'] else 'random'} "
                         "weights), images/s, batch 16",
                         f"fp32 eager {fp32['images_per_s']['median']:.1f} "
                         f"({100 * fp32['gflops_per_s'] / peak:.1f}% of peak)",
                         f"{best_name} {best['images_per_s']['median']:.1f} "
                         f"({100 * best['gflops_per_s'] / peak:.1f}% of peak)",
                         f"{best['speedup_vs_fp32']:.2f}x"))
            for name, row in paths.items():
                if name != "fp32" and not row["faithful"]:
                    rows.append((f"backbone {backbone}: {name} (rejected: not faithful)", "",
                                 f"{row['images_per_s']['median']:.1f} images/s, top-1 agreement "
                                 f"{100 * row['top1_agreement']:.1f}%", f"{row['speedup_vs_fp32']:.2f}x"))
    tuning = results.get("tuning_comparison")
    if tuning:
        original = tuning["original"]
        for backbone, row in tuning["pawflow"].items():
            rows.append((f"tuning, {len(tuning['trials'])} trials, {tuning['images']} images ({tuning['scale']:g} of "
                         f"dogImages' size): original vs pawflow {backbone}", f"{original['tuning_s']:.0f} s",
                         f"{row['tuning_s']:.0f} s", f"{row['speedup_vs_original']:.1f}x faster"))
            rows.append((f"tuning at full size, extrapolated linearly: original vs pawflow {backbone}",
                         f"{original['full_size_tuning_s_extrapolated'] / 60:.0f} min",
                         f"{row['full_size_tuning_s_extrapolated'] / 60:.1f} min",
                         _ratio(row["full_size_tuning_s_extrapolated"], original["full_size_tuning_s_extrapolated"])))
    throughput = results.get("training_throughput")
    if throughput:
        cold, warm = throughput["trial_cold_cache"], throughput["trial_warm_cache"]
        rows.append(("whole trial (train.py), cold vs warm feature cache", f"{cold['seconds']:.1f} s",
                     f"{warm['seconds']:.1f} s", _ratio(warm["seconds"], cold["seconds"])))
    multi = results.get("multi_instance")
    if multi:
        one, two = multi["1 host, 1 core"], multi["2 hosts, 1 core each"]
        rows.append(("multi-instance, full path through the runtime: 1 host vs 2 hosts with 1 core each "
                     f"(write-up: {multi['write_up_speedup']}x)", f"{one['training_s']:.1f} s training",
                     f"{two['training_s']:.1f} s training",
                     f"{multi['speedup_training']:.2f}x ({multi['efficiency_training']:.0%} efficiency)"))
    overhead = results.get("local_aws_overhead")
    if overhead:
        invoke = overhead["invoke_dog_classifier_jpeg"]
        rows.append(("serving batch-1, dog classifier JPEG: in process vs InvokeEndpoint",
                     f"{1000 * invoke['direct_s']:.1f} ms", f"{1000 * invoke['runtime_s']:.1f} ms",
                     f"+{1000 * (invoke['runtime_s'] - invoke['direct_s']):.1f} ms"))
        job = overhead["training_job_empty_script"]
        rows.append(("training job start-up (empty script): direct vs runtime", f"{job['direct_s']:.2f} s",
                     f"{job['runtime_s']:.2f} s", f"+{job['runtime_s'] - job['direct_s']:.2f} s"))
    serving = results.get("serving_latency")
    if serving:
        local, remote = serving["in_process"], serving["runtime"]

        def latency(row: dict) -> str:
            return f"p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms"

        starter, ours = local["starter_style_handler"], local["pawflow_handler"]
        rows.append(("serving batch-1 in process: starter-style handler (fp32, autograd on) vs pawflow handler",
                     latency(starter), latency(ours), _ratio(ours["p50_ms"], starter["p50_ms"])))
        rows.append(("serving batch-1: pawflow handler in process vs through InvokeEndpoint", latency(ours),
                     latency(remote["invoke_endpoint"]),
                     f"+{remote['invoke_endpoint']['p50_ms'] - ours['p50_ms']:.1f} ms at p50"))
        per_call, cached = remote["client_per_call"], remote["client_per_container"]
        rows.append(("Lambda invocation (in front of the endpoint): client built per call vs once per container",
                     latency(per_call), latency(cached), _ratio(cached["p50_ms"], per_call["p50_ms"])))
    parse = results.get("dag_parse")
    if parse:
        slowest = max(parse["files"], key=lambda name: parse["files"][name]["warm_s"])
        warm = parse["files"][slowest]["warm_s"]
        rows.append((f"DAG file parse once Airflow is imported (slowest of {len(parse['files'])}: {slowest}): "
                     "target vs measured", f"{parse['warm_target_s']:.3f} s", f"{warm:.3f} s",
                     f"{warm / parse['warm_target_s']:.0%} of the target"))
    reset = results.get("moto_api_reset")
    if reset:
        rows.append(("/moto-api/reset round trip, median of "
                     f"{reset['rounds']} (before lazy managed policies: about 3,155 ms)", "",
                     f"{reset['reset_ms']['median']:.1f} ms", ""))
    scaling = results.get("lambda_scaling")
    if scaling:
        lam = scaling["lambda_ms"]
        rows.append(("Lambda invoke: cold vs warm", f"{lam['cold_ms']:.1f} ms", f"{lam['warm_ms']:.1f} ms",
                     _ratio(lam["warm_ms"], lam["cold_ms"])))
    return rows


def markdown_table(summary: dict) -> str:
    machine = summary["machine"]
    lines = [f"Machine: {machine['cpu']}, {machine['usable_cpus']} cores, torch {machine['torch']}; load average "
             f"{summary['load_before']:.2f} before, {summary['load_after']:.2f} after.", "",
             "| measure | baseline | pawflow | ratio |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in table_rows(summary["results"])]
    return "\n".join(lines) + "\n"


def fraction_value(text: str) -> float:
    """``"1/8"`` -> 0.125, ``"1"`` -> 1.0."""
    numerator, _, denominator = text.partition("/")
    return float(numerator) / float(denominator or 1)


def write_charts(summary: dict, folder: Path) -> list[Path]:
    """PNG charts of the results present; none (and no error) where matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return []
    written = []
    precision = summary["results"].get("backbone_precision")
    if precision:
        figure, axes = pyplot.subplots(1, len(precision["backbones"]), figsize=(5 * len(precision["backbones"]), 4),
                                       squeeze=False)
        for axis, (backbone, study) in zip(axes[0], precision["backbones"].items()):
            names = list(study["paths"])
            rates = [study["paths"][name]["images_per_s"]["median"] for name in names]
            colours = ["tab:green" if study["paths"][name]["faithful"] or name == "fp32" else "tab:red" for name in names]
            axis.bar(names, rates, color=colours)
            axis.set_title(f"{backbone}: images/s (red: not faithful)")
            axis.tick_params(axis="x", rotation=30)
        figure.tight_layout()
        written.append(folder / "backbone_precision.png")
        figure.savefig(written[-1])
        pyplot.close(figure)
    tuning = summary["results"].get("tuning_comparison")
    if tuning:
        figure, (by_size, by_trials) = pyplot.subplots(1, 2, figsize=(10, 4))
        sizes = tuning["growth"]["data_size"]
        by_size.plot([fraction_value(name) for name in sizes], list(sizes.values()), marker="o")
        by_size.set_xlabel("fraction of the benchmark's data set")
        by_size.set_ylabel("tuning seconds")
        trials = tuning["growth"]["trials"]
        by_trials.plot([int(n) for n in trials], list(trials.values()), marker="o")
        by_trials.set_xlabel("trials")
        by_trials.set_ylabel("seconds")
        figure.tight_layout()
        written.append(folder / "tuning_growth.png")
        figure.savefig(written[-1])
        pyplot.close(figure)
    overhead = summary["results"].get("local_aws_overhead")
    if overhead:
        figure, axis = pyplot.subplots(figsize=(7, 4))
        names = list(overhead)
        axis.barh([f"{name} (direct)" for name in names], [overhead[name]["direct_s"] for name in names])
        axis.barh([f"{name} (runtime)" for name in names], [overhead[name]["runtime_s"] for name in names])
        axis.set_xscale("log")
        axis.set_xlabel("seconds")
        figure.tight_layout()
        written.append(folder / "local_aws_overhead.png")
        figure.savefig(written[-1])
        pyplot.close(figure)
    return written


def write_summary(summary: dict, folder: Path) -> dict:
    """Write ``latest.json``, the charts and ``latest.md`` into ``folder``; return what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    charts = write_charts(summary, folder)
    summary = {**summary, "charts": [chart.name for chart in charts]}
    (folder / "latest.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "latest.md").write_text(markdown_table(summary))
    return summary


def load_results(folder: Path, names: list[str]) -> dict:
    return {name: json.loads((folder / f"{name}.json").read_text()) for name in names
            if (folder / f"{name}.json").is_file()}
