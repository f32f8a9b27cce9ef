"""A small Gaussian-process surrogate with expected improvement, in JAX.

This is the model behind ``sampling_algorithm: bayesian``
(:func:`imgtune.compiler.samplers.bayesian_sampler`). Azure documents no
surrogate, so imgtune states its own:

* **Inputs** are features in ``[0, 1]`` (the sampler normalises uniform and
  quniform dimensions by their bounds and one-hot encodes choices).
* **Outputs** are standardised (mean 0, standard deviation 1 over the observed
  trials); failed trials never reach this module.
* **Kernel**: Matern 5/2 with one length scale per input dimension (ARD), a
  signal variance and a Gaussian noise variance, plus a fixed jitter of
  ``1e-8`` on the diagonal.
* **Fit**: the hyperparameters (log length scales, log signal variance, log
  noise) maximise the log marginal likelihood plus weak log-normal priors
  (length scales around 0.5, signal variance around 1, noise around 1e-3,
  which keeps a fit on 5 points sane). The optimiser is Adam (optax),
  ``steps`` iterations from ``len(_INIT_LENGTHSCALES)`` starting points run
  side by side with ``vmap``; after each step the parameters are clipped to a
  box (length scales in [0.01, 20], noise in [1e-6, 1]). The restart with the
  lowest loss wins.
* **Precision**: everything runs in float64 inside ``jax.enable_x64(True)``
  (a thread-local context manager in jax 0.10; the global ``jax.config`` is
  never changed).
* **No recompilation per trial**: the observations are padded to the next
  power of two (at least 8) and a mask removes the padding rows from the
  likelihood (their kernel rows become identity rows and their targets 0, so
  they add exactly nothing) and from the posterior. A sweep of 40 trials
  therefore compiles the fit at most for 8, 16, 32 and 64 rows.
* **Acquisition**: expected improvement over the best observed (standardised)
  value, computed for a candidate matrix chosen by the caller.

Example:
    >>> import numpy as np
    >>> X = np.array([[0.1], [0.4], [0.6], [0.9]])
    >>> model = fit(X, -(X[:, 0] - 0.5) ** 2)
    >>> mean, std = predict(model, np.array([[0.5], [0.0]]))
    >>> bool(mean[0] > mean[1])
    True
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.stats import norm

__all__ = ["GP", "compilation_cache_sizes", "expected_improvement", "fit", "padded_size", "predict"]

_JITTER = 1e-8
_INIT_LENGTHSCALES = (0.15, 0.4, 1.0, 2.5)
_LOG_LS_BOUNDS = (math.log(0.01), math.log(20.0))
_LOG_VAR_BOUNDS = (math.log(0.05), math.log(20.0))
_LOG_NOISE_BOUNDS = (math.log(1e-6), math.log(1.0))


class GP(NamedTuple):
    """A fitted surrogate (all arrays are numpy, float64, padded).

    Attributes:
        theta: ``[log length scales (D), log signal variance, log noise]``.
        x: Padded inputs ``(n_pad, D)``.
        y: Padded standardised targets ``(n_pad,)`` (0 on padding rows).
        mask: 1.0 for real rows, 0.0 for padding.
        y_mean, y_std: The standardisation, to map predictions back.
        loss: The negative log marginal likelihood (+ priors) at ``theta``.
    """

    theta: np.ndarray
    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    y_mean: float
    y_std: float
    loss: float


def padded_size(n: int) -> int:
    """Rows after padding: the next power of two, at least 8.

    >>> [padded_size(n) for n in (1, 8, 9, 33)]
    [8, 8, 16, 64]
    """
    return max(8, 1 << max(0, int(n) - 1).bit_length())


# -- kernel and likelihood -----------------------------------------------------

def _matern52(xa: jax.Array, xb: jax.Array, lengthscales: jax.Array, variance: jax.Array) -> jax.Array:
    diff = (xa[:, None, :] - xb[None, :, :]) / lengthscales
    d2 = jnp.sum(diff * diff, axis=-1)
    positive = d2 > 0
    r = jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)  # safe gradient at r = 0
    s5r = math.sqrt(5.0) * r
    return variance * (1.0 + s5r + 5.0 / 3.0 * d2) * jnp.exp(-s5r)


def _unpack(theta: jax.Array, dims: int):
    return jnp.exp(theta[:dims]), jnp.exp(theta[dims]), jnp.exp(theta[dims + 1])


def _masked_cholesky(theta: jax.Array, x: jax.Array, mask: jax.Array) -> jax.Array:
    dims = x.shape[1]
    ls, var, noise = _unpack(theta, dims)
    k = _matern52(x, x, ls, var)
    outer = mask[:, None] * mask[None, :]
    k = k * outer + jnp.diag(mask * (noise + _JITTER) + (1.0 - mask))
    return jnp.linalg.cholesky(k)


def _loss(theta: jax.Array, x: jax.Array, y: jax.Array, mask: jax.Array) -> jax.Array:
    dims = x.shape[1]
    chol = _masked_cholesky(theta, x, mask)
    alpha = jax.scipy.linalg.cho_solve((chol, True), y * mask)
    n = jnp.sum(mask)
    nll = 0.5 * jnp.dot(y * mask, alpha) + jnp.sum(jnp.log(jnp.diag(chol))) + 0.5 * n * math.log(2 * math.pi)
    log_ls, log_var, log_noise = theta[:dims], theta[dims], theta[dims + 1]
    prior = (0.5 * jnp.sum(((log_ls - math.log(0.5)) / 1.5) ** 2)
             + 0.5 * (log_var / 1.5) ** 2
             + 0.5 * ((log_noise - math.log(1e-3)) / 3.0) ** 2)
    value = nll + prior
    return jnp.where(jnp.isfinite(value), value, 1e10)


def _clip(theta: jax.Array, dims: int) -> jax.Array:
    lo = jnp.concatenate([jnp.full((dims,), _LOG_LS_BOUNDS[0]),
                          jnp.array([_LOG_VAR_BOUNDS[0], _LOG_NOISE_BOUNDS[0]])])
    hi = jnp.concatenate([jnp.full((dims,), _LOG_LS_BOUNDS[1]),
                          jnp.array([_LOG_VAR_BOUNDS[1], _LOG_NOISE_BOUNDS[1]])])
    return jnp.clip(theta, lo, hi)


@functools.partial(jax.jit, static_argnames=("steps", "learning_rate"))
def _fit_padded(x: jax.Array, y: jax.Array, mask: jax.Array, *, steps: int, learning_rate: float):
    dims = x.shape[1]
    inits = jnp.stack([
        jnp.concatenate([jnp.full((dims,), math.log(ls)), jnp.array([0.0, math.log(1e-2 if i % 2 else 1e-4)])])
        for i, ls in enumerate(_INIT_LENGTHSCALES)
    ])
    opt = optax.adam(learning_rate)
    grad = jax.value_and_grad(_loss)

    def run(theta0):
        def step(carry, _):
            theta, opt_state = carry
            value, g = grad(theta, x, y, mask)
            g = jnp.where(jnp.isfinite(g), g, 0.0)
            updates, opt_state = opt.update(g, opt_state, theta)
            return (_clip(optax.apply_updates(theta, updates), dims), opt_state), value

        (theta, _), _ = jax.lax.scan(step, (theta0, opt.init(theta0)), None, length=steps)
        return theta, _loss(theta, x, y, mask)

    thetas, losses = jax.vmap(run)(inits)
    best = jnp.argmin(losses)
    return thetas[best], losses[best]


@jax.jit
def _posterior(theta: jax.Array, x: jax.Array, y: jax.Array, mask: jax.Array, xc: jax.Array):
    dims = x.shape[1]
    ls, var, _ = _unpack(theta, dims)
    chol = _masked_cholesky(theta, x, mask)
    alpha = jax.scipy.linalg.cho_solve((chol, True), y * mask)
    kc = _matern52(xc, x, ls, var) * mask[None, :]
    mean = kc @ alpha
    v = jax.scipy.linalg.solve_triangular(chol, kc.T, lower=True)
    variance = jnp.maximum(var - jnp.sum(v * v, axis=0), 1e-12)
    return mean, jnp.sqrt(variance)


@jax.jit
def _ei(theta: jax.Array, x: jax.Array, y: jax.Array, mask: jax.Array, xc: jax.Array):
    mean, std = _posterior(theta, x, y, mask, xc)
    best = jnp.max(jnp.where(mask > 0, y, -jnp.inf))
    z = (mean - best) / std
    return (mean - best) * norm.cdf(z) + std * norm.pdf(z), mean


# -- public API ----------------------------------------------------------------

def fit(x: np.ndarray, y: np.ndarray, *, steps: int = 80, learning_rate: float = 0.1) -> GP:
    """Fits the surrogate to observations ``x`` ``(n, D)`` and ``y`` ``(n,)``.

    ``y`` is maximised by the acquisition; non-finite rows must be removed by
    the caller. ``n`` may be 1 (the fit then mostly follows the priors).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
        raise ValueError(f"fit needs x (n, D) and y (n,) with n >= 1, got {x.shape} and {y.shape}")
    n, dims = x.shape
    y_mean = float(np.mean(y))
    y_std = float(np.std(y))
    if not y_std > 1e-12:
        y_std = 1.0
    m = padded_size(n)
    xp = np.zeros((m, dims))
    xp[:n] = x
    yp = np.zeros(m)
    yp[:n] = (y - y_mean) / y_std
    mask = np.zeros(m)
    mask[:n] = 1.0
    with jax.enable_x64(True):
        theta, loss = _fit_padded(jnp.asarray(xp), jnp.asarray(yp), jnp.asarray(mask),
                                  steps=int(steps), learning_rate=float(learning_rate))
        theta = np.asarray(theta)
        loss = float(loss)
    return GP(theta, xp, yp, mask, y_mean, y_std, loss)


def predict(model: GP, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation at ``xc`` ``(c, D)``, in the units of ``y``."""
    with jax.enable_x64(True):
        mean, std = _posterior(*_args(model), jnp.asarray(np.asarray(xc, dtype=np.float64)))
        mean, std = np.asarray(mean), np.asarray(std)
    return mean * model.y_std + model.y_mean, std * model.y_std


def expected_improvement(model: GP, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected improvement over the best observation at ``xc``, and the posterior mean.

    Both are in standardised units (only their order matters); the mean breaks
    ties where the improvement underflows to 0.
    """
    with jax.enable_x64(True):
        ei, mean = _ei(*_args(model), jnp.asarray(np.asarray(xc, dtype=np.float64)))
        return np.asarray(ei), np.asarray(mean)


def _args(model: GP):
    return tuple(jnp.asarray(a) for a in (model.theta, model.x, model.y, model.mask))


def compilation_cache_sizes() -> dict[str, int]:
    """How many compiled versions the jitted pieces hold (for no-recompile tests)."""
    return {"fit": _fit_padded._cache_size(), "posterior": _posterior._cache_size(), "ei": _ei._cache_size()}
