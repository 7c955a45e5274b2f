"""A small, learnable, generated image data set in the dogImages layout (``train/ valid/ test/`` class folders).

The real dogImages set cannot be downloaded here, and tests, the local runtime and the demo need data that
a frozen ImageNet backbone separates well. Each class is a fixed combination of a shape, a colour palette and a
background texture (three independent residues of the class index, so neighbouring classes differ in all
three); every image draws its own position, scale, rotation, colour jitter and background noise. Folder names
are the real dogImages ones for the first ten classes (``001.Affenpinscher`` ...), ``NNN.Breed_NNN`` after.

Generation is deterministic: each image depends only on ``(seed, split, class, index)``, so asking for more
images per class keeps the existing ones. Pillow draws and encodes; a few hundred images take about a second.

Run ``python -m pawflow.sample_data OUT_DIR`` (``--help`` for the sizes).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
DOG_IMAGES_BREEDS = (
    "Affenpinscher",
    "Afghan_hound",
    "Airedale_terrier",
    "Akita",
    "Alaskan_malamute",
    "American_eskimo_dog",
    "American_foxhound",
    "American_staffordshire_terrier",
    "American_water_spaniel",
    "Anatolian_shepherd_dog",
)
SHAPES = ("disc", "square", "triangle", "star", "cross", "ring", "bars")
# (main colour, second colour): the shape is filled with the first and outlined/patterned with the second.
PALETTES = (
    ((220, 40, 40), (250, 220, 60)),
    ((40, 90, 220), (120, 230, 250)),
    ((30, 170, 60), (200, 250, 120)),
    ((150, 50, 190), (250, 150, 210)),
    ((240, 140, 20), (110, 60, 20)),
)
BACKGROUNDS = ("grey_noise", "gradient", "checker", "speckle")
# 7, 5 and 4 are pairwise coprime: classes 0..139 all get distinct (shape, palette, background) triples.
MAX_CLASSES = len(SHAPES) * len(PALETTES) * len(BACKGROUNDS)
MANIFEST = "sample_data.json"
_SPLIT_STREAM = {"train": 0, "valid": 1, "test": 2}


def class_folder_name(index: int) -> str:
    """The dogImages-style folder name of class ``index`` (0-based): ``001.Affenpinscher``, ``011.Breed_011``."""
    number = index + 1
    breed = DOG_IMAGES_BREEDS[index] if index < len(DOG_IMAGES_BREEDS) else f"Breed_{number:03d}"
    return f"{number:03d}.{breed}"


def generate_dog_images(
    out_dir,
    num_classes: int = 5,
    train_per_class: int = 12,
    valid_per_class: int = 4,
    test_per_class: int = 4,
    image_size: int = 96,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write the data set under ``out_dir`` and return its path.

    :param out_dir: folder that receives ``train/``, ``valid/``, ``test/`` and a small ``sample_data.json``.
    :param num_classes: number of class folders, 1 to 140.
    :param train_per_class: images per class in ``train/`` (likewise ``valid_per_class``, ``test_per_class``).
    :param image_size: side of the square JPEGs in pixels, 32 to 1024.
    :param seed: the same seed and sizes give the same files.
    :param overwrite: replace an existing data set generated with other parameters; without it that is an error.
        A folder already holding this exact data set is left as it is.
    """
    if not 1 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be between 1 and {MAX_CLASSES}, got {num_classes}")
    counts = {"train": train_per_class, "valid": valid_per_class, "test": test_per_class}
    for split, count in counts.items():
        if count < 1:
            raise ValueError(f"{split}_per_class must be at least 1, got {count}")
    if not 32 <= image_size <= 1024:
        raise ValueError(f"image_size must be between 32 and 1024 pixels, got {image_size}")

    out = Path(out_dir)
    parameters = {"num_classes": num_classes, **{f"{s}_per_class": c for s, c in counts.items()},
                  "image_size": image_size, "seed": seed}
    if _already_generated(out, parameters):
        log.info("Sample data set already present in %s", out)
        return out
    existing = [out / split for split in SPLITS if (out / split).exists()]
    if existing:
        if not overwrite:
            raise FileExistsError(
                f"{out} already holds {', '.join(p.name + '/' for p in existing)} from other data; "
                "choose an empty folder or pass overwrite=True (--overwrite) to replace them"
            )
        for path in existing:
            shutil.rmtree(path)
    (out / MANIFEST).unlink(missing_ok=True)

    for split, count in counts.items():
        for class_index in range(num_classes):
            folder = out / split / class_folder_name(class_index)
            folder.mkdir(parents=True, exist_ok=True)
            breed = class_folder_name(class_index).split(".", 1)[1]
            for image_index in range(count):
                rng = np.random.default_rng([seed, _SPLIT_STREAM[split], class_index, image_index])
                image = render_image(class_index, image_size, rng)
                image.save(folder / f"{breed}_{image_index + 1:05d}.jpg", format="JPEG", quality=90)
    (out / MANIFEST).write_text(json.dumps(parameters, indent=2, sort_keys=True) + "\n")
    log.info("Generated %d classes x %s images in %s", num_classes, counts, out)
    return out


def _already_generated(out: Path, parameters: dict) -> bool:
    try:
        return json.loads((out / MANIFEST).read_text()) == parameters
    except (OSError, ValueError):
        return False


def render_image(class_index: int, size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one image of class ``class_index``: its background, then its shape at a random pose."""
    shape = SHAPES[class_index % len(SHAPES)]
    main, second = (_jitter(colour, rng) for colour in PALETTES[class_index % len(PALETTES)])
    image = _background(BACKGROUNDS[class_index % len(BACKGROUNDS)], size, rng)
    draw = ImageDraw.Draw(image)
    radius = size * rng.uniform(0.22, 0.38)
    centre = rng.uniform(radius, size - radius, 2)
    angle = rng.uniform(0, 2 * math.pi)
    _draw_shape(draw, shape, centre, radius, angle, main, second)
    return image


def _jitter(colour, rng):
    return tuple(int(np.clip(channel + rng.integers(-25, 26), 0, 255)) for channel in colour)


def _background(style: str, size: int, rng: np.random.Generator) -> Image.Image:
    if style == "grey_noise":
        pixels = rng.normal(128, 30, (size, size, 1)).repeat(3, axis=2)
    elif style == "gradient":
        top, bottom = rng.uniform(30, 90, 3), rng.uniform(160, 230, 3)
        ramp = np.linspace(0, 1, size)[:, None, None]
        pixels = top + (bottom - top) * ramp + rng.normal(0, 8, (size, size, 3))
    elif style == "checker":
        cell = max(4, size // int(rng.integers(6, 10)))
        offset = rng.integers(0, cell, 2)
        ys, xs = np.indices((size, size))
        checks = (((ys + offset[0]) // cell + (xs + offset[1]) // cell) % 2)[..., None]
        pixels = np.where(checks, 200, 70) + rng.normal(0, 10, (size, size, 3))
    else:  # speckle: a pale field with dark dots
        pixels = np.full((size, size, 3), 215.0) + rng.normal(0, 6, (size, size, 3))
        dots = rng.random((size, size)) < 0.06
        pixels[dots] = rng.uniform(0, 60, (int(dots.sum()), 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _polygon(centre, radius, angle, corners, inner=None):
    points = []
    steps = corners * (2 if inner else 1)
    for step in range(steps):
        r = radius if inner is None or step % 2 == 0 else radius * inner
        theta = angle + 2 * math.pi * step / steps
        points.append((centre[0] + r * math.cos(theta), centre[1] + r * math.sin(theta)))
    return points


def _draw_shape(draw, shape, centre, radius, angle, main, second):
    cx, cy = centre
    outline = max(2, int(radius / 8))
    if shape == "disc":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=main, outline=second, width=outline)
    elif shape == "square":
        draw.polygon(_polygon(centre, radius, angle, 4), fill=main, outline=second, width=outline)
    elif shape == "triangle":
        draw.polygon(_polygon(centre, radius, angle, 3), fill=main, outline=second, width=outline)
    elif shape == "star":
        draw.polygon(_polygon(centre, radius, angle, 5, inner=0.45), fill=main, outline=second, width=outline)
    elif shape == "cross":
        arm = radius * 0.35
        for theta in (angle, angle + math.pi / 2):
            dx, dy = math.cos(theta), math.sin(theta)
            px, py = -dy * arm, dx * arm
            bar = [(cx + dx * radius + px, cy + dy * radius + py), (cx + dx * radius - px, cy + dy * radius - py),
                   (cx - dx * radius - px, cy - dy * radius - py), (cx - dx * radius + px, cy - dy * radius + py)]
            draw.polygon(bar, fill=main)
        draw.ellipse((cx - arm, cy - arm, cx + arm, cy + arm), fill=second)
    elif shape == "ring":
        width = max(3, int(radius * 0.35))
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=main, width=width)
        inner = radius - width
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), outline=second, width=max(1, width // 3))
    else:  # bars: parallel stripes alternating the two colours inside a rotated square
        dx, dy = math.cos(angle), math.sin(angle)
        stripes = 6
        for index in range(stripes):
            lo = -radius + 2 * radius * index / stripes
            hi = lo + 2 * radius / stripes
            band = [(cx + dx * lo - dy * radius, cy + dy * lo + dx * radius),
                    (cx + dx * hi - dy * radius, cy + dy * hi + dx * radius),
                    (cx + dx * hi + dy * radius, cy + dy * hi - dx * radius),
                    (cx + dx * lo + dy * radius, cy + dy * lo - dx * radius)]
            draw.polygon(band, fill=main if index % 2 == 0 else second)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pawflow.sample_data",
        description="Generate a small learnable image data set in the dogImages layout (train/ valid/ test/).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("out_dir", type=Path, help="folder to write train/, valid/ and test/ into")
    parser.add_argument("--classes", type=int, default=5, help=f"number of classes (1-{MAX_CLASSES})")
    parser.add_argument("--train-per-class", type=int, default=12, help="training images per class")
    parser.add_argument("--valid-per-class", type=int, default=4, help="validation images per class")
    parser.add_argument("--test-per-class", type=int, default=4, help="test images per class")
    parser.add_argument("--image-size", type=int, default=96, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files")
    parser.add_argument("--overwrite", action="store_true", help="replace a data set generated with other settings")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = generate_dog_images(
            args.out_dir, num_classes=args.classes, train_per_class=args.train_per_class,
            valid_per_class=args.valid_per_class, test_per_class=args.test_per_class,
            image_size=args.image_size, seed=args.seed, overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    total = args.classes * (args.train_per_class + args.valid_per_class + args.test_per_class)
    print(f"Wrote {total} images in {args.classes} classes to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
