"""The one model table: every fact about Azure's twelve model names, in one place.

Validation (the allowed ``model_name`` values and the ViT crop rule), the compiler's
defaults (batch sizes and learning rates per task), AutoMode's portfolio, the trainer's
model zoo (family, reference, parameter count, ``layers_to_freeze`` groups) and the
generated docs all read this table; nothing else lists the models.

Example:
    >>> MODELS["vitb16r224"].vit, MODELS["vitb16r224"].batch_size
    (True, 48)
    >>> MODELS["resnet50"].learning_rate(multilabel=True)
    0.035
    >>> MODEL_NAMES[:3], VIT_MODELS
    (('mobilenetv2', 'resnet18', 'resnet34'), ('vits16r224', 'vitb16r224', 'vitl16r224'))
"""

from __future__ import annotations

import attrs

__all__ = ["AUTOMODE_PORTFOLIO", "CNN_MODELS", "DEFAULT_MODEL", "MODELS", "MODEL_NAMES", "ModelSpec", "VIT_MODELS"]


@attrs.frozen(kw_only=True)
class ModelSpec:
    """What an Azure model name stands for.

    Attributes:
        name: Azure AutoML's model name.
        family: ``mobilenetv2``, ``resnet``, ``seresnext``, ``resnest`` or ``vit``.
        reference: The reference implementation (library and builder name).
        params: The reference's parameter count at 1000 classes.
        layer_groups: How many groups ``layers_to_freeze`` counts (stem first).
        batch_size: Azure's default training and validation batch size.
        learning_rate_multiclass: Azure's default learning rate for multiclass jobs.
        learning_rate_multilabel: Azure's default learning rate for multilabel jobs.

    Example:
        >>> MODELS["vitb16r224"].family, MODELS["vitb16r224"].batch_size
        ('vit', 48)
    """

    name: str
    family: str
    reference: str
    params: int
    layer_groups: int
    batch_size: int
    learning_rate_multiclass: float
    learning_rate_multilabel: float

    @property
    def vit(self) -> bool:
        """A vision transformer: its training and validation crop sizes must be equal."""
        return self.family == "vit"

    def learning_rate(self, *, multilabel: bool) -> float:
        """Azure's default learning rate for the task."""
        return self.learning_rate_multilabel if multilabel else self.learning_rate_multiclass


def _cnn(name: str, family: str, reference: str, params: int, groups: int) -> ModelSpec:
    # Azure's defaults for every CNN: batch 78, learning rate 0.01 (multiclass) and 0.035 (multilabel).
    return ModelSpec(name=name, family=family, reference=reference, params=params, layer_groups=groups,
                     batch_size=78, learning_rate_multiclass=0.01, learning_rate_multilabel=0.035)


#: Azure's twelve built-in models, in the fact sheet's order.
MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    _cnn("mobilenetv2", "mobilenetv2", "torchvision mobilenet_v2", 3_504_872, 19),
    _cnn("resnet18", "resnet", "torchvision resnet18", 11_689_512, 5),
    _cnn("resnet34", "resnet", "torchvision resnet34", 21_797_672, 5),
    _cnn("resnet50", "resnet", "torchvision resnet50", 25_557_032, 5),
    _cnn("resnet101", "resnet", "torchvision resnet101", 44_549_160, 5),
    _cnn("resnet152", "resnet", "torchvision resnet152", 60_192_808, 5),
    _cnn("resnest50", "resnest", "timm resnest50d", 27_483_240, 5),
    _cnn("resnest101", "resnest", "timm resnest101e", 48_275_016, 5),
    _cnn("seresnext", "seresnext", "timm seresnext50_32x4d", 27_559_896, 5),
    ModelSpec(name="vits16r224", family="vit", reference="timm vit_small_patch16_224", params=22_050_664,
              layer_groups=13, batch_size=128, learning_rate_multiclass=0.0125, learning_rate_multilabel=0.025),
    ModelSpec(name="vitb16r224", family="vit", reference="torchvision vit_b_16", params=86_567_656,
              layer_groups=13, batch_size=48, learning_rate_multiclass=0.0125, learning_rate_multilabel=0.025),
    ModelSpec(name="vitl16r224", family="vit", reference="torchvision vit_l_16", params=304_326_632,
              layer_groups=25, batch_size=10, learning_rate_multiclass=0.001, learning_rate_multilabel=0.002),
)}

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
VIT_MODELS: tuple[str, ...] = tuple(m.name for m in MODELS.values() if m.vit)
CNN_MODELS: tuple[str, ...] = tuple(m.name for m in MODELS.values() if not m.vit)

#: The default ``model_name``. Azure's docs conflict (the how-to says ``vitb16r224``, the
#: reference ``seresnext``); imgtune uses ``seresnext``.
DEFAULT_MODEL = "seresnext"

#: AutoMode's ordered portfolio: (model_name, factor on the model's default learning rate).
#: Strong, cheap models first; a second learning rate for the two strongest; the big models last.
AUTOMODE_PORTFOLIO: tuple[tuple[str, float], ...] = (
    ("seresnext", 1.0),
    ("vitb16r224", 1.0),
    ("resnet50", 1.0),
    ("mobilenetv2", 1.0),
    ("vits16r224", 1.0),
    ("resnest50", 1.0),
    ("resnet18", 1.0),
    ("seresnext", 1 / 3),
    ("vitb16r224", 1 / 3),
    ("resnet101", 1.0),
    ("resnest101", 1.0),
    ("vitl16r224", 1.0),
    ("resnet34", 1.0),
    ("resnet152", 1.0),
)
