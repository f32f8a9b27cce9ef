"""imgtune.strategies narrowed by keyword arguments (checked when made, never raising while drawing), and
plans()/run_results() to test analysis code without training (the property: properties/test_strategies_total.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgtune import compile
from imgtune import strategies as its
from imgtune.errors import ValidationError
from imgtune.spec.enums import JobStatus

FEW = settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def test_a_bad_narrowing_is_refused_when_the_strategy_is_made_with_every_problem():
    with pytest.raises(ValidationError) as err:
        its.jobs(task="multiclas", sampling_algorithms=["rand"], searchable=["learning_rat"], max_trials=0,
                 bounds={"learning_rate": (0.5, 0.1), "optimizer": (0, 1), "lerning_rate": (0, 1),
                         "momentum": "high"})
    problems = {p.path: p.message for p in err.value.problems}
    assert set(problems) == {"task", "sampling_algorithms", "searchable", "max_trials", "bounds.learning_rate",
                             "bounds.optimizer", "bounds.lerning_rate", "bounds.momentum"}
    assert "did you mean 'multiclass'" in problems["task"] and "did you mean 'learning_rate'" in problems["searchable"]
    assert problems["bounds.learning_rate"].startswith("leaves no valid value of learning_rate")
    with pytest.raises(ValidationError, match="at least one field"):
        its.search_spaces(fields=[])
    with pytest.raises(ValidationError, match="not a keyword argument"):
        its.multiclass_jobs(task="multilabel")
    with pytest.raises(ValidationError, match="needs at least one sampling algorithm"):
        its.sampling_algorithms([])


@FEW
@given(its.jobs(task="multilabel", sampling_algorithms=["random", "bayesian"], searchable=["learning_rate", "momentum"],
                bounds={"learning_rate": (0.001, 0.05), "momentum": (0.8, 0.9), "number_of_epochs": (1, 3)},
                max_trials=3))
def test_a_narrowed_job_compiles_to_trials_within_the_bounds(job):
    assert job.multilabel and job.sweep is not None and job.sweep.sampling_algorithm.type in ("random", "bayesian")
    plan = compile(job)
    assert len(plan.trials) <= 3
    for trial in plan.trials:
        lr, momentum = trial.sampled.get("learning_rate"), trial.sampled.get("momentum")
        assert lr is None or 0.001 * (1 - 1e-9) <= lr <= 0.05 * (1 + 1e-9)
        assert momentum is None or 0.8 - 1e-12 <= momentum <= 0.9 + 1e-12
        assert set(trial.sampled) <= {"learning_rate", "momentum"}
    fixed = job.training_parameters
    assert fixed.number_of_epochs is None or 1 <= fixed.number_of_epochs <= 3


def leaderboard(result):
    """Analysis code under test: the trials that did not fail, best first (a running trial counts, as for
    ``RunResult.best_trial``: a first version that kept finished trials only was caught by these results)."""
    metric = result.primary_metric
    rows = [t for t in result.trials if t.status is not JobStatus.FAILED and t.best_metric is not None]
    return sorted(rows, key=lambda t: (-metric.score(t.best_metric), t.index))


@FEW
@given(its.run_results(its.plans(its.jobs(sampling_algorithms=["grid", "random"], max_trials=4))))
def test_analysis_code_is_tested_on_generated_run_results(result):
    board = leaderboard(result)
    assert len({t.id for t in result.trials}) == len(result.trials)
    if board:
        assert board[0].best_metric == result.best_trial.best_metric
    assert all(math.isfinite(t.best_metric) for t in board)


@FEW
@given(st.data())
def test_narrowed_search_spaces_never_raise(data):
    names = data.draw(st.lists(st.sampled_from(["training_crop_size", "validation_crop_size", "model_name",
                                                "validation_resize_size", "layers_to_freeze", "learning_rate"]),
                               min_size=1, unique=True))
    space = data.draw(its.search_spaces(its.GRID_KINDS, max_fields=31, fields=names,
                                        bounds={"training_crop_size": (16, 16), "layers_to_freeze": (0, 2)}))
    assert set(space.set_fields()) <= set(names)
