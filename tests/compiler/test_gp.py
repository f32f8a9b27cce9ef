"""The Gaussian-process surrogate (imgtune.compiler.gp)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imgtune.compiler import gp


@pytest.mark.parametrize("n, rows", [(1, 8), (7, 8), (8, 8), (9, 16), (16, 16), (17, 32), (40, 64)])
def test_padded_size(n, rows):
    assert gp.padded_size(n) == rows


def test_padding_rows_add_nothing_to_the_likelihood():
    rng = np.random.default_rng(0)
    x, y = rng.random((5, 3)), rng.normal(size=5)
    theta = jnp.array([np.log(0.3), np.log(0.5), np.log(1.2), 0.1, np.log(1e-2)])

    def loss(rows):
        xp, yp, mask = np.zeros((rows, 3)), np.zeros(rows), np.zeros(rows)
        xp[:5], yp[:5], mask[:5] = x, y, 1.0
        xp[5:] = 0.5  # padding content must not matter
        with jax.enable_x64(True):
            return float(jax.jit(gp._loss)(jnp.asarray(theta, dtype=jnp.float64), jnp.asarray(xp),
                                           jnp.asarray(yp), jnp.asarray(mask)))

    assert loss(8) == pytest.approx(loss(5), rel=1e-12)
    assert loss(64) == pytest.approx(loss(5), rel=1e-12)


def test_fit_runs_in_float64_without_changing_global_config():
    model = gp.fit(np.array([[0.1], [0.5], [0.9]]), np.array([0.0, 1.0, 0.0]))
    assert model.theta.dtype == np.float64
    assert not jax.config.jax_enable_x64
    assert jnp.ones(2).dtype == jnp.float32


def test_fit_interpolates_and_is_uncertain_far_away():
    x = np.linspace(0, 1, 9)[:, None]
    y = np.sin(6 * x[:, 0])
    model = gp.fit(x, y)
    mean, std = gp.predict(model, x)
    assert np.max(np.abs(mean - y)) < 0.05
    _, far_std = gp.predict(model, np.array([[3.0]]))
    assert far_std[0] > 5 * np.max(std)


def test_expected_improvement_prefers_the_promising_region():
    x = np.array([[0.0], [0.2], [0.4], [0.6], [0.8], [1.0]])
    y = -(x[:, 0] - 0.45) ** 2
    ei, mean = gp.expected_improvement(gp.fit(x, y), np.linspace(0, 1, 101)[:, None])
    assert np.all(ei >= 0)
    assert 0.3 <= np.argmax(ei) / 100 <= 0.6


def test_growing_history_within_a_power_of_two_does_not_recompile():
    rng = np.random.default_rng(1)
    x, y = rng.random((16, 2)), rng.normal(size=16)
    candidates = rng.random((100, 2))
    gp.expected_improvement(gp.fit(x[:9], y[:9]), candidates)  # compiles for 16 rows
    before = gp.compilation_cache_sizes()
    for n in range(10, 17):
        gp.expected_improvement(gp.fit(x[:n], y[:n]), candidates)
    assert gp.compilation_cache_sizes() == before


def test_constant_targets_and_single_point_do_not_break():
    m1 = gp.fit(np.array([[0.3, 0.3]]), np.array([0.7]))
    m2 = gp.fit(np.array([[0.1, 0.2], [0.5, 0.5], [0.9, 0.1]]), np.array([0.5, 0.5, 0.5]))
    for model in (m1, m2):
        ei, mean = gp.expected_improvement(model, np.array([[0.2, 0.2], [0.8, 0.8]]))
        assert np.all(np.isfinite(ei)) and np.all(np.isfinite(mean))


def test_fit_rejects_bad_shapes():
    with pytest.raises(ValueError, match="fit needs"):
        gp.fit(np.zeros((0, 2)), np.zeros(0))
