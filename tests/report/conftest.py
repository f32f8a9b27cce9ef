"""Real run folders for the report tests, made once per session with cheap trial functions."""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "runner"):  # `report_trials` and `synthetic`, here and in trial processes
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import imgtune  # noqa: E402
from report_jobs import sweep_job  # noqa: E402


@pytest.fixture(scope="session")
def multiclass_run(tmp_path_factory) -> Path:
    """A finished multiclass sweep: 8 trials, 2 at a time, some early-stopped; best/ with a confusion matrix."""
    out = tmp_path_factory.mktemp("multiclass") / "out"
    result = imgtune.run(sweep_job(), out, trial_fn="report_trials:multiclass")
    assert result.status.value == "Completed"
    assert any(t.status.value == "Canceled" for t in result.trials), "the bandit should stop some trials"
    return out


@pytest.fixture(scope="session")
def multilabel_run(tmp_path_factory) -> Path:
    """A finished multilabel sweep (primary metric iou); best/ with per-label scores."""
    out = tmp_path_factory.mktemp("multilabel") / "out"
    job = sweep_job(task="image_classification_multilabel", trials=3, epochs=3, policy=False)
    result = imgtune.run(job, out, trial_fn="report_trials:multilabel")
    assert result.status.value == "Completed" and result.primary_metric == "iou"
    return out
