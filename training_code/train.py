"""Train the dog-breed classifier: SageMaker script mode, multi-host SageMaker jobs, and plain standalone runs.

    python train.py --data-dir dogImages --model-dir TrainedModels          # standalone ("EC2") run
    python train.py --learning_rate 0.01 --batch_size 64 --epochs 10       # as the SageMaker toolkit calls it

The data dir holds ``train/ valid/ test/`` class folders (dogImages layout). The model dir receives
``model.pth``, ``classes.json``, ``model_config.json`` and ``code/`` (deployable as is); the output data dir
receives ``metrics.json`` and ``training_curve.png``. Under SageMaker the ``SM_*`` variables supply the defaults.

Fast path (default): the ImageNet backbone is frozen, so each image's features are computed once (bf16 +
channels_last where the CPU runs bf16 natively), cached on disk and reused by later trials; only the head trains,
in milliseconds per epoch. It trades per-epoch random augmentation away. ``--augment`` takes the full path
(random crops and flips every epoch through the whole network), ``--unfreeze-last-block`` also trains the last
backbone block.

Extract once, tune many: ``--extract-features-only`` runs the backbone over train/valid/test and writes the
features (with the backbone's weights) to the model dir (see ``feature_set``); a job given that folder as its
``features`` channel (``SM_CHANNEL_FEATURES`` or ``--features-dir``) trains only the head and never builds the
backbone. The full path ignores the channel and trains from images.

With several hosts (``SM_HOSTS`` or ``--hosts``) the hosts train one model together: each computes features for
its shard of the data, gradients are averaged (DistributedDataParallel), metrics are summed over all ranks, and
rank 0 alone writes the model and metrics. User errors exit with status 2 and one message, as argparse does.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import math
import os
import random
import socket
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.distributed.algorithms.join import Join
from torch.nn.parallel import DistributedDataParallel

import classifier
from compute_precision import FP32, FP32_CHANNELS_LAST, PRECISIONS, choose_precision
from distributed_training import (
    DistributedContext,
    DistributedSetupError,
    cluster_spec,
    gather_objects,
    init_distributed,
    parse_host_addresses,
    parse_hosts,
    shutdown,
    sum_across_ranks,
)
from feature_cache import FeatureCache, cached_features, default_cache_dir
from feature_set import read_feature_set, write_feature_set
from image_data import DataError, find_classes, image_loader, load_splits, resolve_data_dir
from training_report import plot_training_curve, write_metrics

log = logging.getLogger("train")

TRAINING_CHANNEL = "training"
FEATURES_CHANNEL = "features"
DEFAULT_MASTER_PORT = 29500


# ---------------------------------------------------------------------------------------------------- arguments


def environment_defaults(environ=os.environ) -> dict:
    """Every default that comes from the environment (SageMaker's ``SM_*`` and pawflow's own), read here only."""
    return {
        "data_dir": environ.get(f"SM_CHANNEL_{TRAINING_CHANNEL.upper()}", "dogImages"),
        "features_dir": environ.get(f"SM_CHANNEL_{FEATURES_CHANNEL.upper()}", ""),
        "model_dir": environ.get("SM_MODEL_DIR", "TrainedModels"),
        "output_data_dir": environ.get("SM_OUTPUT_DATA_DIR", "TrainingOutput"),
        "hosts": environ.get("SM_HOSTS", ""),
        "current_host": environ.get("SM_CURRENT_HOST", ""),
        "master_addr": environ.get("MASTER_ADDR", ""),
        "master_port": environ.get("MASTER_PORT", str(DEFAULT_MASTER_PORT)),
        "host_addresses": environ.get("PAWFLOW_HOST_ADDRESSES", ""),
        "feature_cache_dir": default_cache_dir(environ),
        "data_sharded": str(channel_is_sharded(environ.get("SM_INPUT_DATA_CONFIG", ""), TRAINING_CHANNEL)),
        "num_cpus": available_cpus(environ),
    }


def available_cpus(environ=os.environ) -> int:
    """The cores this host may use: ``SM_NUM_CPUS`` (the instance's, or this host's share of a shared machine),
    else this process's CPU affinity."""
    try:
        return max(1, int(environ["SM_NUM_CPUS"]))
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def channel_is_sharded(input_data_config: str, channel: str) -> bool:
    """Whether SageMaker gives each host its own part of ``channel`` (``S3DistributionType: ShardedByS3Key``)."""
    try:
        config = json.loads(input_data_config or "{}")
    except ValueError:
        return False
    return isinstance(config, dict) and config.get(channel, {}).get("S3DistributionType") == "ShardedByS3Key"


def boolean(text) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def positive_int(text) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def positive_float(text) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def dropout_probability(text) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except empty ones ("(default: )" says nothing)."""

    def _get_help_string(self, action):
        if action.default in ("", None):
            return action.help
        return super()._get_help_string(action)


def _option(group, name: str, **kwargs) -> None:
    """Add ``--name`` and, for multi-word names, its SageMaker hyperparameter spelling ``--multi_word``."""
    flags = [f"--{name}"] + ([f"--{name.replace('-', '_')}"] if "-" in name else [])
    group.add_argument(*flags, **kwargs)


def build_parser(environ=os.environ) -> argparse.ArgumentParser:
    defaults = environment_defaults(environ)
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train the dog-breed classifier (frozen ImageNet backbone + small head) on a dogImages-style "
                    "data set. Multi-word options take both spellings: --batch-size and --batch_size.",
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )
    paths = parser.add_argument_group("data and outputs")
    _option(paths, "data-dir", default=defaults["data_dir"],
            help="folder with train/ valid/ test/ class folders (env SM_CHANNEL_TRAINING)")
    _option(paths, "model-dir", default=defaults["model_dir"],
            help="where the model, classes.json, model_config.json and code/ go (env SM_MODEL_DIR)")
    _option(paths, "features-dir", default=defaults["features_dir"],
            help="features written by --extract-features-only; the head trains on them and the backbone is never "
                 "built (env SM_CHANNEL_FEATURES; ignored by the full path)")
    _option(paths, "extract-features-only", type=boolean, nargs="?", const=True, default=False, metavar="BOOL",
            help="compute the backbone features of train/valid/test once and write them, with the backbone's "
                 "weights, to the model dir instead of training")
    _option(paths, "output-data-dir", default=defaults["output_data_dir"],
            help="where metrics.json and training_curve.png go (env SM_OUTPUT_DATA_DIR)")

    model = parser.add_argument_group("model and hyperparameters")
    _option(model, "backbone", choices=classifier.BACKBONES, default=classifier.DEFAULT_BACKBONE,
            help="pretrained ImageNet backbone: efficientnet_lite0 (weights ship in a pip package, works offline) "
                 "or resnet50 (torchvision weights, downloaded on first use)")
    _option(model, "epochs", type=positive_int, default=20, help="maximum number of epochs")
    _option(model, "patience", type=positive_int, default=5,
            help="stop after this many epochs without a lower validation loss")
    _option(model, "learning-rate", type=positive_float, default=0.001, help="Adam learning rate")
    _option(model, "batch-size", type=positive_int, default=64, help="training batch size (per host)")
    _option(model, "hidden-units", type=positive_int, default=classifier.HIDDEN_UNITS, help="width of the head")
    _option(model, "dropout", type=dropout_probability, default=0.2, help="dropout in the head")
    _option(model, "seed", type=int, default=0, help="random seed (weights init, shuffling, augmentation)")
    _option(model, "augment", type=boolean, nargs="?", const=True, default=False, metavar="BOOL",
            help="full path: random crop and flip every epoch through the whole network (no feature cache)")
    _option(model, "unfreeze-last-block", type=boolean, nargs="?", const=True, default=False, metavar="BOOL",
            help="also train the backbone's last block (implies --augment)")

    speed = parser.add_argument_group("speed")
    _option(speed, "num-workers", type=non_negative_int, default=min(4, defaults["num_cpus"] - 1),
            help="image decoding worker processes (default: one fewer than the host's cores, env SM_NUM_CPUS)")
    _option(speed, "precision", choices=PRECISIONS, default="auto",
            help="backbone arithmetic: auto = bf16 + channels_last where the CPU (AVX512-BF16/AMX) or GPU runs "
                 "bf16 natively, else compiled (fp32, TorchInductor) for data sets large enough to repay the "
                 "compilation, else fp32; recorded in model_config.json, serving uses the same")
    _option(speed, "feature-cache-dir", default=defaults["feature_cache_dir"],
            help="folder for cached backbone features, shared by trials on one machine; empty string disables "
                 "(env PAWFLOW_FEATURE_CACHE)")

    cluster = parser.add_argument_group("multi-host training")
    _option(cluster, "hosts", default=defaults["hosts"],
            help="hosts of the job, JSON list or comma-separated; more than one trains data-parallel (env SM_HOSTS; "
                 "default: this host alone)")
    _option(cluster, "current-host", default=defaults["current_host"],
            help="this process's host among --hosts (env SM_CURRENT_HOST)")
    _option(cluster, "master-addr", default=defaults["master_addr"],
            help="address of the first host, overriding name resolution (env MASTER_ADDR; default: the first "
                 "host's name, resolved)")
    _option(cluster, "master-port", type=positive_int, default=defaults["master_port"],
            help="rendezvous port on the first host (env MASTER_PORT)")
    _option(cluster, "host-addresses", default=defaults["host_addresses"],
            help="addresses for host names, e.g. algo-1=127.0.0.1,algo-2=127.0.0.1 (env PAWFLOW_HOST_ADDRESSES)")
    _option(cluster, "data-sharded", type=boolean, nargs="?", const=True, default=defaults["data_sharded"],
            metavar="BOOL", help="each host's data dir holds only its own shard (set when SM_INPUT_DATA_CONFIG "
                                 "says ShardedByS3Key for the training channel)")
    _option(cluster, "dist-timeout", type=positive_float, default=600.0,
            help="seconds to wait for the other hosts before failing")
    return parser


# ---------------------------------------------------------------------------------------------------- training


@dataclass
class EpochStats:
    """Per-sample mean loss, accuracy fraction and throughput of one pass, summed over all ranks."""

    loss: float
    accuracy: float
    images: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("inf")


def _reduced_stats(context, loss_sum, correct, count, seconds) -> EpochStats:
    loss_sum, correct, count = sum_across_ranks(context, loss_sum, correct, count)
    if count == 0:
        return EpochStats(float("nan"), float("nan"), 0, seconds)
    return EpochStats(loss_sum / count, correct / count, int(count), seconds)


def train_one_epoch(model, batches, optimizer, trainable: list[nn.Module], context: DistributedContext,
                    precision, device) -> EpochStats:
    """One pass over ``batches``: Adam steps on the trainable modules; returns the epoch's training metrics."""
    model.eval()
    for module in trainable:
        module.train()
    criterion = nn.CrossEntropyLoss()
    loss_sum, correct, count = 0.0, 0, 0
    start = time.perf_counter()
    # Shards may differ by a batch; Join lets a rank that ran out shadow the others' gradient all-reduces.
    join = Join([model]) if isinstance(model, DistributedDataParallel) else contextlib.nullcontext()
    with join:
        for inputs, labels in batches:
            inputs, labels = precision.prepare_input(inputs.to(device)), labels.to(device)
            optimizer.zero_grad(set_to_none=True)
            with precision.autocast(device):
                logits = model(inputs)
            loss = criterion(logits.float(), labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * labels.size(0)
            correct += (logits.argmax(1) == labels).sum().item()
            count += labels.size(0)
    return _reduced_stats(context, loss_sum, correct, count, time.perf_counter() - start)


def evaluate(model, batches, context: DistributedContext, precision, device) -> EpochStats:
    """Per-sample mean loss and accuracy of ``model`` over ``batches``, summed over all ranks' shards."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    start = time.perf_counter()
    with torch.inference_mode():
        for inputs, labels in batches:
            inputs, labels = precision.prepare_input(inputs.to(device)), labels.to(device)
            with precision.autocast(device):
                logits = model(inputs)
            loss_sum += nn.functional.cross_entropy(logits.float(), labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            count += labels.size(0)
    return _reduced_stats(context, loss_sum, correct, count, time.perf_counter() - start)


def feature_batches(features: torch.Tensor, labels: torch.Tensor, batch_size: int, generator=None):
    """Batches of cached features; shuffled with ``generator`` when given, in order otherwise."""
    order = torch.randperm(len(labels), generator=generator) if generator is not None else torch.arange(len(labels))
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        yield features[index], labels[index]


def split_labels(split) -> torch.Tensor:
    return torch.tensor([sample.label for sample in split.samples], dtype=torch.long)


@dataclass
class TrainingResult:
    history: list
    best_epoch: int
    test: EpochStats
    model: classifier.DogBreedClassifier | dict  # a module, or its state dict when the backbone was never built
    extraction: dict


def fit(model, train_batches, valid_batches, optimizer, trainable, state_module, args, context, precision, device):
    """Epochs with early stopping on validation loss; leaves ``state_module`` holding the best epoch's weights."""
    history, best_loss, best_epoch, best_state, stale = [], math.inf, 0, None, 0
    for epoch in range(1, args.epochs + 1):
        train = train_one_epoch(model, train_batches(), optimizer, trainable, context, precision, device)
        valid = evaluate(state_module, valid_batches(), context, precision, device)
        history.append({
            "epoch": epoch, "train_loss": train.loss, "train_accuracy": train.accuracy,
            "valid_loss": valid.loss, "valid_accuracy": valid.accuracy,
            "train_images_per_second": train.images_per_second,
            "train_seconds": train.seconds, "valid_seconds": valid.seconds,
        })
        if context.is_main:
            log.info("Epoch %d/%d: Train Loss: %.6g Train Accuracy: %.6f Validation Loss: %.6g "
                     "Validation Accuracy: %.6f | train %d images in %.2f s (%.1f images/s), validation %.2f s",
                     epoch, args.epochs, train.loss, train.accuracy, valid.loss, valid.accuracy,
                     train.images, train.seconds, train.images_per_second, valid.seconds)
        if valid.loss < best_loss:
            best_loss, best_epoch, stale = valid.loss, epoch, 0
            best_state = copy.deepcopy(state_module.state_dict())
        else:
            stale += 1
            if stale >= args.patience:
                log.info("Early stopping after epoch %d: no lower validation loss for %d epochs "
                         "(best %.6f at epoch %d)", epoch, stale, best_loss, best_epoch)
                break
    if best_state is not None:
        state_module.load_state_dict(best_state)
        log.info("Restored the weights of epoch %d (validation loss %.6f)", best_epoch, best_loss)
    return history, best_epoch


def _data_parallel(module: nn.Module, context: DistributedContext, device):
    if not context.enabled:
        return module
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def train_on_cached_features(args, context, device, backbone, feature_dim, class_names, splits, precision):
    """Fast path: backbone features once per image (cached), then only the head trains."""
    cache = FeatureCache(args.feature_cache_dir)
    transform = classifier.eval_transform(args.backbone)
    backbone = precision.prepare_module(backbone.to(device))
    extraction, features, labels = {}, {}, {}
    for name, split in splits.items():
        result = cached_features(cache, args.backbone, classifier.PRETRAINED_WEIGHTS[args.backbone], backbone, split,
                                 transform, device, precision, args.num_workers)
        extraction[name] = {"images": result.images, "seconds": result.seconds, "cache_hit": result.cache_hit,
                            "images_per_second": result.images_per_second}
        features[name], labels[name] = result.features.to(device), split_labels(split).to(device)

    history, best_epoch, test, head = train_head(args, context, device, feature_dim, len(class_names), features, labels)
    backbone = backbone.to(memory_format=torch.contiguous_format)
    return TrainingResult(history, best_epoch, test, classifier.DogBreedClassifier(backbone, head), extraction)


def train_on_feature_set(args, context, device, feature_set):
    """Features channel: the head trains on features computed by an extraction job; no backbone is built.

    The saved model is still complete: its backbone weights are the extraction job's, read as tensors.
    """
    features, labels = {}, {}
    for name in feature_set.features:
        features[name] = feature_set.features[name][context.rank::context.world_size].to(device)
        labels[name] = feature_set.labels[name][context.rank::context.world_size].to(device)
    history, best_epoch, test, head = train_head(args, context, device, feature_set.feature_dim,
                                                 len(feature_set.class_names), features, labels)
    state = {f"backbone.{key}": value for key, value in feature_set.backbone_state().items()}
    state.update({f"head.{key}": value.cpu() for key, value in head.state_dict().items()})
    extraction = {name: {"images": int(labels[name].numel()), "source": "features channel"} for name in labels}
    return TrainingResult(history, best_epoch, test, state, extraction)


def train_head(args, context, device, feature_dim, num_classes, features, labels):
    """Train a fresh head on per-split feature tensors; returns ``(history, best_epoch, test stats, head)``."""
    # Seeded here, not only at start: extraction draws from the global RNG on a cache miss and not on a hit.
    seed_everything(args.seed)
    head = classifier.ClassifierHead(feature_dim, num_classes, args.hidden_units, args.dropout).to(device)
    model = _data_parallel(head, context, device)
    optimizer = torch.optim.Adam(head.parameters(), lr=args.learning_rate)
    shuffle = torch.Generator().manual_seed(args.seed + context.rank)

    def batches(name, generator=None):
        return lambda: feature_batches(features[name], labels[name], args.batch_size, generator)

    history, best_epoch = fit(model, batches("train", shuffle), batches("valid"), optimizer, [head], head,
                              args, context, FP32, device)
    test = evaluate(head, batches("test")(), context, FP32, device)
    return history, best_epoch, test, head


def train_full(args, context, device, backbone, feature_dim, class_names, splits, precision):
    """Full path: images decoded and augmented every epoch, run through the (partly frozen) network."""
    seed_everything(args.seed)
    head = classifier.ClassifierHead(feature_dim, len(class_names), args.hidden_units, args.dropout)
    network = classifier.DogBreedClassifier(backbone, head)
    network.backbone.requires_grad_(False)
    trainable = [network.head]
    if args.unfreeze_last_block:
        for module in network.backbone.last_block():
            module.requires_grad_(True)
            trainable.append(module)
    network = precision.prepare_module(network.to(device))
    model = _data_parallel(network, context, device)
    optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=args.learning_rate)
    trainable_count = sum(p.numel() for p in network.parameters() if p.requires_grad)
    log.info("Full path: %s trainable parameters (%s), %s", f"{trainable_count:,}",
             "head + last backbone block" if args.unfreeze_last_block else "head", precision.name)

    def loader(name, transform, shuffle):
        generator = torch.Generator().manual_seed(args.seed + context.rank) if shuffle else None
        return image_loader(splits[name], transform, args.batch_size, args.num_workers, shuffle, generator)

    train_loader = loader("train", classifier.train_transform(args.backbone), True)
    valid_loader = loader("valid", classifier.eval_transform(args.backbone), False)
    test_loader = loader("test", classifier.eval_transform(args.backbone), False)
    history, best_epoch = fit(model, lambda: iter(train_loader), lambda: iter(valid_loader), optimizer, trainable,
                              network, args, context, precision, device)
    test = evaluate(network, test_loader, context, precision, device)
    network = network.to(memory_format=torch.contiguous_format)
    return TrainingResult(history, best_epoch, test, network, {})


# ---------------------------------------------------------------------------------------------------- job


def _agreed(context: DistributedContext, action):
    """Run ``action`` on every rank; if it fails with a user-facing error on any rank, fail on all of them."""
    try:
        result, message = action(), None
    except (DataError, DistributedSetupError, classifier.WeightsUnavailableError) as error:
        result, message = error, str(error)
    messages = gather_objects(context, message)
    if isinstance(result, Exception):
        raise result
    failed = [(rank, text) for rank, text in enumerate(messages) if text is not None]
    if failed:
        rank, text = failed[0]
        raise DataError(f"rank {rank} failed: {text}")
    return result


def load_data(args, context: DistributedContext):
    """Class names and this rank's part of each split (its own channel under sharding, else every n-th image)."""
    if context.enabled and args.data_sharded:
        def local_classes():
            root = resolve_data_dir(args.data_dir)
            return find_classes(root / "train") if (root / "train").is_dir() else []
        class_names = sorted(set().union(*gather_objects(context, _agreed(context, local_classes))))
        class_names, splits = _agreed(context, lambda: load_splits(args.data_dir, class_names or None))
        how = "the channel's own shard"
    else:
        class_names, full = _agreed(context, lambda: load_splits(args.data_dir))
        if len({tuple(names) for names in gather_objects(context, class_names)}) > 1:
            raise DataError("hosts see different class folders in train/; if each host holds its own part of the "
                            "data, pass --data-sharded")
        splits = {name: split.shard(context.rank, context.world_size) for name, split in full.items()}
        if context.enabled:
            how = f"images {context.rank}, {context.rank + context.world_size}, ... of each split"
            log.info("Data shard of rank %d of %d: train %d of %d images, valid %d of %d, test %d of %d",
                     context.rank, context.world_size, *(n for name in splits
                                                         for n in (len(splits[name]), len(full[name]))))
        else:
            how = "all images"
    log.info("Data: %d classes; train %d, valid %d, test %d images on this host (%s)", len(class_names),
             len(splits["train"]), len(splits["valid"]), len(splits["test"]), how)
    return class_names, splits


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_logging(args) -> None:
    """One line per record on stdout; with several hosts each line names its host (logs are per host)."""
    try:
        several_hosts = len(parse_hosts(args.hosts)) > 1
    except DistributedSetupError:
        several_hosts = False
    prefix = f"[{args.current_host}] " if several_hosts and args.current_host else ""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format=f"%(asctime)s %(levelname)s {prefix}%(message)s")


def run(args) -> int:
    seed_everything(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    hosts = parse_hosts(args.hosts)
    current_host = args.current_host or (hosts[0] if len(hosts) == 1 else "")
    if len(hosts) > 1 and not current_host:
        raise DistributedSetupError(f"--current-host (SM_CURRENT_HOST) is required with several hosts {hosts}")
    if not hosts:
        hosts = [current_host or socket.gethostname()]
        current_host = hosts[0]
    spec = cluster_spec(hosts, current_host, args.master_port, args.master_addr or None,
                        parse_host_addresses(args.host_addresses))
    context = init_distributed(spec, device, args.dist_timeout)
    try:
        return train_job(args, context, device)
    finally:
        shutdown(context)


def _job_precision(args, device, splits: dict, full_path: bool):
    """The backbone's arithmetic for this job: ``--precision`` resolved for the device and the number of images
    (``auto`` weighs compilation's one-off cost); a backbone being trained (full path) runs eager."""
    precision = choose_precision(args.precision, device, sum(len(split) for split in splits.values()))
    return FP32_CHANNELS_LAST if full_path and precision.compiled else precision


def extraction_job(args, context: DistributedContext, device) -> int:
    """Backbone features of every split, once, written with the backbone's weights to the model dir."""
    if context.enabled:
        raise DataError(f"--extract-features-only runs on one host; the job has {context.world_size}")
    class_names, splits = load_data(args, context)
    precision = _job_precision(args, device, splits, full_path=False)
    log.info("Extracting %s features of train/valid/test on %s in %s", args.backbone, device, precision.name)
    backbone, _ = classifier.build_backbone(args.backbone)
    cache = FeatureCache(args.feature_cache_dir)
    transform = classifier.eval_transform(args.backbone)
    weights = classifier.PRETRAINED_WEIGHTS[args.backbone]
    prepared = precision.prepare_module(backbone.to(device))
    features, labels, key_material, extraction = {}, {}, {}, {}
    for name, split in splits.items():
        result = cached_features(cache, args.backbone, weights, prepared, split, transform, device, precision,
                                 args.num_workers)
        features[name], labels[name] = result.features, split_labels(split)
        key_material[name] = result.key
        extraction[name] = {"images": result.images, "seconds": result.seconds, "cache_hit": result.cache_hit,
                            "images_per_second": result.images_per_second}
    backbone_state = {key: value.contiguous().cpu()
                      for key, value in prepared.to(memory_format=torch.contiguous_format).state_dict().items()}
    manifest = write_feature_set(args.model_dir, backbone=args.backbone, weights=weights, precision=precision.name,
                                 class_names=class_names, features=features, labels=labels,
                                 backbone_state=backbone_state, key_material=key_material)
    log.info("Wrote %s features of %s images to %s", args.backbone,
             ", ".join(f"{len(labels[name])} {name}" for name in labels), manifest.parent)
    write_metrics(args.output_data_dir, {"backbone": args.backbone, "path": "extract-features-only",
                                         "precision": precision.name, "feature_extraction": extraction})
    return 0


def train_job(args, context: DistributedContext, device) -> int:
    full_path = args.augment or args.unfreeze_last_block
    if args.extract_features_only:
        return extraction_job(args, context, device)
    if args.features_dir and not full_path:
        feature_set = _agreed(context, lambda: read_feature_set(args.features_dir))
        if feature_set.backbone != args.backbone:
            raise DataError(f"the features in {args.features_dir} were computed with {feature_set.backbone}, "
                            f"not --backbone {args.backbone}")
        log.info("Training %s head on %s: features channel (backbone computed them in %s; it is not built here), "
                 "%d host(s)", args.backbone, device, feature_set.precision, context.world_size)
        class_names, precision_name = feature_set.class_names, feature_set.precision
        result, path = train_on_feature_set(args, context, device, feature_set), "features-channel"
    else:
        if args.features_dir:
            log.info("Full path trains from images; the features channel %s is not used", args.features_dir)
        class_names, splits = load_data(args, context)
        precision = _job_precision(args, device, splits, full_path)
        log.info("Training %s on %s: %s path, backbone in %s, %d host(s)", args.backbone, device,
                 "full (augmented)" if full_path else "cached-feature", precision.name, context.world_size)
        backbone, feature_dim = _agreed(context, lambda: classifier.build_backbone(args.backbone))
        train = train_full if full_path else train_on_cached_features
        result = train(args, context, device, backbone, feature_dim, class_names, splits, precision)
        precision_name, path = precision.name, "full" if full_path else "cached-features"
    log.info("Testing Loss: %.6g", result.test.loss)
    log.info("Testing Accuracy: %.6f", result.test.accuracy)
    if not context.is_main:
        return 0
    config = classifier.model_config(args.backbone, len(class_names), args.hidden_units, precision_name)
    model = result.model.cpu() if isinstance(result.model, nn.Module) else result.model
    classifier.save_model(args.model_dir, model, class_names, config)
    metrics = {
        "backbone": args.backbone,
        "path": path,
        "precision": precision_name,
        "world_size": context.world_size,
        "hyperparameters": {"learning_rate": args.learning_rate, "batch_size": args.batch_size,
                            "epochs": args.epochs, "patience": args.patience, "hidden_units": args.hidden_units,
                            "dropout": args.dropout, "seed": args.seed},
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "history": result.history,
        "test": {"loss": result.test.loss, "accuracy": result.test.accuracy, "images": result.test.images},
        "feature_extraction": result.extraction,
    }
    written = [write_metrics(args.output_data_dir, metrics).name]
    try:
        written.append(plot_training_curve(args.output_data_dir, result.history, result.best_epoch).name)
    except ImportError as error:
        log.warning("No training curve plot: matplotlib is not installed (%s)", error)
    log.info("Wrote %s to %s", " and ".join(written), args.output_data_dir)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    configure_logging(args)
    if unknown:
        log.warning("Ignoring unrecognised arguments: %s", " ".join(unknown))
    try:
        return run(args)
    except (DataError, DistributedSetupError) as error:
        parser.error(str(error))
    except classifier.WeightsUnavailableError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
