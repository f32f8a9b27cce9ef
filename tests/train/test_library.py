"""The trainer as a library: ``init_state``, a ``loss_fn`` hook and ``fit`` on in-memory arrays."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import imgtune.train as t
from imgtune.errors import ValidationError
from tests.train.conftest import tiny_params

#: SGD at a constant rate, no momentum, no weight decay: a parameter whose gradient is zero does not move.
PLAIN_SGD = {"optimizer": "sgd", "momentum": 0.0, "weight_decay": 0.0, "learning_rate": 0.1,
             "learning_rate_scheduler": "none", "advanced_settings": '{"pretrained": false}'}


def _batch(n=8, size=16, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, size, size, 3)).astype(np.float32), (np.arange(n) % classes).astype(np.int32),
            np.ones(n, bool))


def test_init_state_of_a_zoo_model_as_a_trial_builds_it():
    setup = t.init_state("resnet18", 3, tiny_params(**PLAIN_SGD, layers_to_freeze=2), steps_per_epoch=4,
                         model_width=0.25)
    assert isinstance(setup, t.TrainSetup) and setup.start == "scratch"
    assert int(setup.state.step) == 0 and setup.state.params["fc"]["bias"].shape == (3,)
    assert float(setup.state.opt_state.hyperparams["learning_rate"]) == np.float32(0.1)
    frozen = {path[0].key for path, v in jax.tree_util.tree_leaves_with_path(setup.frozen_stats) if v}
    assert frozen == {"bn1", "layer1"}  # the stem and layer1: two groups


class Tiny(nnx.Module):
    """One's own model: mean colour -> a linear head (``fc``)."""

    def __init__(self, num_classes: int, *, rngs: nnx.Rngs):
        self.fc = nnx.Linear(3, num_classes, rngs=rngs)

    def __call__(self, x, train: bool = False):
        return self.fc(jnp.mean(x, axis=(1, 2)))


@pytest.fixture(scope="module")
def tiny():
    return t.init_state(Tiny(3, rngs=nnx.Rngs(0)), None, tiny_params(**PLAIN_SGD), steps_per_epoch=4)


def test_one_step_on_ones_own_arrays(tiny):
    assert tiny.start == "scratch"
    state, loss = tiny.train_step(multilabel=False, donate=False)(tiny.state, *_batch())
    assert int(state.step) == 1 and np.isfinite(float(loss))
    moved = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))), state.params, tiny.state.params)
    assert all(jax.tree.leaves(moved))  # every parameter took a step
    with pytest.raises(ValueError, match="not both"):
        tiny.train_step(multilabel=False, weights=np.ones(3, np.float32), loss_fn=t.default_loss(False))


def ignore_class_1(logits, labels, weights):
    """Cross-entropy over classes 0 and 2 only, on their examples: class 1's logit gets no gradient."""
    keep = jnp.array([0, 2])
    w = weights * (labels != 1)
    per = optax.softmax_cross_entropy_with_integer_labels(logits[:, keep], jnp.where(labels == 2, 1, 0))
    return jnp.sum(per * w) / jnp.maximum(jnp.sum(w), 1.0)


def test_a_custom_loss_changes_the_gradient(tiny):
    setup = tiny
    bias = np.asarray(setup.state.params["fc"]["bias"][...])
    default, _ = setup.train_step(multilabel=False, donate=False)(setup.state, *_batch())
    custom, _ = setup.train_step(multilabel=False, loss_fn=ignore_class_1, donate=False)(setup.state, *_batch())
    moved_default = np.asarray(default.params["fc"]["bias"][...]) != bias
    moved_custom = np.asarray(custom.params["fc"]["bias"][...]) != bias
    assert moved_default.tolist() == [True, True, True]
    assert moved_custom.tolist() == [True, False, True]  # class 1's head bias untouched at lr 0.1


def _separable(n, size=16, seed=0):
    """Dark images are class "dark", bright ones "bright" (noise on top): trivially separable."""
    rng = np.random.default_rng(seed)
    y = np.array(["dark", "bright"] * (n // 2))
    base = np.where(y == "bright", 200, 40)[:, None, None, None]
    x = np.clip(base + rng.normal(0, 20, (n, size, size, 3)), 0, 255).astype(np.uint8)
    return x, y


#: A real architecture (resnet18, full width) at 16 px, from random weights.
FIT = {"training_crop_size": 16, "validation_crop_size": 16, "validation_resize_size": 16, "training_batch_size": 16,
       "validation_batch_size": 32, "number_of_workers": 0, "number_of_epochs": 5, "learning_rate": 0.003,
       "warmup_cosine_lr_warmup_epochs": 1, "early_stopping": False, "advanced_settings": '{"pretrained": false}'}


def test_fit_learns_from_arrays_and_resumes(tmp_path):
    x, y = _separable(64)
    vx, vy = _separable(32, seed=1)
    first = t.fit(x, y, model_name="resnet18", validation=(vx, vy), training_parameters=FIT, workdir=tmp_path,
                  max_steps=7)
    assert first.status == "Canceled" and first.resumable and first.steps == 7
    r = t.fit(x, y, model_name="resnet18", validation=(vx, vy), training_parameters=FIT, workdir=tmp_path)
    assert r.status == "Completed" and r.steps == 5 * 4 and r.classes == ("bright", "dark")
    assert r.best_metric >= 0.9, r.history  # chance is 0.5
    assert r.checkpoint is not None and r.checkpoint.is_dir()
    again = t.fit(x, y, model_name="resnet18", validation=(vx, vy), training_parameters=FIT, workdir=tmp_path)
    assert again == r  # the stored result


def test_fit_refuses_bad_arrays_listing_every_problem():
    with pytest.raises(ValidationError) as e:
        t.fit(np.zeros((4, 8, 8, 2), np.uint8), np.arange(3), validation=(np.full((2, 8, 8, 3), 2.0), [0, 1]),
              training_parameters={"learning_rate": "fast"})
    paths = [p.path for p in e.value.problems]
    assert paths == ["images", "validation[0]", "training_parameters.learning_rate"], str(e.value)
