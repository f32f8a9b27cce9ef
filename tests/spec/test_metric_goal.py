"""The primary metric owns its goal: every comparison of metric values asks it."""

import math

import pytest

from imgtune.runner.results import RunResult, TrialRecord, best_of_history, best_trial_of
from imgtune.spec.enums import JobStatus, PrimaryMetric
from imgtune.spec.records import TrainingParameters

M = PrimaryMetric.NORM_MACRO_RECALL  # may be negative: still maximised


@pytest.mark.parametrize(("a", "b", "want"), [
    (-0.1, -0.2, True), (-0.2, -0.1, False), (0.5, 0.5, False), (0.0, None, True), (None, 0.0, False),
    (math.nan, 0.0, False), (0.0, math.nan, True), (math.inf, 0.0, False),
])
def test_better_is_strict_and_never_prefers_a_missing_value(a, b, want):
    assert M.better(a, b) is want


def test_best_of_a_history_is_the_first_best_finite_value_with_its_epoch():
    history = [{"epoch": 1, M.value: -0.3}, {"epoch": 2, M.value: math.nan}, {"epoch": 3, M.value: -0.1},
               {"epoch": 4, M.value: -0.1}, {"epoch": 5}]
    assert best_of_history(history, M) == (-0.1, 3)
    assert best_of_history([{"epoch": 1}], M) == (None, None)


def _trial(index, best, status=JobStatus.COMPLETED):
    return TrialRecord(id=f"t{index}", index=index, parameters=TrainingParameters(), status=status, best_metric=best)


def test_the_best_trial_ties_to_the_earlier_and_never_is_a_failed_one():
    trials = [_trial(2, 0.9), _trial(0, 0.7), _trial(1, 0.9), _trial(3, 0.95, JobStatus.FAILED), _trial(4, None)]
    assert best_trial_of(trials, PrimaryMetric.ACCURACY).id == "t1"
    assert best_trial_of([_trial(0, None)], PrimaryMetric.ACCURACY) is None


def test_a_run_result_has_no_default_metric_and_keeps_it_typed():
    with pytest.raises(TypeError):
        RunResult()
    result = RunResult(primary_metric="iou", trials=[_trial(0, 0.4), _trial(1, 0.6)])
    assert result.primary_metric is PrimaryMetric.IOU and result.best_trial.id == "t1"
