"""Backbone features computed once per image set and kept on disk, so head training never re-runs the backbone.

With the backbone frozen, an image's pooled features never change; only the small head trains. Features of a
split (or of one host's shard of it) are stored in one file named by a digest of everything they depend on:
backbone and its weights, preprocessing, precision, and the data (relative paths and content hashes of the
images, so a copy of the same data in another folder, or with new mtimes, still hits). A later trial or job on
the same machine with the same data loads the file instead of running the backbone again.

Files are written to a temporary name and renamed, so concurrent trials never read half a file. A cold entry
is filled once: extraction holds an exclusive ``flock`` on ``<key>.lock`` beside the entry, and a trial that
starts meanwhile waits for the lock, then loads what the first one stored. An unwritable cache folder only
costs the reuse (and the lock), never the job.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from image_data import Split, image_loader

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
EXTRACTION_BATCH_SIZE = 32
CACHE_ENV = "PAWFLOW_FEATURE_CACHE"


def default_cache_dir(environ=os.environ) -> str:
    """``$PAWFLOW_FEATURE_CACHE``, else ``<system temp>/pawflow-feature-cache`` (writable, shared on the machine)."""
    return environ.get(CACHE_ENV) or str(Path(tempfile.gettempdir()) / "pawflow-feature-cache")


def data_digest(split: Split) -> str:
    """SHA-256 over the split's relative paths, labels and file contents (blake2b per file)."""
    digest = hashlib.sha256()
    for sample in split.samples:
        with open(split.root / sample.relative_path, "rb") as handle:
            content = hashlib.file_digest(handle, "blake2b").hexdigest()
        digest.update(f"{sample.relative_path}\0{sample.label}\0{content}\n".encode())
    return digest.hexdigest()


@dataclass
class ExtractionResult:
    """Features of a split (float32, one row per sample, in sample order) and how they were obtained."""

    features: torch.Tensor
    cache_hit: bool
    seconds: float
    images: int
    path: Path | None
    key: dict  # what the features depend on (see ``entry_key``)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("inf")


class FeatureCache:
    """A folder of ``<digest>.pt`` feature files; ``directory=None`` disables caching."""

    def __init__(self, directory):
        self.directory = Path(directory) if directory else None

    def path_for(self, key_material: dict) -> Path | None:
        if self.directory is None:
            return None
        key = hashlib.sha256(json.dumps(key_material, sort_keys=True).encode()).hexdigest()[:32]
        return self.directory / f"{key}.pt"

    def load(self, path: Path | None, expected_rows: int) -> torch.Tensor | None:
        if path is None or not path.is_file():
            return None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            features = payload["features"]
        except Exception as error:  # noqa: BLE001 - a damaged file fails in many ways; recomputing is always safe
            log.warning("Ignoring unreadable feature cache file %s: %s", path, error)
            return None
        if features.shape[0] != expected_rows:
            log.warning("Ignoring feature cache file %s: %d rows, expected %d", path, features.shape[0], expected_rows)
            return None
        return features

    @contextlib.contextmanager
    def exclusive(self, path: Path | None):
        """Hold an exclusive lock on ``<entry>.lock`` while filling ``path``; waits while another process holds it.

        The kernel drops the lock when its holder exits, so a crashed trial never blocks the others. Without a
        cache, or where the lock file cannot be created, yields without locking.
        """
        if path is None:
            yield
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path.with_suffix(".lock"), "a+b")  # noqa: SIM115 - closed below, after the unlock
        except OSError as error:
            log.warning("Feature cache %s is not writable (%s); extracting without a lock", path.parent, error)
            yield
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("Waiting for another process to finish extracting the features for %s", path)
                start = time.perf_counter()
                fcntl.flock(handle, fcntl.LOCK_EX)
                log.info("Lock on %s acquired after %.2f s", path, time.perf_counter() - start)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def store(self, path: Path | None, features: torch.Tensor, key_material: dict) -> bool:
        if path is None:
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
            os.close(handle)
            torch.save({"features": features, "key": key_material}, temporary)
            os.replace(temporary, path)
        except OSError as error:
            log.warning("Feature cache %s is not writable (%s); continuing without storing features", path.parent, error)
            return False
        return True


def extract_features(backbone: torch.nn.Module, split: Split, transform, device: torch.device, precision,
                     num_workers: int = 0) -> torch.Tensor:
    """Run ``backbone`` over every image of ``split`` (no gradients) and return float32 features on the CPU."""
    if not len(split):  # a host's shard of a tiny split can be empty
        return torch.empty((0, backbone.feature_dim))
    loader = image_loader(split, transform, EXTRACTION_BATCH_SIZE, num_workers)
    backbone.eval()
    model = precision.inference_module(backbone)
    chunks = []
    with torch.inference_mode():
        for images, _ in loader:
            rows = len(images)
            if precision.fixed_batch_size and rows < EXTRACTION_BATCH_SIZE:  # one compiled shape, no recompile
                images = torch.cat([images, images.new_zeros((EXTRACTION_BATCH_SIZE - rows, *images.shape[1:]))])
            images = precision.prepare_input(images.to(device, non_blocking=True))
            with precision.autocast(device):
                chunks.append(model(images)[:rows].float().cpu())
    return torch.cat(chunks)


def entry_key(backbone_name: str, weights_id: str, split: Split, transform, precision) -> dict:
    """Everything a split's features depend on: the material a cache entry's name is the digest of."""
    return {
        "format": FORMAT_VERSION,
        "backbone": backbone_name,
        "weights": weights_id,
        "preprocessing": repr(transform),
        "precision": precision.name,
        "data": data_digest(split),
        "images": len(split),
    }


def cached_features(cache: FeatureCache, backbone_name: str, weights_id: str, backbone: torch.nn.Module,
                    split: Split, transform, device: torch.device, precision, num_workers: int = 0) -> ExtractionResult:
    """Features of ``split``: from the cache when a matching file exists, else extracted and stored.

    Only one process extracts a given entry at a time; the others wait for it and load its result.
    """
    start = time.perf_counter()
    key_material = entry_key(backbone_name, weights_id, split, transform, precision)
    path = cache.path_for(key_material)
    features = cache.load(path, len(split))
    if features is None:
        with cache.exclusive(path):
            features = cache.load(path, len(split))  # filled by the process this one waited for
            if features is None:
                features = extract_features(backbone, split, transform, device, precision, num_workers)
                stored = cache.store(path, features, key_material)
                seconds = time.perf_counter() - start
                log.info("Feature cache miss: extracted %s features of %d %s images in %.2f s (%.1f images/s, "
                         "%s)%s", backbone_name, len(split), split.name, seconds, len(split) / seconds,
                         precision.name, f"; stored in {path}" if stored else "")
                return ExtractionResult(features, False, seconds, len(split), path if stored else None, key_material)
    seconds = time.perf_counter() - start
    log.info("Feature cache hit: %s features of %d %s images loaded from %s in %.2f s",
             backbone_name, len(split), split.name, path, seconds)
    return ExtractionResult(features, True, seconds, len(split), path, key_material)
