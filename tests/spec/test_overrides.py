"""Path-addressed edits of records (issue 18, point 1): ``override``, ``set_in`` and ``diff``, and the
``KEY=VALUE`` arguments of ``imgtune validate``, ``render`` and ``plan``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import imgtune
from imgtune import cli
from imgtune import strategies as its
from imgtune.errors import ValidationError
from imgtune.spec.paths import edit

JOB = """type: automl
task: image_classification
target_column_name: label
training_data: {path: data}
limits: {max_trials: 4}
sweep: {sampling_algorithm: random}
search_space:
  - model_name: {type: choice, values: [resnet18, resnet50]}
    learning_rate: {type: uniform, min_value: 0.001, max_value: 0.01}
"""


@pytest.fixture(scope="module")
def job():
    return imgtune.loads(JOB)


def test_override_sets_typed_values_from_yaml_text(job):
    new = imgtune.override(job, ["training_parameters.learning_rate=0.01", "limits.max_trials=2",
                                 "training_parameters.ams_gradient=true", "training_parameters.optimizer=AdamW",
                                 "search_space[0].model_name={type: choice, values: [mobilenetv2]}",
                                 "search_space[1]={model_name: {type: choice, values: [resnet50]}}",
                                 "search_space[1].layers_to_freeze={type: choice, values: [0, 2]}"])
    assert new.training_parameters.learning_rate == 0.01 and new.limits.max_trials == 2
    assert new.training_parameters.ams_gradient is True and new.training_parameters.optimizer.value == "adamw"
    assert new.search_space[0].model_name == imgtune.Choice(values=["mobilenetv2"])
    assert new.search_space[0].learning_rate == job.search_space[0].learning_rate  # the rest of the subspace kept
    assert new.search_space[1].layers_to_freeze == imgtune.Choice(values=[0, 2])  # [1]: a subspace added
    with pytest.raises(ValidationError, match=r"search_space\[0\].layers_to_freeze: must be an integer, got \[0, 2\]"):
        imgtune.override(job, ["search_space[0].layers_to_freeze=[0, 2]"])  # a list is not a distribution
    assert job.limits.max_trials == 4 and len(job.search_space) == 1  # pure: the input is unchanged
    assert imgtune.override(new, ["limits.max_trials=", "search_space[1]=null"]).limits.max_trials is None
    assert len(imgtune.override(new, ["search_space[1]=null"]).search_space) == 1


def test_every_problem_at_once_with_the_loaders_messages(job):
    with pytest.raises(ValidationError) as got:
        imgtune.override(job, ["limits.max_trails=2", "training_parameters.momentum=5",
                               "search_space[0].learning_rat={type: uniform, min_value: 0.1, max_value: 0.2}"])
    with pytest.raises(ValidationError) as loaded:
        imgtune.loads(JOB.replace("limits: {max_trials: 4}", "limits: {max_trails: 2}"))
    assert [(p.path, p.message) for p in got.value.problems] == [
        ("limits.max_trails", "unknown key; did you mean 'max_trials'?"),
        ("training_parameters.momentum", "must be in [0, 1], got 5.0"),
        ("search_space[0].learning_rat", "unknown key; did you mean 'learning_rate'?"),
    ]
    assert {(p.path, p.message) for p in loaded.value.problems} <= {(p.path, p.message) for p in got.value.problems}
    assert str(got.value).startswith("3 problems in job:")


def test_bad_override_texts_are_reported_together(job):
    with pytest.raises(ValidationError) as got:
        imgtune.override(job, ["limits.max_trials", "a..b=1", "limits.max_trials=[1", "search_space[5].x=1"])
    paths = [p.path for p in got.value.problems]
    assert paths == ["limits.max_trials", "a..b", "limits.max_trials",  # the texts first, then what the others make
                     "search_space"]
    assert got.value.problems[-1].message == "has 1 item: [5] is beyond its end (use [1] to add one)"
    with pytest.raises(ValidationError, match=r"search_space: has 1 item: \[5\] is beyond its end"):
        imgtune.override(job, ["search_space[5].model_name={type: choice, values: [resnet18]}"])
    with pytest.raises(ValidationError, match=r"limits.max_trials: is 4, not a mapping: cannot set x in it "
                                              r"\(set the whole value: limits.max_trials=\{...\}\)"):
        imgtune.set_in(job, "limits.max_trials.x", 1)


def test_set_in_takes_records_and_works_on_any_record(job):
    new = imgtune.set_in(job, "sweep.early_termination", imgtune.BanditPolicy(slack_factor=0.2))
    assert new.sweep.early_termination == imgtune.BanditPolicy(slack_factor=0.2)
    assert imgtune.set_in(job.limits, "max_concurrent_trials", 2) == imgtune.Limits(max_trials=4,
                                                                                    max_concurrent_trials=2)
    loaded = imgtune.load(_write(JOB))
    assert imgtune.set_in(loaded, "limits.max_trials", 3).base_path == loaded.base_path  # kept: data paths resolve
    multi = imgtune.set_in(job, "task", "image_classification_multilabel")
    assert isinstance(multi, imgtune.ImageClassificationMultilabelJob)


def test_diff_lists_each_changed_path_with_its_two_values(job):
    new = imgtune.override(job, ["limits.max_trials=8", "training_parameters.optimizer=adam",
                                 "search_space[0].model_name.values=[resnet18]"])
    assert [(c.path, c.old, c.new) for c in imgtune.diff(job, new)] == [
        ("limits.max_trials", 4, 8),
        ("training_parameters.optimizer", None, "adam"),
        ("search_space[0].model_name.values", ["resnet18", "resnet50"], ["resnet18"]),
    ]
    assert imgtune.diff(job, job) == ()
    plan = imgtune.compile(job, seed=0)
    changes = imgtune.diff(plan.trials[0].parameters, plan.trials[1].parameters)
    assert {c.path for c in changes} <= set(plan.trials[0].sampled) | {"random_seed"} and changes
    assert {c.path for c in imgtune.diff(plan, imgtune.compile(new, seed=0))} >= {"job.limits.max_trials"}


def _write(text, tmp=[]):  # noqa: B006 - one folder for the module
    import tempfile
    from pathlib import Path

    if not tmp:
        tmp.append(Path(tempfile.mkdtemp()))
    path = tmp[0] / "job.yml"
    path.write_text(text)
    return path


def test_cli_takes_overrides_after_the_job_file(capsys):
    path = str(_write(JOB))
    assert cli.main(["plan", path, "limits.max_trials=2", "--seed", "1", "training_parameters.number_of_epochs=3",
                     "--format", "yaml"]) == 0
    plan = imgtune.compiler.loads_plan(capsys.readouterr().out)
    assert len(plan.trials) == 2 and plan.trials[0].parameters.number_of_epochs == 3 and plan.seed == 1
    assert cli.main(["render", path, "training_parameters.optimizer=adam"]) == 0
    assert "optimizer: adam" in capsys.readouterr().out
    assert cli.main(["validate", "--print", path, "limits.max_trials=3"]) == 0
    assert imgtune.loads(capsys.readouterr().out).limits.max_trials == 3
    assert cli.main(["validate", path, "limits.max_trails=3", "training_parameters.momentum=2"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: limits.max_trails: unknown key; did you mean 'max_trials'?",
        "error: training_parameters.momentum: must be in [0, 1], got 2.0"]
    with pytest.raises(SystemExit):
        cli.main(["validate", path, "--bogus"])


@given(its.jobs(), st.integers(1, 1000))
def test_setting_one_value_changes_that_value_only(any_job, n):
    assert edit(any_job, []) == any_job  # the round trip through plain data keeps every job
    new = imgtune.set_in(any_job, "limits.max_trials", n)
    assert new.limits.max_trials == n and new.base_path == any_job.base_path
    old = any_job.limits.max_trials
    assert imgtune.diff(any_job, new) == (() if old == n else (imgtune.Change("limits.max_trials", old, n),))
