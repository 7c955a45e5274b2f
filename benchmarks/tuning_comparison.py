"""6-trial tuning on a dogImages-sized generated set: the original method against pawflow, side by side.

- Original (the course starter, its bugs fixed): every trial runs frozen ResNet50 in fp32 eager over every image,
  with the starter's transforms (RandomResizedCrop 224 + flip for training, Resize 224 for testing, no
  normalisation), one epoch + validation + test; the head is Linear(2048,128) -> ReLU -> Linear(128,133).
- pawflow: ``training_code/train.py`` per trial with one shared feature cache (the first trial extracts, the
  others read the features and train heads only), for each backbone (ResNet50's ImageNet weights cannot be
  downloaded here: random weights are put where torchvision caches the download, so train.py's loading path runs
  unchanged and the speed is the real network's).
Trials draw the course's search space (learning rate 0.001..0.1 log-uniform, batch size 32..512) from one seed.

The full set (8,246 images, 133 classes) would take the original method about 108 minutes here, so
``--scale`` (default 0.05) generates that fraction of the images; the original method is measured on it and both
are also extrapolated linearly to the full size (stated as such). Growth: pawflow's time at 1/8, 1/4, 1/2 and 1 of
the scaled set, and its time after 1..6 trials. pawflow's full-size figure scales the extraction (its cold trial
minus a warm one) linearly and keeps the warm trials as measured (their cost is mostly start-up).

    python -m benchmarks.tuning_comparison --json out.json
    python -m benchmarks.tuning_comparison --scale 0.005 --trials 2 --backbones efficientnet_lite0   # smoke
    python -m benchmarks.tuning_comparison --scale 1 --pawflow-only --backbones efficientnet_lite0  # full size
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "training_code"), str(REPO / "plugins")]

import torch  # noqa: E402

from benchmarks.machine import describe_machine  # noqa: E402
from image_data import ImageDataset, load_splits  # noqa: E402
from pawflow.sample_data import generate_dog_images  # noqa: E402

FULL = {"classes": 133, "train": 6650, "valid": 798, "test": 798}
BATCH_SIZES = (32, 64, 128, 256, 512)


def trial_hyperparameters(trials: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"learning_rate": math.exp(rng.uniform(math.log(0.001), math.log(0.1))),
             "batch_size": rng.choice(BATCH_SIZES)} for _ in range(trials)]


def generate(folder: Path, scale: float) -> Path:
    classes = max(2, round(FULL["classes"] * min(1.0, scale * 4)))  # fewer classes, so each keeps a few images
    per_class = {split: max(1, round(FULL[split] * scale / classes)) for split in ("train", "valid", "test")}
    return generate_dog_images(folder, num_classes=classes, train_per_class=per_class["train"],
                               valid_per_class=per_class["valid"], test_per_class=per_class["test"], seed=3)


def original_trial(data: Path, hyperparameters: dict) -> float:
    """The starter's trial, fixed: per-sample mean loss, an unshuffled test loader, one epoch. Seconds."""
    import classifier
    from torchvision_compat import import_torchvision

    import_torchvision()
    from torchvision import transforms

    start = time.perf_counter()
    class_names, splits = load_splits(data)
    backbone, dim = classifier.build_backbone("resnet50", pretrained=False)  # weights cannot be downloaded here
    model = torch.nn.Sequential(backbone, torch.nn.Linear(dim, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, len(class_names)))
    backbone.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=hyperparameters["learning_rate"])
    train_tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor()])
    test_tf = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor()])
    loader = lambda name, tf, shuffle: torch.utils.data.DataLoader(  # noqa: E731
        ImageDataset(splits[name], tf), batch_size=hyperparameters["batch_size"], shuffle=shuffle)
    model.train()
    for images, labels in loader("train", train_tf, True):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for name in ("valid", "test"):
            for images, labels in loader(name, test_tf, False):
                torch.nn.functional.cross_entropy(model(images), labels, reduction="sum")
    return time.perf_counter() - start


def offline_resnet50_weights(torch_home: Path) -> Path:
    """A torch hub cache holding ResNet50 weights under the name torchvision downloads them to, so train.py runs
    its real loading path offline. The weights are random (the real ones cannot be downloaded here): the same
    arithmetic and speed, not the accuracy."""
    import classifier
    from torchvision_compat import import_torchvision

    import_torchvision()
    from torchvision.models import ResNet50_Weights, resnet50

    checkpoint = torch_home / "hub" / "checkpoints" / ResNet50_Weights.IMAGENET1K_V2.url.rsplit("/", 1)[1]
    if not checkpoint.is_file():
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(resnet50(weights=None).state_dict(), checkpoint)
    assert "resnet50" in classifier.PRETRAINED_WEIGHTS
    return torch_home


def pawflow_trial(data: Path, cache: Path, out: Path, backbone: str, hyperparameters: dict) -> float:
    env = {"PYTHONPATH": str(REPO / "training_code"), "PATH": "/usr/bin:/bin"}
    if backbone == "resnet50":
        env["TORCH_HOME"] = str(offline_resnet50_weights(cache.parent / "torch-home"))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(REPO / "training_code" / "train.py"), "--data-dir", str(data), "--model-dir",
         str(out / "model"), "--output-data-dir", str(out / "output"), "--feature-cache-dir", str(cache),
         "--backbone", backbone, "--learning-rate", str(hyperparameters["learning_rate"]),
         "--batch-size", str(hyperparameters["batch_size"]), "--epochs", "20"],
        capture_output=True, text=True, check=True, cwd=REPO, env=env)
    return time.perf_counter() - start


def full_size_estimate(trial_seconds: list[float], scale: float) -> float:
    """pawflow's tuning time at full size: the extraction (cold trial minus a warm one) grows linearly with the
    data, each trial's start-up and head training are counted as measured."""
    if len(trial_seconds) < 2:
        return trial_seconds[0] / scale
    warm = sorted(trial_seconds[1:])[len(trial_seconds[1:]) // 2]
    return max(0.0, trial_seconds[0] - warm) / scale + warm * len(trial_seconds)


def pawflow_tuning(data: Path, work: Path, backbone: str, trials: list[dict]) -> list[float]:
    cache = work / f"cache-{backbone}-{data.name}"
    return [pawflow_trial(data, cache, work / f"out-{backbone}-{index}", backbone, hp)
            for index, hp in enumerate(trials)]


def pawflow_only(args: argparse.Namespace, trials: list[dict]) -> int:
    """``--pawflow-only``: pawflow's tuning time per backbone on the generated set, measured, nothing else."""
    report = {"scale": args.scale, "trials": trials, "pawflow": {}}
    with tempfile.TemporaryDirectory(prefix="pawflow-tuning-") as work:
        work = Path(work)
        data = generate(work / "full", args.scale)
        report["images"] = sum(len(split) for split in load_splits(data)[1].values())
        for backbone in args.backbones.split(","):
            seconds = pawflow_tuning(data, work, backbone, trials)
            report["pawflow"][backbone] = {"trial_s": seconds, "tuning_s": sum(seconds)}
    print(f"machine: {describe_machine()}; {report['images']} images ({args.scale:g} of dogImages' size), "
          f"{args.trials} trials, pawflow only")
    for backbone, row in report["pawflow"].items():
        print(f"  pawflow {backbone}: {row['tuning_s']:.1f} s ({row['tuning_s'] / 60:.1f} min); trials "
              + ", ".join(f"{seconds:.1f} s" for seconds in row["trial_s"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.05, help="fraction of the dogImages-sized set generated")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--original-trials", type=int, default=1,
                        help="original-method trials timed (all cost the same full pass); the rest extrapolated")
    parser.add_argument("--backbones", default="efficientnet_lite0,resnet50")
    parser.add_argument("--pawflow-only", action="store_true",
                        help="time pawflow's trials alone (e.g. --scale 1: the full size, measured rather than "
                             "extrapolated; the original method would take over two hours there)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    trials = trial_hyperparameters(args.trials)
    if args.pawflow_only:
        return pawflow_only(args, trials)
    report = {"scale": args.scale, "trials": trials, "pawflow": {}, "growth": {}}
    with tempfile.TemporaryDirectory(prefix="pawflow-tuning-") as work:
        work = Path(work)
        data = generate(work / "full", args.scale)
        images = sum(len(split) for split in load_splits(data)[1].values())
        original = [original_trial(data, hp) for hp in trials[:args.original_trials]]
        per_trial = sum(original) / len(original)
        report["images"] = images
        report["original"] = {"measured_trial_s": original, "tuning_s": per_trial * args.trials,
                              "full_size_tuning_s_extrapolated": per_trial * args.trials / args.scale}
        for backbone in args.backbones.split(","):
            seconds = pawflow_tuning(data, work, backbone, trials)
            report["pawflow"][backbone] = {
                "trial_s": seconds, "tuning_s": sum(seconds),
                "full_size_tuning_s_extrapolated": full_size_estimate(seconds, args.scale),
                "speedup_vs_original": per_trial * args.trials / sum(seconds)}
        first = args.backbones.split(",")[0]
        report["growth"]["trials"] = {n: sum(report["pawflow"][first]["trial_s"][:n]) for n in range(1, len(trials) + 1)}
        sizes = {}
        for fraction in (8, 4, 2):
            smaller = generate(work / f"part-{fraction}", args.scale / fraction)
            sizes[f"1/{fraction}"] = sum(pawflow_tuning(smaller, work, first, trials))
        sizes["1"] = report["pawflow"][first]["tuning_s"]
        report["growth"]["data_size"] = sizes
    print(f"machine: {describe_machine()}; {images} images ({args.scale:g} of dogImages' size), {args.trials} trials")
    print(f"  original (frozen ResNet50 fp32, every trial a full pass): {report['original']['tuning_s']:.1f} s "
          f"(measured {len(original)} trial(s), {per_trial:.1f} s each); full size, extrapolated linearly: "
          f"{report['original']['full_size_tuning_s_extrapolated'] / 60:.1f} min")
    for backbone, row in report["pawflow"].items():
        print(f"  pawflow {backbone}: {row['tuning_s']:.1f} s ({row['speedup_vs_original']:.1f}x faster); full size, "
              f"extrapolated: {row['full_size_tuning_s_extrapolated'] / 60:.1f} min")
    print(f"  growth ({first}): by data size {report['growth']['data_size']}; by trials {report['growth']['trials']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
