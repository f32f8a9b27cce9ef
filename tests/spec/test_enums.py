"""Enums accept every casing Azure accepts and normalise to one."""

import pytest

from imgtune import (
    JobStatus,
    LearningRateScheduler,
    LogVerbosity,
    Optimizer,
    PrimaryMetric,
    SamplingAlgorithmType,
)


@pytest.mark.parametrize("enum, spellings, value", [
    (PrimaryMetric, ["AUC_weighted", "AUCWeighted", "auc_weighted"], "auc_weighted"),
    (PrimaryMetric, ["IOU", "Iou", "iou"], "iou"),
    (PrimaryMetric, ["NormMacroRecall", "norm_macro_recall"], "norm_macro_recall"),
    (Optimizer, ["SGD", "Adam", "ADAMW"], None),
    (LearningRateScheduler, ["WarmupCosine", "warmup_cosine", "STEP"], None),
    (LogVerbosity, ["NotSet", "not_set", "DEBUG"], None),
    (SamplingAlgorithmType, ["Random", "GRID", "bayesian"], None),
    (JobStatus, ["not_started", "NotStarted", "cancel_requested"], None),
])
def test_casings(enum, spellings, value):
    for spelling in spellings:
        member = enum.parse(spelling)
        assert member is not None, spelling
        if value is not None:
            assert member.value == value


def test_unknown_values_parse_to_none():
    assert Optimizer.parse("rmsprop") is None
    assert PrimaryMetric.parse(3) is None


def test_job_status_terminal_states():
    assert {s for s in JobStatus if s.is_terminal} == {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}
    assert JobStatus.CANCEL_REQUESTED.value == "CancelRequested"
