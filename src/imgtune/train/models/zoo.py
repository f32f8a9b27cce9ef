"""The twelve Azure AutoML image-classification model names and their builders.

Reference parameter counts (1000 classes), and where they were confirmed:

==============  =============================  ============  =============================================
Azure name      reference                      parameters    source
==============  =============================  ============  =============================================
mobilenetv2     torchvision ``mobilenet_v2``      3,504,872  torchvision docs (MobileNet_V2_Weights num_params)
resnet18        torchvision ``resnet18``         11,689,512  torchvision docs (ResNet18_Weights)
resnet34        torchvision ``resnet34``         21,797,672  torchvision docs (ResNet34_Weights)
resnet50        torchvision ``resnet50``         25,557,032  torchvision docs (ResNet50_Weights)
resnet101       torchvision ``resnet101``        44,549,160  computed from torchvision's resnet.py
                                                             definition (docs page not found; docs round
                                                             it to 44.5M)
resnet152       torchvision ``resnet152``        60,192,808  torchvision docs (ResNet152_Weights)
seresnext       timm ``seresnext50_32x4d``       27,559,896  imgclsmob / pretrainedmodels test asserts for
                                                             se_resnext50_32x4d (same net; timm card 27.6M)
resnest50       timm ``resnest50d``              27,483,240  imgclsmob test asserts / ResNeSt (torch) counts
                                                             for ResNeSt-50 (timm card 27.5M)
resnest101      timm ``resnest101e``             48,275,016  same sources, ResNeSt-101 (timm card 48.3M)
vits16r224      timm ``vit_small_patch16_224``   22,050,664  DeiT-S count in public benchmarks; also
                                                             computed from timm's VisionTransformer defn
vitb16r224      torchvision ``vit_b_16``         86,567,656  torchvision docs (ViT_B_16_Weights)
vitl16r224      torchvision ``vit_l_16``        304,326,632  torchvision docs (ViT_L_16_Weights)
==============  =============================  ============  =============================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from imgtune.errors import Problem, ValidationError, closest
from imgtune.spec.models import MODELS, custom_model_problem, import_builder, model_spec

from .mobilenet import MobileNetV2
from .resnest import ResNestBottleneck
from .resnet import BasicBlock, Bottleneck, ResNet
from .vit import VisionTransformer

__all__ = ["MODEL_NAMES", "count_params", "create_model", "layer_groups"]


#: Azure's names, in the spec's order; every one has a builder below (tested).
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def _ch(c: int, width: float, minimum: int = 4) -> int:
    return c if width == 1.0 else max(minimum, int(round(c * width)))


def _resnet(block: type, layers: tuple[int, ...]) -> Callable[..., nnx.Module]:
    def build(num_classes: int, width: float, **kw: Any) -> nnx.Module:
        return ResNet(block, layers, num_classes, channels=tuple(_ch(c, width) for c in (64, 128, 256, 512)),
                      stem_width=_ch(64, width), **kw)
    return build


def _seresnext(num_classes: int, width: float, **kw: Any) -> nnx.Module:
    # width < 1: planes >= 16 keeps floor(planes * 4 / 64) >= 1; cardinality shrinks with width.
    card = 32 if width == 1.0 else max(1, int(round(32 * width)))
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes,
                  channels=tuple(_ch(c, width, 16) for c in (64, 128, 256, 512)), stem_width=_ch(64, width, 8),
                  block_kwargs=dict(cardinality=card, base_width=4, attn=True), **kw)


def _resnest(layers: tuple[int, ...], stem_width: int) -> Callable[..., nnx.Module]:
    def build(num_classes: int, width: float, **kw: Any) -> nnx.Module:
        return ResNet(ResNestBottleneck, layers, num_classes,
                      channels=tuple(_ch(c, width, 8) for c in (64, 128, 256, 512)),
                      stem_width=_ch(stem_width, width, 8), deep_stem=True, avg_down=True,
                      block_kwargs=dict(radix=2, cardinality=1, base_width=64, avd=True), **kw)
    return build


def _vit(dim: int, depth: int, heads: int, flavor: str) -> Callable[..., nnx.Module]:
    def build(num_classes: int, width: float, **kw: Any) -> nnx.Module:
        d = dim if width == 1.0 else max(1, int(round(dim * width / heads))) * heads
        return VisionTransformer(num_classes, dim=d, depth=depth, heads=heads, mlp_dim=4 * d, flavor=flavor, **kw)
    return build


_BUILDERS: dict[str, Callable[..., nnx.Module]] = {
    "mobilenetv2": lambda num_classes, width, **kw: MobileNetV2(num_classes, width=width, **kw),
    "resnet18": _resnet(BasicBlock, (2, 2, 2, 2)),
    "resnet34": _resnet(BasicBlock, (3, 4, 6, 3)),
    "resnet50": _resnet(Bottleneck, (3, 4, 6, 3)),
    "resnet101": _resnet(Bottleneck, (3, 4, 23, 3)),
    "resnet152": _resnet(Bottleneck, (3, 8, 36, 3)),
    "seresnext": _seresnext,
    "resnest50": _resnest((3, 4, 6, 3), 32),
    "resnest101": _resnest((3, 4, 23, 3), 64),
    "vits16r224": _vit(384, 12, 6, "timm"),
    "vitb16r224": _vit(768, 12, 12, "torchvision"),
    "vitl16r224": _vit(1024, 24, 16, "torchvision"),
}


def create_model(
    name: str,
    num_classes: int,
    *,
    rngs: nnx.Rngs,
    dtype=jnp.float32,
    param_dtype=jnp.float32,
    width: float = 1.0,
) -> nnx.Module:
    """Builds the Flax NNX model for an Azure AutoML model name.

    The model is called as ``model(x, train)`` with ``x`` NHWC float32 (ImageNet-normalised)
    and returns logits ``(batch, num_classes)``. ``train=True`` uses batch statistics in
    BatchNorm (updating the running averages) and enables dropout (``dropout`` RNG stream;
    only ``mobilenetv2`` has dropout). CNNs take any input size their strides allow; ViTs
    take sides that are multiples of 16 (position embeddings resampled, see :mod:`.vit`).

    Args:
        name: One of :data:`MODEL_NAMES`.
        num_classes: Number of output classes.
        rngs: Random streams for initialisation (``params``) and dropout.
        dtype: Compute dtype (BatchNorm/LayerNorm statistics and softmax stay float32).
        param_dtype: Parameter dtype.
        width: Channel/hidden-size multiplier; below 1 only for fast tests of machinery.
            ``1.0`` is the published architecture.

    Returns:
        The model.

    Raises:
        ValidationError: Unknown ``name`` or a bad ``num_classes``/``width``.

    Example:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> model = create_model("resnet18", 10, rngs=nnx.Rngs(0), width=0.125)
        >>> model(jnp.zeros((2, 32, 32, 3)), train=False).shape
        (2, 10)
    """
    problems = []
    spec = model_spec(name) if name not in _BUILDERS else None
    if spec is not None and spec.builder is not None:  # one's own model (imgtune.spec.models.custom_model)
        return _custom(spec.builder, num_classes, rngs=rngs, dtype=dtype)
    if spec is not None:  # a Hugging Face Hub id: its architecture's Azure name
        name = spec.name
    problem = custom_model_problem(name)
    if problem is not None:
        problems.append(Problem("model_name", problem))
    elif name not in _BUILDERS:
        hint = closest(name, MODEL_NAMES) if isinstance(name, str) else None
        did = f"; did you mean {hint!r}?" if hint else ""
        problems.append(Problem("model_name", f"unknown model {name!r}, expected one of {list(MODEL_NAMES)}{did}"))
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        problems.append(Problem("num_classes", f"must be a positive integer, got {num_classes!r}"))
    if not (isinstance(width, (int, float)) and 0.0 < width <= 1.0):
        problems.append(Problem("width", f"must be in (0, 1], got {width!r}"))
    if problems:
        raise ValidationError(problems)
    return _BUILDERS[name](num_classes, float(width), dtype=dtype, param_dtype=param_dtype, rngs=rngs)


def _custom(ref: str, num_classes: int, *, rngs: nnx.Rngs, dtype: Any) -> nnx.Module:
    build: Any = import_builder(ref)
    model = build(num_classes, rngs=rngs, dtype=dtype)
    if not isinstance(model, nnx.Module):
        raise ValidationError([Problem("model_name", f"{ref} returned {type(model).__name__}, not a flax.nnx.Module")])
    return model


def layer_groups(model: nnx.Module) -> list[list[tuple]]:
    """Ordered groups of state-path prefixes for Azure's ``layers_to_freeze``.

    Each group is a list of path prefixes (tuples as in :func:`flax.nnx.to_flat_state`); a
    variable belongs to a group when its path starts with one of the group's prefixes.
    Freezing the first ``k`` layers means freezing groups ``0 .. k-1``. The classifier head
    is in no group.

    * mobilenetv2: ``features.0`` .. ``features.18`` (19 groups)
    * resnet*, seresnext, resnest*: stem (``conv1``, ``bn1``), ``layer1`` .. ``layer4`` (5)
    * ViT: patch embedding + class token + position embedding, then each block (13 or 25);
      the final LayerNorm is, like the head, in no group.

    Args:
        model: A model from :func:`create_model`.

    Returns:
        The groups, first layers first (none for one's own model without ``layer_groups()``).
    """
    groups = getattr(model, "layer_groups", None)
    return groups() if callable(groups) else []


def count_params(name: str, num_classes: int = 1000) -> int:
    """Number of trainable parameters of ``create_model(name, num_classes)``.

    Uses :func:`flax.nnx.eval_shape`: nothing is allocated or computed.

    Args:
        name: One of :data:`MODEL_NAMES`.
        num_classes: Number of output classes.

    Returns:
        The parameter count (BatchNorm running statistics excluded, as in PyTorch).
    """
    model = nnx.eval_shape(lambda: create_model(name, num_classes, rngs=nnx.Rngs(0)))
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param)))
