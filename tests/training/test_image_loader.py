"""The loaders of training and extraction: every image once, in order, with or without decoding workers; a worker
that stalls fails the job instead of hanging it."""

import torch

import classifier
from image_data import LOADER_STALL_SECONDS, image_loader, load_splits


def _labels(loader) -> list[int]:
    return [int(label) for _, labels in loader for label in labels]


def test_a_loader_with_workers_gives_the_same_batches_as_one_without(dog_images):
    _, splits = load_splits(dog_images)
    transform = classifier.eval_transform("efficientnet_lite0")
    in_process = image_loader(splits["valid"], transform, batch_size=4, num_workers=0)
    with_workers = image_loader(splits["valid"], transform, batch_size=4, num_workers=1)
    assert _labels(with_workers) == _labels(in_process) == [sample.label for sample in splits["valid"].samples]
    first = next(iter(with_workers))[0]
    assert torch.equal(first, next(iter(in_process))[0])


def test_only_a_loader_with_workers_waits_a_bounded_time_for_a_batch(dog_images):
    _, splits = load_splits(dog_images)
    transform = classifier.eval_transform("efficientnet_lite0")
    assert image_loader(splits["test"], transform, batch_size=4, num_workers=1).timeout == LOADER_STALL_SECONDS
    assert image_loader(splits["test"], transform, batch_size=4, num_workers=0).timeout == 0
