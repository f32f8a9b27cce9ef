"""ResNeSt (timm ``resnest50d`` / ``resnest101e``): split-attention bottlenecks on a timm ResNet.

Matches timm's ``ResNestBottleneck`` with ``radix=2, avd=True, avd_first=False`` and its
``SplitAttn`` layer; the surrounding network is :class:`.resnet.ResNet` with the deep stem
and average-pool shortcut (``stem_type='deep', avg_down=True``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from .layers import AvgPool, BatchNorm, Conv2d
from .resnet import make_divisible

__all__ = ["ResNestBottleneck", "SplitAttn"]


class SplitAttn(nnx.Module):
    """timm ``SplitAttn`` (Split-Attention conv): ``conv, bn0, fc1, bn1, fc2`` + radix softmax."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int = 1, groups: int = 1, radix: int = 2,
                 rd_ratio: float = 0.25, rd_divisor: int = 8, dtype=jnp.float32, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        self.radix, self.cardinality = radix, groups
        mid = out_channels * radix
        attn = make_divisible(in_channels * radix * rd_ratio, min_value=32, divisor=rd_divisor)
        self.conv = Conv2d(in_channels, mid, 3, stride=stride, padding=1, groups=groups * radix, rngs=rngs, **kw)
        self.bn0 = BatchNorm(mid, **kw)
        self.fc1 = Conv2d(out_channels, attn, 1, groups=groups, use_bias=True, rngs=rngs, **kw)
        self.bn1 = BatchNorm(attn, **kw)
        self.fc2 = Conv2d(attn, mid, 1, groups=groups, use_bias=True, rngs=rngs, **kw)

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = jax.nn.relu(self.bn0(self.conv(x), train))
        b, h, w, rc = x.shape
        r, g = self.radix, self.cardinality
        c = rc // r
        if r > 1:
            xs = x.reshape(b, h, w, r, c)
            gap = jnp.sum(xs, axis=3)
        else:
            gap = x
        gap = jnp.mean(gap, axis=(1, 2), keepdims=True)
        gap = jax.nn.relu(self.bn1(self.fc1(gap), train))
        a = self.fc2(gap).reshape(b, rc)
        if r > 1:
            # PyTorch: view(B, card, radix, -1).transpose(1, 2) -> softmax over radix -> (B, radix * C)
            a = a.reshape(b, g, r, rc // (g * r))
            a = jax.nn.softmax(a, axis=2)
            a = jnp.swapaxes(a, 1, 2).reshape(b, r, c)
            return jnp.sum(xs * a[:, None, None, :, :], axis=3)
        return x * jax.nn.sigmoid(a)[:, None, None, :]


class ResNestBottleneck(nnx.Module):
    """timm ``ResNestBottleneck`` (``avd`` with ``avd_first=False``: 3x3 avg-pool after the split-attention conv)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: nnx.Module | None, *,
                 cardinality: int = 1, base_width: int = 64, radix: int = 2, avd: bool = True,
                 dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        group_width = int(planes * (base_width / 64.0)) * cardinality
        avd_stride = stride if (avd and stride > 1) else 0  # timm's make_blocks never passes is_first
        conv_stride = 1 if avd_stride else stride
        self.conv1 = Conv2d(inplanes, group_width, 1, rngs=rngs, **kw)
        self.bn1 = BatchNorm(group_width, **kw)
        self.conv2 = SplitAttn(group_width, group_width, stride=conv_stride, groups=cardinality, radix=radix,
                               rngs=rngs, **kw)
        self.avd_last = AvgPool(3, avd_stride, 1) if avd_stride else None
        self.conv3 = Conv2d(group_width, planes * 4, 1, rngs=rngs, **kw)
        self.bn3 = BatchNorm(planes * 4, **kw)
        self.downsample = downsample

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        out = jax.nn.relu(self.bn1(self.conv1(x), train))
        out = self.conv2(out, train)
        if self.avd_last is not None:
            out = self.avd_last(out)
        out = self.bn3(self.conv3(out), train)
        shortcut = x if self.downsample is None else self.downsample(x, train)
        return jax.nn.relu(out + shortcut)
