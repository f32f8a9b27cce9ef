"""Building blocks shared by the model zoo: convolutions, batch norm, pooling.

Everything is NHWC. Convolution kernels are HWIO (``(kh, kw, in // groups, out)``),
the layout ``jax.lax.conv_general_dilated`` uses; :mod:`.weights` transposes
PyTorch's OIHW kernels on load.

CPU speed-ups, used when JAX's default backend is the CPU (all plain ``lax`` ops, so they
export to ONNX; each equals the direct convolution up to float summation order, well
within 1e-5 relative):

* 1x1 convolutions are matrix products.
* k x k convolutions whose input or output map is 2 pixels or less (per side) use
  im2col: XLA:CPU's convolution is 10-100x slower there (e.g. 3x3 conv on a 2x2
  map, or stride 2 from 4x4 to 2x2, mostly in the gradient).
* Grouped convolutions use im2col with a batched matrix product; XLA:CPU's
  gradient of ``feature_group_count > 1`` convolutions is ~100x slower. (The patches
  take k*k times the input's memory.)
* Depthwise convolutions are a sum of k*k shifted, per-channel-scaled slices, with a custom
  gradient: the input gradient is the same kind of sum over the padded, stride-dilated
  cotangent with the flipped kernel (autodiff's version padded and summed k*k full-size
  tensors).
* Max pooling is a chain of ``where(a > b, a, b)`` over shifted slices (no
  ``select_and_scatter`` in the gradient); ties go to the first element in
  row-major window order, as in PyTorch.
* Taps that only ever read zero padding are dropped (exact: they add zeros).

Off the CPU, and under :func:`portable_ops` (used by the ONNX exporter), every convolution
is the native ``conv_general_dilated`` (one ONNX ``Conv``, with ``group`` for grouped and
depthwise ones, its padding an attribute). Under :func:`portable_ops` pooling also pads by
concatenation rather than ``pad``: the exported batch size is symbolic, and jax2onnx's
``pad`` lowering needs every dimension to be a constant.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

__all__ = [
    "Act",
    "AvgPool",
    "BatchNorm",
    "Conv2d",
    "Dropout",
    "Identity",
    "Linear",
    "MaxPool",
    "Seq",
    "avg_pool",
    "const_array",
    "conv_bn_act",
    "grad_barrier",
    "init_array",
    "conv2d",
    "max_pool",
    "portable_ops",
]

Array = jax.Array



def init_array(rngs: nnx.Rngs, shape: tuple[int, ...], dtype, dist: str, scale: float) -> Array:
    """A random initial value: ``normal`` (std ``scale``), ``uniform`` (``[-scale, scale)``) or
    ``trunc_normal`` (std ``scale``, cut at 2 std).

    Draws from ``rngs.params()``. With a concrete key the numbers come from numpy seeded by
    the key (no XLA compilation per parameter shape, which made eager model creation take
    seconds); under tracing (``nnx.eval_shape``/``nnx.jit``) ``jax.random`` is used.
    """
    key = rngs.params()
    try:
        seed = np.asarray(jax.random.key_data(key)).ravel().astype(np.uint64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        seed = None
    if seed is None:
        if dist == "normal":
            v = jax.random.normal(key, shape, jnp.float32) * scale
        elif dist == "uniform":
            v = jax.random.uniform(key, shape, jnp.float32, -scale, scale)
        else:
            v = jax.random.truncated_normal(key, -2.0, 2.0, shape, jnp.float32) * scale
        return v.astype(dtype)
    rng = np.random.default_rng(seed)
    if dist == "normal":
        a = rng.standard_normal(shape, np.float32) * scale
    elif dist == "uniform":
        a = rng.uniform(-scale, scale, shape).astype(np.float32)
    else:
        a = rng.standard_normal(shape, np.float32)
        bad = np.abs(a) > 2.0
        while bad.any():
            a[bad] = rng.standard_normal(int(bad.sum()), np.float32)
            bad = np.abs(a) > 2.0
        a = a * scale
    return jnp.asarray(a.astype(np.dtype(dtype)))


def const_array(shape: tuple[int, ...], value: float, dtype) -> Array:
    """``full(shape, value)`` built on the host (no per-shape XLA compilation)."""
    return jnp.asarray(np.full(shape, value, dtype=np.dtype(dtype)))


# ----------------------------------------------------------------------------- functional ops

_PORTABLE = contextvars.ContextVar("imgtune_portable_ops", default=False)


@contextlib.contextmanager
def portable_ops() -> Iterator[None]:
    """Within this block, models trace to native convolution and pooling ops (for export).

    The values are the same as the CPU speed-up paths' up to float summation order.

    Example:
        >>> import numpy as np
        >>> x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 7, 7, 4)), jnp.float32)
        >>> k = jnp.asarray(np.random.default_rng(1).normal(size=(3, 3, 1, 4)), jnp.float32)
        >>> with portable_ops():
        ...     native = conv2d(x, k, stride=2, padding=1, groups=4)
        >>> bool(jnp.allclose(native, conv2d(x, k, stride=2, padding=1, groups=4), atol=1e-5))
        True
    """
    token = _PORTABLE.set(True)
    try:
        yield
    finally:
        _PORTABLE.reset(token)


def _out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _taps(size: int, out: int, k: int, s: int, p: int) -> list[int]:
    """Kernel offsets along one axis that read at least one real (non-padding) pixel."""
    return [i for i in range(k) if any(0 <= i + s * o - p < size for o in range(out))]


def _shifted(xp: Array, i: int, j: int, ho: int, wo: int, s: int) -> Array:
    """Strided window slice of a padded NHWC tensor: element (o1, o2) = xp[i + s*o1, j + s*o2]."""
    b, _, _, c = xp.shape
    return lax.slice(xp, (0, i, j, 0), (b, i + (ho - 1) * s + 1, j + (wo - 1) * s + 1, c), (1, s, s, 1))


def _pad_hw(x: Array, rows: tuple[int, int], cols: tuple[int, int], value: Array) -> Array:
    """Pads the spatial axes of NHWC ``x`` with ``value``.

    Under :func:`portable_ops` the border is built as ``full_like`` of an edge slice and
    concatenated, because jax2onnx cannot lower ``pad`` of a tensor whose batch size is
    symbolic (it gives the ONNX value a shape from the symbolic dimension and fails).
    """
    if not _PORTABLE.get():
        return jnp.pad(x, ((0, 0), rows, cols, (0, 0)), constant_values=value)
    for axis, (lo, hi) in ((1, rows), (2, cols)):
        if lo or hi:
            edge = jnp.full_like(lax.slice_in_dim(x, 0, 1, axis=axis), value)
            x = jnp.concatenate([edge] * lo + [x] + [edge] * hi, axis=axis)
    return x


def conv2d(x: Array, kernel: Array, *, stride: int = 1, padding: int = 0, groups: int = 1) -> Array:
    """2-D convolution, NHWC input, HWIO kernel, symmetric zero padding, PyTorch semantics.

    Args:
        x: Input, ``(batch, height, width, in_channels)``.
        kernel: ``(kh, kw, in_channels // groups, out_channels)``.
        stride: Stride along both spatial axes.
        padding: Zero padding on every side.
        groups: Number of channel groups (``in_channels`` for depthwise).

    Returns:
        ``(batch, out_height, out_width, out_channels)``.
    """
    kh, kw, cg, co = kernel.shape
    b, h, w, c = x.shape
    if c != cg * groups:
        raise ValueError(f"input has {c} channels, kernel expects {cg} x {groups} groups")
    ho, wo = _out_size(h, kh, stride, padding), _out_size(w, kw, stride, padding)
    if ho < 1 or wo < 1:
        raise ValueError(f"input {h}x{w} too small for a {kh}x{kw} conv, stride {stride}, padding {padding}")
    if _PORTABLE.get() or jax.default_backend() != "cpu":
        # the speed-ups below are for XLA:CPU; accelerators have fast native (grouped) convolutions.
        # (On an H200, jaxlib 0.11.2's Triton GEMM tiling aborted compiling the 1x1 path's
        # strided slice + einsum: "triton_tiling_propagation.cc:703 Check failed".)
        return lax.conv_general_dilated(
            x, kernel, (stride, stride), [(padding, padding), (padding, padding)],
            dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups,
        )
    if kh == kw == 1 and padding == 0:
        if stride > 1:
            x = x[:, ::stride, ::stride, :]
        if groups == 1:
            return jnp.einsum("bhwc,co->bhwo", x, kernel[0, 0])
        xg = x.reshape(b, ho, wo, groups, cg)
        wg = kernel[0, 0].reshape(cg, groups, co // groups)
        return jnp.einsum("bhwgc,cgo->bhwgo", xg, wg).reshape(b, ho, wo, co)
    rows = _taps(h, ho, kh, stride, padding)
    cols = _taps(w, wo, kw, stride, padding)
    depthwise = groups == c and cg == 1 and co == c
    small = min(h, w, ho, wo) <= 2
    if not (depthwise or groups > 1 or small):
        return lax.conv_general_dilated(
            x, kernel, (stride, stride), [(padding, padding), (padding, padding)],
            dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups,
        )
    xp = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    taps = [(i, j) for i in rows for j in cols]
    slices = [_shifted(xp, i, j, ho, wo, stride) for i, j in taps]
    wk = jnp.stack([kernel[i, j] for i, j in taps])  # (K, cg, co)
    if depthwise:
        return _depthwise(x, kernel, stride, padding)
    patches = jnp.stack(slices, axis=3)  # (b, ho, wo, K, c)
    k = len(taps)
    if groups == 1:
        return jnp.einsum("bhwkc,kco->bhwo", patches, wk)
    pg = patches.reshape(b, ho, wo, k, groups, cg)
    wg = wk.reshape(k, cg, groups, co // groups)
    return jnp.einsum("bhwkgc,kcgo->bhwgo", pg, wg).reshape(b, ho, wo, co)


def _depthwise_fwd_value(x: Array, kernel: Array, stride: int, padding: int) -> Array:
    """Depthwise conv as a sum of shifted, per-channel-scaled slices (taps reading only padding dropped)."""
    kh, kw = kernel.shape[:2]
    _, h, w, _ = x.shape
    ho, wo = _out_size(h, kh, stride, padding), _out_size(w, kw, stride, padding)
    xp = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    out = None
    for i in _taps(h, ho, kh, stride, padding):
        for j in _taps(w, wo, kw, stride, padding):
            v = _shifted(xp, i, j, ho, wo, stride) * kernel[i, j, 0]
            out = v if out is None else out + v
    return out


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _depthwise(x: Array, kernel: Array, stride: int, padding: int) -> Array:
    return _depthwise_fwd_value(x, kernel, stride, padding)


def _depthwise_vjp_fwd(x, kernel, stride, padding):
    return _depthwise_fwd_value(x, kernel, stride, padding), (x, kernel)


def _depthwise_vjp_bwd(stride, padding, res, g):
    # The autodiff transpose of the forward pads each tap's product back to the input's size and
    # sums k*k full-size tensors (20% of MobileNetV2's step). Instead, the input gradient is the
    # depthwise correlation of the (stride-dilated, padded) cotangent with the flipped kernel:
    # one pad, then k*k shifted slices summed in a single fusion.
    x, kernel = res
    kh, kw = kernel.shape[:2]
    _, h, w, _ = x.shape
    _, ho, wo, _ = g.shape
    rows, cols = _taps(h, ho, kh, stride, padding), _taps(w, wo, kw, stride, padding)
    zero = jnp.array(0, g.dtype)
    lo_h, lo_w = kh - 1 - padding, kw - 1 - padding
    hi_h = h + kh - 1 - lo_h - ((ho - 1) * stride + 1)
    hi_w = w + kw - 1 - lo_w - ((wo - 1) * stride + 1)
    q = lax.pad(g, zero, ((0, 0, 0), (lo_h, hi_h, stride - 1), (lo_w, hi_w, stride - 1), (0, 0, 0)))
    dx = None
    for i in rows:
        for j in cols:
            v = _shifted(q, kh - 1 - i, kw - 1 - j, h, w, 1) * kernel[i, j, 0]
            dx = v if dx is None else dx + v
    xp = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    dk = jnp.zeros_like(kernel)
    for i in rows:
        for j in cols:
            dk = dk.at[i, j, 0].set(jnp.sum(_shifted(xp, i, j, ho, wo, stride) * g, axis=(0, 1, 2)))
    return dx.astype(x.dtype), dk


_depthwise.defvjp(_depthwise_vjp_fwd, _depthwise_vjp_bwd)


def max_pool(x: Array, kernel: int = 3, stride: int = 2, padding: int = 1) -> Array:
    """``torch.nn.MaxPool2d(kernel, stride, padding)`` (floor mode) on NHWC input."""
    _, h, w, _ = x.shape
    ho, wo = _out_size(h, kernel, stride, padding), _out_size(w, kernel, stride, padding)
    neg = jnp.array(-jnp.inf, x.dtype)
    xp = _pad_hw(x, (padding, padding), (padding, padding), neg)
    out = None
    for i in _taps(h, ho, kernel, stride, padding):
        for j in _taps(w, wo, kernel, stride, padding):
            v = _shifted(xp, i, j, ho, wo, stride)
            out = v if out is None else jnp.where(v > out, v, out)
    return out


def _pool_out(size: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    num = size + 2 * p - k
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _avg_divisor(size: int, out: int, k: int, s: int, p: int, count_include_pad: bool) -> np.ndarray:
    div = np.zeros(out, np.float64)
    for o in range(out):
        start = o * s - p
        end = min(start + k, size + p)
        pool = end - start
        start, end = max(start, 0), min(end, size)
        div[o] = pool if count_include_pad else end - start
    return div


def avg_pool(
    x: Array, kernel: int, stride: int, padding: int = 0, *, ceil_mode: bool = False, count_include_pad: bool = True
) -> Array:
    """``torch.nn.AvgPool2d`` with the same ``ceil_mode`` / ``count_include_pad`` semantics, NHWC."""
    _, h, w, _ = x.shape
    ho = _pool_out(h, kernel, stride, padding, ceil_mode)
    wo = _pool_out(w, kernel, stride, padding, ceil_mode)
    extra_h = max(0, (ho - 1) * stride + kernel - h - 2 * padding)
    extra_w = max(0, (wo - 1) * stride + kernel - w - 2 * padding)
    xp = _pad_hw(x, (padding, padding + extra_h), (padding, padding + extra_w), jnp.array(0, x.dtype))
    out = None
    for i in range(kernel):
        for j in range(kernel):
            v = _shifted(xp, i, j, ho, wo, stride)
            out = v if out is None else out + v
    dh = _avg_divisor(h, ho, kernel, stride, padding, count_include_pad)
    dw = _avg_divisor(w, wo, kernel, stride, padding, count_include_pad)
    inv = (1.0 / np.outer(dh, dw)).astype(np.float32)
    return out * jnp.asarray(inv, x.dtype)[None, :, :, None]


_ACTS: dict[str, Callable[[Array], Array]] = {
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "gelu": lambda v: jax.nn.gelu(v, approximate=False),
    "sigmoid": jax.nn.sigmoid,
}


@jax.custom_vjp
def grad_barrier(x: Array) -> Array:
    """Identity; under differentiation, the value and its cotangent are materialised.

    Undifferentiated (inference, export) it is just ``x``. In a gradient, the forward value and
    the incoming cotangent pass through an identity ``lax.cond`` (see :func:`_materialise`), which
    stops XLA from fusing the long elementwise chains on either side into their many consumers.
    Without it, XLA:CPU fused a ViT's whole backward residual stream (all blocks' adds and
    LayerNorm gradients, ~800 instructions) into each weight-gradient transpose and recomputed it
    there: 40% of the step. Values and gradients are bit-identical (no arithmetic), except that a
    tensor whose first element is NaN comes out all NaN.
    """
    return x


def _materialise(v: Array) -> Array:
    # XLA:CPU expands optimization_barrier before fusion, so it does not stop fusion; a
    # conditional does (its operand and result are buffers). The predicate is data-dependent
    # (``v[0] == v[0]``, false only for NaN), so XLA cannot fold it away; the taken branch is the
    # identity, the other (NaN in ``v`` already) fills NaN -- distinct branches, so the
    # conditional is not simplified away either.
    flat = v.reshape(-1)
    return lax.cond(flat[0] == flat[0], lambda a: a, lambda a: jnp.full_like(a, jnp.nan), v)


def _grad_barrier_fwd(x: Array) -> tuple[Array, None]:
    return _materialise(x), None


def _grad_barrier_bwd(_: None, g: Array) -> tuple[Array]:
    return (_materialise(g),)


grad_barrier.defvjp(_grad_barrier_fwd, _grad_barrier_bwd)


# ----------------------------------------------------------------------------- modules
# Every module here is called as ``module(x, train)`` so containers can chain them.


class Conv2d(nnx.Module):
    """``torch.nn.Conv2d`` (square kernel, symmetric padding) with an HWIO ``kernel`` parameter."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        use_bias: bool = False,
        dtype=jnp.float32,
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"channels {in_channels}->{out_channels} not divisible by groups={groups}")
        self.stride, self.padding, self.groups, self.dtype = stride, padding, groups, dtype
        shape = (kernel_size, kernel_size, in_channels // groups, out_channels)
        # kaiming_normal_(mode="fan_out", nonlinearity="relu"), as torchvision/timm CNNs initialise convs
        std = float(np.sqrt(2.0 / (kernel_size * kernel_size * out_channels)))
        self.kernel = nnx.Param(init_array(rngs, shape, param_dtype, "normal", std))
        if use_bias:
            bound = float(1.0 / np.sqrt(kernel_size * kernel_size * in_channels // groups))
            self.bias = nnx.Param(init_array(rngs, (out_channels,), param_dtype, "uniform", bound))
        else:
            self.bias = None

    def __call__(self, x: Array, train: bool = False) -> Array:
        y = conv2d(
            x.astype(self.dtype), self.kernel[...].astype(self.dtype),
            stride=self.stride, padding=self.padding, groups=self.groups,
        )
        if self.bias is not None:
            y = y + self.bias[...].astype(self.dtype)
        return y


class BatchNorm(nnx.Module):
    """``torch.nn.BatchNorm2d`` over the last axis, with PyTorch's exact running-stat rule.

    Parameters ``scale``/``bias`` (:class:`nnx.Param`) and statistics ``mean``/``var``
    (:class:`nnx.BatchStat`, float32) carry the same names as :class:`flax.nnx.BatchNorm`.
    Training normalises with the biased batch variance and updates
    ``running = (1 - momentum) * running + momentum * batch`` using the *unbiased*
    variance, as PyTorch does (``momentum`` here is PyTorch's, default 0.1).
    Statistics are computed in float32 whatever the compute dtype.
    """

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.1,
        epsilon: float = 1e-5,
        dtype=jnp.float32,
        param_dtype=jnp.float32,
        rngs: nnx.Rngs | None = None,
    ):
        del rngs
        self.momentum, self.epsilon, self.dtype = momentum, epsilon, dtype
        self.scale = nnx.Param(const_array((num_features,), 1.0, param_dtype))
        self.bias = nnx.Param(const_array((num_features,), 0.0, param_dtype))
        self.mean = nnx.BatchStat(const_array((num_features,), 0.0, jnp.float32))
        self.var = nnx.BatchStat(const_array((num_features,), 1.0, jnp.float32))

    def __call__(self, x: Array, train: bool = False) -> Array:
        xf = x.astype(jnp.float32)
        if train:
            axes = tuple(range(x.ndim - 1))
            mean = jnp.mean(xf, axes)
            var = jnp.mean(jnp.square(xf - mean), axes)
            n = x.size // x.shape[-1]
            m = self.momentum
            unbiased = var * (n / max(n - 1, 1))
            self.mean[...] = (1 - m) * self.mean[...] + m * lax.stop_gradient(mean)
            self.var[...] = (1 - m) * self.var[...] + m * lax.stop_gradient(unbiased)
        else:
            mean, var = self.mean[...], self.var[...]
        mul = self.scale[...].astype(jnp.float32) * lax.rsqrt(var + self.epsilon)
        y = (xf - mean) * mul + self.bias[...].astype(jnp.float32)
        return y.astype(self.dtype)


class Act(nnx.Module):
    """A parameter-free activation (``relu``, ``relu6``, ``gelu`` (exact), ``sigmoid``)."""

    def __init__(self, name: str = "relu"):
        if name not in _ACTS:
            raise ValueError(f"unknown activation {name!r}")
        self.name = name

    def __call__(self, x: Array, train: bool = False) -> Array:
        return _ACTS[self.name](x)


class Identity(nnx.Module):
    """Placeholder with no parameters (keeps PyTorch ``nn.Sequential`` indices aligned)."""

    def __call__(self, x: Array, train: bool = False) -> Array:
        return x


class MaxPool(nnx.Module):
    """``torch.nn.MaxPool2d(kernel, stride, padding)``."""

    def __init__(self, kernel: int = 3, stride: int = 2, padding: int = 1):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def __call__(self, x: Array, train: bool = False) -> Array:
        return max_pool(x, self.kernel, self.stride, self.padding)


class AvgPool(nnx.Module):
    """``torch.nn.AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad)``."""

    def __init__(self, kernel: int, stride: int, padding: int = 0, *, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def __call__(self, x: Array, train: bool = False) -> Array:
        return avg_pool(x, self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode,
                        count_include_pad=self.count_include_pad)


class Dropout(nnx.Module):
    """``torch.nn.Dropout(rate)``: active only when ``train`` is true (uses the ``dropout`` RNG stream)."""

    def __init__(self, rate: float, *, rngs: nnx.Rngs):
        self.rate = rate
        self.drop = nnx.Dropout(rate, rngs=rngs)

    def __call__(self, x: Array, train: bool = False) -> Array:
        return self.drop(x, deterministic=not train)


class Linear(nnx.Module):
    """``torch.nn.Linear``: ``kernel`` ``(in, out)`` and ``bias``, callable as ``layer(x, train)``.

    Initialised like PyTorch (uniform, bound ``1/sqrt(in)``) unless ``std`` is given
    (truncated normal weights, zero bias -- timm's ViT initialisation).
    """

    def __init__(self, in_features: int, out_features: int, *, std: float | None = None, dtype=jnp.float32,
                 param_dtype=jnp.float32, rngs: nnx.Rngs):
        self.dtype = dtype
        shape = (in_features, out_features)
        if std is None:
            bound = float(1.0 / np.sqrt(in_features))
            self.kernel = nnx.Param(init_array(rngs, shape, param_dtype, "uniform", bound))
            self.bias = nnx.Param(init_array(rngs, (out_features,), param_dtype, "uniform", bound))
        else:
            self.kernel = nnx.Param(init_array(rngs, shape, param_dtype, "trunc_normal", std))
            self.bias = nnx.Param(const_array((out_features,), 0.0, param_dtype))

    def __call__(self, x: Array, train: bool = False) -> Array:
        return x.astype(self.dtype) @ self.kernel[...].astype(self.dtype) + self.bias[...].astype(self.dtype)


class Seq(nnx.Module):
    """``torch.nn.Sequential``: layers live in ``self.seq`` (the name is dropped when mapping to PyTorch keys)."""

    def __init__(self, *layers: nnx.Module):
        self.seq = nnx.List(list(layers))

    def __call__(self, x: Array, train: bool = False) -> Array:
        for layer in self.seq:
            x = layer(x, train)
        return x


def conv_bn_act(
    cin: int, cout: int, k: int, *, stride: int = 1, groups: int = 1, act: str | None = "relu",
    dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs,
) -> Seq:
    """torchvision ``Conv2dNormActivation``: ``Seq(conv, bn[, act])`` with ``padding=(k-1)//2``."""
    layers: Sequence[nnx.Module] = [
        Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, groups=groups, dtype=dtype,
               param_dtype=param_dtype, rngs=rngs),
        BatchNorm(cout, dtype=dtype, param_dtype=param_dtype),
    ]
    if act:
        layers = [*layers, Act(act)]
    return Seq(*layers)
