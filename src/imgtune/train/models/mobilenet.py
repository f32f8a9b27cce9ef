"""MobileNetV2, as torchvision's ``mobilenet_v2`` (ReLU6, BN eps 1e-5, dropout 0.2 before the head).

Attribute layout mirrors torchvision's ``features.{i}`` / ``features.{i}.conv.{j}`` /
``classifier.1`` keys.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from .layers import BatchNorm, Conv2d, Dropout, Linear, Seq, conv_bn_act

__all__ = ["InvertedResidual", "MobileNetV2", "make_divisible_tv"]

# (expand ratio t, channels c, repeats n, stride s) -- torchvision's inverted_residual_setting
SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def make_divisible_tv(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision ``_make_divisible``."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class InvertedResidual(nnx.Module):
    """torchvision ``InvertedResidual``: [1x1 expand] -> 3x3 depthwise -> 1x1 linear, residual if shapes allow."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int, *, dtype=jnp.float32,
                 param_dtype=jnp.float32, rngs: nnx.Rngs):
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nnx.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_act(inp, hidden, 1, act="relu6", rngs=rngs, **kw))
        layers += [
            conv_bn_act(hidden, hidden, 3, stride=stride, groups=hidden, act="relu6", rngs=rngs, **kw),
            Conv2d(hidden, oup, 1, rngs=rngs, **kw),
            BatchNorm(oup, **kw),
        ]
        self.conv = Seq(*layers)

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        y = self.conv(x, train)
        return x + y if self.use_res_connect else y


class MobileNetV2(nnx.Module):
    """torchvision ``MobileNetV2`` (``width_mult`` = ``width``, ``round_nearest=8``, dropout 0.2).

    Args:
        num_classes: Size of the head ``classifier.1``.
        width: torchvision's ``width_mult`` (1.0 is the published network).
        dropout: Dropout rate before the head (torchvision: 0.2).
        dtype: Compute dtype.
        param_dtype: Parameter dtype.
        rngs: Random streams (``params``; ``dropout`` when training).
    """

    head_path: tuple = ("classifier", "seq", 1)

    def __init__(self, num_classes: int, *, width: float = 1.0, dropout: float = 0.2, dtype=jnp.float32,
                 param_dtype=jnp.float32, rngs: nnx.Rngs):
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        inp = make_divisible_tv(32 * width)
        last = make_divisible_tv(1280 * max(1.0, width))
        feats: list[nnx.Module] = [conv_bn_act(3, inp, 3, stride=2, act="relu6", rngs=rngs, **kw)]
        for t, c, n, s in SETTING:
            out = make_divisible_tv(c * width)
            for i in range(n):
                feats.append(InvertedResidual(inp, out, s if i == 0 else 1, t, rngs=rngs, **kw))
                inp = out
        feats.append(conv_bn_act(inp, last, 1, act="relu6", rngs=rngs, **kw))
        self.features = nnx.List(feats)
        self.num_features = last
        self.classifier = Seq(Dropout(dropout, rngs=rngs), Linear(last, num_classes, rngs=rngs, **kw))

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits ``(batch, num_classes)`` for NHWC, ImageNet-normalised ``x``."""
        for f in self.features:
            x = f(x, train)
        return self.classifier(jnp.mean(x, axis=(1, 2)), train)

    def layer_groups(self) -> list[list[tuple]]:
        """``features.0`` .. ``features.18`` (19 groups)."""
        return [[("features", i)] for i in range(len(self.features))]
