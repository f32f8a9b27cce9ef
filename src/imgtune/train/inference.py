"""Using a trained checkpoint: load its model, score it on labelled images.

A checkpoint folder (or a training workdir, whose ``BEST`` checkpoint is
used) carries an ``info.json`` naming the model, its classes and its
preprocessing, so a model is rebuilt from the folder alone. Where a run keeps
its models (a run's folder, ``best/``, a trial's folder) is the runner's
business: :func:`imgtune.runner.store.model_folder` turns those into a folder
taken here.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from imgtune.train import data as d
from imgtune.train.checkpoints import load_into, load_weights, read_info
from imgtune.train.metrics import evaluate
from imgtune.train.models import create_model

__all__ = ["checkpoint_folder", "forward_scores", "load_model", "logits_to_scores", "normalization", "predict_batches",
           "score_examples"]


def checkpoint_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` when it holds a checkpoint (in the format of :mod:`imgtune.train.checkpoints`): a
    checkpoint folder, a training workdir or its ``checkpoints`` folder.

    Raises:
        FileNotFoundError: ``path`` holds none.
    """
    p = Path(path)
    if (p / "info.json").is_file() or (p / "checkpoints").is_dir() or (p / "BEST").is_file():
        return p
    raise FileNotFoundError(f"no checkpoint at {p}")


def load_model(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """The trained model (Flax NNX) and its ``info.json``, from a folder :func:`checkpoint_folder` takes."""

    folder = checkpoint_folder(path)
    info = read_info(folder)
    params, batch_stats = load_weights(folder)
    model = create_model(info["model_name"], len(info["classes"]), rngs=nnx.Rngs(0),
                         width=info.get("model_width", 1.0))
    load_into(model, params, batch_stats)
    return model, info


def normalization(info: dict[str, Any]) -> dict[str, tuple[float, ...]]:
    """The ``mean`` and ``std`` a checkpoint's model takes its images normalised with (from its
    ``info.json``; checkpoints written before they were recorded: ImageNet's).

    >>> normalization({})["std"]
    (0.229, 0.224, 0.225)
    """
    return {"mean": tuple(info.get("mean") or d.IMAGENET_MEAN), "std": tuple(info.get("std") or d.IMAGENET_STD)}


def logits_to_scores(logits: Any, multilabel: bool) -> jax.Array:
    """Scores from logits, in float32: the softmax (multiclass) or a per-label sigmoid (multilabel).

    The one place where logits become scores: the trainer's evaluation, the test scoring,
    ``imgtune evaluate`` and prediction (JAX or ONNX logits) all call it.

    >>> logits_to_scores(np.array([[0.0, 0.0]]), multilabel=False).tolist()
    [[0.5, 0.5]]
    >>> np.round(logits_to_scores(np.array([[0.0, 100.0]]), multilabel=True), 3).tolist()
    [[0.5, 1.0]]
    """
    logits = jnp.asarray(logits, jnp.float32)
    return jax.nn.sigmoid(logits) if multilabel else jax.nn.softmax(logits, axis=-1)


@functools.partial(nnx.jit, static_argnames="multilabel")
def forward_scores(model: Any, images: Any, *, multilabel: bool) -> jax.Array:
    """The model's scores for a batch of normalised NHWC images (evaluation mode)."""
    return logits_to_scores(model(images, train=False), multilabel)


def predict_batches(model: Any, info: dict[str, Any], batches: Any) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (softmax, or per-label sigmoid for multilabel) and labels of the masked-in rows."""
    scores, labels = [], []
    for batch in batches:
        probs = np.asarray(forward_scores(model, batch.images, multilabel=bool(info["multilabel"])))
        scores.append(probs[batch.mask])
        labels.append(np.asarray(batch.labels)[batch.mask])
    return np.concatenate(scores), np.concatenate(labels)


def score_examples(path: str | os.PathLike[str], examples: Sequence[Any], *, batch_size: int = 64,
                   workers: int = 0) -> Any:
    """The metrics of a checkpoint's model (``path`` as for :func:`load_model`) on labelled examples
    (its own preprocessing).

    Raises:
        ValidationError: A label the model does not know, or unreadable images.
    """
    model, info = load_model(path)
    classes = tuple(info["classes"])
    d.check_labels(examples, classes, "data")
    with d.eval_iterator(examples, classes, multilabel=info["multilabel"], batch_size=batch_size,
                         resize_size=info["validation_resize_size"], crop_size=info["validation_crop_size"],
                         workers=workers, **normalization(info)) as batches:
        scores, labels = predict_batches(model, info, batches)
    return evaluate(scores, labels, multilabel=info["multilabel"], classes=classes)
