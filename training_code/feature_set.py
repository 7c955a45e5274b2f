"""Backbone features of a whole data set as files: what an extraction job writes and head-only jobs read.

An extraction job (``train.py --extract-features-only``) runs the frozen backbone once over train/valid/test
and writes, into its model dir (SageMaker packs it as ``model.tar.gz``)::

    features.json    what the features are: backbone, weights, precision, classes, per-split digests and sizes
    train.pt ...     {"features": float32 (N, D), "labels": int64 (N,)} per split, in the data's sample order
    backbone.pth     the backbone's weights, so a head-only job can still write a complete, deployable model

Published under ``s3://<bucket>/features/<digest>/``, the folder becomes the ``features`` channel of tuning
trials and head-only training jobs (``SM_CHANNEL_FEATURES``), which then never build or run the backbone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from image_data import SPLITS, DataError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "features.json"
BACKBONE_STATE = "backbone.pth"


def write_feature_set(directory, *, backbone: str, weights: str, precision: str, class_names: list[str],
                      features: dict[str, torch.Tensor], labels: dict[str, torch.Tensor], backbone_state: dict,
                      key_material: dict[str, dict]) -> Path:
    """Write the split files, the backbone weights and, last, ``features.json``; return the manifest's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    splits = {}
    for name in SPLITS:
        torch.save({"features": features[name].float().contiguous(), "labels": labels[name].long()},
                   directory / f"{name}.pt")
        splits[name] = {"file": f"{name}.pt", "images": int(labels[name].numel()),
                        "data_digest": key_material[name]["data"], "preprocessing": key_material[name]["preprocessing"]}
    torch.save(backbone_state, directory / BACKBONE_STATE)
    manifest = {
        "format": FORMAT_VERSION,
        "backbone": backbone,
        "weights": weights,
        "precision": precision,
        "feature_dim": int(features["train"].shape[1]),
        "class_names": list(class_names),
        "splits": splits,
        "backbone_state": BACKBONE_STATE,
    }
    path = directory / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


@dataclass
class FeatureSet:
    """Features and labels of train/valid/test read from a features channel, and what they were computed with."""

    directory: Path
    manifest: dict
    features: dict[str, torch.Tensor]
    labels: dict[str, torch.Tensor]

    @property
    def backbone(self) -> str:
        return self.manifest["backbone"]

    @property
    def precision(self) -> str:
        return self.manifest["precision"]

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["class_names"])

    @property
    def feature_dim(self) -> int:
        return int(self.manifest["feature_dim"])

    def backbone_state(self) -> dict:
        """The backbone's weights as tensors (no module is built)."""
        return torch.load(self.directory / self.manifest["backbone_state"], map_location="cpu", weights_only=True)


def read_feature_set(directory) -> FeatureSet:
    """Read a features channel written by :func:`write_feature_set`; ``DataError`` says what is missing or wrong."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise DataError(f"features channel {directory} has no {MANIFEST} (expected the output of "
                        "train.py --extract-features-only)")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as error:
        raise DataError(f"{path} is not JSON: {error}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise DataError(f"{path} has format {manifest.get('format')!r}; this training code reads format {FORMAT_VERSION}")
    features, labels = {}, {}
    for name in SPLITS:
        entry = manifest["splits"][name]
        try:
            payload = torch.load(directory / entry["file"], map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as error:
            raise DataError(f"features channel {directory}: cannot read {entry['file']}: {error}") from None
        features[name], labels[name] = payload["features"], payload["labels"]
        if features[name].shape != (entry["images"], manifest["feature_dim"]) or labels[name].shape != (entry["images"],):
            raise DataError(f"features channel {directory}: {entry['file']} holds {tuple(features[name].shape)} "
                            f"features, expected ({entry['images']}, {manifest['feature_dim']})")
    if not (directory / manifest["backbone_state"]).is_file():
        raise DataError(f"features channel {directory} has no {manifest['backbone_state']}")
    log.info("Features channel %s: %s features (%s) of %s images", directory, manifest["backbone"],
             manifest["precision"], ", ".join(f"{len(labels[name])} {name}" for name in SPLITS))
    return FeatureSet(directory, manifest, features, labels)
