"""Optimisers, schedules, freezing, accumulation and losses against hand computations."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from imgtune.train import optim
from imgtune.train.loop import make_train_step
from imgtune.train.models import create_model, layer_groups
from imgtune.train.state import TrainState

from conftest import tiny_params

W0 = np.array([0.5, -1.0, 2.0], np.float32)
GRADS = [np.array([0.1, -0.2, 0.3], np.float32), np.array([-0.05, 0.4, 0.01], np.float32),
         np.array([0.02, 0.02, -0.5], np.float32)]


def _run(tx, steps=3):
    w = jnp.asarray(W0)
    state = tx.init(w)
    out = []
    for g in GRADS[:steps]:
        u, state = tx.update(jnp.asarray(g), state, w)
        w = optax.apply_updates(w, u)
        out.append(np.asarray(w))
    return out


def _torch_like(kind, lr, wd, *, momentum=0.9, nesterov=True, b1=0.9, b2=0.999, amsgrad=False, eps=1e-8):
    """PyTorch's SGD / Adam / AdamW update rules written out in numpy (float64)."""
    w = W0.astype(np.float64)
    buf = m = v = vmax = None
    out = []
    for t, g in enumerate(GRADS, start=1):
        g = g.astype(np.float64)
        if kind == "sgd":
            g = g + wd * w
            buf = g if buf is None else momentum * buf + g
            w = w - lr * ((g + momentum * buf) if nesterov else buf)
        else:
            if kind == "adam":
                g = g + wd * w
            else:  # adamw: decoupled
                w = w * (1 - lr * wd)
            m = (1 - b1) * g if m is None else b1 * m + (1 - b1) * g
            v = (1 - b2) * g * g if v is None else b2 * v + (1 - b2) * g * g
            mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
            if amsgrad:
                vmax = vhat if vmax is None else np.maximum(vmax, vhat)
                vhat = vmax
            w = w - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(w)
    return out


@pytest.mark.parametrize("kind, extra, ref", [
    ("sgd", dict(momentum=0.9, nesterov=True), dict(momentum=0.9, nesterov=True)),
    ("sgd", dict(momentum=0.8, nesterov=False), dict(momentum=0.8, nesterov=False)),
    ("sgd", dict(momentum=0.0, nesterov=True), dict(momentum=0.0, nesterov=False)),
    ("adam", dict(beta1=0.8, beta2=0.99), dict(b1=0.8, b2=0.99)),
    ("adamw", dict(beta1=0.9, beta2=0.999), dict()),
    ("adam", dict(ams_gradient=True), dict(amsgrad=True)),
    ("adamw", dict(ams_gradient=True, beta2=0.5), dict(amsgrad=True, b2=0.5)),
])
def test_optimizers_match_the_pytorch_rules(kind, extra, ref):
    p = tiny_params(optimizer=kind, learning_rate=0.1, weight_decay=0.05, learning_rate_scheduler="none", **extra)
    got = _run(optim.make_optimizer(p, steps_per_epoch=4))
    want = _torch_like(kind, 0.1, 0.05, **ref)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_adamw_decay_is_decoupled_and_adam_decay_is_not():
    # With a zero gradient Adam's coupled L2 becomes the whole gradient (a normalised step of ~lr),
    # while AdamW only shrinks the weights by lr * wd.
    p = dict(learning_rate=0.1, weight_decay=0.01, learning_rate_scheduler="none")
    w = jnp.asarray(W0)
    for kind, want in (("adamw", W0 * (1 - 0.1 * 0.01)), ("adam", W0 - 0.1 * np.sign(W0))):
        tx = optim.make_optimizer(tiny_params(optimizer=kind, **p), steps_per_epoch=4)
        u, _ = tx.update(jnp.zeros(3), tx.init(w), w)
        np.testing.assert_allclose(np.asarray(optax.apply_updates(w, u)), want, rtol=1e-5)


def test_warmup_cosine_schedule_values():
    p = tiny_params(learning_rate=0.1, number_of_epochs=10, warmup_cosine_lr_warmup_epochs=2,
                    warmup_cosine_lr_cycles=0.45, learning_rate_scheduler="warmup_cosine")
    lr = optim.learning_rate_schedule(p, steps_per_epoch=4)  # U = 4 updates per epoch, T = 40, W = 8

    def cos(t):
        return 0.1 * 0.5 * (1 + math.cos(2 * math.pi * 0.45 * (t - 8) / 32))

    for t, want in [(0, 0.0), (2, 0.025), (4, 0.05), (8, 0.1), (9, cos(9)), (24, cos(24)), (40, cos(40))]:
        assert float(lr(t)) == pytest.approx(want, rel=1e-5, abs=1e-7), t
    assert float(lr(40)) == pytest.approx(0.1 * 0.5 * (1 + math.cos(0.9 * math.pi)), rel=1e-5)


def test_schedules_count_optimizer_updates_not_batches():
    # 8 batches per epoch, 2 per update: 4 updates per epoch, so the warmup (2 epochs) ends at update 8.
    p = tiny_params(learning_rate=0.1, number_of_epochs=10, gradient_accumulation_step=2,
                    learning_rate_scheduler="warmup_cosine", warmup_cosine_lr_warmup_epochs=2)
    lr = optim.learning_rate_schedule(p, steps_per_epoch=8)
    assert float(lr(4)) == pytest.approx(0.05)
    assert float(lr(8)) == pytest.approx(0.1)


def test_step_and_constant_schedules():
    step = optim.learning_rate_schedule(
        tiny_params(learning_rate=0.2, learning_rate_scheduler="step", step_lr_step_size=3, step_lr_gamma=0.1,
                    number_of_epochs=9), steps_per_epoch=5)
    assert [round(float(step(t)), 6) for t in (0, 14, 15, 29, 30, 44)] == [0.2, 0.2, 0.02, 0.02, 0.002, 0.002]
    const = optim.learning_rate_schedule(tiny_params(learning_rate=0.03, learning_rate_scheduler="none"), 5)
    assert {round(float(const(t)), 8) for t in (0, 7, 1000)} == {0.03}


def test_class_weights_and_loss_weights_on_a_hand_example():
    w = optim.class_weights(np.array([0, 0, 1]), 2)  # N / (C * n_c) = 3/4, 3/2
    np.testing.assert_allclose(w, [0.75, 1.5])
    assert optim.loss_weights(0, w) is None
    np.testing.assert_allclose(optim.loss_weights(1, w), np.sqrt([0.75, 1.5]))
    np.testing.assert_allclose(optim.loss_weights(2, w), [0.75, 1.5])
    np.testing.assert_allclose(optim.class_weights(np.array([[1, 0, 0], [1, 1, 0]]), 3, multilabel=True),
                               [2 / 6, 2 / 3, 2 / 3])  # an absent label counts once


@pytest.mark.parametrize("weighted_loss", [0, 1, 2])
def test_multiclass_loss_weights(weighted_loss):
    logits = np.array([[2.0, 0.0], [0.5, 1.0], [0.0, 3.0]], np.float32)
    labels = np.array([0, 0, 1])
    lsm = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    per = -lsm[np.arange(3), labels]
    v = optim.loss_weights(weighted_loss, optim.class_weights(labels, 2))
    vy = np.ones(3) if v is None else v[labels]
    want = (per * vy).sum() / vy.sum()
    got, _ = optim.multiclass_loss(jnp.asarray(logits), jnp.asarray(labels), jnp.ones(3, bool), v)
    assert float(got) == pytest.approx(want, rel=1e-6)
    # a padding row counts for nothing
    got_pad, _ = optim.multiclass_loss(jnp.asarray(np.vstack([logits, [[9.0, -9.0]]])), jnp.asarray([0, 0, 1, 1]),
                                       jnp.asarray([True, True, True, False]), v)
    assert float(got_pad) == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("weighted_loss", [0, 1, 2])
def test_multilabel_loss_weights(weighted_loss):
    logits = np.array([[1.0, -2.0, 0.5], [-1.0, 0.3, 2.0]], np.float32)
    y = np.array([[1, 0, 1], [0, 0, 1]], np.float32)
    v = optim.loss_weights(weighted_loss, optim.class_weights(y, 3, multilabel=True))
    vc = np.ones(3) if v is None else v
    s = 1 / (1 + np.exp(-logits.astype(np.float64)))
    want = np.mean(-(vc * y * np.log(s) + (1 - y) * np.log(1 - s)))
    got, _ = optim.multilabel_loss(jnp.asarray(logits), jnp.asarray(y), jnp.ones(2, bool), v)
    assert float(got) == pytest.approx(want, rel=1e-6)


def _state(model, tx):
    graphdef, params, stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
    return graphdef, rest, TrainState(jnp.zeros((), jnp.int32), params, stats, tx.init(params))


def _paths(tree):
    return {optim.path_of(kp): np.asarray(x) for kp, x in jax.tree_util.tree_leaves_with_path(tree)}


def test_frozen_groups_keep_weights_and_batch_statistics():
    p = tiny_params(layers_to_freeze=2, optimizer="sgd", learning_rate=0.1, learning_rate_scheduler="none")
    model = create_model("resnet18", 10, rngs=nnx.Rngs(0), width=0.25)
    groups = layer_groups(model)
    graphdef, rest, state = _state(model, optax.identity())
    tx = optim.make_optimizer(p, steps_per_epoch=4, frozen=optim.frozen_mask(state.params, groups, 2))
    state = state._replace(opt_state=tx.init(state.params))
    step = make_train_step(graphdef, rest, tx, multilabel=False,
                           frozen_stats=optim.frozen_mask(state.batch_stats, groups, 2))
    before_p, before_s = _paths(state.params), _paths(state.batch_stats)
    rng = np.random.default_rng(0)
    for _ in range(2):
        x = jnp.asarray(rng.normal(size=(8, 16, 16, 3)).astype(np.float32))
        state, _ = step(state, x, jnp.asarray(rng.integers(0, 10, 8)), jnp.ones(8, bool))
    after_p, after_s = _paths(state.params), _paths(state.batch_stats)
    frozen_prefixes = ("conv1", "bn1", "layer1")
    for before, after in ((before_p, after_p), (before_s, after_s)):
        for path, value in before.items():
            changed = not np.array_equal(value, after[path])
            assert changed != (path[0] in frozen_prefixes), path
    assert len(groups) == 5


def test_gradient_accumulation_equals_a_large_batch():
    """k steps of batch b == one step of batch k * b (ViT: no batch norm; weighted_loss 0)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 16, 16, 3)).astype(np.float32)
    y = rng.integers(0, 5, 16)
    results = []
    for k, b in ((1, 8), (4, 2)):
        p = tiny_params("vits16r224", gradient_accumulation_step=k, optimizer="sgd", momentum=0.9,
                        learning_rate=0.05, weight_decay=0.01, learning_rate_scheduler="warmup_cosine",
                        warmup_cosine_lr_warmup_epochs=1, number_of_epochs=2)
        model = create_model("vits16r224", 5, rngs=nnx.Rngs(3), width=0.25)
        graphdef, rest, state = _state(model, optax.identity())
        tx = optim.make_optimizer(p, steps_per_epoch=2 * k)  # 2 updates per epoch either way
        state = state._replace(opt_state=tx.init(state.params))
        step = make_train_step(graphdef, rest, tx, multilabel=False)
        for i in range(16 // b):
            sl = slice(i * b, (i + 1) * b)
            state, _ = step(state, jnp.asarray(x[sl]), jnp.asarray(y[sl]), jnp.ones(b, bool))
        results.append(_paths(state.params))
    big, small = results
    moved = 0
    for path in big:
        np.testing.assert_allclose(small[path], big[path], atol=1e-5, rtol=0, err_msg=str(path))
    init = _paths(nnx.state(create_model("vits16r224", 5, rngs=nnx.Rngs(3), width=0.25), nnx.Param))
    moved = sum(not np.allclose(init[pth], big[pth]) for pth in big)
    assert moved > len(big) // 2  # the two updates did move the weights
