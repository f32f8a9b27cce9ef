"""ResNet family: torchvision ResNet v1.5 and the timm ``ResNet`` variants built on it.

One :class:`ResNet` class covers

* torchvision ``resnet18/34/50/101/152`` (7x7 stem, stride on the 3x3 conv, "v1.5"),
* timm ``seresnext50_32x4d`` (grouped 3x3 conv, squeeze-excitation after ``bn3``),
* timm ResNeSt (deep stem, average-pool shortcut, split-attention block from
  :mod:`.resnest`),

with attribute names equal to the reference ``state_dict`` keys (``conv1``, ``bn1``,
``layer1.0.conv2``, ``downsample.0`` ...), so checkpoints map one to one.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from .layers import Act, AvgPool, BatchNorm, Conv2d, Identity, Linear, Seq, max_pool

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "SEModule", "make_divisible"]


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """timm ``make_divisible``: round ``v`` to a multiple of ``divisor`` (not below ``round_limit * v``)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


class SEModule(nnx.Module):
    """timm ``SEModule``: mean-pool, 1x1 conv (bias) -> ReLU -> 1x1 conv (bias) -> sigmoid gate."""

    def __init__(self, channels: int, *, rd_ratio: float = 1.0 / 16, dtype=jnp.float32, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        rd = make_divisible(channels * rd_ratio, 8, round_limit=0.0)
        kw: dict[str, Any] = dict(use_bias=True, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.fc1 = Conv2d(channels, rd, 1, **kw)
        self.fc2 = Conv2d(rd, channels, 1, **kw)

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        s = jnp.mean(x, axis=(1, 2), keepdims=True)
        s = self.fc2(jax.nn.relu(self.fc1(s)))
        return x * jax.nn.sigmoid(s)


class BasicBlock(nnx.Module):
    """torchvision/timm ``BasicBlock`` (two 3x3 convs)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: nnx.Module | None, *,
                 cardinality: int = 1, base_width: int = 64, attn: bool = False,
                 dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        if cardinality != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only cardinality=1, base_width=64")
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        self.conv1 = Conv2d(inplanes, planes, 3, stride=stride, padding=1, rngs=rngs, **kw)
        self.bn1 = BatchNorm(planes, **kw)
        self.conv2 = Conv2d(planes, planes, 3, padding=1, rngs=rngs, **kw)
        self.bn2 = BatchNorm(planes, **kw)
        self.se = SEModule(planes, rngs=rngs, **kw) if attn else None
        self.downsample = downsample

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        out = jax.nn.relu(self.bn1(self.conv1(x), train))
        out = self.bn2(self.conv2(out), train)
        if self.se is not None:
            out = self.se(out)
        shortcut = x if self.downsample is None else self.downsample(x, train)
        return jax.nn.relu(out + shortcut)


class Bottleneck(nnx.Module):
    """torchvision/timm ``Bottleneck``: 1x1 -> 3x3 (stride, groups) -> 1x1 (x4), optional SE after ``bn3``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: nnx.Module | None, *,
                 cardinality: int = 1, base_width: int = 64, attn: bool = False,
                 dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        width = int(math.floor(planes * (base_width / 64)) * cardinality)
        out = planes * self.expansion
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        self.conv1 = Conv2d(inplanes, width, 1, rngs=rngs, **kw)
        self.bn1 = BatchNorm(width, **kw)
        self.conv2 = Conv2d(width, width, 3, stride=stride, padding=1, groups=cardinality, rngs=rngs, **kw)
        self.bn2 = BatchNorm(width, **kw)
        self.conv3 = Conv2d(width, out, 1, rngs=rngs, **kw)
        self.bn3 = BatchNorm(out, **kw)
        self.se = SEModule(out, rngs=rngs, **kw) if attn else None
        self.downsample = downsample

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        out = jax.nn.relu(self.bn1(self.conv1(x), train))
        out = jax.nn.relu(self.bn2(self.conv2(out), train))
        out = self.bn3(self.conv3(out), train)
        if self.se is not None:
            out = self.se(out)
        shortcut = x if self.downsample is None else self.downsample(x, train)
        return jax.nn.relu(out + shortcut)


class ResNet(nnx.Module):
    """timm/torchvision ``ResNet``: stem, four stages ``layer1..layer4``, global average pool, ``fc``.

    Args:
        block: Block class (:class:`BasicBlock`, :class:`Bottleneck`, or ResNeSt's bottleneck);
            must define ``expansion``.
        layers: Blocks per stage.
        num_classes: Size of the ``fc`` head.
        channels: Per-stage ``planes``.
        stem_width: Stem width; a ``deep`` stem is three 3x3 convs ``stem_width, stem_width,
            2 * stem_width`` (timm ``stem_type='deep'``), otherwise one 7x7 conv of ``stem_width``.
        deep_stem: Use the deep stem (``conv1`` becomes a sequential ``conv1.0 .. conv1.6``).
        avg_down: Shortcut downsampling by ``AvgPool2d(2, ceil_mode, count_include_pad=False)``
            followed by a 1x1 conv (timm ``avg_down``; keys ``downsample.1``/``.2``), instead of a
            strided 1x1 conv (keys ``downsample.0``/``.1``).
        block_kwargs: Extra keyword arguments for every block (``cardinality``, ``attn`` ...).
        dtype: Compute dtype.
        param_dtype: Parameter dtype.
        rngs: Random streams (``params``).
    """

    head_path: tuple = ("fc",)

    def __init__(self, block: type, layers: tuple[int, ...], num_classes: int, *,
                 channels: tuple[int, ...] = (64, 128, 256, 512), stem_width: int = 64, deep_stem: bool = False,
                 avg_down: bool = False, block_kwargs: dict[str, Any] | None = None,
                 dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        block_kwargs = block_kwargs or {}
        inplanes = stem_width * 2 if deep_stem else stem_width
        if deep_stem:
            self.conv1 = Seq(
                Conv2d(3, stem_width, 3, stride=2, padding=1, rngs=rngs, **kw), BatchNorm(stem_width, **kw), Act(),
                Conv2d(stem_width, stem_width, 3, padding=1, rngs=rngs, **kw), BatchNorm(stem_width, **kw), Act(),
                Conv2d(stem_width, inplanes, 3, padding=1, rngs=rngs, **kw),
            )
        else:
            self.conv1 = Conv2d(3, inplanes, 7, stride=2, padding=3, rngs=rngs, **kw)
        self.bn1 = BatchNorm(inplanes, **kw)
        for idx, (planes, n) in enumerate(zip(channels, layers, strict=True)):
            stride = 1 if idx == 0 else 2
            out = planes * block.expansion
            downsample = None
            if stride != 1 or inplanes != out:
                conv = Conv2d(inplanes, out, 1, stride=1 if avg_down else stride, rngs=rngs, **kw)
                if avg_down:
                    pool = AvgPool(2, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else Identity()
                    downsample = Seq(pool, conv, BatchNorm(out, **kw))
                else:
                    downsample = Seq(conv, BatchNorm(out, **kw))
            blocks = []
            for b in range(n):
                blocks.append(block(inplanes, planes, stride if b == 0 else 1, downsample if b == 0 else None,
                                    rngs=rngs, **kw, **block_kwargs))
                inplanes = out
            setattr(self, f"layer{idx + 1}", nnx.List(blocks))
        self.num_features = inplanes
        self.fc = Linear(inplanes, num_classes, rngs=rngs, **kw)

    def features(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Stem and the four stages; returns the last feature map (NHWC)."""
        x = jax.nn.relu(self.bn1(self.conv1(x, train), train))
        x = max_pool(x, 3, 2, 1)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            for blk in getattr(self, name):
                x = blk(x, train)
        return x

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits ``(batch, num_classes)`` for NHWC, ImageNet-normalised ``x``."""
        x = self.features(x, train)
        return self.fc(jnp.mean(x, axis=(1, 2)))

    def layer_groups(self) -> list[list[tuple]]:
        """Stem ``(conv1, bn1)``, then ``layer1`` .. ``layer4`` (5 groups)."""
        return [[("conv1",), ("bn1",)]] + [[(f"layer{i}",)] for i in range(1, 5)]
