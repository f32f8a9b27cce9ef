"""A sweep compiles once per model: the optimiser's numbers are inputs of the steps, not constants.

The steps are built as :func:`imgtune.train.trial.train_trial` builds them and lowered to StableHLO
(the persistent compilation cache's key is the lowered module, with the compile options): trials
of one model, image size and batch size lower to the same programs when they differ only in
learning rate, momentum, weight decay, betas, the schedule's numbers or the number of epochs.
"""

from __future__ import annotations

import logging
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import tiny_params
from imgtune.train import loop as lp
from imgtune.train import optim
from imgtune.train.checkpoints import VERSION_KEY, Checkpoints
from imgtune.train.models import create_model, layer_groups
from imgtune.train.state import Progress, TrainState

WIDTH = 0.0625  # machinery only: a 16th of the width
CLASSES = 3


def _programs(params, *, steps_per_epoch: int = 6, size: int = 16, eval_step: bool = True) -> tuple[str, str | None]:
    """The lowered train and eval steps of a trial with ``params`` (as train_trial builds them)."""
    model = create_model(params.model_name, CLASSES, rngs=nnx.Rngs(int(params.random_seed)), width=WIDTH)
    graphdef, p, bs, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
    groups = layer_groups(model)
    tx = optim.make_optimizer(params, steps_per_epoch=steps_per_epoch,
                              frozen=optim.frozen_mask(p, groups, params.layers_to_freeze))
    state = TrainState(jnp.zeros((), jnp.int32), p, bs, tx.init(p))
    train = lp.make_train_step(graphdef, rest, tx, multilabel=False,
                               frozen_stats=optim.frozen_mask(bs, groups, params.layers_to_freeze))
    evaluate = lp.make_eval_step(graphdef, rest, multilabel=False)
    b = int(params.training_batch_size)
    images = jax.ShapeDtypeStruct((b, size, size, 3), jnp.float32)
    labels, mask = jax.ShapeDtypeStruct((b,), jnp.int32), jax.ShapeDtypeStruct((b,), jnp.bool_)
    return (train.lower(state, images, labels, mask).as_text(),
            evaluate.lower(p, bs, images, labels, mask).as_text() if eval_step else None)


BASE = {"learning_rate": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "number_of_epochs": 2,
            "warmup_cosine_lr_warmup_epochs": 1, "warmup_cosine_lr_cycles": 0.45}


@pytest.fixture(scope="module")
def base_programs():
    return _programs(tiny_params(**BASE))


@pytest.mark.parametrize("other", [
    {"learning_rate": 0.05, "momentum": 0.5, "weight_decay": 0.0, "number_of_epochs": 5,
         "warmup_cosine_lr_warmup_epochs": 2, "warmup_cosine_lr_cycles": 0.3},
    {"learning_rate": 0.2, "number_of_epochs": 7},
], ids=["sgd-warmup-cosine", "lr-and-epochs"])
def test_trials_differing_in_numbers_share_their_programs(base_programs, other):
    train, evaluate = _programs(tiny_params(**{**BASE, **other}))
    assert train == base_programs[0]
    assert evaluate == base_programs[1]


@pytest.mark.parametrize("kind, a, b", [
    ("step", {"learning_rate": 0.1, "step_lr_step_size": 1, "step_lr_gamma": 0.5},
     {"learning_rate": 0.003, "step_lr_step_size": 3, "step_lr_gamma": 0.1, "number_of_epochs": 6}),
    ("adamw", {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.01},
     {"learning_rate": 0.0003, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1}),
])
def test_other_schedules_and_optimizers_share_too(kind, a, b):
    extra = {"learning_rate_scheduler": "step"} if kind == "step" else {"optimizer": "adamw"}
    assert (_programs(tiny_params(**extra, **a), eval_step=False)[0]
            == _programs(tiny_params(**extra, **b), eval_step=False)[0])


def test_another_model_or_batch_size_or_structure_compiles_anew(base_programs):
    train, evaluate = base_programs
    other_batch = _programs(tiny_params(**{**BASE, "training_batch_size": 16}))
    assert other_batch[0] != train and other_batch[1] != evaluate
    other_model = _programs(tiny_params("resnet34", **BASE))
    assert other_model[0] != train and other_model[1] != evaluate
    no_momentum = _programs(tiny_params(**{**BASE, "momentum": 0.0}), eval_step=False)  # no momentum buffer
    assert no_momentum[0] != train


def test_the_numbers_are_in_the_optimizer_state():
    params = tiny_params(**BASE)
    tx = optim.make_optimizer(params, steps_per_epoch=6)
    hp = tx.init({"w": jnp.ones(2)}).hyperparams
    want = optim.hyperparameters(params, steps_per_epoch=6)
    assert set(hp) == set(want) >= {"learning_rate", "momentum", "weight_decay", "cosine_span", "warmup_updates"}
    for k, v in want.items():
        assert np.asarray(hp[k]).dtype == v.dtype and np.asarray(hp[k]) == v, k


def test_a_version_1_checkpoint_resumes_into_the_new_layout(tmp_path):
    """Version 1 saved the optimiser state without its numbers: it is read into the inner state."""
    params = tiny_params(**BASE)
    tx = optim.make_optimizer(params, steps_per_epoch=6)
    w = {"w": jnp.asarray([0.5, -1.0, 2.0])}
    state = TrainState(jnp.int32(0), w, {}, tx.init(w))
    update = jax.jit(tx.update)
    for i in range(3):
        u, opt = update({"w": jnp.sin(state.params["w"] * (i + 1))}, state.opt_state, state.params)
        state = TrainState(state.step + 1, jax.tree.map(jnp.add, state.params, u), {}, opt)
    ck = Checkpoints(tmp_path / "ck")
    old = state._replace(opt_state=state.opt_state.inner_state)  # what version 1 wrote
    path = ck.save(old, Progress(epochs_done=1), info={"model_name": "x"})
    info = path / "info.json"
    info.write_text(info.read_text().replace(f'"{VERSION_KEY}": 2', f'"{VERSION_KEY}": 1'))
    template = TrainState(jnp.int32(0), w, {}, tx.init(w))
    restored, _ = Checkpoints(tmp_path / "ck").restore(path, template)
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    for got, want in zip(jax.tree.leaves(restored), jax.tree.leaves(state)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    shutil.rmtree(tmp_path / "ck")


def test_the_first_call_of_a_step_logs_where_its_program_came_from(caplog):
    step = lp.log_first_call(jax.jit(lambda x: x * 3 + 1), "demo step")
    with caplog.at_level(logging.INFO, logger="imgtune.train"):
        step(jnp.ones(3))
        step(jnp.ones(3))
    (line,) = [r.getMessage() for r in caplog.records if r.name == "imgtune.train"]
    assert line.startswith("demo step: ") and "first call" in line
    assert "compil" in line or "cache" in line
