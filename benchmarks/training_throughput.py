"""Training speed side by side: backbone feature extraction fp32 vs bf16 + channels_last, head training on cached
features vs the full (augmented) path, and whole trials with a cold vs a warm feature cache.

Every comparison runs in this one process on the same images, alternating the variants (A B A B ...) so that
a busy machine slows both alike; results are medians and ratios, printed with a description of the machine.

    python benchmarks/training_throughput.py            # about two minutes on 2 cores
    python benchmarks/training_throughput.py --json out.json --classes 20 --train-per-class 30
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "training_code"), str(REPO / "plugins")]

import torch  # noqa: E402

import classifier  # noqa: E402
from benchmarks.machine import cpu_model  # noqa: E402
from compute_precision import BF16_CHANNELS_LAST, FP32, cpu_has_native_bf16  # noqa: E402
from image_data import ImageDataset, load_splits  # noqa: E402
from pawflow.sample_data import generate_dog_images  # noqa: E402


def machine() -> dict:
    return {
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
        "native_bf16": cpu_has_native_bf16(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def median_rate(function, items: int, repeats: int) -> float:
    """Median items/s of ``function`` over ``repeats`` timed calls (after one warm-up call)."""
    function()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def alternate(variants: dict, items: int, repeats: int) -> dict:
    """Time each variant ``repeats`` times, interleaved; returns median items/s per variant."""
    for function in variants.values():
        function()  # warm-up (oneDNN kernel selection, allocator)
    rates = {name: [] for name in variants}
    for _ in range(repeats):
        for name, function in variants.items():
            start = time.perf_counter()
            function()
            rates[name].append(items / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def extraction_rates(backbone_name: str, batch: torch.Tensor, repeats: int) -> dict:
    backbone, _ = classifier.build_backbone(backbone_name, pretrained=backbone_name == "efficientnet_lite0")
    backbone.eval()
    fp32_model = backbone
    bf16_model = BF16_CHANNELS_LAST.prepare_module(copy.deepcopy(backbone))
    cpu = torch.device("cpu")

    def run(model, precision):
        def forward():
            with torch.inference_mode(), precision.autocast(cpu):
                model(precision.prepare_input(batch))
        return forward

    return alternate({"fp32": run(fp32_model, FP32), "bf16+channels_last": run(bf16_model, BF16_CHANNELS_LAST)},
                     len(batch), repeats)


def decode_rate(split, repeats: int) -> float:
    dataset = ImageDataset(split, classifier.eval_transform())
    return median_rate(lambda: [dataset[index] for index in range(len(dataset))], len(dataset), repeats)


def head_training_rate(features: torch.Tensor, labels: torch.Tensor, num_classes: int, repeats: int) -> float:
    head = classifier.ClassifierHead(features.shape[1], num_classes)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()

    def epoch():
        head.train()
        order = torch.randperm(len(labels))
        for start in range(0, len(order), 64):
            index = order[start:start + 64]
            optimizer.zero_grad()
            criterion(head(features[index]), labels[index]).backward()
            optimizer.step()

    return median_rate(epoch, len(labels), repeats)


def full_path_rates(split, num_classes: int, batch_size: int, repeats: int) -> dict:
    """Training images/s of the full path (decode + augment + frozen backbone forward + head step)."""
    dataset = ImageDataset(split.shard(0, max(1, len(split) // batch_size)), classifier.train_transform())
    images = torch.stack([dataset[index][0] for index in range(len(dataset))])[:batch_size]
    labels = torch.arange(len(images)) % num_classes
    cpu = torch.device("cpu")
    variants = {}
    for precision in (FP32, BF16_CHANNELS_LAST):
        model = classifier.build_model("efficientnet_lite0", num_classes)
        model.backbone.requires_grad_(False)
        model = precision.prepare_module(model)
        optimizer = torch.optim.Adam(model.head.parameters(), lr=1e-3)

        def step(model=model, optimizer=optimizer, precision=precision):
            optimizer.zero_grad()
            with precision.autocast(cpu):
                logits = model(precision.prepare_input(images))
            torch.nn.functional.cross_entropy(logits.float(), labels).backward()
            optimizer.step()
        variants[precision.name] = step
    network = alternate(variants, len(images), repeats)
    decode = median_rate(lambda: [dataset[index] for index in range(len(dataset))], len(dataset), repeats)
    # Decoding and augmenting overlap with the network only with worker processes; serially they add up.
    results = {name: {"network_only": rate, "with_decode_serial": 1 / (1 / rate + 1 / decode)}
               for name, rate in network.items()}
    results["decode_and_augment"] = decode
    return results


def trial(data: Path, cache: Path, out: Path, epochs: int) -> dict:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(REPO / "training_code" / "train.py"), "--data-dir", str(data), "--model-dir",
         str(out / "model"), "--output-data-dir", str(out / "output"), "--feature-cache-dir", str(cache),
         "--epochs", str(epochs), "--patience", str(epochs), "--num-workers", "1"],
        capture_output=True, text=True, check=True, cwd=REPO,
        env={"PYTHONPATH": str(REPO / "training_code"), "PATH": "/usr/bin:/bin"},
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "test_accuracy": float(re.search(r"Testing Accuracy: ([0-9.]+)", result.stdout).group(1)),
        "cache_hits": result.stdout.count("Feature cache hit"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--train-per-class", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="backbone batch size")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per variant (median reported)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each whole trial")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.classes * args.train_per_class < args.batch_size:
        parser.error(f"--classes x --train-per-class ({args.classes * args.train_per_class}) must be at least "
                     f"--batch-size ({args.batch_size}): the benchmark times one full batch")
    torch.manual_seed(0)

    report = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="pawflow-bench-") as work:
        work = Path(work)
        data = generate_dog_images(work / "data", num_classes=args.classes, train_per_class=args.train_per_class,
                                   valid_per_class=5, test_per_class=5)
        class_names, splits = load_splits(data)
        train = splits["train"]
        dataset = ImageDataset(train, classifier.eval_transform())
        batch = torch.stack([dataset[index][0] for index in range(args.batch_size)])

        report["decode_resize_normalize_images_per_s"] = decode_rate(train, max(1, args.repeats // 2))
        report["extraction_images_per_s"] = {
            "efficientnet_lite0": extraction_rates("efficientnet_lite0", batch, args.repeats),
            "resnet50 (random weights, speed only)": extraction_rates("resnet50", batch, args.repeats),
        }
        features = torch.randn(len(train) * 20, 1280)
        labels = torch.arange(len(features)) % len(class_names)
        report["head_training_on_cached_features_images_per_s"] = head_training_rate(
            features, labels, len(class_names), args.repeats)
        report["full_path_training_images_per_s"] = full_path_rates(train, len(class_names), args.batch_size,
                                                                    args.repeats)
        cold = trial(data, work / "cache", work / "cold", args.epochs)
        warm = trial(data, work / "cache", work / "warm", args.epochs)
        report["trial_cold_cache"], report["trial_warm_cache"] = cold, warm
        report["images"] = {name: len(split) for name, split in splits.items()}
        report["chance_accuracy"] = 1 / len(class_names)

    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def print_report(report: dict) -> None:
    m = report["machine"]
    print(f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, torch {m['torch']} on {m['torch_threads']} "
          f"threads, native bf16: {m['native_bf16']} ({m['cpu_capability']})")
    print(f"Images: {report['images']}")
    print(f"Decode + resize + normalise (Pillow, 1 process): {report['decode_resize_normalize_images_per_s']:.0f} "
          "images/s")
    for backbone, rates in report["extraction_images_per_s"].items():
        ratio = rates["bf16+channels_last"] / rates["fp32"]
        print(f"Feature extraction {backbone}: fp32 {rates['fp32']:.1f} images/s, bf16+channels_last "
              f"{rates['bf16+channels_last']:.1f} images/s -> {ratio:.2f}x")
    head = report["head_training_on_cached_features_images_per_s"]
    full = report["full_path_training_images_per_s"]
    print(f"Head training on cached features: {head:,.0f} images/s")
    for name in ("fp32", "bf16+channels_last"):
        print(f"Full path training step, efficientnet_lite0 {name}: {full[name]['network_only']:.1f} images/s "
              f"network only, {full[name]['with_decode_serial']:.1f} images/s with serial decode+augment "
              f"-> cached-feature head epoch is {head / full[name]['with_decode_serial']:,.0f}x faster per image")
    cold, warm = report["trial_cold_cache"], report["trial_warm_cache"]
    print(f"Whole trial (train.py, {sum(report['images'].values())} images): cold cache {cold['seconds']:.1f} s, "
          f"warm cache {warm['seconds']:.1f} s ({warm['cache_hits']} cache hits) -> "
          f"{cold['seconds'] / warm['seconds']:.2f}x; test accuracy {cold['test_accuracy']:.3f} / "
          f"{warm['test_accuracy']:.3f} (chance {report['chance_accuracy']:.3f})")


if __name__ == "__main__":
    sys.exit(main())
