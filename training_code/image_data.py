"""The training data on disk: ``train/ valid/ test/`` splits of class folders of images (the dogImages layout).

Images are listed in a fixed order (class, then file name) and decoded with Pillow. Problems a user can fix
(missing folder, missing split, no classes, no images, a class absent from ``train/``) raise ``DataError``
with a message naming the path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


class DataError(ValueError):
    """The data directory is not usable as it is; the message says what to fix."""


@dataclass(frozen=True)
class Sample:
    """One image: its path relative to the split folder and its class index."""

    relative_path: str
    label: int


@dataclass(frozen=True)
class Split:
    """The images of one split, in a fixed order."""

    name: str
    root: Path
    samples: tuple[Sample, ...]

    def __len__(self) -> int:
        return len(self.samples)

    def shard(self, rank: int, world_size: int) -> "Split":
        """Every ``world_size``-th image starting at ``rank``: disjoint shards that together cover the split."""
        return Split(self.name, self.root, self.samples[rank::world_size])


def resolve_data_dir(data_dir) -> Path:
    """The folder holding ``train/``: ``data_dir`` itself, or its only subfolder that has one (an unzipped archive)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"data directory {root} does not exist (expected train/, valid/ and test/ inside it)")
    if (root / "train").is_dir():
        return root
    nested = [child for child in root.iterdir() if child.is_dir() and (child / "train").is_dir()]
    if len(nested) == 1:
        log.info("Using %s: the data set sits one folder below %s", nested[0], root)
        return nested[0]
    return root


def find_classes(split_dir: Path) -> list[str]:
    """Sorted names of the class folders in ``split_dir`` (hidden folders ignored)."""
    return sorted(entry.name for entry in split_dir.iterdir() if entry.is_dir() and not entry.name.startswith("."))


def list_split(root: Path, name: str, class_names: list[str]) -> Split:
    """The images of split ``name`` under ``root``, labelled by their folder's index in ``class_names``."""
    split_dir = root / name
    if not split_dir.is_dir():
        raise DataError(f"split folder {split_dir} is missing (expected {', '.join(s + '/' for s in SPLITS)})")
    index = {class_name: position for position, class_name in enumerate(class_names)}
    present = find_classes(split_dir)
    unknown = [class_name for class_name in present if class_name not in index]
    if unknown:
        raise DataError(f"{split_dir} has class folders that train/ lacks: {', '.join(unknown[:5])}")
    if not present:
        raise DataError(f"{split_dir} has no class folders (expected e.g. {split_dir}/001.Affenpinscher/*.jpg)")
    samples = []
    for class_name in present:
        for path in sorted((split_dir / class_name).iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
                samples.append(Sample(f"{class_name}/{path.name}", index[class_name]))
    if not samples:
        raise DataError(f"{split_dir} holds no images ({', '.join(IMAGE_EXTENSIONS)}) in its class folders")
    return Split(name, split_dir, tuple(samples))


def load_splits(data_dir, class_names: list[str] | None = None) -> tuple[list[str], dict[str, Split]]:
    """``(class_names, {"train": Split, "valid": Split, "test": Split})`` for ``data_dir``.

    ``class_names`` defaults to the class folders of ``train/``; pass the agreed list when shards of one data set
    sit on several hosts.
    """
    root = resolve_data_dir(data_dir)
    if not (root / "train").is_dir():
        raise DataError(f"split folder {root / 'train'} is missing (expected train/, valid/ and test/ in {root})")
    if class_names is None:
        class_names = find_classes(root / "train")
    if not class_names:
        raise DataError(f"{root / 'train'} has no class folders (expected e.g. train/001.Affenpinscher/*.jpg)")
    splits = {name: list_split(root, name, class_names) for name in SPLITS}
    return class_names, splits


def load_rgb(path: Path) -> Image.Image:
    """Decode ``path`` as an RGB image, or raise ``DataError`` naming the file."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot read image {path}: {error}") from None


class ImageDataset(torch.utils.data.Dataset):
    """``(image tensor, label)`` pairs of a split, decoded with Pillow and passed through ``transform``."""

    def __init__(self, split: Split, transform):
        self.split = split
        self.transform = transform

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        sample = self.split.samples[index]
        return self.transform(load_rgb(self.split.root / sample.relative_path)), sample.label


#: Seconds a loader waits for its decoding workers' next batch before the job fails with torch's "DataLoader timed
#: out" error instead of hanging (a batch of small images decodes in well under a second).
LOADER_STALL_SECONDS = 600


def image_loader(split: Split, transform, batch_size: int, num_workers: int, shuffle: bool = False,
                 generator: torch.Generator | None = None) -> torch.utils.data.DataLoader:
    """Batches of ``split`` decoded by ``num_workers`` processes (in this one with 0); a stalled worker fails the
    job after ``LOADER_STALL_SECONDS``."""
    return torch.utils.data.DataLoader(
        ImageDataset(split, transform), batch_size=batch_size, shuffle=shuffle, generator=generator,
        num_workers=num_workers, timeout=LOADER_STALL_SECONDS if num_workers else 0,
    )
