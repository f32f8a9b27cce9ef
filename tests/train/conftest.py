"""Shared fixtures of the training tests: tiny digits data and resolved parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgtune.compiler.defaults import resolve
from imgtune.spec.records import TrainingParameters

#: Small and fast: 16 px crops, quarter-width models, a few epochs.
TINY = dict(training_crop_size=16, validation_crop_size=16, validation_resize_size=16, training_batch_size=8,
            validation_batch_size=16, number_of_workers=0, number_of_epochs=2)


def tiny_params(model_name: str = "resnet18", *, multilabel: bool = False, **kw) -> TrainingParameters:
    """Resolved parameters for a tiny trial (``kw`` override :data:`TINY`)."""
    return resolve(TrainingParameters(model_name=model_name, **{**TINY, **kw}), {}, multilabel=multilabel, seed=0)


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    """60 digits images, 16 px, as an MLTable folder."""
    from imgtune.datasets import make_digits

    return make_digits(tmp_path_factory.mktemp("digits16"), size=16, n=60)


@pytest.fixture(scope="session")
def digits(digits_dir):
    """The :class:`~imgtune.train.data.trial_data.TrialData` of :func:`digits_dir` (48 train, 12 validation)."""
    from imgtune.train.data.trial_data import load_trial_data

    return load_trial_data(digits_dir, multilabel=False, seed=0)
