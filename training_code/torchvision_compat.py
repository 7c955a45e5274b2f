"""Import torchvision, declaring its missing operator schemas when (and only when) that is what fails.

The PyPI torchvision 0.28.0 wheel is a CUDA build; beside a CPU-only torch 2.13.0 its C++ extension
does not load, and ``import torchvision`` stops with ``operator torchvision::nms does not exist``
because Python-side fake kernels are registered for operators nobody declared. Declaring the
``torchvision::nms`` and ``qnms`` schemas first lets the import finish: models, transforms and
ImageFolder work; the C++ ops themselves (nms) and ``torchvision.io`` do not, and pawflow uses neither
(images are decoded with Pillow). On a matching torch/torchvision pair (SageMaker's containers, a CUDA
box) the first import succeeds and nothing here runs.

Run as a script to check the installed pair: ``python training_code/torchvision_compat.py``.
"""

import sys

_MISSING_OPERATOR = "operator torchvision::nms does not exist"
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_declared = []  # keeps the torch.library.Library alive: dropping it would undeclare the schemas


def import_torchvision():
    """Return the ``torchvision`` module, working around the CPU-torch/CUDA-torchvision schema gap."""
    try:
        import torchvision
    except RuntimeError as error:
        if _MISSING_OPERATOR not in str(error):
            raise
        for name in [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]:
            del sys.modules[name]
        import torch

        library = torch.library.Library("torchvision", "DEF")
        for schema in _SCHEMAS:
            library.define(schema)
        _declared.append(library)
        import torchvision
    return torchvision


if __name__ == "__main__":
    module = import_torchvision()
    from torchvision import datasets, models, transforms  # noqa: F401  (the parts pawflow uses)

    shim = "with the nms schema declared" if _declared else "as is"
    print(f"torchvision {module.__version__} imports {shim}")
