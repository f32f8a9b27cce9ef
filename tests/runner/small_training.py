"""The real trainer (imgtune.runner.training.train) with a narrow model, for end-to-end tests of the
run's machinery (signals, resume): ``--trial-fn small_training:train``."""

from __future__ import annotations

import attrs

from imgtune.runner.store import TrialLayout
from imgtune.runner.training import write_artifacts
from imgtune.train import data as d
from imgtune.train.data.trial_data import job_data
from imgtune.train.trial_types import TrialSettings


def train(context):
    from imgtune.train.trial import train_trial  # loads JAX, in the trial's process

    params = context.trial.parameters
    data = job_data(context.job, seed=context.seed, path_map=context.path_map)
    d.write_labels(context.workdir / TrialLayout.LABELS, data.classes)
    settings = TrialSettings(params=params, primary_metric=context.primary_metric, multilabel=context.multilabel,
                             seed=context.seed, model_width=0.25)
    result = train_trial(settings, data, context.workdir / TrialLayout.TRAIN, report=context.report,
                         on_step=context.progress)
    return attrs.evolve(result, artifacts=write_artifacts(context.workdir, params, result,
                                                          multilabel=context.multilabel))
