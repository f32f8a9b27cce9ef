"""A model's starting train state: the one code path of :func:`imgtune.train.trial.train_trial`, as a library.

:func:`init_state` builds what a trial trains from -- the model (a name of the zoo, with its
starting weights, or one's own ``nnx.Module``), split into its graph definition, parameters, batch
statistics and other variables; the update rule (:func:`imgtune.train.optim.make_optimizer`, its
numbers runtime values in the state); the frozen groups (``layers_to_freeze``); and the
:class:`~imgtune.train.state.TrainState` -- and returns them as one :class:`TrainSetup`. Its
:meth:`~TrainSetup.train_step` and :meth:`~TrainSetup.eval_step` are
:func:`imgtune.train.loop.make_train_step` / :func:`~imgtune.train.loop.make_eval_step` for it,
so a few lines train on one's own arrays (one's own loss: ``loss_fn``).

Example:
    >>> import numpy as np
    >>> from flax import nnx
    >>> from imgtune.compiler.defaults import resolve
    >>> from imgtune.spec.records import TrainingParameters
    >>> class Tiny(nnx.Module):  # one's own model: mean colour -> a linear head
    ...     def __init__(self, rngs):
    ...         self.fc = nnx.Linear(3, 3, rngs=rngs)
    ...     def __call__(self, x, train=False):
    ...         return self.fc(x.mean(axis=(1, 2)))
    >>> params = resolve(TrainingParameters(model_name="resnet18", learning_rate=0.01), {}, multilabel=False,
    ...                  seed=0)
    >>> setup = init_state(Tiny(nnx.Rngs(0)), None, params, steps_per_epoch=10)
    >>> step = setup.train_step(multilabel=False)
    >>> x = np.zeros((4, 16, 16, 3), np.float32); y = np.array([0, 1, 2, 0], np.int32)
    >>> state, loss = step(setup.state, x, y, np.ones(4, bool))
    >>> int(state.step), bool(np.isfinite(loss)), setup.start
    (1, True, 'scratch')

    A model of the zoo starts as its trial would (here from random weights: ``"pretrained": false``):

    >>> setup = init_state("resnet18", 3, resolve(TrainingParameters(
    ...     model_name="resnet18", advanced_settings='{"pretrained": false}'), {}, multilabel=False, seed=0),
    ...     steps_per_epoch=10, model_width=0.25)
    >>> setup.start, setup.state.params["fc"]["bias"].shape
    ('scratch', (3,))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from imgtune.compiler.defaults import resolve
from imgtune.errors import Problem, ValidationError
from imgtune.spec.models import model_spec
from imgtune.spec.records import TrainingParameters
from imgtune.train import loop as lp
from imgtune.train import optim, pretrained
from imgtune.train.checkpoints import load_into, load_weights
from imgtune.train.models import create_model, layer_groups, load_pretrained
from imgtune.train.optim import LossFn
from imgtune.train.state import TrainState

__all__ = ["TrainSetup", "init_state"]


@attrs.frozen
class TrainSetup:
    """What a trial trains from (see the module doc).

    Attributes:
        graphdef: The model's ``nnx`` graph definition.
        rest: Its variables other than parameters and batch statistics (RNG streams).
        tx: The update rule (:func:`imgtune.train.optim.make_optimizer`).
        state: The starting :class:`~imgtune.train.state.TrainState` (step 0).
        frozen_stats: Bools shaped like the batch statistics: true for frozen groups.
        start: How the weights started: one of :data:`imgtune.train.pretrained.STARTS`
            (``"scratch"`` for one's own module).
    """

    graphdef: Any
    rest: Any
    tx: optax.GradientTransformation
    state: TrainState
    frozen_stats: Any
    start: str

    def train_step(self, *, multilabel: bool, weights: np.ndarray | None = None, loss_fn: LossFn | None = None,
                   state_sharding: Any | None = None, donate: bool = True) -> Callable[..., tuple[TrainState, Any]]:
        """:func:`imgtune.train.loop.make_train_step` for this setup (its frozen groups included).

        >>> setup = init_state("resnet18", 2, _tiny(), steps_per_epoch=1, model_width=0.25)
        >>> callable(setup.train_step(multilabel=True))
        True
        """
        return lp.make_train_step(self.graphdef, self.rest, self.tx, multilabel=multilabel, weights=weights,
                                  loss_fn=loss_fn, frozen_stats=self.frozen_stats, state_sharding=state_sharding,
                                  donate=donate)

    def eval_step(self, *, multilabel: bool, out_sharding: Any | None = None) -> Callable[..., Any]:
        """:func:`imgtune.train.loop.make_eval_step` for this setup: ``(params, batch_stats, images, labels,
        mask) -> (scores, per_example_loss)``.

        >>> setup = init_state("resnet18", 2, _tiny(), steps_per_epoch=1, model_width=0.25)
        >>> callable(setup.eval_step(multilabel=False))
        True
        """
        return lp.make_eval_step(self.graphdef, self.rest, multilabel=multilabel, out_sharding=out_sharding)


def _tiny() -> TrainingParameters:  # the doctests' parameters
    return resolve(TrainingParameters(model_name="resnet18", advanced_settings='{"pretrained": false}'), {},
                   multilabel=False, seed=0)


def init_state(
    model: str | nnx.Module,
    num_classes: int | None,
    params: TrainingParameters,
    *,
    steps_per_epoch: int,
    seed: int | None = None,
    rngs: nnx.Rngs | None = None,
    model_width: float = 1.0,
    dtype: Any = jnp.float32,
    start: str | None = None,
) -> TrainSetup:
    """The starting train state of a model, as :func:`imgtune.train.trial.train_trial` builds it.

    Args:
        model: A model name of the zoo (:data:`imgtune.train.models.MODEL_NAMES`), or one's own
            ``nnx.Module`` called as ``model(images, train=...)`` (used as it is, not copied).
        num_classes: The classes of a named model's head (ignored for a module).
        params: Resolved training parameters (:func:`imgtune.compiler.defaults.resolve`): the
            optimiser, schedule, freezing and starting weights.
        steps_per_epoch: Training batches per epoch (the schedule's unit).
        seed: Initialises a named model (default ``params.random_seed``); or give ``rngs``.
        rngs: The named model's random streams (win over ``seed``).
        model_width: A channel multiplier below 1, for fast tests of the machinery only.
        dtype: The compute dtype.
        start: How a named model starts (:data:`imgtune.train.pretrained.STARTS`); default
            :func:`imgtune.train.pretrained.start_of` ``(params)``: ImageNet weights unless
            ``advanced_settings`` says ``"pretrained": false`` (they must be in the Hugging Face
            cache: ``imgtune weights download``), ``pretrained_weights`` or ``checkpoint_run_id``.

    Returns:
        The :class:`TrainSetup`.

    Raises:
        ValidationError: Unresolved ``params``, an unknown model name or a bad ``num_classes``.

    Example:
        >>> setup = init_state("resnet18", 2, _tiny(), steps_per_epoch=4, model_width=0.25)
        >>> int(setup.state.step), round(float(setup.state.opt_state.hyperparams["learning_rate"]), 6)
        (0, 0.01)
    """
    if isinstance(model, str):
        if rngs is None:
            rngs = nnx.Rngs(int(params.random_seed if seed is None else seed))
        module = create_model(model, int(num_classes or 0), rngs=rngs, dtype=dtype, width=model_width)
        start = pretrained.start_of(params, model_width=model_width) if start is None else start
        advanced = json.loads(params.advanced_settings or "{}")
        if start == pretrained.CHECKPOINT:
            load_into(module, *load_weights(params.checkpoint_run_id))
        elif start == pretrained.FILE:
            load_pretrained(module, advanced["pretrained_weights"], skip_head=True)
        elif start == pretrained.PRETRAINED and model_spec(model).builder:
            pretrained.own_weights(model, module)  # one's own model's ``pretrained`` hook
        elif start == pretrained.PRETRAINED:  # the driver fetched them; a trial never downloads
            load_pretrained(module, pretrained.weights_path(model), skip_head=True,
                            source_layout=model_spec(model).weights.source_layout)
    elif isinstance(model, nnx.Module):
        module, start = model, pretrained.SCRATCH
    else:
        raise ValidationError([Problem("model", f"must be a model name or an nnx.Module, got {type(model).__name__}")])
    graphdef, p, bs, rest = nnx.split(module, nnx.Param, nnx.BatchStat, ...)
    groups = layer_groups(module) if hasattr(module, "layer_groups") else []  # one's own module: none
    frozen = optim.frozen_mask(p, groups, params.layers_to_freeze)
    tx = optim.make_optimizer(params, steps_per_epoch=int(steps_per_epoch), frozen=frozen)
    state = TrainState(jnp.zeros((), jnp.int32), p, bs, tx.init(p))
    return TrainSetup(graphdef=graphdef, rest=rest, tx=tx, state=state,
                      frozen_stats=optim.frozen_mask(bs, groups, params.layers_to_freeze), start=start)
