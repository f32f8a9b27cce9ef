"""Open where Azure's schema ends: one's own model (``model_name: "module:function"``) trained, predicted
and exported end to end, and one's own hyperparameters (``extra_parameters``) searched by a grid and seen
by a custom trial function."""

import json
import os
import sys
from pathlib import Path

import pytest

import imgtune
from imgtune import JobStatus
from imgtune.datasets import make_digits
from imgtune.runner.store import RunStore

HERE = Path(__file__).parent

OWN_MODEL = """type: automl
task: image_classification
target_column_name: label
training_data: {path: data, type: mltable}
limits: {max_trials: 1}
training_parameters:
  model_name: "own_model:build"
  training_crop_size: 16
  validation_crop_size: 16
  validation_resize_size: 16
  number_of_epochs: 2
  number_of_workers: 0
"""

EXTRA = """type: automl
task: image_classification
target_column_name: label
training_data: {path: data, type: mltable}
limits: {max_trials: 4, max_concurrent_trials: 2}
extra_parameters: {mixup_alpha: 0.0, schedule: cosine}
sweep: {sampling_algorithm: grid}
search_space:
  - learning_rate: {type: choice, values: [0.01]}
    extra_parameters:
      mixup_alpha: {type: choice, values: [0.2, 0.4]}
"""


@pytest.fixture
def trial_path(monkeypatch):
    """Trial processes import own_model / own_trial from this folder."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), *sys.path]))


def test_own_model_trains_predicts_and_exports(tmp_path, trial_path):
    make_digits(tmp_path, size=16, n=48)
    (tmp_path / "job.yml").write_text(OWN_MODEL)
    job = imgtune.load(tmp_path / "job.yml")
    plan = imgtune.compile(job)
    p = plan.trials[0].parameters
    assert (p.training_batch_size, p.learning_rate) == (8, 0.05)  # the builder's own defaults
    result = imgtune.run(job, tmp_path / "out")
    assert result.status is JobStatus.COMPLETED and len(result.trials[0].history) == 2
    pre = json.loads((tmp_path / "out" / "best" / "preprocessing.json").read_text())
    assert pre["model_name"] == "own_model:build" and pre["start"] == "scratch"  # no pretrained hook
    assert pre["mean"] == [0.5, 0.5, 0.5] and pre["std"] == [0.25, 0.25, 0.25]  # the builder's statistics
    images = sorted((tmp_path / "images").glob("*.png"))[:3]
    predicted = imgtune.predict(tmp_path / "out", images)
    assert len(predicted) == 3 and all(len(r["probs"]) == 10 for r in predicted)
    pytest.importorskip("jax2onnx")
    from imgtune.export.onnx import export_onnx

    onnx_file = export_onnx(tmp_path / "out")
    by_onnx = imgtune.predict(tmp_path / "out", images, onnx=True)
    assert onnx_file.is_file()
    assert [r["predicted"] for r in by_onnx] == [r["predicted"] for r in predicted]


def test_own_hyperparameters_are_searched_by_a_grid_and_seen_by_the_trial_function(tmp_path, trial_path):
    (tmp_path / "job.yml").write_text(EXTRA)
    job = imgtune.load(tmp_path / "job.yml")
    assert job.extensions() == ("extra_parameters.mixup_alpha", "extra_parameters.schedule",
                                "search_space[0].extra_parameters.mixup_alpha")
    result = imgtune.run(job, tmp_path / "out", trial_fn="own_trial:record_extra")
    assert result.status is JobStatus.COMPLETED and len(result.trials) == 2  # the grid has two points
    seen = [json.loads((tmp_path / "out" / "trials" / t.id / "extra.json").read_text()) for t in result.trials]
    assert seen == [{"mixup_alpha": 0.2, "schedule": "cosine"}, {"mixup_alpha": 0.4, "schedule": "cosine"}]
    assert result.best_trial.parameters.extra_parameters["mixup_alpha"] == 0.4  # it reported its alpha
    plan = RunStore(tmp_path / "out").load_plan()  # the run folder's plan records them
    assert [dict(t.parameters.extra_parameters) for t in plan.trials] == seen
    assert [dict(t.sampled) for t in plan.trials] == [
        {"extra_parameters.mixup_alpha": a, "learning_rate": 0.01} for a in (0.2, 0.4)]
