"""checkpoint_run_id names an imgtune run folder (its best trial), a trial folder or a checkpoint folder;
anything else, or a folder that does not exist, is a validation error before the sweep."""

from pathlib import Path

import pytest

import imgtune
from imgtune.errors import ValidationError
from imgtune.launch import checkpoint_problems
from imgtune.runner.store import checkpoint_source

RUN = Path(__file__).parents[1] / "fixtures" / "runs" / "format-1"


def plan_for(cid, base=None):
    job = imgtune.ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
                                         training_parameters={"checkpoint_run_id": str(cid)},
                                         base_path=None if base is None else str(base))
    return imgtune.compile(job, seed=0)


def test_run_trial_and_checkpoint_folders_resolve():
    trial = next(p for p in sorted((RUN / "trials").iterdir()) if (p / "train").is_dir())
    assert checkpoint_source(str(RUN)) == RUN / "best" / "checkpoint"
    assert checkpoint_source(str(trial)) == trial / "train"
    assert checkpoint_source("format-1", base_path=RUN.parent) == RUN / "best" / "checkpoint"
    for cid in (RUN, trial, RUN / "best" / "checkpoint", RUN / "best"):
        assert checkpoint_problems(plan_for(cid)) == [], cid


def test_missing_or_foreign_folders_are_errors(tmp_path):
    (got,) = checkpoint_problems(plan_for(tmp_path / "no-such-run"))
    assert got.path == "training_parameters.checkpoint_run_id" and "does not exist" in got.message
    assert "an imgtune run folder (its best trial's checkpoint), a trial folder or a checkpoint folder" in got.message
    (got,) = checkpoint_problems(plan_for(tmp_path))
    assert "holds no imgtune checkpoint" in got.message


def test_run_refuses_before_the_sweep(tmp_path):
    with pytest.raises(ValidationError, match="checkpoint_run_id: 'azureml-run-42' does not exist"):
        imgtune.run(plan_for("azureml-run-42", base=tmp_path), tmp_path / "out", trial_fn="tests.nothing:fn")
    assert not (tmp_path / "out" / "trials").exists()
