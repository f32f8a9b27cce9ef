"""The trainer as a library: train a real architecture on numpy arrays, with one's own loss.

scikit-learn's 8x8 digits become 16 px float images in [0, 1]; ``imgtune.train.fit`` runs the
whole training loop on them (epochs, evaluation, the best checkpoint in ``runs/fit_numpy``, the
same augmentation and normalisation as a job's trial) with a ResNet-18 from random weights and a
label-smoothed cross-entropy as ``loss_fn``. A few seconds on a CPU once compiled::

    python examples/fit_numpy.py            # again: returns the stored result at once
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import imgtune.train

ROOT = Path(__file__).resolve().parent.parent


def smoothed_cross_entropy(logits: jax.Array, labels: jax.Array, weights: jax.Array) -> jax.Array:
    """Softmax cross-entropy against labels smoothed by 0.1, averaged over the real examples."""
    targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), 0.1)
    per = optax.softmax_cross_entropy(logits.astype(jnp.float32), targets)
    return jnp.sum(per * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def main(workdir: str | None = None) -> int:
    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((2, 2)))[..., None]  # [N, 16, 16, 1] in [0, 1]
    labels = digits.target  # class indices 0..9
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))[:800]
    train, valid = order[:640], order[640:]
    result = imgtune.train.fit(
        images[train], labels[train], validation=(images[valid], labels[valid]),
        classes=[str(d) for d in range(10)], model_name="resnet18", loss_fn=smoothed_cross_entropy,
        training_parameters={"training_crop_size": 16, "validation_crop_size": 16, "validation_resize_size": 16,
                             "training_batch_size": 32, "validation_batch_size": 64, "number_of_epochs": 4,
                             "learning_rate": 0.05, "warmup_cosine_lr_warmup_epochs": 1,
                             "number_of_workers": 2, "early_stopping": False,
                             "advanced_settings": '{"pretrained": false, "apply_automl_train_augmentations": false}'},
        workdir=workdir or ROOT / "runs" / "fit_numpy")
    for h in result.history:
        print(f"epoch {h['epoch']}: train loss {h['train_loss']:.3f}, validation accuracy {h['accuracy']:.3f}")
    print(f"{result.status.value}: best accuracy {result.best_metric:.3f} at epoch {result.best_epoch}; "
          f"checkpoint {result.checkpoint}")
    return 0 if result.status.value == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
