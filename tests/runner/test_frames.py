"""Data frames of a run and of a plan (issue 18, point 2): one row per trial or evaluation, the
training parameters as columns; pandas is optional and imported only when a frame is asked for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import imgtune
from imgtune.spec.records import ResolvedTrainingParameters

pd = pytest.importorskip("pandas")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "format-1"
PARAMETERS = [a.name for a in ResolvedTrainingParameters.__attrs_attrs__
              if a.name != "extra_parameters"]  # one's own: a column extra_parameters.<name> each, when set


def test_trials_frame_has_a_row_per_trial_and_the_parameters_as_columns():
    result = imgtune.load_result(FIXTURE)
    frame = result.trials_frame()
    assert list(frame.columns) == ["trial_id", "index", "status", "best_metric", "best_epoch", "stop_reason",
                                   "attempts", "resumable", "started_at", "ended_at", *PARAMETERS]
    assert list(frame.trial_id) == [t.id for t in result.trials]
    assert list(frame.status) == [t.status.value for t in result.trials]
    assert list(frame.best_metric) == [t.best_metric for t in result.trials]
    assert list(frame.learning_rate) == [t.parameters.learning_rate for t in result.trials]
    assert list(frame.model_name) == [t.parameters.model_name for t in result.trials]  # strings, not enums
    assert frame.loc[frame.best_metric.idxmax(), "trial_id"] == result.best_trial.id


def test_history_frame_has_a_row_per_evaluation():
    result = imgtune.load_result(FIXTURE)
    frame = result.history_frame()
    assert list(frame.columns[:6]) == ["trial_id", "index", "status", "epoch", "accuracy", "loss"]
    assert list(frame.columns[6:]) == PARAMETERS
    assert len(frame) == sum(len(t.history) for t in result.trials)
    first = result.trials[0]
    rows = frame[frame.trial_id == first.id]
    assert list(rows.epoch) == [h["epoch"] for h in first.history]
    assert list(rows.accuracy) == [h["accuracy"] for h in first.history]
    assert (rows.learning_rate == first.parameters.learning_rate).all()
    best = frame.groupby("trial_id").accuracy.max()  # the analysis this is for
    assert best[first.id] == first.best_metric


def test_plan_to_frame_has_a_row_per_trial():
    job = imgtune.loads("""type: automl
task: image_classification
target_column_name: label
training_data: {path: data}
limits: {max_trials: 5}
sweep: {sampling_algorithm: random}
search_space:
  - model_name: {type: choice, values: [resnet18, resnet50]}
    learning_rate: {type: loguniform, min_value: -7, max_value: -3}
""")
    plan = imgtune.compile(job, seed=2)
    frame = plan.to_frame()
    assert list(frame.columns) == ["trial_id", "index", "subspace", *PARAMETERS]
    assert list(frame.trial_id) == [t.id for t in plan.trials] and len(frame) == 5
    assert list(frame.learning_rate) == [t.parameters.learning_rate for t in plan.trials]
    assert set(frame.model_name) <= {"resnet18", "resnet50"} and set(frame.subspace) == {0}


def test_without_pandas_a_frame_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # what `import pandas` meets when it is not installed
    result = imgtune.load_result(FIXTURE)
    for frame in (result.trials_frame, result.history_frame):
        with pytest.raises(ImportError, match=r"pip install 'imgtune\[frames\]'"):
            frame()
