"""The optimiser refuses unresolved parameters; the train step's donation and its opt-out (issue 17)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest
from flax import nnx

from conftest import tiny_params
from imgtune.errors import ValidationError
from imgtune.spec.records import TrainingParameters
from imgtune.train import optim
from imgtune.train.loop import make_train_step
from imgtune.train.models import create_model
from imgtune.train.state import TrainState


def test_make_optimizer_on_unresolved_parameters_is_a_validation_error():
    with pytest.raises(ValidationError) as err:
        optim.make_optimizer(TrainingParameters(optimizer="adam", learning_rate=0.01), steps_per_epoch=4)
    paths = {p.path for p in err.value.problems}
    assert "training_parameters.number_of_epochs" in paths and "training_parameters.learning_rate" not in paths
    assert "resolve" in str(err.value)
    with pytest.raises(ValidationError):
        optim.learning_rate_schedule(TrainingParameters(), steps_per_epoch=4)
    optim.make_optimizer(tiny_params(), steps_per_epoch=4)  # resolved ones are fine
    # all fields set, as read back from a run's files: fine too
    optim.make_optimizer(TrainingParameters(**tiny_params().set_fields()), steps_per_epoch=4)


@pytest.mark.parametrize("donate", [True, False])
def test_the_train_step_donates_its_state_unless_asked_not_to(donate):
    model = create_model("resnet18", 3, rngs=nnx.Rngs(0), width=0.125)
    graphdef, params, stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
    tx = optax.sgd(0.1)
    state = TrainState(jnp.zeros((), jnp.int32), params, stats, tx.init(params))
    kwargs = {} if donate else {"donate": False}
    step = make_train_step(graphdef, rest, tx, multilabel=False, **kwargs)
    images, labels, mask = jnp.zeros((2, 16, 16, 3)), jnp.zeros(2, jnp.int32), jnp.ones(2, bool)
    state_info = step.lower(state, images, labels, mask).args_info[0][0]
    donated = {leaf.donated for leaf in jax.tree.leaves(state_info, is_leaf=lambda x: hasattr(x, "donated"))}
    assert donated == {donate}

