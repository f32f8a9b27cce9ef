"""Vision Transformers: timm ``vit_small_patch16_224`` and torchvision ``vit_b_16`` / ``vit_l_16``.

Both references are the same pre-norm ViT with a class token, learned absolute position
embeddings for a 14x14 grid (224 px, patch 16), LayerNorm eps 1e-6, exact GELU and no
dropout; only parameter names differ. One :class:`VisionTransformer` serves both; its
attributes follow timm's names and :meth:`VisionTransformer.torch_keys` renames them for
torchvision checkpoints.

Input size: any height and width that are multiples of 16. At 224x224 the position
embedding is used as is; for any other grid it is resampled the way timm does for
``dynamic_img_size`` (``resample_abs_pos_embed``: ``F.interpolate(mode='bicubic',
antialias=True)`` of the 14x14 grid, class-token embedding untouched). The resampling is
a fixed linear map built in numpy at trace time, so it stays differentiable and exportable.
(torchvision itself rejects other sizes at run time; we use timm's rule for all three.)
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .layers import Conv2d, Linear, const_array, grad_barrier, init_array

__all__ = ["VisionTransformer", "bicubic_aa_matrix", "torchvision_keys"]


def _cubic(x: float, a: float = -0.5) -> float:
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


@functools.lru_cache(maxsize=64)
def bicubic_aa_matrix(in_size: int, out_size: int) -> np.ndarray:
    """``(out_size, in_size)`` matrix of PyTorch's ``interpolate(mode='bicubic', antialias=True)`` along one axis.

    Follows ATen's ``_compute_indices_min_size_weights_aa`` (``align_corners=False``,
    Keys cubic with a=-0.5, support widened by the scale when downsampling).
    """
    scale = in_size / out_size
    support = 2.0 * scale if scale >= 1.0 else 2.0
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    m = np.zeros((out_size, in_size), np.float64)
    for i in range(out_size):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xsize = min(int(center + support + 0.5), in_size) - xmin
        w = np.array([_cubic((j + xmin - center + 0.5) * invscale) for j in range(xsize)])
        total = w.sum()
        if total != 0.0:
            w = w / total
        m[i, xmin:xmin + xsize] = w
    return m


class LayerNorm(nnx.Module):
    """``torch.nn.LayerNorm(dim, eps)`` over the last axis (two-pass variance, float32 statistics)."""

    def __init__(self, dim: int, *, epsilon: float = 1e-6, dtype=jnp.float32, param_dtype=jnp.float32):
        self.epsilon, self.dtype = epsilon, dtype
        self.scale = nnx.Param(const_array((dim,), 1.0, param_dtype))
        self.bias = nnx.Param(const_array((dim,), 0.0, param_dtype))

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        xf = x.astype(jnp.float32)
        mean = jnp.mean(xf, -1, keepdims=True)
        var = jnp.mean(jnp.square(xf - mean), -1, keepdims=True)
        y = (xf - mean) * jax.lax.rsqrt(var + self.epsilon)
        return (y * self.scale[...].astype(jnp.float32) + self.bias[...].astype(jnp.float32)).astype(self.dtype)


class PatchEmbed(nnx.Module):
    """Non-overlapping ``patch x patch`` conv (``proj``), computed as reshape + matmul."""

    def __init__(self, patch: int, dim: int, *, dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        self.patch = patch
        self.proj = Conv2d(3, dim, patch, stride=patch, use_bias=True, dtype=dtype, param_dtype=param_dtype,
                           rngs=rngs)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, tuple[int, int]]:
        b, h, w, c = x.shape
        p = self.patch
        if h % p or w % p:
            raise ValueError(f"ViT input height and width must be multiples of {p}, got {h}x{w}")
        gh, gw = h // p, w // p
        dt = self.proj.dtype
        x = x.astype(dt).reshape(b, gh, p, gw, p, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, gh * gw, p * p * c)
        k = self.proj.kernel[...].astype(dt).reshape(p * p * c, -1)
        return x @ k + self.proj.bias[...].astype(dt), (gh, gw)


class Attention(nnx.Module):
    """Multi-head self-attention with a fused ``qkv`` projection (q, k, v blocks, heads contiguous)."""

    def __init__(self, dim: int, heads: int, *, dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        kw: dict[str, Any] = dict(std=0.02, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.heads = heads
        self.qkv = Linear(dim, 3 * dim, **kw)
        self.proj = Linear(dim, dim, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, n, d = x.shape
        h = self.heads
        qkv = self.qkv(x).reshape(b, n, 3, h, d // h).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = jnp.einsum("bhqd,bhkd->bhqk", q, k).astype(jnp.float32) * (d // h) ** -0.5
        attn = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
        out = jnp.einsum("bhqk,bhkd->bqhd", attn, v).reshape(b, n, d)
        return self.proj(out)


class Mlp(nnx.Module):
    """``fc1`` -> exact GELU -> ``fc2``."""

    def __init__(self, dim: int, hidden: int, *, dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        kw: dict[str, Any] = dict(std=0.02, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.fc1 = Linear(dim, hidden, **kw)
        self.fc2 = Linear(hidden, dim, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.gelu(self.fc1(x), approximate=False))


class Block(nnx.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, *, dtype=jnp.float32, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        self.norm1 = LayerNorm(dim, **kw)
        self.attn = Attention(dim, heads, rngs=rngs, **kw)
        self.norm2 = LayerNorm(dim, **kw)
        self.mlp = Mlp(dim, mlp_dim, rngs=rngs, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        # grad_barrier: keeps XLA from fusing the residual stream's gradient chain across blocks
        x = grad_barrier(x + self.attn(self.norm1(x)))
        return grad_barrier(x + self.mlp(self.norm2(x)))


_TV_BLOCK = (
    ("norm1.", "ln_1."), ("norm2.", "ln_2."), ("attn.qkv.weight", "self_attention.in_proj_weight"),
    ("attn.qkv.bias", "self_attention.in_proj_bias"), ("attn.proj.", "self_attention.out_proj."),
    ("mlp.fc1.", "mlp.0."), ("mlp.fc2.", "mlp.3."),
)


class VisionTransformer(nnx.Module):
    """ViT with class-token pooling.

    Args:
        num_classes: Size of the linear ``head``.
        dim: Embedding width.
        depth: Number of blocks.
        heads: Attention heads.
        mlp_dim: Hidden width of the MLP.
        patch: Patch size.
        image_size: Size the position embedding is laid out for (224 -> 14x14 grid).
        flavor: ``"timm"`` or ``"torchvision"``: which checkpoint key names to use.
        dtype: Compute dtype.
        param_dtype: Parameter dtype.
        rngs: Random streams (``params``).
    """

    head_path: tuple = ("head",)

    def __init__(self, num_classes: int, *, dim: int, depth: int, heads: int, mlp_dim: int, patch: int = 16,
                 image_size: int = 224, flavor: str = "timm", dtype=jnp.float32, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        if flavor not in ("timm", "torchvision"):
            raise ValueError(f"flavor must be 'timm' or 'torchvision', got {flavor!r}")
        kw: dict[str, Any] = dict(dtype=dtype, param_dtype=param_dtype)
        self.flavor, self.dtype = flavor, dtype
        self.grid = image_size // patch
        self.patch_embed = PatchEmbed(patch, dim, rngs=rngs, **kw)
        self.cls_token = nnx.Param(const_array((1, 1, dim), 0.0, param_dtype))
        self.pos_embed = nnx.Param(init_array(rngs, (1, 1 + self.grid * self.grid, dim), param_dtype, "trunc_normal",
                                              0.02))
        self.blocks = nnx.List([Block(dim, heads, mlp_dim, rngs=rngs, **kw) for _ in range(depth)])
        self.norm = LayerNorm(dim, **kw)
        self.num_features = dim
        self.head = Linear(dim, num_classes, std=0.02, rngs=rngs, **kw)

    def _pos_embed(self, gh: int, gw: int) -> jax.Array:
        pos = self.pos_embed[...]
        if (gh, gw) == (self.grid, self.grid):
            return pos
        d = pos.shape[-1]
        grid = pos[0, 1:].astype(jnp.float32).reshape(self.grid, self.grid, d)
        mh = jnp.asarray(bicubic_aa_matrix(self.grid, gh), jnp.float32)
        mw = jnp.asarray(bicubic_aa_matrix(self.grid, gw), jnp.float32)
        grid = jnp.einsum("ih,jw,hwd->ijd", mh, mw, grid).astype(pos.dtype).reshape(1, gh * gw, d)
        return jnp.concatenate([pos[:, :1], grid], axis=1)

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits ``(batch, num_classes)`` for NHWC, normalised ``x`` (sides multiples of 16)."""
        tokens, (gh, gw) = self.patch_embed(x)
        b = tokens.shape[0]
        cls = jnp.broadcast_to(self.cls_token[...].astype(self.dtype), (b, 1, tokens.shape[-1]))
        tokens = jnp.concatenate([cls, tokens], axis=1) + self._pos_embed(gh, gw).astype(self.dtype)
        for blk in self.blocks:
            tokens = blk(tokens)
        return self.head(self.norm(tokens)[:, 0])

    def layer_groups(self) -> list[list[tuple]]:
        """Patch embedding with class token and position embedding, then one group per block."""
        return [[("patch_embed",), ("cls_token",), ("pos_embed",)]] + [[("blocks", i)] for i in range(len(self.blocks))]

    def torch_keys(self, key: str) -> list[str]:
        """Checkpoint key candidates for our timm-style ``key`` (first is canonical)."""
        return [key] if self.flavor == "timm" else torchvision_keys(key)


def torchvision_keys(key: str) -> list[str]:
    """torchvision ``VisionTransformer`` key candidates for a timm-style ``key`` (first is canonical).

    Example:
        >>> torchvision_keys("blocks.3.attn.qkv.weight")
        ['encoder.layers.encoder_layer_3.self_attention.in_proj_weight']
        >>> torchvision_keys("blocks.0.mlp.fc1.bias")
        ['encoder.layers.encoder_layer_0.mlp.0.bias', 'encoder.layers.encoder_layer_0.mlp.linear_1.bias']
    """
    if key.startswith("patch_embed.proj."):
        return ["conv_proj." + key[len("patch_embed.proj."):]]
    if key == "cls_token":
        return ["class_token"]
    if key == "pos_embed":
        return ["encoder.pos_embedding"]
    if key.startswith("norm."):
        return ["encoder.ln." + key[len("norm."):]]
    if key.startswith("head."):
        return ["heads.head." + key[len("head."):]]
    m = re.fullmatch(r"blocks\.(\d+)\.(.*)", key)
    if m:
        rest = m.group(2)
        for ours, theirs in _TV_BLOCK:
            if rest.startswith(ours):
                rest = theirs + rest[len(ours):]
                break
        base = f"encoder.layers.encoder_layer_{m.group(1)}."
        keys = [base + rest]
        # checkpoints saved before torchvision 0.13 name the MLP linears linear_1 / linear_2
        if rest.startswith("mlp.0."):
            keys.append(base + "mlp.linear_1." + rest[len("mlp.0."):])
        elif rest.startswith("mlp.3."):
            keys.append(base + "mlp.linear_2." + rest[len("mlp.3."):])
        return keys
    return [key]
