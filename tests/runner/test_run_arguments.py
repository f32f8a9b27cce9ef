"""What ``run`` refuses before a sweep starts (issue 17): a plan that differs from the folder's,
and a trial function that a trial process cannot import. No trial is run here."""

from __future__ import annotations

import sys
import types

import attrs
import pytest

import imgtune
from imgtune.errors import ValidationError
from imgtune.launch import trial_fn_name
from imgtune.runner import RunResult, prepare


def _job():
    return imgtune.ImageClassificationJob(training_data=imgtune.Input(path="data", type="uri_folder"),
                                          target_column_name="label", limits={"max_trials": 2},
                                          sweep={"sampling_algorithm": "random"},
                                          search_space=[{"learning_rate": {"type": "uniform", "min_value": 0.001,
                                                                           "max_value": 0.01}}])


def _started(plan, folder):
    """A folder where ``plan``'s run was started (its ``run.json`` written), as ``run`` leaves it."""
    _, store = prepare(plan, folder)
    store.save_result(RunResult(primary_metric=plan.job.primary_metric, output_dir=str(folder)))
    return store


def _edited(plan):
    first = plan.trials[0]
    trial = attrs.evolve(first, parameters=attrs.evolve(first.parameters, number_of_epochs=1))
    return attrs.evolve(plan, trials=(trial, *plan.trials[1:]))


def test_a_plan_that_differs_from_the_folders_is_refused_saying_what_differs(tmp_path):
    plan = imgtune.compile(_job(), seed=1)
    _started(plan, tmp_path)
    resumed, _ = prepare(plan, tmp_path)  # the same plan resumes
    assert resumed.trials == plan.trials
    with pytest.raises(ValidationError) as err:
        prepare(_edited(plan), tmp_path)
    text = str(err.value)
    assert "another plan of this job" in text and "trials[0].parameters.number_of_epochs (15 stored, 1 given)" in text
    with pytest.raises(ValidationError, match=r"differs in seed"):
        prepare(imgtune.compile(_job(), seed=2), tmp_path)
    assert prepare(imgtune.compile(_job(), seed=1).job, tmp_path, seed=1)[0].trials == plan.trials  # a job resumes


def test_a_plan_with_fewer_trials_than_the_folders_resumes(tmp_path):
    plan = imgtune.compile(_job(), seed=1)
    _started(plan, tmp_path)
    shorter = attrs.evolve(plan, trials=plan.trials[:1])
    assert prepare(shorter, tmp_path)[0] == attrs.evolve(plan, job=attrs.evolve(plan.job, base_path=None))


def _top_level(settings, data, workdir):  # importable as tests' module: fine
    return None


def test_trial_functions_that_a_trial_process_cannot_import_are_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValidationError, match=r"lambda or a nested function.*top level of a module"):
        imgtune.run(_job(), out, trial_fn=lambda settings, data, workdir: None)

    def nested(settings, data, workdir):
        return None

    with pytest.raises(ValidationError, match="nested function"):
        imgtune.run(_job(), out, trial_fn=nested)
    assert not out.exists()
    assert trial_fn_name(_top_level) == f"{__name__}:_top_level"
    assert trial_fn_name("pkg.mod:fn") == "pkg.mod:fn"


def test_a_trial_function_of_the_script_being_run_is_refused_saying_how_to_fix_it(monkeypatch, tmp_path):
    script = types.ModuleType("__main__")  # as `python my_script.py` makes it: no spec
    script.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", script)

    def train(settings, data, workdir):
        return None

    train.__module__, train.__qualname__ = "__main__", "train"
    with pytest.raises(ValidationError, match=r"script being run \(__main__\).*move it into a module"):
        imgtune.run(_job(), tmp_path / "run", trial_fn=train)
    assert not (tmp_path / "run").exists()
    script.__spec__ = types.SimpleNamespace(name="my_package.trials")  # `python -m my_package.trials`
    assert trial_fn_name(train) == "my_package.trials:train"


def test_overrides_apply_to_a_job_not_a_plan_and_bad_ones_leave_nothing(tmp_path):
    with pytest.raises(ValidationError, match="overrides: apply to a job, not a plan"):
        imgtune.run(imgtune.compile(_job()), tmp_path / "a", overrides=["limits.max_trials=1"], trial_fn="m:f")
    imgtune.dump(_job(), tmp_path / "job.yml")
    for source in (_job(), tmp_path / "job.yml"):  # a job, or a job file
        with pytest.raises(ValidationError, match="limits.max_trails: unknown key; did you mean 'max_trials'"):
            imgtune.run(source, tmp_path / "b", overrides=["limits.max_trails=1"], trial_fn="m:f")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
