"""The CPU fast paths of :mod:`imgtune.train.models.layers` against direct XLA / PyTorch ops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from imgtune.train.models.layers import BatchNorm, avg_pool, conv2d, grad_barrier, max_pool

torch = pytest.importorskip("torch")


def _lax_conv(x, w, stride, padding, groups):
    return lax.conv_general_dilated(x, w, (stride, stride), [(padding, padding)] * 2,
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups)


@pytest.mark.parametrize(
    ("size", "cin", "cout", "k", "stride", "groups"),
    [
        (1, 16, 8, 3, 1, 1),    # 1x1 map: only the centre tap reads data
        (2, 16, 8, 3, 1, 1),    # 2x2 map -> im2col
        (4, 16, 8, 3, 2, 1),    # 4x4 -> 2x2 output -> im2col
        (5, 16, 16, 3, 2, 16),  # depthwise, odd size
        (4, 16, 32, 3, 1, 4),   # grouped
        (3, 8, 8, 1, 2, 2),     # grouped 1x1, strided
    ],
)
def test_conv2d_fast_paths_match_xla_conv_values_and_gradients(size, cin, cout, k, stride, groups):
    kx, kw = jax.random.split(jax.random.key(size * 100 + cin))
    x = jax.random.normal(kx, (2, size, size, cin))
    w = jax.random.normal(kw, (k, k, cin // groups, cout))
    p = (k - 1) // 2

    def ours(x, w):
        return conv2d(x, w, stride=stride, padding=p, groups=groups)

    def ref(x, w):
        return _lax_conv(x, w, stride, p, groups)

    @jax.jit
    def both(x, w):
        grads = [jax.grad(lambda a, b, f=f: jnp.sum(jnp.sin(f(a, b))), argnums=(0, 1))(x, w) for f in (ours, ref)]
        return ours(x, w), ref(x, w), grads

    y1, y2, (g1, g2) = both(x, w)
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size", [1, 2, 5, 8])
def test_max_pool_matches_torch_including_gradient(size):
    x = np.random.RandomState(size).randn(2, 3, size, size).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, 3, 2, 1)
    yt.sum().backward()
    xj = jnp.asarray(x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(np.asarray(max_pool(xj)), yt.detach().numpy().transpose(0, 2, 3, 1))
    gj = jax.grad(lambda v: max_pool(v).sum())(xj)
    np.testing.assert_array_equal(np.asarray(gj), xt.grad.numpy().transpose(0, 2, 3, 1))


@pytest.mark.parametrize(
    ("size", "k", "s", "p", "ceil", "cip"),
    [(5, 2, 2, 0, True, False), (3, 2, 2, 0, True, False), (1, 2, 2, 0, True, False), (4, 3, 2, 1, False, True),
     (2, 3, 2, 1, False, True), (7, 3, 2, 1, True, False)],
)
def test_avg_pool_matches_torch(size, k, s, p, ceil, cip):
    x = np.random.RandomState(size).randn(2, 3, size, size).astype(np.float32)
    ref = torch.nn.functional.avg_pool2d(torch.tensor(x), k, s, p, ceil_mode=ceil, count_include_pad=cip)
    ours = avg_pool(jnp.asarray(x.transpose(0, 2, 3, 1)), k, s, p, ceil_mode=ceil, count_include_pad=cip)
    np.testing.assert_allclose(np.asarray(ours), ref.numpy().transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)


def test_batchnorm_train_step_matches_torch():
    x = np.random.RandomState(0).randn(4, 6, 3, 3).astype(np.float32) * 2 + 1
    tbn = torch.nn.BatchNorm2d(6).train()
    ref = tbn(torch.tensor(x)).detach().numpy().transpose(0, 2, 3, 1)
    bn = BatchNorm(6)
    out = bn(jnp.asarray(x.transpose(0, 2, 3, 1)), train=True)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(bn.mean[...]), tbn.running_mean.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(bn.var[...]), tbn.running_var.numpy(), rtol=1e-6, atol=1e-6)
    assert isinstance(bn.mean, nnx.BatchStat) and isinstance(bn.scale, nnx.Param)


@pytest.mark.parametrize(("size", "stride", "channels"), [(8, 1, 8), (5, 2, 16), (4, 2, 8), (7, 2, 4), (6, 1, 3), (2, 1, 8)])
def test_depthwise_custom_gradient_matches_xla_conv(size, stride, channels):
    # the depthwise path's hand-written backward (flipped-kernel correlation of the dilated cotangent)
    kx, kw = jax.random.split(jax.random.key(size * 10 + stride))
    x = jax.random.normal(kx, (2, size, size, channels))
    w = jax.random.normal(kw, (3, 3, 1, channels))

    def grads(f):
        return jax.jit(jax.grad(lambda a, b: jnp.sum(jnp.sin(f(a, b))), argnums=(0, 1)))(x, w)

    ours = grads(lambda a, b: conv2d(a, b, stride=stride, padding=1, groups=channels))
    ref = grads(lambda a, b: _lax_conv(a, b, stride, 1, channels))
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_grad_barrier_is_exact_identity_for_values_and_gradients():
    x = jax.random.normal(jax.random.key(0), (4, 5, 6))

    def f(v, barrier):
        y = jnp.tanh(v) * 2.0
        y = grad_barrier(y) if barrier else y
        return jnp.sum(jnp.sin(y) * y)

    np.testing.assert_array_equal(grad_barrier(x), x)
    for fn in (jax.grad, jax.value_and_grad):
        a = jax.jit(fn(lambda v: f(v, True)))(x)
        b = jax.jit(fn(lambda v: f(v, False)))(x)
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_allclose(u, v, rtol=1e-6, atol=0)
    # undifferentiated it is a no-op: no conditional in the lowered program
    assert "cond" not in str(jax.make_jaxpr(grad_barrier)(x))


@pytest.mark.parametrize(("kernel", "stride", "padding", "groups"), [(1, 2, 0, 1), (1, 1, 0, 4), (3, 1, 1, 8), (3, 2, 1, 1)])
def test_off_the_cpu_every_convolution_is_the_native_op(monkeypatch, kernel, stride, padding, groups):
    # The CPU speed-ups (matrix products, im2col, shifted slices) are for XLA:CPU only; on a GPU the
    # 1x1 path's strided slice + einsum made jaxlib 0.11.2's Triton tiling abort (seen on an H200).
    x = jnp.ones((2, 8, 8, 8), jnp.float32)
    w = jnp.ones((kernel, kernel, 8 // groups, 8), jnp.float32)

    def prims():
        jaxpr = jax.make_jaxpr(lambda a, b: conv2d(a, b, stride=stride, padding=padding, groups=groups))(x, w)
        return {e.primitive.name for e in jaxpr.jaxpr.eqns}

    assert "conv_general_dilated" not in prims() or (kernel == 3 and groups == 1 and stride == 2)  # CPU paths
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert prims() == {"conv_general_dilated"}
