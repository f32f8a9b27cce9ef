"""The training augmentation in JAX, batched, for the accelerator: the same steps as
:func:`imgtune.train.data.augment.train_transform`, drawn from the same ``(seed, epoch, index)`` key.

:func:`train_augment` takes a batch of uint8 *canvases* ``[B, H, W, 3]`` -- each example's
image in its top-left ``h x w`` corner, zeros elsewhere (the rows of the decoded image store,
:mod:`imgtune.train.data.image_store`) -- their sizes ``[B, 2]`` (``h, w``) and keys ``[B, 3]``,
and returns float32 ``[B, crop, crop, 3]``, normalised. Each example is computed by
``jax.vmap`` of one function of its own key, so its output depends on its key and image only,
never on the batch it is in, the batch size or the worker count. The steps, in the host
path's order:

1. **Random resized crop**: torchvision's ``get_params`` (scale ``(0.08, 1)``, ratio
   ``(3/4, 4/3)`` log-uniform, 10 attempts, then the centre-crop fallback clamped to the
   ratio range), all 10 attempts drawn at once and the first that fits taken; then the box
   resized to ``crop x crop`` with Pillow's ``BILINEAR`` arithmetic (a triangle filter widened
   by the scale factor when shrinking, weights only inside the box, normalised), as two
   separable passes that gather each output pixel's few source rows, then columns (a fixed
   number of taps, so the shapes are static). Pillow rounds to uint8 between its two passes;
   this path keeps floats (a difference of at most about one grey level).
2. **Horizontal flip** with probability 0.5.
3. **Colour jitter**: brightness, contrast, saturation, each factor uniform in ``[0.6, 1.4]``,
   in that order, clipped to ``[0, 255]`` after each step (the host path's formulas).
4. ``(x / 255 - mean) / std`` (``mean``/``std`` default to ImageNet's).

**Randomness.** The key of example ``i`` in epoch ``e`` of seed ``s`` is
``fold_in(fold_in(fold_in(PRNGKey(0xA06E7), s), e), i)`` (threefry, so the same on every
backend). The draws follow the host path's distributions, not its numbers: the host draws
from numpy's generator, so for one key the two paths make different (equally distributed)
choices; a test compares the distributions.

**Which path.** ``advanced_settings.augment_on``: ``host`` (Pillow and numpy in the decoding
threads), ``device`` (this module; needs the decoded image store), or ``auto`` (default):
``device`` on GPU and TPU, ``host`` on CPU. On CPU the host path measured faster (BENCHMARKS.md,
"Input pipeline"): there the device *is* the host, and XLA's gathers cost more than Pillow's
resize of a box; on a GPU the augmentation is small next to a train step, and the host threads
are left only copying uint8 rows (chosen by reasoning; not measured on a GPU yet).

Example:
    >>> import numpy as np
    >>> canvas = np.zeros((2, 20, 30, 3), np.uint8); canvas[:, :16, :24] = 128
    >>> sizes = np.array([[16, 24], [16, 24]], np.int32)
    >>> keys = np.array([[0, 0, 7], [0, 0, 8]], np.uint32)
    >>> out = train_augment(canvas, sizes, keys, crop_size=8)
    >>> out.shape, str(out.dtype)
    ((2, 8, 8, 3), 'float32')
    >>> again = train_augment(canvas[::-1], sizes[::-1], keys[::-1], crop_size=8)
    >>> bool(np.allclose(out[1], again[0], atol=1e-5))   # independent of its place in the batch
    True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from imgtune.train.data.augment import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["Draws", "crop_resize", "draw", "example_keys", "keys_for", "train_augment"]

_TAG = 0xA06E7
_GREY = (0.299, 0.587, 0.114)


class Draws(NamedTuple):
    """One example's random choices (a batch of them under ``vmap``).

    Attributes:
        box: int32 ``[4]``: ``left, top, right, bottom`` in the stored image's pixels.
        flip: bool: flip horizontally.
        jitter: float32 ``[3]``: brightness, contrast and saturation factors.
    """

    box: jax.Array
    flip: jax.Array
    jitter: jax.Array


def example_keys(keys: jax.Array) -> jax.Array:
    """uint32 ``[B, 3]`` ``(seed, epoch, index)`` rows -> a batch of PRNG keys (see the module doc)."""
    base = jax.random.PRNGKey(_TAG)

    def one(k: jax.Array) -> jax.Array:
        return jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(base, k[0]), k[1]), k[2])

    return jax.vmap(one)(jnp.asarray(keys, jnp.uint32))


def _draw_one(key: jax.Array, size: jax.Array, scale: tuple[float, float], ratio: tuple[float, float]) -> Draws:
    k_scale, k_ratio, k_pos, k_flip, k_jitter = jax.random.split(key, 5)
    h, w = size[0].astype(jnp.float32), size[1].astype(jnp.float32)
    area = h * w
    target = area * jax.random.uniform(k_scale, (10,), minval=scale[0], maxval=scale[1])
    aspect = jnp.exp(jax.random.uniform(k_ratio, (10,), minval=math.log(ratio[0]), maxval=math.log(ratio[1])))
    cw, ch = jnp.round(jnp.sqrt(target * aspect)), jnp.round(jnp.sqrt(target / aspect))
    fits = (cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)
    first = jnp.argmax(fits)
    in_ratio = w / h
    lo, hi = min(ratio), max(ratio)
    fw = jnp.where(in_ratio > hi, jnp.round(h * hi), w)
    fh = jnp.where(in_ratio < lo, jnp.round(w / lo), h)
    found = fits.any()
    bw, bh = jnp.where(found, cw[first], fw), jnp.where(found, ch[first], fh)
    u = jax.random.uniform(k_pos, (2,))
    top = jnp.where(found, jnp.floor(u[0] * (h - bh + 1)), jnp.floor((h - bh) / 2))
    left = jnp.where(found, jnp.floor(u[1] * (w - bw + 1)), jnp.floor((w - bw) / 2))
    box = jnp.stack([left, top, left + bw, top + bh]).astype(jnp.int32)
    flip = jax.random.uniform(k_flip) < 0.5
    jitter = jax.random.uniform(k_jitter, (3,), minval=0.6, maxval=1.4)
    return Draws(box, flip, jitter)


def draw(keys: Any, sizes: Any, *, scale: tuple[float, float] = (0.08, 1.0),
         ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> Draws:
    """The random choices for a batch: keys uint32 ``[B, 3]``, sizes int ``[B, 2]`` (``h, w``)."""
    return _draw(jnp.asarray(keys, jnp.uint32), jnp.asarray(sizes, jnp.int32), tuple(scale), tuple(ratio))


@functools.partial(jax.jit, static_argnames=("scale", "ratio"))
def _draw(keys: jax.Array, sizes: jax.Array, scale: tuple[float, float], ratio: tuple[float, float]) -> Draws:
    return jax.vmap(functools.partial(_draw_one, scale=scale, ratio=ratio))(example_keys(keys), sizes)


def _taps(start: jax.Array, length: jax.Array, out: int, size: int) -> tuple[jax.Array, jax.Array]:
    """Pillow's bilinear resampling of pixels ``[start, start + length)`` (of ``size``) to ``out``: for
    each output pixel, the source pixels it reads (int32 ``[out, K]``) and their weights (``[out, K]``).

    The triangle filter is widened by the scale factor when shrinking (antialiasing); weights fall
    only on pixels inside the box and sum to 1. ``K`` covers the widest filter a box within
    ``size`` pixels can need, so the shapes are static.
    """
    taps = math.ceil(2 * max(size / out, 1.0)) + 1
    start, length = start.astype(jnp.float32), length.astype(jnp.float32)
    scale = length / out
    support = jnp.maximum(scale, 1.0)
    centre = start + (jnp.arange(out, dtype=jnp.float32) + 0.5) * scale
    first = jnp.ceil(centre - support - 0.5)
    pixel = first[:, None] + jnp.arange(taps, dtype=jnp.float32)[None, :]
    w = jnp.maximum(0.0, 1.0 - jnp.abs(pixel + 0.5 - centre[:, None]) / support)
    w = jnp.where((pixel >= start) & (pixel < start + length), w, 0.0)
    w = w / jnp.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return jnp.clip(pixel, 0, size - 1).astype(jnp.int32), w


@functools.partial(jax.jit, static_argnames=("crop_size",))
def crop_resize(image: jax.Array, box: jax.Array, crop_size: int) -> jax.Array:
    """The pixels of ``box`` (``left, top, right, bottom``) of one ``[H, W, 3]`` image, resized
    to ``[crop, crop, 3]`` float32 as Pillow's ``crop(box).resize(..., BILINEAR)`` does.

    >>> import numpy as np
    >>> from PIL import Image
    >>> im = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    >>> ours = crop_resize(jnp.asarray(im), jnp.array([3, 5, 33, 25]), 12)
    >>> pil = np.asarray(Image.fromarray(im).crop((3, 5, 33, 25)).resize((12, 12), Image.BILINEAR))
    >>> bool(np.abs(np.asarray(ours) - pil).max() <= 1.5)
    True
    """
    x = jnp.asarray(image)
    rows, wy = _taps(box[1], box[3] - box[1], crop_size, x.shape[0])
    cols, wx = _taps(box[0], box[2] - box[0], crop_size, x.shape[1])
    x = jnp.einsum("pk,pkwc->pwc", wy, x[rows].astype(jnp.float32))  # the K source rows of each output row
    return jnp.einsum("qk,pqkc->pqc", wx, x[:, cols])


def _augment_one(image: jax.Array, draws: Draws, crop_size: int, mean: jax.Array, std: jax.Array) -> jax.Array:
    x = crop_resize(image, draws.box, crop_size)
    x = jnp.where(draws.flip, x[:, ::-1], x)
    b, c, s = draws.jitter[0], draws.jitter[1], draws.jitter[2]
    grey = jnp.asarray(_GREY, jnp.float32)
    x = jnp.clip(x * b, 0.0, 255.0)
    x = jnp.clip(c * x + (1.0 - c) * (x @ grey).mean(), 0.0, 255.0)
    x = jnp.clip(s * x + (1.0 - s) * (x @ grey)[..., None], 0.0, 255.0)
    return (x / 255.0 - mean) / std


@functools.partial(jax.jit, static_argnames=("crop_size",))
def _augment(images: jax.Array, sizes: jax.Array, keys: jax.Array, crop_size: int, mean: jax.Array,
             std: jax.Array) -> jax.Array:
    draws = _draw(keys, sizes, (0.08, 1.0), (3 / 4, 4 / 3))
    return jax.vmap(lambda im, d: _augment_one(im, d, crop_size, mean, std))(images, draws)


def train_augment(images: Any, sizes: Any, keys: Any, *, crop_size: int = 224,
                  mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> jax.Array:
    """The training augmentation of a batch (see the module doc), jitted.

    Args:
        images: uint8 ``[B, H, W, 3]`` canvases (each image in the top-left ``h x w``).
        sizes: int ``[B, 2]``: each image's ``h, w``.
        keys: uint32 ``[B, 3]``: each example's ``(seed, epoch, index)`` (values modulo ``2**32``).
        crop_size: Output side in pixels.
        mean: Per-channel mean of ``pixels / 255`` to subtract (default ImageNet's).
        std: Per-channel standard deviation to divide by (default ImageNet's).

    Returns:
        float32 ``[B, crop, crop, 3]``, with the sharding of ``images`` along the batch.
    """
    return _augment(images, jnp.asarray(sizes, jnp.int32), jnp.asarray(keys, jnp.uint32), int(crop_size),
                    np.asarray(mean, np.float32), np.asarray(std, np.float32))


def keys_for(seed: int, epoch: int, index: np.ndarray) -> np.ndarray:
    """uint32 ``[B, 3]`` keys of a batch: ``(seed, epoch, i)`` for each ``i`` of ``index`` (modulo ``2**32``).

    >>> keys_for(2**32 + 5, 1, np.array([3, 4])).tolist()
    [[5, 1, 3], [5, 1, 4]]
    """
    index = np.asarray(index, np.int64)
    out = np.empty((len(index), 3), np.uint32)
    out[:, 0], out[:, 1], out[:, 2] = seed % 2**32, epoch % 2**32, index % 2**32
    return out
